//! Every backend equals the scalar reference, bit for bit, on every instruction set this CPU
//! supports (each check runs once per [`Isa::supported`] level, forced with [`Isa::scoped`]:
//! the baseline, AVX2+FMA and AVX-512 paths are all compiled into every build). Each check is
//! generated once per backend by `backend_tests!` (as memchr does), so a failure names the
//! backend that broke.

use proptest::prelude::*;
use zoomstack_kernel::spec::escape_scalar;
use zoomstack_kernel::{Backend, IndexRange, Isa, StackParams, render_block, render_points};

fn reference_block(p: &StackParams, level: u64, rows: IndexRange, cols: IndexRange) -> Vec<u16> {
    let g = p.level_grid(level).unwrap();
    let mut v = Vec::new();
    for r in 0..rows.count {
        for c in 0..cols.count {
            v.push(escape_scalar(
                g.cols.at(cols.at(c) as usize),
                g.rows.at(rows.at(r) as usize),
                p.max_iter,
            ));
        }
    }
    v
}

fn check_block(b: Backend, p: &StackParams, level: u64, rows: IndexRange, cols: IndexRange) {
    let want = reference_block(p, level, rows, cols);
    for isa in Isa::supported() {
        let mut got = vec![0u16; want.len()];
        isa.scoped(|| render_block(p, level, rows, cols, b, &mut got))
            .unwrap()
            .unwrap();
        if let Some(i) = (0..want.len()).find(|&i| want[i] != got[i]) {
            panic!(
                "{b} on {isa} differs at pixel {i}: got {} want {} ({p:?} level {level} {rows:?} {cols:?})",
                got[i], want[i]
            );
        }
    }
}

fn check_points(b: Backend, re: &[f64], im: &[f64], max_iter: u32) -> Result<(), String> {
    let want: Vec<u16> = re
        .iter()
        .zip(im)
        .map(|(&a, &c)| escape_scalar(a, c, max_iter))
        .collect();
    for isa in Isa::supported() {
        let mut got = vec![0; re.len()];
        isa.scoped(|| render_points(re, im, max_iter, b, &mut got))
            .unwrap()
            .unwrap();
        if let Some(i) = (0..want.len()).find(|&i| want[i] != got[i]) {
            return Err(format!(
                "{b} on {isa} max_iter {max_iter}: point {i} ({}, {}) got {} want {}",
                re[i], im[i], got[i], want[i]
            ));
        }
    }
    Ok(())
}

fn notebook_levels_small_grids(b: Backend) {
    for level in [0, 1000, 3000, 20000, 60000, 119999] {
        let p = StackParams {
            height: 40,
            width: 56,
            ..StackParams::default()
        };
        check_block(b, &p, level, IndexRange::full(40), IndexRange::full(56));
    }
}

fn whole_level_strided(b: Backend) {
    let p = StackParams::default();
    check_block(
        b,
        &p,
        500,
        IndexRange::new(1, 2, 256),
        IndexRange::new(0, 2, 256),
    );
    // Negative steps: rows and columns in reverse order, same coordinates.
    check_block(
        b,
        &p,
        500,
        IndexRange::new(511, -3, 100),
        IndexRange::new(300, -1, 301),
    );
}

fn points_on_edges(b: Backend) {
    // Points that stay near |z| = 2 (c = -2 and nearby), the cusp, bulb and cardioid edges.
    let mut re = vec![];
    let mut im = vec![];
    for k in 0..200 {
        let e = (f64::from(k) - 100.0) * 1e-9;
        for (a, c) in [
            (-2.0 + e, 0.0),
            (0.25 + e, e),
            (-0.75 + e, e),
            (-1.25 + e, 1e-3 + e),
            (-2.0, e),
            (0.0, 1.0 + e),
        ] {
            re.push(a);
            im.push(c);
        }
    }
    for max_iter in [1, 2, 255, 256, 5000] {
        check_points(b, &re, &im, max_iter).unwrap();
    }
}

