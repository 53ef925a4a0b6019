//! The property that carries the engine: for random small stacks and random chains of
//! select/downsample/rechunk, optimized execution equals the naive one (render every pixel of
//! every level with the scalar reference, then apply each operation literally with ndarray).

use ndarray::{Array3, Axis};
use proptest::prelude::*;
use std::sync::Mutex;
use zoomstack_engine::{DownsampleMode, EngineError, Executor, LazyArray, SliceSpec, ZoomStack};
use zoomstack_kernel::spec::escape_scalar;
use zoomstack_kernel::{Backend, StackParams};

#[derive(Debug, Clone)]
enum Op {
    Select([SliceSpec; 3]),
    Rechunk([usize; 3]),
    Downsample(u64, u64, DownsampleMode),
}

/// Every pixel of every level, one `escape_scalar` call each.
fn naive_full(stack: &ZoomStack) -> Array3<u16> {
    let p = &stack.params;
    let mut a = Array3::zeros((stack.levels as usize, p.height, p.width));
    for l in 0..stack.levels as usize {
        let g = p.level_grid(l as u64).unwrap();
        for y in 0..p.height {
            for x in 0..p.width {
                a[[l, y, x]] = escape_scalar(g.cols.at(x), g.rows.at(y), p.max_iter);
            }
        }
    }
    a
}

/// numpy's index list for one item, walked one index at a time (`None`: out of bounds).
fn naive_indices(spec: SliceSpec, len: usize) -> Option<Vec<usize>> {
    let len = len as i64;
    let norm = |v: i64| if v < 0 { v + len } else { v };
    match spec {
        SliceSpec::Index(i) => {
            let j = norm(i);
            (0..len).contains(&j).then(|| vec![j as usize])
        }
        SliceSpec::Slice { start, stop, step } => {
            let step = step.unwrap_or(1);
            let mut out = vec![];
            if step > 0 {
                let mut i = start.map_or(0, norm).max(0);
                let e = stop.map_or(len, norm).min(len);
                while i < e {
                    out.push(i as usize);
                    i += step;
                }
            } else {
                let mut i = start.map_or(len - 1, norm).min(len - 1);
                let e = stop.map_or(-1, norm).max(-1);
                while i > e {
                    out.push(i as usize);
                    i += step;
                }
            }
            Some(out)
        }
    }
}

/// Applies one operation literally; `None` when numpy would raise (bad index).
fn naive_apply(a: &Array3<u16>, op: &Op) -> Option<Array3<u16>> {
    match op {
        Op::Rechunk(_) => Some(a.clone()),
        Op::Select(specs) => {
            let mut a = a.clone();
            for (k, spec) in specs.iter().enumerate() {
                let idx = naive_indices(*spec, a.len_of(Axis(k)))?;
                a = a.select(Axis(k), &idx);
            }
            Some(a)
        }
        Op::Downsample(fy, fx, DownsampleMode::Stride) => {
            let rows: Vec<usize> = (0..a.len_of(Axis(1))).step_by(*fy as usize).collect();
            let cols: Vec<usize> = (0..a.len_of(Axis(2))).step_by(*fx as usize).collect();
            Some(a.select(Axis(1), &rows).select(Axis(2), &cols))
        }
        Op::Downsample(fy, fx, DownsampleMode::Mean) => {
            let (fy, fx) = (*fy as usize, *fx as usize);
            let (l, h, w) = a.dim();
            let mut out = Array3::zeros((l, h.div_ceil(fy), w.div_ceil(fx)));
            for ((k, oy, ox), v) in out.indexed_iter_mut() {
                let block = a.slice(ndarray::s![
                    k,
                    oy * fy..((oy + 1) * fy).min(h),
                    ox * fx..((ox + 1) * fx).min(w)
                ]);
                let sum: f64 = block.iter().map(|&v| f64::from(v)).sum();
                *v = (sum / block.len() as f64).round_ties_even() as u16;
            }
            Some(out)
        }
    }
}

fn record(a: &LazyArray, op: &Op) -> Result<LazyArray, EngineError> {
    match op {
        Op::Select(s) => a.select_slices(*s),
        Op::Rechunk(c) => a.rechunk(*c),
        Op::Downsample(fy, fx, m) => a.downsample(*fy, *fx, *m),
    }
}

fn opt_int() -> impl Strategy<Value = Option<i64>> {
    prop_oneof![Just(None), (-14i64..14).prop_map(Some)]
}

fn slice_spec() -> impl Strategy<Value = SliceSpec> {
    prop_oneof![
        3 => (opt_int(), opt_int(), prop_oneof![Just(None), (1i64..4).prop_map(Some), (-3i64..0).prop_map(Some)])
            .prop_map(|(a, b, c)| SliceSpec::new(a, b, c)),
        1 => (-3i64..3).prop_map(SliceSpec::index),
        1 => Just(SliceSpec::FULL),
    ]
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => [slice_spec(), slice_spec(), slice_spec()].prop_map(Op::Select),
        1 => [1usize..4, 1usize..9, 1usize..9].prop_map(Op::Rechunk),
        2 => (1u64..4, 1u64..4, prop_oneof![Just(DownsampleMode::Stride), Just(DownsampleMode::Mean)])
            .prop_map(|(a, b, m)| Op::Downsample(a, b, m)),
    ]
}

