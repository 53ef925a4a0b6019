//! Exact mode against the oracle's truth sets (`tests/data/exact_truth.json`, written by
//! `cargo run --release -p zoomstack-kernel --example exact_truth`), and the notebook's f64 counts
//! against both.

use serde_json::Value;
use zoomstack_kernel::exact::oracle::{Verdict, confirmed_count};
use zoomstack_kernel::exact::{
    ExactReal, ExactStack, OrbitCache, perturb_scalar_detail, render_block_exact,
};
use zoomstack_kernel::spec::escape_scalar;
use zoomstack_kernel::{Backend, IndexRange, StackParams, render_block};

/// Truth-set pixels where exact mode (f64 deltas) is known to miss the true count: orbits of
/// thousands of updates near a deep minibrot, whose f64 rounding, amplified along the orbit,
/// decides the escape (direct iteration there needs about 96 bits). `(stack, level, row, col,
/// exact mode's count)`. The test fails if one of them changes, or a new one appears.
const KNOWN_MISSES: &[(&str, u64, u64, u64, u16)] = &[
    ("seahorse-deep", 100000, 265, 476, 3143),
    ("seahorse-deep", 120000, 178, 199, 3655),
];

/// `(row, col, oracle count (None: undecided), |z|^2 at the deciding update, kind)`.
type Pixel = (u64, u64, Option<u16>, f64, String);

struct Truth {
    name: String,
    stack: ExactStack,
    levels: Vec<(u64, Vec<Pixel>)>,
}

fn param(v: &Value) -> ExactReal {
    match v {
        Value::Number(n) => ExactReal::from_f64(n.as_f64().unwrap()).unwrap(),
        Value::String(s) => s.parse().unwrap(),
        _ => panic!("bad parameter {v}"),
    }
}

fn truth_sets() -> Vec<Truth> {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/exact_truth.json"
    ))
    .unwrap();
    let doc: Value = serde_json::from_str(&text).unwrap();
    doc["stacks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| Truth {
            name: s["name"].as_str().unwrap().to_string(),
            stack: ExactStack {
                height: s["height"].as_u64().unwrap() as usize,
                width: s["width"].as_u64().unwrap() as usize,
                center_re: param(&s["center_re"]),
                center_im: param(&s["center_im"]),
                scale0: param(&s["scale0"]),
                zoom_per_level: param(&s["zoom_per_level"]),
                max_iter: s["max_iter"].as_u64().unwrap() as u32,
                bla: false,
            },
            levels: s["levels"]
                .as_array()
                .unwrap()
                .iter()
                .map(|l| {
                    let pixels = l["pixels"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .map(|p| {
                            (
                                p[0].as_u64().unwrap(),
                                p[1].as_u64().unwrap(),
                                p[2].as_u64().map(|c| c as u16),
                                p[3].as_f64().unwrap(),
                                p[4].as_str().unwrap().to_string(),
                            )
                        })
                        .collect();
                    (l["level"].as_u64().unwrap(), pixels)
                })
                .collect(),
        })
        .collect()
}

fn exact_pixel(stack: &ExactStack, level: u64, r: u64, j: u64, b: Backend) -> u16 {
    let orbit = OrbitCache::global().for_level(stack, level).unwrap();
    let mut out = [0u16];
    let (rows, cols) = (IndexRange::new(r, 1, 1), IndexRange::new(j, 1, 1));
    render_block_exact(stack, &orbit, level, rows, cols, b, &mut out).unwrap();
    out[0]
}

#[test]
fn truth_sets_cover_what_they_should() {
    let sets = truth_sets();
    assert_eq!(sets.len(), 3);
    for t in &sets {
        // The zoom stacks: shallow levels too (the orbit is far from most pixels there, which
        // rebase often), and the deep band where f64 fails. The deep location: its one frame.
        if t.name == "kf2-5e113" {
            assert_eq!(t.levels.len(), 1);
            assert_eq!(t.stack.max_iter, 35494);
        } else {
            assert!(t.levels.len() >= 10, "{}", t.name);
            let deep = t.levels.iter().filter(|l| l.0 >= 100000).count();
            assert!(t.levels[0].0 == 0 && deep >= 6, "{}", t.name);
        }
        for (level, pixels) in &t.levels {
            assert!(*level <= 150000);
            let corners = pixels.iter().filter(|p| p.4 == "corner").count();
            let centre = pixels.iter().filter(|p| p.4 == "centre").count();
            assert_eq!((corners, centre), (4, 2), "{} level {level}", t.name);
            assert!(pixels.len() >= 100, "{} level {level}", t.name);
        }
    }
}

