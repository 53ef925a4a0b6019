//! The optimizer: named rewrite rules run to a fixpoint over the logical plan (the shape of
//! `DataFusion`'s `OptimizerRule`), ending in one [`RenderPlan`].
//!
//! The logical plan is a chain `Source -> (Select | Rechunk | Downsample)*`. It is flattened into
//! steps, and each rule rewrites one step given the steps before it:
//!
//! * `scan_source`: the source becomes a `Render` of the whole stack (a typed [`Selection`]);
//! * `stride_to_select`: `Downsample(Stride, fy, fx)` is `Select[:, ::fy, ::fx]`;
//! * `merge_selects`: `Select(Select(x))` is one select (strided ranges compose), so a chain of
//!   any length costs O(1) to plan;
//! * `select_into_render`: a select after the render narrows the render's levels, rows and
//!   columns, so only selected pixels are rendered; after a mean it keeps whole blocks
//!   ([`AxisMap::select`]);
//! * `mean_into_render`: `Downsample(Mean, f)` after the render averages `f x f` blocks;
//! * `rechunk_to_tiling`: a rechunk is dropped; the last chunk shape is the executor's tiling.
//!
//! The result must be a single `Render` step; the rules that fired are reported by
//! [`crate::LazyArray::explain`].

use crate::logical::{DownsampleMode, PlanNode};
use crate::plan::RenderPlan;
use crate::selection::Selection;
use crate::slice::IndexRange;
use crate::stack::ZoomStack;

/// One flattened step of the plan being optimized.
#[derive(Debug, Clone, PartialEq)]
enum Step {
    Source(ZoomStack),
    Render(ZoomStack, Selection),
    Select([IndexRange; 3]),
    Rechunk,
    Downsample([u64; 2], DownsampleMode),
}

/// A rewrite of the step at `i` (given the steps before it): `None` when it does not apply,
/// else the steps that replace `steps[i - consumed ..= i]`.
struct Rewrite {
    consumed: usize,
    with: Vec<Step>,
}

/// A named rewrite rule.
trait OptimizerRule {
    fn name(&self) -> &'static str;
    fn rewrite(&self, steps: &[Step], i: usize) -> Option<Rewrite>;
}

/// The rewrite that replaces the step with `with`.
fn replace(with: Step) -> Rewrite {
    Rewrite {
        consumed: 0,
        with: vec![with],
    }
}

struct ScanSource;
impl OptimizerRule for ScanSource {
    fn name(&self) -> &'static str {
        "scan_source"
    }
    fn rewrite(&self, steps: &[Step], i: usize) -> Option<Rewrite> {
        let Step::Source(stack) = &steps[i] else {
            return None;
        };
        Some(replace(Step::Render(
            stack.clone(),
            Selection::full(stack.shape()),
        )))
    }
}

struct StrideToSelect;
impl OptimizerRule for StrideToSelect {
    fn name(&self) -> &'static str {
        "stride_to_select"
    }
    fn rewrite(&self, steps: &[Step], i: usize) -> Option<Rewrite> {
        let Step::Downsample([fy, fx], DownsampleMode::Stride) = steps[i] else {
            return None;
        };
        let [l, h, w] = shape(&steps[..i]);
        // A factor above i64::MAX keeps one index (the axis is shorter).
        let step = |f: u64| i64::try_from(f).unwrap_or(i64::MAX);
        Some(replace(Step::Select([
            IndexRange::full(l),
            IndexRange::new(0, step(fy), h.div_ceil(fy)),
            IndexRange::new(0, step(fx), w.div_ceil(fx)),
        ])))
    }
}

struct MergeSelects;
impl OptimizerRule for MergeSelects {
    fn name(&self) -> &'static str {
        "merge_selects"
    }
    fn rewrite(&self, steps: &[Step], i: usize) -> Option<Rewrite> {
        let (Step::Select(outer), Some(Step::Select(inner))) =
            (&steps[i], i.checked_sub(1).map(|j| &steps[j]))
        else {
            return None;
        };
        let merged = [0, 1, 2].map(|k| inner[k].compose(&outer[k]));
        Some(Rewrite {
            consumed: 1,
            with: vec![Step::Select(merged)],
        })
    }
}

struct SelectIntoRender;
impl OptimizerRule for SelectIntoRender {
    fn name(&self) -> &'static str {
        "select_into_render"
    }
    fn rewrite(&self, steps: &[Step], i: usize) -> Option<Rewrite> {
        let (Step::Select(r), Some(Step::Render(stack, sel))) =
            (&steps[i], i.checked_sub(1).map(|j| &steps[j]))
        else {
            return None;
        };
        let sel = Selection {
            levels: sel.levels.compose(&r[0]),
            rows: sel.rows.select(&r[1]),
            cols: sel.cols.select(&r[2]),
        };
        Some(Rewrite {
            consumed: 1,
            with: vec![Step::Render(stack.clone(), sel)],
        })
    }
}

