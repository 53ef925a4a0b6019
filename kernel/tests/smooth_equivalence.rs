//! Every backend's smooth escape values equal the scalar reference [`smooth_scalar`] bit for
//! bit, on every instruction set this CPU supports (as `tests/equivalence.rs` does for counts:
//! each check runs once per [`Isa::supported`] level, forced with [`Isa::scoped`], and is
//! generated once per backend by `backend_tests!`). Covered: random points (interior points
//! that take the cardioid/bulb shortcut, points with `|c| > 1.9` that force blocks of one
//! iteration, and points that escape at once), strided sub-grids of random levels of the
//! notebook's stack, and random `max_iter`.

use proptest::prelude::*;
use zoomstack_kernel::spec::{escape_scalar, smooth_scalar};
use zoomstack_kernel::{
    Backend, IndexRange, Isa, StackParams, render_block_smooth, render_points_smooth,
};

/// The first pixel where `got` and `want` differ in their bits, as a message.
fn first_difference(got: &[f32], want: &[f32]) -> Option<(usize, String)> {
    (0..want.len())
        .find(|&i| got[i].to_bits() != want[i].to_bits())
        .map(|i| (i, format!("got {} want {}", got[i], want[i])))
}

fn check_points(b: Backend, re: &[f64], im: &[f64], max_iter: u32) -> Result<(), String> {
    let want: Vec<f32> = re
        .iter()
        .zip(im)
        .map(|(&a, &c)| smooth_scalar(a, c, max_iter))
        .collect();
    for isa in Isa::supported() {
        let mut got = vec![0f32; re.len()];
        isa.scoped(|| render_points_smooth(re, im, max_iter, b, &mut got))
            .unwrap()
            .unwrap();
        if let Some((i, what)) = first_difference(&got, &want) {
            return Err(format!(
                "{b} on {isa} max_iter {max_iter}: point {i} ({}, {}) {what}",
                re[i], im[i]
            ));
        }
    }
    Ok(())
}

fn check_block(b: Backend, p: &StackParams, level: u64, rows: IndexRange, cols: IndexRange) {
    let g = p.level_grid(level).unwrap();
    let mut want = Vec::new();
    for r in 0..rows.count {
        for c in 0..cols.count {
            let (x, y) = (
                g.cols.at(cols.at(c) as usize),
                g.rows.at(rows.at(r) as usize),
            );
            want.push(smooth_scalar(x, y, p.max_iter));
        }
    }
    for isa in Isa::supported() {
        let mut got = vec![0f32; want.len()];
        isa.scoped(|| render_block_smooth(p, level, rows, cols, b, &mut got))
            .unwrap()
            .unwrap();
        if let Some((i, what)) = first_difference(&got, &want) {
            panic!(
                "{b} on {isa} differs at pixel {i}: {what} ({p:?} level {level} {rows:?} {cols:?})"
            );
        }
    }
}

fn notebook_levels_small_grids(b: Backend) {
    let p = StackParams {
        height: 40,
        width: 56,
        ..StackParams::default()
    };
    for level in [0, 1000, 3000, 20000, 60000, 119999] {
        check_block(b, &p, level, IndexRange::full(40), IndexRange::full(56));
    }
}

fn points_on_edges(b: Backend) {
    // Near |z| = 2 for ever (c = -2), the cusp, bulb and cardioid edges, |c| > 1.9 (hazard
    // lanes), points far out (escaping on the first update, |z_0| beyond the bailout).
    let (mut re, mut im) = (vec![], vec![]);
    for k in 0..200 {
        let e = (f64::from(k) - 100.0) * 1e-9;
        for (a, c) in [
            (-2.0 + e, 0.0),
            (0.25 + e, e),
            (-0.75 + e, e),
            (-1.25 + e, 1e-3 + e),
            (-2.0, e),
            (0.0, 1.0 + e),
            (-1.95 + e * 1e6, 0.3),
            (1500.0 + e, -2000.0),
        ] {
            re.push(a);
            im.push(c);
        }
    }
    for max_iter in [1, 2, 255, 256, 5000] {
        check_points(b, &re, &im, max_iter).unwrap();
    }
}