#[test]
fn exact_mode_matches_every_truth_pixel() {
    let mut misses = Vec::new();
    let mut checked = 0;
    for t in truth_sets() {
        for (level, pixels) in &t.levels {
            let orbit = OrbitCache::global().for_level(&t.stack, *level).unwrap();
            for (r, j, count, norm, kind) in pixels {
                let Some(count) = *count else { continue };
                let known = KNOWN_MISSES
                    .iter()
                    .find(|k| (k.0, k.1, k.2, k.3) == (t.name.as_str(), *level, *r, *j));
                // The plain delta loop in every backend, and the BLA method.
                let bla = ExactStack {
                    bla: true,
                    ..t.stack.clone()
                };
                let runs =
                    Backend::ALL.map(|b| (exact_pixel(&t.stack, *level, *r, *j, b), b.to_string()));
                let bla_run = (
                    exact_pixel(&bla, *level, *r, *j, Backend::fastest()),
                    "BLA".into(),
                );
                for (got, b) in runs.into_iter().chain([bla_run]) {
                    checked += 1;
                    match known {
                        Some(k) => assert_eq!(got, k.4, "known miss changed: {k:?} {b}"),
                        None if got != count => {
                            let (dx, dy) = t.stack.pixel_offset(*level, *r, *j).unwrap();
                            let p = perturb_scalar_detail(&orbit, dx, dy, t.stack.max_iter);
                            misses.push(format!(
                                "{} level {level} ({r}, {j}) [{kind}] {b}: exact {got} (|z|^2 {}) \
                                 oracle {count} (|z|^2 {norm})",
                                t.name, p.norm
                            ));
                        }
                        None => {}
                    }
                }
            }
        }
    }
    assert!(checked > 4 * 2000, "{checked}");
    assert!(misses.is_empty(), "{}", misses.join("\n"));
}

#[test]
fn notebook_f64_counts_are_wrong_where_exact_mode_is_right() {
    // The truth set holds pixels where the notebook's f64 counts differ from exact mode; the
    // oracle says exact mode is the one that is right.
    let t = truth_sets().into_iter().next().unwrap();
    let params = StackParams::default();
    assert_eq!(t.stack, ExactStack::default());
    for want_level in [100000, 120000] {
        let (_, pixels) = t.levels.iter().find(|l| l.0 == want_level).unwrap();
        let grid = params.level_grid(want_level).unwrap();
        let mut wrong = 0;
        for (r, j, count, _, kind) in pixels.iter().filter(|p| p.4 == "numpy") {
            let numpy = escape_scalar(
                grid.cols.at(*j as usize),
                grid.rows.at(*r as usize),
                params.max_iter,
            );
            let count = count.unwrap();
            let exact = exact_pixel(&t.stack, want_level, *r, *j, Backend::fastest());
            assert_eq!(exact, count, "level {want_level} ({r}, {j}) [{kind}]");
            assert_ne!(numpy, count, "level {want_level} ({r}, {j})");
            wrong += 1;
        }
        assert!(wrong >= 10, "level {want_level}: {wrong}");
    }
}

/// Whole frames: every pixel where numpy mode and exact mode differ, checked live by the
/// oracle (about 1 s natively, 3 s in the portable x86-64 build, which emulates FMA).
#[test]
fn whole_frames_numpy_vs_exact_vs_oracle() {
    let stack = ExactStack::default();
    let params = StackParams::default();
    let full = IndexRange::full(512);
    for (level, expect) in [(100000u64, 15usize), (120000, 362)] {
        let orbit = OrbitCache::global().for_level(&stack, level).unwrap();
        let mut exact = vec![0u16; 512 * 512];
        render_block_exact(
            &stack,
            &orbit,
            level,
            full,
            full,
            Backend::fastest(),
            &mut exact,
        )
        .unwrap();
        let mut numpy = vec![0u16; 512 * 512];
        render_block(&params, level, full, full, Backend::fastest(), &mut numpy).unwrap();
        let diff: Vec<usize> = (0..exact.len()).filter(|&p| exact[p] != numpy[p]).collect();
        assert_eq!(diff.len(), expect, "level {level}");
        for &p in &diff {
            let (r, j) = ((p / 512) as u64, (p % 512) as u64);
            match confirmed_count(&stack, level, r, j).unwrap() {
                Verdict::Decided(c) => assert_eq!(
                    exact[p], c.count,
                    "level {level} ({r}, {j}): numpy {} exact {} oracle {} (|z|^2 {})",
                    numpy[p], exact[p], c.count, c.norm
                ),
                Verdict::Undecided { .. } => {}
            }
        }
    }
}
