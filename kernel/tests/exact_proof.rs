//! Constant-frame proofs (`exact::proof`) are never wrong: whenever a proof says a frame is
//! constant, the exact render of that frame is that one count and the big-precision oracle
//! agrees at its corners, centre and sampled pixels. Plus the edge cases: no continuum proof
//! without zooming in, centres inside the set, frames with two counts, wrong orbits.
//!
//! `ZOOMSTACK_PROOF_CASES` sets the number of random stacks (default 16).

use proptest::prelude::*;
use std::collections::BTreeSet;
use zoomstack_kernel::exact::proof::{ConstantFrames, prove_frame, prove_rect};
use zoomstack_kernel::exact::{
    ExactReal, ExactStack, OrbitCache, ReferenceOrbit, oracle, render_block_exact,
};
use zoomstack_kernel::{Backend, IndexRange, KernelError};

/// The exact render of a whole level (the scalar reference).
fn render(stack: &ExactStack, level: u64) -> Vec<u16> {
    let orbit = OrbitCache::global().for_level(stack, level).unwrap();
    let (h, w) = (stack.height as u64, stack.width as u64);
    let mut out = vec![0u16; stack.height * stack.width];
    let (rows, cols) = (IndexRange::full(h), IndexRange::full(w));
    render_block_exact(stack, &orbit, level, rows, cols, Backend::Scalar, &mut out).unwrap();
    out
}

fn distinct(counts: &[u16]) -> BTreeSet<u16> {
    counts.iter().copied().collect()
}

/// Corners, the centre and three pixels picked by `seed`.
fn sample_pixels(stack: &ExactStack, seed: u64) -> Vec<(u64, u64)> {
    let (h, w) = (stack.height as u64, stack.width as u64);
    let mut px = vec![
        (0, 0),
        (0, w - 1),
        (h - 1, 0),
        (h - 1, w - 1),
        (h / 2, w / 2),
    ];
    let mut x = seed | 1;
    for _ in 0..3 {
        x = x
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        px.push(((x >> 33) % h, (x >> 13) % w));
    }
    px
}

/// Asserts that the exact render of `level` is all `claim` (a proof's count).
fn assert_render_constant(stack: &ExactStack, level: u64, claim: u16, what: &str) {
    let seen = distinct(&render(stack, level));
    assert_eq!(
        seen,
        BTreeSet::from([claim]),
        "{what} said level {level} is all {claim}, the render has {seen:?} ({stack:?})"
    );
}

/// Asserts that `claim` (a proof's count for `level`) is the truth: the render is all of it and
/// the oracle decides it at the sampled pixels.
fn assert_true_constant(stack: &ExactStack, level: u64, claim: u16, what: &str) {
    assert_render_constant(stack, level, claim, what);
    for (r, j) in sample_pixels(stack, level) {
        let v = oracle::confirmed_count(stack, level, r, j).unwrap();
        let got = v.decided().map(|c| c.count);
        assert_eq!(
            got,
            Some(claim),
            "{what}: oracle {v:?} at ({r}, {j}) of level {level} ({stack:?})"
        );
    }
}

/// Checks every proof of `level`; returns whether one held.
fn check_level(stack: &ExactStack, level: u64) -> bool {
    let orbit = OrbitCache::global().for_level(stack, level).unwrap();
    let frame = prove_frame(stack, &orbit, level).unwrap();
    let rect = prove_rect(stack, &orbit, level).unwrap();
    if let (Some(a), Some(b)) = (frame, rect) {
        assert_eq!(a, b, "frame and rectangle proofs disagree at level {level}");
    }
    if let Some(k) = frame.or(rect) {
        assert_true_constant(stack, level, k, "a proof");
    }
    frame.is_some() || rect.is_some()
}

/// Points near the boundary: escaping ones (counts 32 to 475) and ones inside.
const CENTRES: &[(f64, f64)] = &[
    (-0.743645857047151, 0.13182592380533),
    (-0.7436438870371587, 0.131825904205312),
    (-1.25066, 0.02012),
    (0.2501, 0.0),
    (-0.75, 0.1),
    (-0.1011, 0.9563),
    (-1.7499, 0.0),
    (0.28, 0.008),
    (-0.16, 1.0405),
];

fn exact(x: f64) -> ExactReal {
    ExactReal::from_f64(x).unwrap()
}