fn stack() -> impl Strategy<Value = ZoomStack> {
    (
        1u64..6,
        1usize..13,
        1usize..13,
        -1.6f64..0.4,
        -0.8f64..0.8,
        0.05f64..3.5,
        1.0f64..1.8,
        prop_oneof![Just(1u32), 2u32..64, Just(256u32)],
    )
        .prop_map(|(levels, h, w, cr, ci, s0, z, it)| ZoomStack {
            levels,
            params: StackParams {
                height: h,
                width: w,
                center_re: cr,
                center_im: ci,
                scale0: s0,
                zoom_per_level: z,
                max_iter: it,
            },
            ..ZoomStack::default()
        })
}

proptest! {
    // 1024 cases unless PROPTEST_CASES says otherwise.
    #![proptest_config(ProptestConfig {
        cases: std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(1024),
        ..ProptestConfig::default()
    })]

    #[test]
    fn optimized_equals_naive(
        stack in stack(),
        ops in prop::collection::vec(op(), 0..6),
        threads in 1usize..4,
        backend in prop::sample::select(Backend::ALL.to_vec()),
    ) {
        let mut naive = naive_full(&stack);
        let mut lazy = stack.array();
        for op in &ops {
            let want = naive_apply(&naive, op);
            match (record(&lazy, op), want) {
                (Ok(l), Some(n)) => {
                    lazy = l;
                    naive = n;
                }
                // Both reject an index out of bounds; only the engine rejects a nested mean.
                (Err(EngineError::IndexOutOfBounds { .. }), None)
                | (Err(EngineError::NestedMean { .. }), Some(_)) => {}
                (got, want) => prop_assert!(false, "{op:?}: engine {got:?}, naive raises: {}", want.is_none()),
            }
            let s = lazy.shape();
            prop_assert_eq!([s[0] as usize, s[1] as usize, s[2] as usize], [naive.dim().0, naive.dim().1, naive.dim().2]);
        }
        let plan = lazy.optimize().unwrap();
        let exec = Executor::new(threads).with_backend(backend);
        let got = exec.compute(&plan).unwrap();
        prop_assert_eq!(&got, &naive, "plan {:?}\n{}", plan, lazy.explain());

        // Streaming gives the same data, tile by tile and frame by frame.
        let tiled = Mutex::new(Array3::<u16>::from_elem(naive.dim(), u16::MAX));
        let p = exec.for_each_tile(&plan, |_| true, |t| {
            let [l, y, x] = t.spec.origin.map(|v| v as usize);
            let [tl, ty, tx] = t.spec.shape;
            tiled.lock().unwrap().slice_mut(ndarray::s![l..l + tl, y..y + ty, x..x + tx]).assign(&t.view());
            Ok::<(), EngineError>(())
        }).unwrap();
        prop_assert_eq!(p.tiles_done, plan.num_tiles());
        prop_assert_eq!(tiled.into_inner().unwrap(), naive.clone());
        let mut k_expected = 0u64;
        exec.for_each_frame(&plan, |k, level, frame| {
            assert_eq!(k, k_expected);
            assert_eq!(level, plan.stack_level(k));
            assert_eq!(frame, naive.index_axis(Axis(0), k as usize));
            k_expected += 1;
            Ok::<(), EngineError>(())
        }).unwrap();
        prop_assert_eq!(k_expected, naive.dim().0 as u64);
    }

    /// Parsing the numpy text of random slices and selecting equals the naive index lists.
    #[test]
    fn select_text_equals_index_lists(
        specs in [slice_spec(), slice_spec(), slice_spec()],
        shape in [0usize..20, 0usize..20, 0usize..20],
        brackets in any::<bool>(),
    ) {
        let body = format!("{}, {}, {}", specs[0], specs[1], specs[2]);
        let text = if brackets { format!("[{body}]") } else { body };
        let parsed = zoomstack_engine::parse_select(&text).unwrap();
        prop_assert_eq!(parsed, specs);
        for k in 0..3 {
            let want = naive_indices(specs[k], shape[k]);
            let got = specs[k].indices(shape[k] as u64, "x").ok().map(|r| r.to_vec());
            prop_assert_eq!(got, want.map(|v| v.into_iter().map(|i| i as u64).collect::<Vec<_>>()));
        }
    }
}

/// Deep levels and a larger frame: the notebook's stack, a few levels far apart, strided and
/// averaged, against the scalar reference.
#[test]
fn notebook_stack_deep_levels() {
    let a = ZoomStack::default().array();
    let view = a
        .select("[119999:0:-40000, 3:-3:7, -1:0:-9]")
        .unwrap()
        .downsample(3, 2, DownsampleMode::Mean)
        .unwrap()
        .select("[:, 1::2, ::-3]")
        .unwrap();
    let plan = view.optimize().unwrap();
    let got = Executor::new(2).compute(&plan).unwrap();
    // The naive way, restricted to the levels selected (rendering all 120000 is too slow).
    let p = StackParams::default();
    let levels = [119999u64, 79999, 39999];
    let mut n = Array3::zeros((3, 512, 512));
    for (k, &l) in levels.iter().enumerate() {
        let g = p.level_grid(l).unwrap();
        for y in 0..512 {
            for x in 0..512 {
                n[[k, y, x]] = escape_scalar(g.cols.at(x), g.rows.at(y), p.max_iter);
            }
        }
    }
    let ops = [
        Op::Select(zoomstack_engine::parse_select("[:, 3:-3:7, -1:0:-9]").unwrap()),
        Op::Downsample(3, 2, DownsampleMode::Mean),
        Op::Select(zoomstack_engine::parse_select("[:, 1::2, ::-3]").unwrap()),
    ];
    for op in &ops {
        n = naive_apply(&n, op).unwrap();
    }
    assert_eq!(got, n);
    assert_eq!(
        plan.selection().post_select_text().unwrap(),
        "[:, 1:25:2, 28::-3]"
    );
}
