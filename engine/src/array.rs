//! [`LazyArray`]: a handle that records operations as a small plan tree ([`PlanNode`]).

use crate::describe::Describe;
use crate::error::{EngineError, Result};
use crate::logical::{DownsampleMode, PlanNode};
use crate::optimizer::{RulesFired, optimize};
use crate::plan::{RenderPlan, clamp_chunks};
use crate::slice::{AXES, IndexRange, SliceSpec, parse_select};
use crate::stack::{DEFAULT_CHUNKS, ZoomStack};
use std::fmt::Write as _;
use std::sync::Arc;

/// A lazy 3-D array `(level, y, x)` of `u16` escape counts: a stack plus recorded operations.
///
/// Every method returns a new handle and computes nothing (cloning is O(1)). Shapes and
/// indices are checked when an operation is recorded, so a bad select fails at once with a typed
/// error. [`LazyArray::optimize`] turns the recorded chain into a [`RenderPlan`] that renders only
/// the pixels the chain needs.
///
/// Chunks: a select or downsample keeps the chunk shape (clamped to the new shape). dask instead
/// shrinks chunks by the step (its preview `[0:20000:500, ::2, ::2]` has chunks `(1, 128, 128)`);
/// here the chunk shape is the executor's tile shape, chosen with [`LazyArray::rechunk`].
///
/// ```
/// use zoomstack_engine::{DownsampleMode, ZoomStack};
/// let a = ZoomStack::default().array();
/// let p = a.select("[0:20000:500, ::2, ::2]").unwrap();
/// assert_eq!(p.shape(), [40, 256, 256]);
/// let small = p.downsample(4, 4, DownsampleMode::Mean).unwrap().rechunk([8, 64, 64]).unwrap();
/// assert_eq!((small.shape(), small.chunks()), ([40, 64, 64], [8, 64, 64]));
/// ```
#[derive(Debug, Clone)]
pub struct LazyArray {
    node: Arc<PlanNode>,
    shape: [u64; 3],
    chunks: [usize; 3],
    /// Factors of the mean downsample recorded so far with a factor above 1, if any.
    mean: Option<[u64; 2]>,
}

impl LazyArray {
    /// The whole stack, chunked [`DEFAULT_CHUNKS`].
    pub fn from_stack(stack: ZoomStack) -> Self {
        Self {
            shape: stack.shape(),
            node: Arc::new(PlanNode::Source { stack }),
            chunks: DEFAULT_CHUNKS,
            mean: None,
        }
    }

    fn push(&self, node: PlanNode, shape: [u64; 3], chunks: [usize; 3]) -> Self {
        Self {
            node: Arc::new(node),
            shape,
            chunks,
            mean: self.mean,
        }
    }

    /// numpy basic slicing from a string, e.g. `"[0:20000:500, ::2, ::2]"`: see
    /// [`parse_select`] for the syntax and the differences from numpy.
    ///
    /// # Errors
    ///
    /// The errors of [`parse_select`] and of [`LazyArray::select_slices`].
    pub fn select(&self, text: &str) -> Result<Self> {
        self.select_slices(parse_select(text)?)
    }

    /// numpy basic slicing from Rust values.
    ///
    /// ```
    /// use zoomstack_engine::{SliceSpec, ZoomStack};
    /// let a = ZoomStack::default().array();
    /// let b = a.select_slices([SliceSpec::index(-1), SliceSpec::FULL, SliceSpec::range(-10, 1000, 3)]).unwrap();
    /// assert_eq!(b.shape(), [1, 512, 4]);
    /// ```
    ///
    /// # Errors
    ///
    /// [`EngineError::IndexOutOfBounds`] for an index outside its axis, [`EngineError::ZeroStep`]
    /// for a slice with step 0 (see [`SliceSpec::indices`]).
    pub fn select_slices(&self, specs: [SliceSpec; 3]) -> Result<Self> {
        let mut ranges = [IndexRange::EMPTY; 3];
        for k in 0..3 {
            ranges[k] = specs[k].indices(self.shape[k], AXES[k])?;
        }
        let shape = ranges.map(|r| r.count);
        Ok(self.push(
            PlanNode::Select {
                input: self.node.clone(),
                specs,
                ranges,
            },
            shape,
            self.chunks,
        ))
    }

    /// A new chunk shape `[levels, y, x]` (each at least 1; larger than the array is clamped).
    /// Chunks are the executor's tiles and the sinks' write units.
    ///
    /// # Errors
    ///
    /// [`EngineError::ZeroChunk`] for a chunk size of 0.
    pub fn rechunk(&self, chunks: [usize; 3]) -> Result<Self> {
        for (k, &c) in chunks.iter().enumerate() {
            if c == 0 {
                return Err(EngineError::ZeroChunk { axis: AXES[k] });
            }
        }
        Ok(self.push(
            PlanNode::Rechunk {
                input: self.node.clone(),
                chunks,
            },
            self.shape,
            chunks,
        ))
    }