struct MeanIntoRender;
impl OptimizerRule for MeanIntoRender {
    fn name(&self) -> &'static str {
        "mean_into_render"
    }
    fn rewrite(&self, steps: &[Step], i: usize) -> Option<Rewrite> {
        let (Step::Downsample([fy, fx], DownsampleMode::Mean), Some(Step::Render(stack, sel))) =
            (&steps[i], i.checked_sub(1).map(|j| &steps[j]))
        else {
            return None;
        };
        let sel = Selection {
            rows: sel.rows.mean(*fy),
            cols: sel.cols.mean(*fx),
            ..*sel
        };
        Some(Rewrite {
            consumed: 1,
            with: vec![Step::Render(stack.clone(), sel)],
        })
    }
}

struct RechunkToTiling;
impl OptimizerRule for RechunkToTiling {
    fn name(&self) -> &'static str {
        "rechunk_to_tiling"
    }
    fn rewrite(&self, steps: &[Step], i: usize) -> Option<Rewrite> {
        matches!(steps[i], Step::Rechunk).then(|| Rewrite {
            consumed: 0,
            with: vec![],
        })
    }
}

/// The rules, in the order they are tried at each step.
const RULES: [&dyn OptimizerRule; 6] = [
    &ScanSource,
    &RechunkToTiling,
    &StrideToSelect,
    &MergeSelects,
    &SelectIntoRender,
    &MeanIntoRender,
];

/// Output shape after `steps`.
fn shape(steps: &[Step]) -> [u64; 3] {
    let mut s = [0; 3];
    for step in steps {
        s = match step {
            Step::Source(stack) => stack.shape(),
            Step::Render(_, sel) => sel.shape(),
            Step::Select(r) => r.map(|r| r.count),
            Step::Rechunk => s,
            Step::Downsample([fy, fx], _) => [s[0], s[1].div_ceil(*fy), s[2].div_ceil(*fx)],
        };
    }
    s
}

fn flatten(node: &PlanNode) -> Vec<Step> {
    node.chain()
        .into_iter()
        .map(|n| match n {
            PlanNode::Source { stack } => Step::Source(stack.clone()),
            PlanNode::Select { ranges, .. } => Step::Select(*ranges),
            PlanNode::Rechunk { .. } => Step::Rechunk,
            PlanNode::Downsample { factors, mode, .. } => Step::Downsample(*factors, *mode),
        })
        .collect()
}

/// The rules that fired, in order, each with how many times.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RulesFired(pub Vec<(&'static str, usize)>);

impl RulesFired {
    fn record(&mut self, name: &'static str) {
        match self.0.iter_mut().find(|(n, _)| *n == name) {
            Some((_, k)) => *k += 1,
            None => self.0.push((name, 1)),
        }
    }
}

impl std::fmt::Display for RulesFired {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let parts: Vec<String> = self
            .0
            .iter()
            .map(|(n, k)| {
                if *k == 1 {
                    (*n).to_string()
                } else {
                    format!("{n} x{k}")
                }
            })
            .collect();
        f.write_str(&parts.join(", "))
    }
}

/// Runs the rules to a fixpoint on `node`'s chain and returns the render plan with tiles
/// `chunks`, plus the rules that fired. Does not validate the plan.
pub(crate) fn optimize(node: &PlanNode, chunks: [usize; 3]) -> (RenderPlan, RulesFired) {
    let mut steps = flatten(node);
    let mut fired = RulesFired::default();
    // Passes over the whole plan, one rule at a time, until a pass changes nothing.
    let mut changed = true;
    while changed {
        changed = false;
        for rule in RULES {
            let mut i = 0;
            while i < steps.len() {
                match rule.rewrite(&steps, i) {
                    Some(rw) => {
                        fired.record(rule.name());
                        let at = i - rw.consumed;
                        steps.splice(at..=i, rw.with);
                        changed = true;
                        i = at;
                    }
                    None => i += 1,
                }
            }
        }
    }
    // Every step folds into the render: the rules cover every step kind that can follow it
    // (a mean after a mean is refused when recorded, and `mean_into_render` accepts it anyway).
    match steps.as_slice() {
        [Step::Render(stack, sel)] => (RenderPlan::from_parts(stack.clone(), *sel, chunks), fired),
        other => unreachable!("the optimizer's rules fold every step into the render: {other:?}"),
    }
}

#[cfg(test)]
mod tests {
    use crate::{DownsampleMode, ZoomStack};

    #[test]
    fn explain_names_the_rules_that_fired() {
        let a = ZoomStack::default()
            .array()
            .select("[0:20000:500]")
            .unwrap()
            .select("[::2]")
            .unwrap()
            .downsample(2, 2, DownsampleMode::Stride)
            .unwrap()
            .rechunk([4, 64, 64])
            .unwrap()
            .downsample(4, 4, DownsampleMode::Mean)
            .unwrap();
        let text = a.explain();
        assert!(
            text.contains(
                "Rules fired: scan_source, rechunk_to_tiling, stride_to_select, merge_selects x2, select_into_render, mean_into_render"
            ),
            "{text}"
        );
        let p = a.optimize().unwrap();
        assert_eq!(p.shape(), [20, 64, 64]);
        assert_eq!(p.selection().rows.factor, 4);
        assert_eq!(
            p.selection().levels,
            zoomstack_kernel::IndexRange::new(0, 1000, 20)
        );
    }

    #[test]
    fn the_source_alone_is_scanned() {
        let a = ZoomStack::default().array();
        assert!(
            a.explain().contains("Rules fired: scan_source\n"),
            "{}",
            a.explain()
        );
    }
}
