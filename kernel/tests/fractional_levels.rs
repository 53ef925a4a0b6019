//! Fractional levels: `render_block_at` / `render_block_smooth_at` at an integer `t` are the
//! level's frame bit for bit, at any `t` they are level 0 of the stack whose `scale0` is
//! `scale_at(t)`, and a bad `t` is refused.

use zoomstack_kernel::{
    Backend, IndexRange, StackParams, render_block, render_block_at, render_block_smooth,
    render_block_smooth_at,
};

const ALL: IndexRange = IndexRange {
    start: 0,
    step: 1,
    count: 512,
};

fn counts(p: &StackParams, t: f64, rows: IndexRange, cols: IndexRange, b: Backend) -> Vec<u16> {
    let mut out = vec![0u16; (rows.count * cols.count) as usize];
    render_block_at(p, t, rows, cols, b, &mut out).unwrap();
    out
}

fn smooth(p: &StackParams, t: f64, rows: IndexRange, cols: IndexRange, b: Backend) -> Vec<u32> {
    let mut out = vec![0f32; (rows.count * cols.count) as usize];
    render_block_smooth_at(p, t, rows, cols, b, &mut out).unwrap();
    out.iter().map(|v| v.to_bits()).collect()
}

#[test]
fn integer_t_is_the_level_bit_for_bit() {
    let p = StackParams::default();
    let (rows, cols) = (IndexRange::new(1, 2, 256), ALL);
    for level in [0u64, 1, 3000, 20000, 119999] {
        assert_eq!(p.scale_at(level as f64).to_bits(), p.scale(level).to_bits());
        assert_eq!(p.level_grid_at(level as f64), p.level_grid(level));
        for b in Backend::ALL {
            let mut want = vec![0u16; 256 * 512];
            render_block(&p, level, rows, cols, b, &mut want).unwrap();
            assert_eq!(counts(&p, level as f64, rows, cols, b), want, "{b} {level}");
            let mut want = vec![0f32; 256 * 512];
            render_block_smooth(&p, level, rows, cols, b, &mut want).unwrap();
            let want: Vec<u32> = want.iter().map(|v| v.to_bits()).collect();
            assert_eq!(smooth(&p, level as f64, rows, cols, b), want, "{b} {level}");
        }
    }
}

#[test]
fn fractional_t_is_level_0_of_the_rescaled_stack() {
    let p = StackParams::default();
    let b = Backend::fastest();
    let (rows, cols) = (IndexRange::new(0, 3, 171), IndexRange::new(511, -2, 256));
    for t in [0.5, 0.001, 2999.75, 45678.125, 119998.9] {
        let q = StackParams {
            scale0: p.scale_at(t),
            ..p
        };
        assert_eq!(p.level_grid_at(t).unwrap(), q.level_grid(0).unwrap());
        assert_eq!(counts(&p, t, rows, cols, b), counts(&q, 0.0, rows, cols, b));
        assert_eq!(smooth(&p, t, rows, cols, b), smooth(&q, 0.0, rows, cols, b));
        // In between its neighbours: the scale lies strictly between theirs.
        let (lo, hi) = (p.scale(t.ceil() as u64), p.scale(t.floor() as u64));
        assert!(lo < p.scale_at(t) && p.scale_at(t) < hi, "{t}");
    }
}

#[test]
fn bad_t_is_refused() {
    let p = StackParams::default();
    let b = Backend::fastest();
    for t in [-1.0, -1e-300, f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
        let mut c = vec![0u16; 512 * 512];
        let mut s = vec![0f32; 512 * 512];
        let errors = [
            p.level_grid_at(t).unwrap_err(),
            render_block_at(&p, t, ALL, ALL, b, &mut c).unwrap_err(),
            render_block_smooth_at(&p, t, ALL, ALL, b, &mut s).unwrap_err(),
        ];
        for e in errors {
            let e = e.to_string();
            assert!(
                e.starts_with("level must be a finite number >= 0, got"),
                "{t}: {e}"
            );
        }
    }
    // A level too deep for f64 still fails on its scale, as integer levels do.
    let deep = StackParams {
        zoom_per_level: 2.0,
        ..p
    };
    assert!(deep.level_grid_at(5000.5).is_err());
}
