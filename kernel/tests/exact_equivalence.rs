//! Every backend of the exact mode equals the scalar perturbation reference
//! ([`perturb_scalar_detail`]) bit for bit, in the count and in `|z|^2` at the deciding update
//! (counts alone rarely show a misplaced rebase: perturbation is exact with or without it), generated per backend as in `equivalence.rs`; plus the
//! exact mode's API contracts (sub-grids, orbit reuse, errors). Each check runs on every
//! instruction set this CPU supports ([`Isa::scoped`]).

use proptest::prelude::*;
use zoomstack_kernel::exact::{
    ExactReal, ExactStack, OrbitCache, PerturbCount, ReferenceOrbit, oracle, perturb_scalar_detail,
    render_block_exact, render_block_exact_detail,
};
use zoomstack_kernel::{Backend, IndexRange, Isa, KernelError};

fn reference_block(
    stack: &ExactStack,
    orbit: &ReferenceOrbit,
    level: u64,
    rows: IndexRange,
    cols: IndexRange,
) -> Vec<PerturbCount> {
    let o = stack.offsets(level, rows, cols).unwrap();
    let mut v = Vec::new();
    for &dy in &o.rows {
        for &dx in &o.cols {
            v.push(perturb_scalar_detail(orbit, dx, dy, stack.max_iter));
        }
    }
    v
}

fn same(a: PerturbCount, b: PerturbCount) -> bool {
    a.count == b.count
        && (a.norm.to_bits() == b.norm.to_bits() || (a.norm.is_nan() && b.norm.is_nan()))
}

fn check_block(b: Backend, stack: &ExactStack, level: u64, rows: IndexRange, cols: IndexRange) {
    let orbit = OrbitCache::global().for_level(stack, level).unwrap();
    let want = reference_block(stack, &orbit, level, rows, cols);
    let zero = PerturbCount {
        count: 0,
        norm: 0.0,
    };
    for isa in Isa::supported() {
        let mut got = vec![zero; want.len()];
        isa.scoped(|| render_block_exact_detail(stack, &orbit, level, rows, cols, b, &mut got))
            .unwrap()
            .unwrap();
        if let Some(i) = (0..want.len()).find(|&i| !same(want[i], got[i])) {
            panic!(
                "{b} on {isa} differs at pixel {i}: got {:?} want {:?} ({stack:?} level {level} {rows:?} {cols:?})",
                got[i], want[i]
            );
        }
        let mut counts = vec![0u16; want.len()];
        isa.scoped(|| render_block_exact(stack, &orbit, level, rows, cols, b, &mut counts))
            .unwrap()
            .unwrap();
        assert!(counts.iter().zip(&got).all(|(c, g)| *c == g.count));
    }
}

/// Centres near the boundary, where orbits are long, rebase and escape at varied counts.
const CENTRES: &[(f64, f64)] = &[
    (-0.743645857047151, 0.13182592380533),
    (-0.7436438870371587, 0.131825904205312),
    (-1.7499, 0.0),
    (-0.1011, 0.9563),
    (-1.25066, 0.02012),
    (0.2501, 0.0),
    (-0.75, 0.1),
];

fn stack(
    (height, width): (usize, usize),
    centre: (f64, f64),
    scale0: f64,
    max_iter: u32,
) -> ExactStack {
    ExactStack {
        height,
        width,
        center_re: ExactReal::from_f64(centre.0).unwrap(),
        center_im: ExactReal::from_f64(centre.1).unwrap(),
        scale0: ExactReal::from_f64(scale0).unwrap(),
        max_iter,
        ..ExactStack::default()
    }
}

fn notebook_small_frames(b: Backend) {
    let s = ExactStack {
        height: 40,
        width: 56,
        ..ExactStack::default()
    };
    for level in [0, 20000, 100000, 120000, 139000, 150000, 400000] {
        check_block(b, &s, level, IndexRange::full(40), IndexRange::full(56));
    }
}

