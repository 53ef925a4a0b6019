//! The `grid` resource: where every shown row and column of a level lies in the complex plane.
//!
//! Numpy stacks answer with the notebook's own f64 coordinates. Exact stacks answer with each
//! pixel's offset from the stack's centre `c0` and the level's height as decimal text (six
//! significant digits, any exponent): at depth these are far below what an f64 coordinate can
//! tell apart (and below f64's range from about level 2.8 million of the notebook's zoom).

use serde_json::{Value, json};
use zoomstack_engine::{Arithmetic, ZoomStack};
use zoomstack_kernel::exact::{ExactStack, axis_fraction};
use zoomstack_kernel::{IndexRange, Linspace};

use crate::view::AxisJson;

/// The grid of `level` for the shown `rows` and `cols` (already checked against the level).
pub(crate) fn grid_json(
    stack: &ZoomStack,
    level: u64,
    stride: usize,
    rows: IndexRange,
    cols: IndexRange,
) -> Result<Value, String> {
    let mut body = match &stack.arithmetic {
        Arithmetic::Numpy => numpy_grid(stack, level, rows, cols)?,
        Arithmetic::Exact(e) => exact_grid(e, level, rows, cols),
    };
    body["level"] = json!(level);
    body["stride"] = json!(stride);
    body["rows"] = json!(AxisJson::from(rows));
    body["cols"] = json!(AxisJson::from(cols));
    Ok(body)
}

fn numpy_grid(
    stack: &ZoomStack,
    level: u64,
    rows: IndexRange,
    cols: IndexRange,
) -> Result<Value, String> {
    let p = &stack.params;
    let grid = p.level_grid(level).map_err(|e| e.to_string())?;
    let axis = |l: &Linspace, a: IndexRange| -> Vec<f64> {
        (0..a.count).map(|k| l.at(a.at(k) as usize)).collect()
    };
    Ok(json!({
        "arithmetic": "numpy",
        // The level's height in the complex plane (the notebook's `scale`).
        "scale": p.scale(level),
        "im": axis(&grid.rows, rows),
        "re": axis(&grid.cols, cols),
    }))
}

fn exact_grid(e: &ExactStack, level: u64, rows: IndexRange, cols: IndexRange) -> Value {
    let scale = e.scale_log10(level);
    let aspect = (e.width as f64 / e.height as f64).log10();
    let offsets = |a: IndexRange, n: usize, extent_log10: f64| -> Vec<String> {
        (0..a.count)
            .map(|k| {
                let (num, den) = axis_fraction(a.at(k), n);
                let magnitude = (num.unsigned_abs() as f64 / den as f64).log10() + extent_log10;
                signed_text(num.signum(), magnitude)
            })
            .collect()
    };
    json!({
        "arithmetic": "exact",
        "scale_text": decimal_text(scale),
        "zoom_text": decimal_text(e.scale0.log2_abs() * std::f64::consts::LOG10_2 - scale),
        "im": offsets(rows, e.height, scale),
        "re": offsets(cols, e.width, scale + aspect),
    })
}

fn signed_text(sign: i64, log10_abs: f64) -> String {
    match sign {
        0 => "0".to_string(),
        s if s < 0 => format!("-{}", decimal_text(log10_abs)),
        _ => decimal_text(log10_abs),
    }
}

/// `10^log10_abs` with six significant digits: `3.00000`, `1.23457e-13036`. Plain notation for
/// exponents from -6 to 5, as JavaScript's `toPrecision(6)` writes the numpy grid's scale.
fn decimal_text(log10_abs: f64) -> String {
    let mut exponent = log10_abs.floor();
    let mut mantissa = 10f64.powf(log10_abs - exponent);
    // Rounding to six digits may carry into a seventh (9.999996 -> 10.0000).
    if (mantissa * 1e5).round() >= 1e6 {
        mantissa /= 10.0;
        exponent += 1.0;
    }
    if (-6.0..6.0).contains(&exponent) {
        let value = mantissa * 10f64.powf(exponent);
        let decimals = (5.0 - exponent).max(0.0) as usize;
        format!("{value:.decimals$}")
    } else {
        format!("{mantissa:.5}e{exponent}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimal_text_reads_like_to_precision() {
        assert_eq!(decimal_text(3f64.log10()), "3.00000");
        assert_eq!(decimal_text(0.0), "1.00000");
        assert_eq!(decimal_text(1.00025f64.log10()), "1.00025");
        assert_eq!(decimal_text(-13036.5), "3.16228e-13037");
        assert_eq!(decimal_text(9.9999996f64.log10()), "10.0000");
        assert_eq!(decimal_text(123456.7f64.log10()), "123457");
        assert_eq!(decimal_text(1234567.0f64.log10()), "1.23457e6");
        assert_eq!(decimal_text(-5.0), "0.0000100000");
        assert_eq!(decimal_text(-7.0), "1.00000e-7");
        assert_eq!(signed_text(-1, -2.0), "-0.0100000");
        assert_eq!(signed_text(0, 5.0), "0");
    }

    #[test]
    fn exact_grid_at_the_deepest_level() {
        let levels = 120_000_000;
        let stack = ZoomStack::exact(levels, ExactStack::default()).unwrap();
        let (rows, cols) = (IndexRange::new(0, 256, 2), IndexRange::new(255, 1, 2));
        let g = grid_json(&stack, levels - 1, 256, rows, cols).unwrap();
        // s = 3 / 1.00025^119999999: log10 s = log10 3 - 119999999 * log10 1.00025.
        let want = 3f64.log10() - 119_999_999.0 * 1.00025f64.log10();
        let log10_of = |v: &Value| -> f64 {
            let (m, e) = v.as_str().unwrap().split_once('e').unwrap();
            m.trim_start_matches('-').parse::<f64>().unwrap().log10() + e.parse::<f64>().unwrap()
        };
        assert!((log10_of(&g["scale_text"]) - want).abs() < 1e-5, "{g}");
        // Row 0 sits half the height below the centre; columns 255 and 256 straddle it, half a
        // column spacing (s / 511) away.
        let (im, re) = (&g["im"][0], &g["re"]);
        assert!(im.as_str().unwrap().starts_with('-'), "{g}");
        assert!((log10_of(im) - (want - 2f64.log10())).abs() < 1e-5, "{g}");
        assert!(re[0].as_str().unwrap().starts_with('-'), "{g}");
        assert!(!re[1].as_str().unwrap().starts_with('-'), "{g}");
        assert!(
            (log10_of(&re[1]) - (want - 1022f64.log10())).abs() < 1e-5,
            "{g}"
        );
        assert_eq!(g["rows"]["count"], 2);
    }
}