    /// Downsamples the spatial axes by `fy` rows and `fx` columns (each at least 1). Output
    /// lengths are `ceil(n / f)` in both modes. At most one `Mean` with a factor above 1 per
    /// pipeline (two would round twice; use one mean by the product of the factors).
    ///
    /// # Errors
    ///
    /// [`EngineError::ZeroFactor`] for a factor of 0, [`EngineError::NestedMean`] for a second
    /// `Mean` with a factor above 1.
    pub fn downsample(&self, fy: u64, fx: u64, mode: DownsampleMode) -> Result<Self> {
        for (axis, f) in [("y", fy), ("x", fx)] {
            if f == 0 {
                return Err(EngineError::ZeroFactor { axis });
            }
        }
        let mut out = self.push(
            PlanNode::Downsample {
                input: self.node.clone(),
                factors: [fy, fx],
                mode,
            },
            [
                self.shape[0],
                self.shape[1].div_ceil(fy),
                self.shape[2].div_ceil(fx),
            ],
            self.chunks,
        );
        if mode == DownsampleMode::Mean && (fy > 1 || fx > 1) {
            if let Some(first) = self.mean {
                return Err(EngineError::NestedMean {
                    first,
                    second: [fy, fx],
                });
            }
            out.mean = Some([fy, fx]);
        }
        Ok(out)
    }

    /// `[levels, y, x]`.
    pub fn shape(&self) -> [u64; 3] {
        self.shape
    }

    /// The chunk (tile) shape, clamped to the array's shape (at least 1 on each axis).
    pub fn chunks(&self) -> [usize; 3] {
        clamp_chunks(self.chunks, self.shape)
    }

    /// The stack this array is a view of.
    pub fn stack(&self) -> &ZoomStack {
        self.node.stack()
    }

    /// The logical plan (the last recorded operation; follow `input` to the source).
    pub fn plan(&self) -> &PlanNode {
        &self.node
    }

    /// The optimized plan and the rules that fired, without validating the stack (for
    /// `describe` and `explain`).
    pub(crate) fn fold(&self) -> (RenderPlan, RulesFired) {
        optimize(&self.node, self.chunks())
    }

    /// The optimized plan the executor runs: selects folded together and into the render source
    /// (through downsampling), stride downsampling turned into selects, rechunk turned into
    /// the tiling. Validates the stack and the grids of the first and last selected levels.
    ///
    /// # Errors
    ///
    /// The errors of [`RenderPlan::validate`]: those of [`ZoomStack::validate`], and
    /// [`EngineError::Kernel`] when a selected level's scale underflows.
    pub fn optimize(&self) -> Result<RenderPlan> {
        let (plan, _) = self.fold();
        plan.validate()?;
        Ok(plan)
    }

    /// The plan before and after optimization, as text.
    ///
    /// ```
    /// use zoomstack_engine::ZoomStack;
    /// let a = ZoomStack::default().array().select("[0:20000:500, ::2, ::2]").unwrap();
    /// let text = a.explain();
    /// assert!(text.contains("Render levels 0:20000:500 (40 of 120000)"), "{text}");
    /// ```
    pub fn explain(&self) -> String {
        let mut s = String::from("Logical plan:\n");
        let chain = self.node.chain();
        for (depth, node) in chain.iter().rev().enumerate() {
            let _ = writeln!(s, "{:indent$}{}", "", node.label(), indent = 2 + 2 * depth);
        }
        let (plan, fired) = self.fold();
        let _ = writeln!(s, "Rules fired: {fired}");
        s.push_str("Optimized plan:\n");
        for line in plan.explain_lines() {
            let _ = writeln!(s, "  {line}");
        }
        if let Err(e) = plan.validate() {
            let _ = writeln!(s, "  INVALID: {e}");
        }
        s
    }

    /// The dask-style summary: bytes, shape, chunk, number of chunks, levels and pixels that
    /// will be rendered. `Display` prints it as a table.
    ///
    /// ```
    /// use zoomstack_engine::ZoomStack;
    /// let d = ZoomStack::default().array().describe();
    /// let text = d.to_string();
    /// assert!(text.contains("58.59 GiB") && text.contains("128.00 kiB"), "{text}");
    /// assert!(text.contains("(120000, 512, 512)") && text.contains("480000 chunks"), "{text}");
    /// ```
    pub fn describe(&self) -> Describe {
        Describe::of(&self.fold().0)
    }

    /// [`LazyArray::describe`] for values of type `S`: `f32` when the array is rendered as
    /// smooth escape values.
    ///
    /// ```
    /// use zoomstack_engine::ZoomStack;
    /// let d = ZoomStack::default().array().describe_values::<f32>();
    /// assert_eq!(d.dtype, "float32");
    /// assert!(d.to_string().contains("117.19 GiB"), "{d}");
    /// ```
    pub fn describe_values<S: crate::Sample>(&self) -> Describe {
        Describe::of_values::<S>(&self.fold().0)
    }
}

impl ZoomStack {
    /// The lazy array of the whole stack, chunked [`DEFAULT_CHUNKS`] (clamped to the shape).
    /// Nothing is computed until an executor runs an optimized plan. (Defined here so that the
    /// stack does not depend on the array: the engine's modules form no cycle.)
    #[must_use]
    pub fn array(&self) -> LazyArray {
        LazyArray::from_stack(self.clone())
    }
}