fn deep_levels(b: Backend) {
    // Up to the f64-delta limit: orbits of 1088 bits at level 2.7 million.
    let s = stack((9, 13), CENTRES[0], 3.0, 300);
    for level in [1_000_000, 2_000_000, 2_700_000] {
        check_block(b, &s, level, IndexRange::full(9), IndexRange::full(13));
    }
}

fn mode_switching_frames(b: Backend) {
    // Frames big enough for the delta loop's rebase-rate estimate to move its vectors between
    // lockstep (rare rebases) and gather (frequent ones): level 3000 rebases often, 20000 and
    // 60000 partly, 120000 and 130000 rarely but at the orbit's end.
    let s = ExactStack {
        height: 160,
        width: 192,
        ..ExactStack::default()
    };
    for level in [3000, 20000, 60000, 120000, 130000] {
        check_block(b, &s, level, IndexRange::full(160), IndexRange::full(192));
    }
}

/// A strided run inside `0..len`, ascending or descending.
fn range_in(len: usize, start: usize, step: usize, down: bool) -> IndexRange {
    let start = start.min(len - 1);
    if down {
        IndexRange::new(start as u64, -(step as i64), (start / step + 1) as u64)
    } else {
        IndexRange::new(
            start as u64,
            step as i64,
            (len - start).div_ceil(step) as u64,
        )
    }
}

macro_rules! backend_tests {
    ($($name:ident => $backend:expr),* $(,)?) => {$(
        mod $name {
            use super::*;

            #[test]
            fn notebook_small_frames() {
                super::notebook_small_frames($backend);
            }

            #[test]
            fn deep_levels() {
                super::deep_levels($backend);
            }

            #[test]
            fn mode_switching_frames() {
                super::mode_switching_frames($backend);
            }

            proptest! {
                #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

                #[test]
                fn random_stacks_and_strides(
                    height in 1usize..24, width in 1usize..24,
                    centre in prop::sample::select(CENTRES),
                    jitter in (-1e-3f64..1e-3, -1e-3f64..1e-3),
                    scale0 in 1e-6f64..4.0, level in 0u64..200000,
                    max_iter in prop_oneof![Just(1u32), Just(2), Just(256), 1u32..700],
                    r0 in 0usize..24, rs in 1usize..4, c0 in 0usize..24, cs in 1usize..4,
                    rdown in any::<bool>(), cdown in any::<bool>(),
                ) {
                    let s = stack(
                        (height, width),
                        (centre.0 + jitter.0, centre.1 + jitter.1),
                        scale0,
                        max_iter,
                    );
                    let rows = range_in(height, r0, rs, rdown);
                    let cols = range_in(width, c0, cs, cdown);
                    check_block($backend, &s, level, rows, cols);
                }
            }
        }
    )*};
}

backend_tests! {
    scalar => Backend::Scalar,
    f64x4 => Backend::F64x4,
    f64x8 => Backend::F64x8,
}

#[test]
fn every_backend_has_its_tests() {
    assert_eq!(Backend::ALL.len(), 3);
}

#[test]
fn sub_grids_equal_the_full_frame_and_longer_orbits_change_nothing() {
    let s = ExactStack {
        height: 48,
        width: 64,
        ..ExactStack::default()
    };
    let level = 120000;
    let orbit = OrbitCache::global().for_level(&s, level).unwrap();
    let mut full = vec![0u16; 48 * 64];
    let all = (IndexRange::full(48), IndexRange::full(64));
    render_block_exact(
        &s,
        &orbit,
        level,
        all.0,
        all.1,
        Backend::fastest(),
        &mut full,
    )
    .unwrap();
    let (rows, cols) = (IndexRange::new(47, -3, 16), IndexRange::new(1, 5, 13));
    let mut sub = vec![0u16; 16 * 13];
    render_block_exact(&s, &orbit, level, rows, cols, Backend::Scalar, &mut sub).unwrap();
    for (k, r) in rows.to_vec().into_iter().enumerate() {
        for (l, c) in cols.to_vec().into_iter().enumerate() {
            assert_eq!(sub[k * 13 + l], full[r as usize * 64 + c as usize]);
        }
    }
    // An orbit computed for a larger max_iter gives the same counts.
    let longer =
        ReferenceOrbit::compute(&s.center_re, &s.center_im, 1000, orbit.precision()).unwrap();
    let mut again = vec![0u16; 48 * 64];
    render_block_exact(
        &s,
        &longer,
        level,
        all.0,
        all.1,
        Backend::fastest(),
        &mut again,
    )
    .unwrap();
    assert_eq!(again, full);
}