/// Smooth values sit near the counts: `max_iter` exactly where the count is `max_iter`; for an
/// escaping point with `|c| <= 2` and count `k >= 1`, `|z_k| <= 4 + 2`, so reaching the
/// bailout takes at least 2 more updates and `|z_n| <= R^2 + 2`, so
/// `nu >= k + 3 - log2(20.000003) > k - 1.33` (sound). Above there is no such bound (orbits near `c = -2` leave slowly), but
/// the large majority lies within `(k - 1, k + 2)` (measured 99.9% of this grid's points).
fn values_near_counts(b: Backend) {
    let (mut re, mut im) = (vec![], vec![]);
    for i in 0..300 {
        for j in 0..200 {
            re.push(-2.0 + f64::from(i) * 0.0083);
            im.push(-1.0 + f64::from(j) * 0.0101);
        }
    }
    let mut got = vec![0f32; re.len()];
    render_points_smooth(&re, &im, 256, b, &mut got).unwrap();
    let (mut escaped, mut near) = (0usize, 0usize);
    for i in 0..re.len() {
        let k = escape_scalar(re[i], im[i], 256);
        if k == 256 {
            assert_eq!(got[i].to_bits(), 256f32.to_bits(), "({}, {})", re[i], im[i]);
        } else if re[i].hypot(im[i]) <= 2.0 && k >= 1 {
            let d = got[i] - f32::from(k);
            assert!(
                d > -1.33,
                "({}, {}) count {k} smooth {}",
                re[i],
                im[i],
                got[i]
            );
            escaped += 1;
            near += usize::from(d > -1.0 && d < 2.0);
        }
    }
    assert!(escaped > 20000, "{escaped}");
    eprintln!("{near} of {escaped} escaping points within (k - 1, k + 2)");
    assert!(near as f64 > 0.99 * escaped as f64, "{near} of {escaped}");
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

macro_rules! backend_tests {
    ($($name:ident => $backend:expr),* $(,)?) => {$(
        mod $name {
            use super::*;

            #[test]
            fn notebook_levels_small_grids() {
                super::notebook_levels_small_grids($backend);
            }

            #[test]
            fn points_on_edges() {
                super::points_on_edges($backend);
            }

            #[test]
            fn values_near_counts() {
                super::values_near_counts($backend);
            }

            proptest! {
                #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

                #[test]
                fn random_points(
                    pts in prop::collection::vec((-2.5f64..1.5, -1.6f64..1.6), 1..70),
                    interior in prop::collection::vec((-0.3f64..0.2, -0.4f64..0.4), 0..10),
                    max_iter in max_iters(),
                ) {
                    let (re, im): (Vec<f64>, Vec<f64>) = pts.into_iter().chain(interior).unzip();
                    prop_assert_eq!(check_points($backend, &re, &im, max_iter), Ok(()));
                }

                #[test]
                fn notebook_sub_grids(
                    level in 0u64..120000,
                    r0 in 0u64..512, rs in 1i64..64, c0 in 0u64..512, cs in 1i64..64,
                    rn in 1u64..12, cn in 1u64..12,
                ) {
                    let p = StackParams::default();
                    let rows = IndexRange::new(r0, rs, rn.min((511 - r0) / rs as u64 + 1));
                    let cols = IndexRange::new(c0, cs, cn.min((511 - c0) / cs as u64 + 1));
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
fn every_backend_has_its_tests() {
    // A new backend must be added to `backend_tests!` above.
    assert_eq!(Backend::ALL.len(), 3);
}

#[test]
fn smooth_checks_as_counts_do() {
    let p = StackParams::default();
    let all = IndexRange::full(512);
    let b = Backend::fastest();
    let mut short = vec![0f32; 10];
    let e = render_block_smooth(&p, 0, all, all, b, &mut short).unwrap_err();
    assert!(e.to_string().contains("expected 262144"), "{e}");
    let e = render_block_smooth(&p, 0, IndexRange::new(0, 1, 513), all, b, &mut short);
    assert!(e.unwrap_err().to_string().contains("rows"));
    let e = render_points_smooth(&[0.0], &[0.0, 1.0], 256, b, &mut short[..1]).unwrap_err();
    assert!(e.to_string().contains("differ in length"), "{e}");
    let e = render_points_smooth(&[f64::NAN], &[0.0], 256, b, &mut short[..1]).unwrap_err();
    assert!(e.to_string().contains("finite"), "{e}");
    let e = render_points_smooth(&[0.0], &[0.0], 0, b, &mut short[..1]).unwrap_err();
    assert!(e.to_string().contains("max_iter"), "{e}");
}