fn cases() -> u32 {
    std::env::var("ZOOMSTACK_PROOF_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(16)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(), ..ProptestConfig::default() })]

    /// Random small stacks near the boundary, at levels around their proven thresholds: every
    /// proof that holds is the truth, and the found threshold's levels are constant.
    #[test]
    fn proofs_are_never_wrong(
        height in 16usize..=48, width in 16usize..=48,
        centre in prop::sample::select(CENTRES),
        jitter in (-1e-4f64..1e-4, -1e-4f64..1e-4),
        max_iter in 64u32..=1024,
        zoom in prop::sample::select(vec![1.01f64, 1.03, 1.1]),
        below in 1u64..40,
        decimal in any::<bool>(),
    ) {
        // A decimal centre is not binary: the orbit's own rounding of it enters the bounds.
        let c = |x: f64| if decimal { format!("{x:.14}").parse().unwrap() } else { exact(x) };
        let mut stack = ExactStack {
            height,
            width,
            center_re: c(centre.0 + jitter.0),
            center_im: c(centre.1 + jitter.1),
            scale0: exact(3.0),
            zoom_per_level: exact(zoom),
            max_iter,
            bla: false,
        };
        // A centre inside the set costs max_iter updates per tile: keep those cheap.
        if ReferenceOrbit::for_level(&stack, 0).unwrap().escape_count().is_none() {
            stack.max_iter = stack.max_iter.min(256);
        }
        let found = ConstantFrames::new().find(&stack, OrbitCache::global()).unwrap();
        let Some(f) = found else { return Ok(()); };
        prop_assert!(f.level <= f.continuum_level);
        for level in [f.level, f.level + 1, f.continuum_level, f.continuum_level + 7] {
            prop_assert!(check_level(&stack, level), "level {level} of {f:?} not proven");
        }
        // Below the threshold proofs may or may not hold; when they do, they are true.
        for level in [f.level.saturating_sub(1), f.level.saturating_sub(below)] {
            check_level(&stack, level);
        }
    }
}

#[test]
fn no_continuum_proof_without_zooming_in() {
    // Level 0 of this stack is deep in the notebook's constant region (scale 1e-16).
    for zoom in ["1", "0.999"] {
        let stack = ExactStack {
            height: 24,
            width: 24,
            scale0: "1e-16".parse().unwrap(),
            zoom_per_level: zoom.parse().unwrap(),
            ..ExactStack::default()
        };
        let orbit = OrbitCache::global().for_level(&stack, 0).unwrap();
        assert_eq!(prove_rect(&stack, &orbit, 0).unwrap(), None, "zoom {zoom}");
        assert_eq!(
            ConstantFrames::new()
                .find(&stack, OrbitCache::global())
                .unwrap(),
            None
        );
        // A frame proof needs no zoom: this level alone is proven.
        assert_eq!(prove_frame(&stack, &orbit, 0).unwrap(), Some(250));
        assert_true_constant(&stack, 0, 250, "prove_frame");
    }
}

#[test]
fn centre_inside_the_set_gives_max_iter_frames() {
    // -0.1 + 0.1i is in the main cardioid: deep frames never escape.
    let stack = ExactStack {
        height: 24,
        width: 32,
        center_re: "-0.1".parse().unwrap(),
        center_im: "0.1".parse().unwrap(),
        scale0: "3".parse().unwrap(),
        zoom_per_level: "1.01".parse().unwrap(),
        max_iter: 2000,
        bla: false,
    };
    let f = ConstantFrames::new()
        .find(&stack, OrbitCache::global())
        .unwrap()
        .unwrap();
    assert_eq!(f.count, 2000);
    // Level 0 (the whole picture) is not constant; the threshold frame is, all never escaping.
    assert!(f.level > 0);
    assert!(distinct(&render(&stack, 0)).len() > 1);
    assert_true_constant(&stack, f.level, 2000, "find");
    // Deep levels, one beyond f64 deltas, by the continuum proof of their own rectangle.
    for level in [f.level + 1000, 100_000] {
        let p = stack.proof_precision(level).unwrap();
        let orbit = OrbitCache::global()
            .get(&stack.center_re, &stack.center_im, stack.max_iter, p)
            .unwrap();
        assert_eq!(prove_rect(&stack, &orbit, level).unwrap(), Some(2000));
        assert_eq!(prove_frame(&stack, &orbit, level).unwrap(), Some(2000));
        assert_eq!(f.covers(level), Some(2000));
    }
    assert!(stack.check_depth(100_000).is_err());
}

#[test]
fn frames_with_two_counts_are_never_proven() {
    // Frames around boundary points at every scale of a short stack: each frame whose render
    // has two counts must be refused by both proofs (and each proven one is checked).
    for (centre, max_iter) in [((-0.75, 0.0), 64), ((0.25, 0.0), 200), (CENTRES[2], 600)] {
        let stack = ExactStack {
            height: 17,
            width: 23,
            center_re: exact(centre.0),
            center_im: exact(centre.1),
            scale0: exact(3.0),
            zoom_per_level: exact(1.3),
            max_iter,
            bla: false,
        };
        let (mut refused, mut proven) = (0, 0);
        for level in 0..120 {
            let counts = render(&stack, level);
            let orbit = OrbitCache::global().for_level(&stack, level).unwrap();
            let frame = prove_frame(&stack, &orbit, level).unwrap();
            let rect = prove_rect(&stack, &orbit, level).unwrap();
            if distinct(&counts).len() > 1 {
                assert_eq!((frame, rect), (None, None), "level {level} of {stack:?}");
                refused += 1;
            } else if let Some(k) = frame.or(rect) {
                // The oracle at the first proven levels (the shallowest, hardest), the render
                // at all.
                if proven < 3 {
                    assert_true_constant(&stack, level, k, "a proof");
                } else {
                    assert_render_constant(&stack, level, k, "a proof");
                }
                proven += 1;
            }
        }
        assert!(refused > 0 && proven > 0, "{refused} {proven} {stack:?}");
    }
}

#[test]
fn a_wrong_orbit_is_an_error() {
    let stack = ExactStack::default();
    let other = ExactStack {
        center_re: "-0.75".parse().unwrap(),
        ..ExactStack::default()
    };
    let orbit = ReferenceOrbit::for_level(&other, 150000).unwrap();
    let e = prove_rect(&stack, &orbit, 150000).unwrap_err();
    assert!(
        matches!(e, KernelError::OrbitMismatch { what: "center", .. }),
        "{e}"
    );
    let short = ReferenceOrbit::compute(&stack.center_re, &stack.center_im, 100, 128).unwrap();
    let e = prove_frame(&stack, &short, 150000).unwrap_err();
    assert!(
        matches!(
            e,
            KernelError::OrbitMismatch {
                what: "max_iter",
                ..
            }
        ),
        "{e}"
    );
    // Any precision is accepted (the bounds use it): a 64-bit orbit still proves level 150000.
    let low = ReferenceOrbit::compute(&stack.center_re, &stack.center_im, 256, 64).unwrap();
    assert_eq!(prove_rect(&stack, &low, 150000).unwrap(), Some(250));
    let bad = ExactStack {
        width: 0,
        ..stack.clone()
    };
    assert!(prove_rect(&bad, &low, 0).is_err());
}

#[test]
fn single_pixel_and_single_line_frames() {
    // An axis of one pixel sits at -1/2 of its extent (not at the centre): the pixel proof
    // places it there, the rectangle proof covers the whole extent.
    for (height, width) in [(1, 1), (1, 9), (7, 1)] {
        let stack = ExactStack {
            height,
            width,
            ..ExactStack::default()
        };
        for level in [100_000, 139_000, 139_845, 150_000] {
            check_level(&stack, level);
        }
        assert!(check_level(&stack, 150_000), "{height} x {width}");
        let f = ConstantFrames::new()
            .find(&stack, OrbitCache::global())
            .unwrap()
            .unwrap();
        assert_eq!(f.count, 250);
        check_level(&stack, f.level);
        if f.level > 0 {
            check_level(&stack, f.level - 1);
        }
    }
}

#[test]
fn continuum_proofs_hold_between_pixels() {
    // Square frames of any pixel count share one rectangle per level: a rectangle proven on a
    // 9 x 9 stack must be constant on a 129 x 129 grid of the same rectangle.
    for (centre, max_iter) in [(CENTRES[0], 300), (CENTRES[2], 600), (CENTRES[3], 400)] {
        let coarse = ExactStack {
            height: 9,
            width: 9,
            center_re: exact(centre.0),
            center_im: exact(centre.1),
            scale0: exact(3.0),
            zoom_per_level: exact(1.02),
            max_iter,
            bla: false,
        };
        let fine = ExactStack {
            height: 129,
            width: 129,
            ..coarse.clone()
        };
        let f = ConstantFrames::new()
            .find(&coarse, OrbitCache::global())
            .unwrap()
            .unwrap();
        let mut proven = 0;
        for level in f.continuum_level.saturating_sub(30)..f.continuum_level + 3 {
            let orbit = OrbitCache::global().for_level(&coarse, level).unwrap();
            if let Some(k) = prove_rect(&coarse, &orbit, level).unwrap() {
                assert_render_constant(&fine, level, k, "the 9 x 9 rectangle proof");
                proven += 1;
            }
        }
        assert!(proven >= 3, "{f:?}");
    }
}