#[test]
fn errors_are_clear() {
    let s = ExactStack::default();
    let orbit = OrbitCache::global().for_level(&s, 0).unwrap();
    let one = IndexRange::new(0, 1, 1);
    let mut out = [0u16];
    let render = |st: &ExactStack, o: &ReferenceOrbit, level: u64, out: &mut [u16]| {
        render_block_exact(st, o, level, one, one, Backend::Scalar, out)
    };
    // Past what f64 deltas cover.
    let e = render(&s, &orbit, 3_000_000, &mut out).unwrap_err();
    assert!(
        matches!(
            e,
            KernelError::TooDeep {
                level: 3_000_000,
                ..
            }
        ),
        "{e}"
    );
    assert!(e.to_string().contains("1e-300"), "{e}");
    // An orbit of the wrong precision, centre or max_iter.
    let e = render(&s, &orbit, 2_000_000, &mut out).unwrap_err();
    assert!(e.to_string().contains("precision"), "{e}");
    let other = ExactStack {
        center_re: "-0.75".parse().unwrap(),
        ..s.clone()
    };
    assert!(
        render(&other, &orbit, 0, &mut out)
            .unwrap_err()
            .to_string()
            .contains("center")
    );
    let more = ExactStack {
        max_iter: 257,
        ..s.clone()
    };
    assert!(
        render(&more, &orbit, 0, &mut out)
            .unwrap_err()
            .to_string()
            .contains("max_iter")
    );
    // Output and slices.
    let e = render(&s, &orbit, 0, &mut [0u16; 2]).unwrap_err();
    assert!(matches!(e, KernelError::BadOutputLen { .. }), "{e}");
    let e = render_block_exact(
        &s,
        &orbit,
        0,
        IndexRange::new(600, 1, 1),
        one,
        Backend::Scalar,
        &mut out,
    )
    .unwrap_err();
    assert!(matches!(e, KernelError::SliceOutOfBounds { .. }), "{e}");
    // Bad parameters.
    let e = ExactReal::parse("center_re", "-0.74.3")
        .unwrap_err()
        .to_string();
    assert!(e.contains("center_re") && e.contains("\"-0.74.3\""), "{e}");
    let zero_zoom = ExactStack {
        zoom_per_level: ExactReal::zero(),
        ..s.clone()
    };
    assert!(
        render(&zero_zoom, &orbit, 0, &mut out)
            .unwrap_err()
            .to_string()
            .contains("zoom_per_level")
    );
}

