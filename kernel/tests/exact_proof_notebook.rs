//! The notebook's stack (and one centre with a longer orbit) under the constant-frame proofs:
//! the threshold from which every level is proven constant, checked against the oracle on
//! both sides, proofs at depths f64 deltas do not reach, and the threshold's tightness (the
//! level just above it really has two counts).

use std::collections::BTreeSet;
use std::time::Instant;
use zoomstack_kernel::exact::proof::{
    ConstantFrames, ConstantFrom, is_proven_constant, prove_rect,
};
use zoomstack_kernel::exact::{ExactStack, OrbitCache, oracle, render_block_exact};
use zoomstack_kernel::{Backend, IndexRange};

fn render(stack: &ExactStack, level: u64) -> BTreeSet<u16> {
    let orbit = OrbitCache::global().for_level(stack, level).unwrap();
    let (h, w) = (stack.height as u64, stack.width as u64);
    let mut out = vec![0u16; stack.height * stack.width];
    let (rows, cols) = (IndexRange::full(h), IndexRange::full(w));
    render_block_exact(
        stack,
        &orbit,
        level,
        rows,
        cols,
        Backend::fastest(),
        &mut out,
    )
    .unwrap();
    out.into_iter().collect()
}

/// The oracle's decided count at the corners, the centre pixels and a few others.
fn oracle_counts(stack: &ExactStack, level: u64) -> BTreeSet<Option<u16>> {
    let (h, w) = (stack.height as u64, stack.width as u64);
    let pixels = [
        (0, 0),
        (0, w - 1),
        (h - 1, 0),
        (h - 1, w - 1),
        (h / 2, w / 2),
        (h / 2 - 1, w / 2 - 1),
        (h / 3, 2 * w / 3),
        (h - 2, 1),
    ];
    pixels
        .iter()
        .map(|&(r, j)| {
            let v = oracle::confirmed_count(stack, level, r, j).unwrap();
            v.decided().map(|c| c.count)
        })
        .collect()
}

fn find(stack: &ExactStack) -> ConstantFrom {
    let t = Instant::now();
    let f = ConstantFrames::new()
        .find(stack, OrbitCache::global())
        .unwrap()
        .unwrap();
    eprintln!("find: {f:?} in {:?}", t.elapsed());
    f
}

#[test]
fn notebook_stack_is_constant_from_its_threshold() {
    let stack = ExactStack::default();
    let f = find(&stack);
    assert_eq!(f.count, 250);
    assert!((139_000..=141_000).contains(&f.level), "{f:?}");
    assert!(f.level <= f.continuum_level);
    let l = f.level;
    for level in [l, l + 1, 10 * l, 119_999_999] {
        assert_eq!(
            is_proven_constant(&stack, level).unwrap(),
            Some(250),
            "{level}"
        );
    }
    assert_eq!(is_proven_constant(&stack, l - 1).unwrap(), None);
    // Directly too, each level's own rectangle (119999999 is far past f64 deltas: its proof
    // bounds the depth limit's bigger rectangle).
    for level in [
        f.continuum_level,
        f.continuum_level + 1,
        10 * l,
        119_999_999,
    ] {
        let p = stack.proof_precision(level).unwrap();
        let orbit = OrbitCache::global()
            .get(&stack.center_re, &stack.center_im, stack.max_iter, p)
            .unwrap();
        assert_eq!(
            prove_rect(&stack, &orbit, level).unwrap(),
            Some(250),
            "{level}"
        );
    }
    assert!(stack.check_depth(10 * l).is_ok() && stack.check_depth(119_999_999).is_err());
    // The oracle agrees on both proven sides of the threshold.
    for level in [l, l + 1] {
        assert_eq!(oracle_counts(&stack, level), BTreeSet::from([Some(250)]));
    }
    // Cached per stack.
    let frames = ConstantFrames::new();
    let a = frames.find(&stack, OrbitCache::global()).unwrap();
    let b = frames.find(&stack, OrbitCache::global()).unwrap();
    assert_eq!((a, b, frames.len()), (Some(f), Some(f), 1));
    frames.clear();
    assert!(frames.is_empty());
}

#[test]
fn notebook_threshold_is_tight() {
    let stack = ExactStack::default();
    let f = ConstantFrames::global()
        .find(&stack, OrbitCache::global())
        .unwrap()
        .unwrap();
    assert_eq!(render(&stack, f.level), BTreeSet::from([250]));
    let below = render(&stack, f.level - 1);
    assert!(below.len() > 1, "level {} renders {below:?}", f.level - 1);
}

#[test]
fn a_centre_with_a_longer_orbit() {
    // Count 1037 (max_iter 2000) near the seahorse-valley point, on a 96 x 128 frame.
    let stack = ExactStack {
        height: 96,
        width: 128,
        center_re: "-0.74364386".parse().unwrap(),
        center_im: "0.1318259".parse().unwrap(),
        max_iter: 2000,
        ..ExactStack::default()
    };
    let f = find(&stack);
    assert_eq!(f.count, 1037);
    assert_eq!(render(&stack, f.level), BTreeSet::from([1037]));
    assert!(render(&stack, f.level - 1).len() > 1, "{f:?}");
    assert_eq!(oracle_counts(&stack, f.level), BTreeSet::from([Some(1037)]));
    let deep = 2 * f.continuum_level;
    let orbit = OrbitCache::global().for_level(&stack, deep).unwrap();
    assert_eq!(prove_rect(&stack, &orbit, deep).unwrap(), Some(1037));
}