fn max_iters() -> impl Strategy<Value = u32> {
    prop_oneof![
        Just(1u32),
        Just(2),
        Just(255),
        Just(256),
        Just(65535),
        1u32..3000
    ]
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
            fn notebook_levels_small_grids() {
                super::notebook_levels_small_grids($backend);
            }

            #[test]
            fn whole_level_strided() {
                super::whole_level_strided($backend);
            }

            #[test]
            fn points_on_edges() {
                super::points_on_edges($backend);
            }

            proptest! {
                #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

                #[test]
                fn random_points(
                    pts in prop::collection::vec((-2.5f64..1.5, -1.6f64..1.6), 1..70),
                    max_iter in max_iters(),
                ) {
                    let (re, im): (Vec<f64>, Vec<f64>) = pts.into_iter().unzip();
                    prop_assert_eq!(check_points($backend, &re, &im, max_iter), Ok(()));
                }

                #[test]
                fn random_grids_and_strides(
                    height in 1usize..40, width in 1usize..40,
                    center_re in -1.5f64..0.5, center_im in -1.0f64..1.0,
                    scale0 in 1e-6f64..4.0, level in 0u64..130000,
                    max_iter in prop_oneof![Just(1u32), Just(255), Just(256), 1u32..600],
                    r0 in 0usize..40, rs in 1usize..4, c0 in 0usize..40, cs in 1usize..4,
                    rdown in any::<bool>(), cdown in any::<bool>(),
                ) {
                    let p = StackParams { height, width, center_re, center_im, scale0, max_iter, ..StackParams::default() };
                    let rows = range_in(height, r0, rs, rdown);
                    let cols = range_in(width, c0, cs, cdown);
                    check_block($backend, &p, level, rows, cols);
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
fn the_default_instruction_set_is_the_cpus_best() {
    // Unless ZOOMSTACK_ISA caps it (as a CI run forcing one level does).
    if std::env::var_os("ZOOMSTACK_ISA").is_none() {
        assert_eq!(Isa::current(), Isa::detected());
    }
    assert!(Isa::Baseline.is_supported());
    for isa in Isa::supported() {
        for b in Backend::ALL {
            let d = isa.scoped(|| b.describe()).unwrap();
            assert!(d.starts_with(b.name()), "{d}");
            assert!(d.contains(&format!("instruction set {isa} ")), "{d}");
        }
        let fused = isa.scoped(zoomstack_kernel::fused_fma).unwrap();
        assert_eq!(fused, isa.hardware_fma());
    }
}

#[test]
fn every_backend_has_its_tests() {
    // A new backend must be added to `backend_tests!` above.
    assert_eq!(Backend::ALL.len(), 3);
}

/// The escape loop's tuning constants (vectors in flight, block length, how long finished lanes
/// gather before their replay) change speed only: every combination, on every backend and
/// instruction set, gives the reference's counts, with shortcuts, hazard lanes (`|c| > 1.9` at
/// level 0) and `max_iter` cut inside a block (100 is not a multiple of any block length here).
#[test]
fn tuning_constants_never_change_a_count() {
    use zoomstack_kernel::render_level_tuned;
    type Tuned =
        fn(&StackParams, u64, Backend, &mut [u16]) -> Result<(), zoomstack_kernel::KernelError>;
    let variants: [(&str, Tuned); 7] = [
        ("V1 K1 G1", render_level_tuned::<1, 1, 1>),
        ("V1 K16 G1000", render_level_tuned::<1, 16, 1000>),
        ("V3 K5 G7", render_level_tuned::<3, 5, 7>),
        ("V4 K16 G1", render_level_tuned::<4, 16, 1>),
        ("V4 K16 G128", render_level_tuned::<4, 16, 128>),
        ("V6 K32 G1000000", render_level_tuned::<6, 32, 1_000_000>),
        ("V2 K7 G3", render_level_tuned::<2, 7, 3>),
    ];
    for max_iter in [100, 256] {
        let p = StackParams {
            height: 48,
            width: 40,
            max_iter,
            ..StackParams::default()
        };
        for level in [0, 3000, 20000, 60000, 119999] {
            let all = (IndexRange::full(48), IndexRange::full(40));
            let want = reference_block(&p, level, all.0, all.1);
            for b in Backend::ALL {
                for isa in Isa::supported() {
                    for (name, f) in variants {
                        let mut got = vec![0u16; want.len()];
                        isa.scoped(|| f(&p, level, b, &mut got)).unwrap().unwrap();
                        let bad = (0..want.len()).find(|&i| want[i] != got[i]);
                        assert!(
                            bad.is_none(),
                            "{b} {name} on {isa}, level {level}, max_iter {max_iter}: pixel {bad:?} differs"
                        );
                    }
                }
            }
        }
    }
}