#[test]
fn orbit_cache_shares_one_orbit_per_band() {
    let cache = OrbitCache::new();
    let s = ExactStack::default();
    let a = cache.for_level(&s, 0).unwrap();
    let b = cache.for_level(&s, 150000).unwrap();
    assert!(std::sync::Arc::ptr_eq(&a, &b));
    let c = cache.for_level(&s, 1_000_000).unwrap();
    assert!(c.precision() > a.precision());
    assert_eq!(cache.len(), 2);
    // Threads asking at once get the same orbit.
    let s2 = ExactStack {
        max_iter: 3000,
        ..s.clone()
    };
    let got: Vec<_> = std::thread::scope(|sc| {
        let hs: Vec<_> = (0..4)
            .map(|_| sc.spawn(|| cache.for_level(&s2, 5).unwrap()))
            .collect();
        hs.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert!(got.iter().all(|o| std::sync::Arc::ptr_eq(o, &got[0])));
    assert_eq!(cache.len(), 3);
    assert!(cache.get(&s.center_re, &s.center_im, 0, 128).is_err());
    assert_eq!(cache.len(), 3, "a refused request caches nothing");
    cache.clear();
    assert!(cache.is_empty());
}

#[test]
fn reference_orbit_is_confirmed_at_double_precision() {
    // The precision rule's orbit and one of twice its precision agree in every stored f64 on
    // both truth-set centres (long orbits included).
    for (re, im, max_iter) in [
        ("-0.743645857047151", "0.13182592380533", 256),
        (
            "-0.743643887037158704752191506114774",
            "0.131825904205311970493132056385139",
            5000,
        ),
    ] {
        let (re, im): (ExactReal, ExactReal) = (re.parse().unwrap(), im.parse().unwrap());
        let a = ReferenceOrbit::compute(&re, &im, max_iter, 128).unwrap();
        let b = ReferenceOrbit::compute(&re, &im, max_iter, 256).unwrap();
        assert_eq!(a.points(), b.points());
    }
}

/// Pixels safely inside the main cardioid or the period-2 bulb are not iterated (their `|z|^2`
/// is NaN) and get `max_iter`, which the big-float oracle confirms; pixels outside are iterated.
#[test]
fn interior_pixels_are_proven_not_iterated() {
    let s = ExactStack {
        height: 40,
        width: 56,
        ..ExactStack::default()
    };
    let (rows, cols) = (IndexRange::full(40), IndexRange::full(56));
    let orbit = OrbitCache::global().for_level(&s, 0).unwrap();
    let zero = PerturbCount {
        count: 0,
        norm: 0.0,
    };
    let mut out = vec![zero; 40 * 56];
    render_block_exact_detail(&s, &orbit, 0, rows, cols, Backend::fastest(), &mut out).unwrap();
    let skipped: Vec<usize> = (0..out.len()).filter(|&p| out[p].norm.is_nan()).collect();
    assert!(
        skipped.len() > 100,
        "{} of {} skipped",
        skipped.len(),
        out.len()
    );
    for &p in skipped.iter().step_by(skipped.len() / 8) {
        assert_eq!(out[p].count, 256);
        let v = oracle::confirmed_count(&s, 0, (p / 56) as u64, (p % 56) as u64).unwrap();
        assert_eq!(v.decided().map(|c| c.count), Some(256), "pixel {p}");
    }
    let iterated_256 = out
        .iter()
        .filter(|c| c.count == 256 && !c.norm.is_nan())
        .count();
    assert!(
        iterated_256 > 0,
        "interior pixels outside the cardioid and bulb are iterated"
    );
}

/// FNV-1a over the counts and `|z|^2` bits of exact renders: the same in every build (native,
/// x86-64 without FMA, x86-64-v3), so the builds agree with each other, not only each with its
/// own scalar reference.
#[test]
fn same_bits_in_every_build() {
    let mut hash = 0xcbf2_9ce4_8422_2325u64;
    let mut eat = |x: u64| {
        for b in x.to_le_bytes() {
            hash = (hash ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
        }
    };
    let seahorse = ExactStack {
        center_re: "-0.743643887037158704752191506114774".parse().unwrap(),
        center_im: "0.131825904205311970493132056385139".parse().unwrap(),
        max_iter: 5000,
        ..ExactStack::default()
    };
    for (s, level) in [
        (ExactStack::default(), 120000u64),
        (ExactStack::default(), 1_000_000),
        (seahorse, 120000),
    ] {
        let orbit = OrbitCache::global().for_level(&s, level).unwrap();
        let (rows, cols) = (IndexRange::new(3, 8, 64), IndexRange::new(5, 8, 64));
        let zero = PerturbCount {
            count: 0,
            norm: 0.0,
        };
        let mut out = vec![zero; 64 * 64];
        render_block_exact_detail(&s, &orbit, level, rows, cols, Backend::fastest(), &mut out)
            .unwrap();
        for p in out {
            eat(u64::from(p.count));
            eat(p.norm.to_bits());
        }
    }
    assert_eq!(hash, 0xb172_0a4b_a06e_8b7c, "{hash:#018x}");
}
