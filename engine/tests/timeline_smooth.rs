//! Frames at fractional levels ([`Timeline::Span`]) and smooth values through the engine: the
//! same plans, selects and means as counts, checked against the kernel's references.

#![allow(clippy::float_cmp)] // exactness tests: levels and values must match bit for bit

use ndarray::Array3;
use proptest::prelude::*;
use zoomstack_engine::{DownsampleMode, EngineError, Executor, Timeline, ZoomStack};
use zoomstack_kernel::spec::{escape_scalar, smooth_scalar};
use zoomstack_kernel::{StackParams, exact::ExactStack};

fn small(levels: u64) -> ZoomStack {
    let params = StackParams {
        height: 24,
        width: 32,
        ..StackParams::default()
    };
    ZoomStack::new(levels, params).unwrap()
}

/// Every pixel of real level `t`, one reference call each.
fn naive_at<T>(p: &StackParams, t: f64, f: impl Fn(f64, f64, u32) -> T) -> Vec<T> {
    let g = p.level_grid_at(t).unwrap();
    let mut v = Vec::with_capacity(p.height * p.width);
    for y in 0..p.height {
        for x in 0..p.width {
            v.push(f(g.cols.at(x), g.rows.at(y), p.max_iter));
        }
    }
    v
}

#[test]
fn span_frames_are_the_scales_of_their_real_levels() {
    let stack = small(20_000);
    // 9 frames over levels 3000..=3004: t = 3000, 3000.5, ..., 3004.
    let video = stack.spanning(3000.0, 3004.0, 9).unwrap();
    assert_eq!(
        video.timeline,
        Timeline::Span {
            first: 3000.0,
            last: 3004.0
        }
    );
    let plan = video.array().optimize().unwrap();
    let frames = Executor::new(2).compute(&plan).unwrap();
    let levels = Executor::new(2)
        .compute(
            &stack
                .array()
                .select("[3000:3005]")
                .unwrap()
                .optimize()
                .unwrap(),
        )
        .unwrap();
    for k in 0..9u64 {
        let t = video.level_at(k);
        assert_eq!(t, 3000.0 + k as f64 / 2.0);
        let got: Vec<u16> = frames
            .index_axis(ndarray::Axis(0), k as usize)
            .iter()
            .copied()
            .collect();
        assert_eq!(
            got,
            naive_at(&video.params, t, escape_scalar),
            "frame {k} (t = {t})"
        );
        if k % 2 == 0 {
            // An integer t is the stack's own level, bit for bit.
            let level: Vec<u16> = levels
                .index_axis(ndarray::Axis(0), (k / 2) as usize)
                .iter()
                .copied()
                .collect();
            assert_eq!(got, level, "frame {k} is level {t}");
        }
    }
    // Frame t equals level 0 of the stack whose scale0 is the scale of t.
    let t = video.level_at(3);
    let direct = StackParams {
        scale0: stack.params.scale_at(t),
        ..stack.params
    };
    let got: Vec<u16> = frames
        .index_axis(ndarray::Axis(0), 3)
        .iter()
        .copied()
        .collect();
    assert_eq!(got, naive_at(&direct, 0.0, escape_scalar));
}

#[test]
fn spans_refuse_bad_ends_and_the_exact_contract() {
    let stack = small(100);
    for (a, b) in [(-1.0, 5.0), (0.0, f64::NAN), (f64::INFINITY, 1.0)] {
        let err = stack.spanning(a, b, 10).unwrap_err().to_string();
        assert!(err.contains("level"), "{err}");
    }
    let exact = ZoomStack::exact(100, ExactStack::default()).unwrap();
    let err = exact.spanning(0.0, 10.0, 30).unwrap_err();
    assert!(matches!(err, EngineError::Unsupported { .. }), "{err}");
    assert!(err.to_string().contains("fractional"), "{err}");
}

#[test]
fn smooth_values_in_the_exact_contract_are_refused() {
    let exact = ZoomStack::exact(100, ExactStack::default()).unwrap();
    let plan = exact
        .array()
        .select("[:1, ::8, ::8]")
        .unwrap()
        .optimize()
        .unwrap();
    let err = Executor::new(1).compute_values::<f32>(&plan).unwrap_err();
    assert!(err.to_string().contains("smooth values"), "{err}");
}

fn smooth_full(stack: &ZoomStack) -> Array3<f32> {
    let p = &stack.params;
    let mut a = Array3::zeros((stack.levels as usize, p.height, p.width));
    for l in 0..stack.levels {
        let v = naive_at(p, stack.level_at(l), smooth_scalar);
        for (o, x) in a
            .index_axis_mut(ndarray::Axis(0), l as usize)
            .iter_mut()
            .zip(v)
        {
            *o = x;
        }
    }
    a
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    /// Smooth values through select, stride and mean equal the reference with the operations
    /// applied literally (mean: the f64 sum in row-major order, rounded to f32).
    #[test]
    fn smooth_plans_equal_the_reference(
        first in 0u32..4000, span in 0u32..40, frames in 1u64..5,
        fy in 1u64..4, fx in 1u64..4, mean in any::<bool>(), threads in 1usize..3,
    ) {
        let stack = small(5000).spanning(f64::from(first), f64::from(first + span) / 2.0 + f64::from(first) / 2.0, frames).unwrap();
        let full = smooth_full(&stack);
        let mode = if mean { DownsampleMode::Mean } else { DownsampleMode::Stride };
        let plan = stack.array().select("[:, 1:, ::-1]").unwrap()
            .downsample(fy, fx, mode).unwrap()
            .rechunk([1, 7, 9]).unwrap()
            .optimize().unwrap();
        let got = Executor::new(threads).compute_values::<f32>(&plan).unwrap();
        let sel = full.slice(ndarray::s![.., 1.., ..;-1]);
        let (l, h, w) = sel.dim();
        let (fy, fx) = (fy as usize, fx as usize);
        let (oh, ow) = (h.div_ceil(fy), w.div_ceil(fx));
        prop_assert_eq!(got.dim(), (l, oh, ow));
        for k in 0..l {
            for y in 0..oh {
                for x in 0..ow {
                    let want = if mean {
                        // A partial block at the edge averages the pixels it has.
                        let (mut sum, mut n) = (0f64, 0u32);
                        for yy in y * fy..((y + 1) * fy).min(h) {
                            for xx in x * fx..((x + 1) * fx).min(w) {
                                sum += f64::from(sel[[k, yy, xx]]);
                                n += 1;
                            }
                        }
                        (sum / f64::from(n)) as f32
                    } else {
                        sel[[k, y * fy, x * fx]]
                    };
                    prop_assert_eq!(got[[k, y, x]].to_bits(), want.to_bits(), "{} {} {}", k, y, x);
                }
            }
        }
    }
}
