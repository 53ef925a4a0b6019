//! Renders a strided block of the stack on the Rust side, pixel by pixel with the scalar
//! reference (`spec::escape_scalar` on `level_grid` coordinates), and writes the counts as raw
//! little-endian `u16` to stdout (level-major, row-major). The Python tests compare the
//! extension's output with this.
//!
//! ```text
//! cargo run --release -p zoomstack-python --example render_raw -- \
//!     LEVEL_START LEVEL_STOP LEVEL_STEP ROW_START ROW_STOP ROW_STEP COL_START COL_STOP COL_STEP \
//!     HEIGHT WIDTH CENTER_RE CENTER_IM SCALE0 ZOOM_PER_LEVEL MAX_ITER
//! ```
//!
//! Ranges have Python's `range(start, stop, step)` meaning (negative steps allowed).

use std::io::Write;
use zoomstack_kernel::{StackParams, spec};

fn python_range(start: i64, stop: i64, step: i64) -> Vec<i64> {
    assert!(step != 0, "step must be non-zero");
    let mut v = Vec::new();
    let mut i = start;
    while (step > 0 && i < stop) || (step < 0 && i > stop) {
        v.push(i);
        i += step;
    }
    v
}

fn main() {
    let a: Vec<String> = std::env::args().skip(1).collect();
    assert_eq!(a.len(), 16, "expected 16 arguments, see the file's docs");
    let int = |k: usize| -> i64 { a[k].parse().expect("an integer") };
    let float = |k: usize| -> f64 { a[k].parse().expect("a number") };
    let levels = python_range(int(0), int(1), int(2));
    let rows = python_range(int(3), int(4), int(5));
    let cols = python_range(int(6), int(7), int(8));
    let p = StackParams {
        height: int(9) as usize,
        width: int(10) as usize,
        center_re: float(11),
        center_im: float(12),
        scale0: float(13),
        zoom_per_level: float(14),
        max_iter: int(15) as u32,
    };
    let mut out = Vec::with_capacity(levels.len() * rows.len() * cols.len() * 2);
    for &level in &levels {
        let grid = p.level_grid(level as u64).expect("valid level");
        for &r in &rows {
            let ci = grid.rows.at(r as usize);
            for &c in &cols {
                let cr = grid.cols.at(c as usize);
                out.extend_from_slice(&spec::escape_scalar(cr, ci, p.max_iter).to_le_bytes());
            }
        }
    }
    std::io::stdout().write_all(&out).expect("stdout");
}
