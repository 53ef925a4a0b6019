//! Every backend equals the scalar reference, bit for bit.

use proptest::prelude::*;
use zoomstack_kernel::spec::escape_scalar;
use zoomstack_kernel::{IndexRange, Backend, StackParams, render_block, render_points};

fn reference_block(p: &StackParams, level: u64, rows: IndexRange, cols: IndexRange) -> Vec<u16> {
    let g = p.level_grid(level).unwrap();
    let mut v = Vec::with_capacity(rows.count * cols.count);
    for r in 0..rows.count {
        for c in 0..cols.count {
            v.push(escape_scalar(
                g.cols.at(cols.index(c)),
                g.rows.at(rows.index(r)),
                p.max_iter,
            ));
        }
    }
    v
}

fn check_all_backends(p: &StackParams, level: u64, rows: IndexRange, cols: IndexRange) {
    let want = reference_block(p, level, rows, cols);
    for b in Backend::ALL {
        let mut got = vec![0u16; want.len()];
        render_block(p, level, rows, cols, b, &mut got).unwrap();
        if let Some(i) = (0..want.len()).find(|&i| want[i] != got[i]) {
            panic!(
                "{b} differs at pixel {i}: got {} want {} ({p:?} level {level} {rows:?} {cols:?})",
                got[i], want[i]
            );
        }
    }
}

#[test]
fn notebook_levels_small_grids() {
    for level in [0, 1000, 3000, 20000, 60000, 119999] {
        let p = StackParams {
            height: 40,
            width: 56,
            ..StackParams::default()
        };
        check_all_backends(&p, level, IndexRange::full(40), IndexRange::full(56));
    }
}

#[test]
fn whole_level_strided() {
    let p = StackParams::default();
    check_all_backends(
        &p,
        500,
        IndexRange::new(1, 2, 256),
        IndexRange::new(0, 2, 256),
    );
}

#[test]
fn points_on_edges() {
    // Points that stay near |z| = 2 (c = -2 and nearby), the cusp, bulb and cardioid edges.
    let mut re = vec![];
    let mut im = vec![];
    for k in 0..200 {
        let e = (k as f64 - 100.0) * 1e-9;
        for (a, b) in [
            (-2.0 + e, 0.0),
            (0.25 + e, e),
            (-0.75 + e, e),
            (-1.25 + e, 1e-3 + e),
            (-2.0, e),
            (0.0, 1.0 + e),
        ] {
            re.push(a);
            im.push(b);
        }
    }
    for max_iter in [1, 2, 255, 256, 5000] {
        let want: Vec<u16> = re
            .iter()
            .zip(&im)
            .map(|(&a, &b)| escape_scalar(a, b, max_iter))
            .collect();
        for backend in Backend::ALL {
            let mut got = vec![0; re.len()];
            render_points(&re, &im, max_iter, backend, &mut got).unwrap();
            assert_eq!(got, want, "{backend} max_iter {max_iter}");
        }
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

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    #[test]
    fn random_points(
        pts in prop::collection::vec((-2.5f64..1.5, -1.6f64..1.6), 1..70),
        max_iter in max_iters(),
    ) {
        let (re, im): (Vec<f64>, Vec<f64>) = pts.into_iter().unzip();
        let want: Vec<u16> = re.iter().zip(&im).map(|(&a, &b)| escape_scalar(a, b, max_iter)).collect();
        for backend in Backend::ALL {
            let mut got = vec![0; re.len()];
            render_points(&re, &im, max_iter, backend, &mut got).unwrap();
            prop_assert_eq!(&got, &want, "{}", backend);
        }
    }

    #[test]
    fn random_grids_and_strides(
        height in 1usize..40, width in 1usize..40,
        center_re in -1.5f64..0.5, center_im in -1.0f64..1.0,
        scale0 in 1e-6f64..4.0, level in 0u64..130000,
        max_iter in prop_oneof![Just(1u32), Just(255), Just(256), 1u32..600],
        r0 in 0usize..5, rs in 1usize..4, c0 in 0usize..5, cs in 1usize..4,
    ) {
        let p = StackParams { height, width, center_re, center_im, scale0, max_iter, ..StackParams::default() };
        let rows = IndexRange::new(r0.min(height - 1), rs, (height - r0.min(height - 1)).div_ceil(rs));
        let cols = IndexRange::new(c0.min(width - 1), cs, (width - c0.min(width - 1)).div_ceil(cs));
        check_all_backends(&p, level, rows, cols);
    }
}
