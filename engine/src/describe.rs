//! The dask-style summary table of a lazy array ([`Describe`]) and dask's byte formatting.

use crate::Sample;
use crate::plan::{RenderPlan, percent};
use std::fmt;

/// Bytes in dask's style (`dask.utils.format_bytes`): powers of 1024, two decimals, the largest
/// unit `u` with `n >= 0.9 * u` among `PiB, TiB, GiB, MiB, kiB`, else plain bytes.
///
/// ```
/// use zoomstack_engine::format_bytes;
/// assert_eq!(format_bytes(62_914_560_000), "58.59 GiB");
/// assert_eq!(format_bytes(131_072), "128.00 kiB");
/// assert_eq!(format_bytes(1000), "0.98 kiB");
/// assert_eq!(format_bytes(900), "900 B");
/// ```
pub fn format_bytes(n: u64) -> String {
    const UNITS: [(&str, u64); 5] = [
        ("Pi", 1 << 50),
        ("Ti", 1 << 40),
        ("Gi", 1 << 30),
        ("Mi", 1 << 20),
        ("ki", 1 << 10),
    ];
    for (prefix, k) in UNITS {
        if n as f64 >= k as f64 * 0.9 {
            return format!("{:.2} {prefix}B", n as f64 / k as f64);
        }
    }
    format!("{n} B")
}

/// What a lazy array holds and what computing it costs, like dask's array summary.
///
/// `Display` is a text table:
///
/// ```text
/// +--------+---------------------------+----------------------------+
/// |        | Array                     | Chunk                      |
/// +--------+---------------------------+----------------------------+
/// | Bytes  | 58.59 GiB                 | 128.00 kiB                 |
/// | Shape  | (120000, 512, 512)        | (1, 256, 256)              |
/// | Count  | 480000 chunks             | grid (120000, 2, 2)        |
/// | Type   | uint16                    | C order (level, y, x)      |
/// | Levels | 120000 rendered           | of 120000 in the stack     |
/// | Pixels | 31457280000 rendered      | 100.00% of the stack       |
/// +--------+---------------------------+----------------------------+
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Describe {
    /// Array shape `[levels, y, x]`.
    pub shape: [u64; 3],
    /// Chunk shape.
    pub chunks: [usize; 3],
    /// Chunks along each axis.
    pub chunk_grid: [u64; 3],
    /// Number of chunks.
    pub num_chunks: u64,
    /// The value type (`uint16` counts or `float32` smooth values).
    pub dtype: &'static str,
    /// Bytes of the array.
    pub bytes: u64,
    /// Bytes of one full chunk.
    pub chunk_bytes: u64,
    /// Levels of the stack.
    pub stack_levels: u64,
    /// Stack levels that will be rendered.
    pub levels_rendered: u64,
    /// Pixels of the whole stack.
    pub stack_pixels: u64,
    /// Grid pixels that will be rendered (every pixel of every kept block when averaging).
    pub pixels_rendered: u64,
    /// Mean downsample factors `[fy, fx]`, if any.
    pub mean: Option<[u64; 2]>,
}

impl Describe {
    /// The summary of an optimized plan rendering counts (`u16`).
    pub fn of(plan: &RenderPlan) -> Describe {
        Describe::of_values::<u16>(plan)
    }

    /// The summary of an optimized plan rendering values of type `S` (counts or smooth).
    pub fn of_values<S: Sample>(plan: &RenderPlan) -> Describe {
        let chunks = plan.chunks();
        Describe {
            dtype: S::DTYPE,
            shape: plan.shape(),
            chunks,
            chunk_grid: plan.chunk_grid(),
            num_chunks: plan.num_tiles(),
            bytes: plan.len().saturating_mul(S::BYTES),
            chunk_bytes: chunks
                .iter()
                .fold(S::BYTES, |a, &c| a.saturating_mul(c as u64)),
            stack_levels: plan.stack().levels,
            levels_rendered: plan.levels().count,
            stack_pixels: plan.stack_pixels(),
            pixels_rendered: plan.rendered_pixels(),
            mean: plan.selection().mean_factors(),
        }
    }

    /// The table's rows: `[label, array column, chunk column]`.
    pub fn rows(&self) -> Vec<[String; 3]> {
        let tuple = |v: &[u64]| {
            let parts: Vec<String> = v.iter().map(u64::to_string).collect();
            format!("({})", parts.join(", "))
        };
        let chunks = self.chunks.map(|c| c as u64);
        let mut rows = vec![
            [String::new(), "Array".into(), "Chunk".into()],
            [
                "Bytes".into(),
                format_bytes(self.bytes),
                format_bytes(self.chunk_bytes),
            ],
            ["Shape".into(), tuple(&self.shape), tuple(&chunks)],
            [
                "Count".into(),
                format!("{} chunks", self.num_chunks),
                format!("grid {}", tuple(&self.chunk_grid)),
            ],
            [
                "Type".into(),
                self.dtype.into(),
                "C order (level, y, x)".into(),
            ],
            [
                "Levels".into(),
                format!("{} rendered", self.levels_rendered),
                format!("of {} in the stack", self.stack_levels),
            ],
            [
                "Pixels".into(),
                format!("{} rendered", self.pixels_rendered),
                format!(
                    "{} of the stack",
                    percent(self.pixels_rendered, self.stack_pixels)
                ),
            ],
        ];
        if let Some([fy, fx]) = self.mean {
            rows.push([
                "Mean".into(),
                format!("{fy} x {fx} blocks"),
                "round half to even".into(),
            ]);
        }
        rows
    }
}

impl fmt::Display for Describe {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let rows = self.rows();
        let mut w = [0usize; 3];
        for r in &rows {
            for k in 0..3 {
                w[k] = w[k].max(r[k].chars().count());
            }
        }
        let rule = format!(
            "+{}+{}+{}+",
            "-".repeat(w[0] + 2),
            "-".repeat(w[1] + 2),
            "-".repeat(w[2] + 2)
        );
        writeln!(f, "{rule}")?;
        for (i, r) in rows.iter().enumerate() {
            writeln!(
                f,
                "| {:w0$} | {:w1$} | {:w2$} |",
                r[0],
                r[1],
                r[2],
                w0 = w[0],
                w1 = w[1],
                w2 = w[2]
            )?;
            if i == 0 {
                writeln!(f, "{rule}")?;
            }
        }
        write!(f, "{rule}")
    }
}

/// A parameter for a report: as written in a spec for ordinary magnitudes (`3`, `1.00025`), in
/// exponent form where positional digits would run long (`8e-114`, not 114 zeros).
#[must_use]
pub fn format_real(x: f64) -> String {
    if x == 0.0 || (1e-5..1e16).contains(&x.abs()) {
        format!("{x}")
    } else {
        format!("{x:e}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ZoomStack;

    #[test]
    fn dask_byte_rules() {
        for (n, s) in [
            (0, "0 B"),
            (922, "0.90 kiB"),
            (921, "921 B"),
            (1024, "1.00 kiB"),
            (943_719, "0.90 MiB"),
            (1 << 30, "1.00 GiB"),
            (1 << 40, "1.00 TiB"),
            (1 << 50, "1.00 PiB"),
            (u64::MAX, "16384.00 PiB"),
        ] {
            assert_eq!(format_bytes(n), s, "{n}");
        }
    }

    #[test]
    fn notebook_table() {
        let d = ZoomStack::default().array().describe();
        assert_eq!(d.bytes, 62_914_560_000);
        assert_eq!(d.num_chunks, 480_000);
        let t = d.to_string();
        for want in [
            "| Bytes  | 58.59 GiB ",
            "| 128.00 kiB ",
            "(120000, 512, 512)",
            "(1, 256, 256)",
            "480000 chunks",
            "31457280000 rendered",
        ] {
            assert!(t.contains(want), "{want:?} not in\n{t}");
        }
        let p = ZoomStack::default()
            .array()
            .select("[0:20000:500, ::2, ::2]")
            .unwrap()
            .describe();
        assert_eq!(p.shape, [40, 256, 256]);
        assert_eq!(p.num_chunks, 40);
        assert_eq!(p.pixels_rendered, 40 * 256 * 256);
        assert_eq!(format_bytes(p.bytes), "5.00 MiB");
    }

    #[test]
    fn reals_read_as_written_or_in_exponent_form() {
        assert_eq!(format_real(3.0), "3");
        assert_eq!(format_real(1.00025), "1.00025");
        assert_eq!(format_real(-0.743645857047151), "-0.743645857047151");
        assert_eq!(format_real(8e-114), "8e-114");
        assert_eq!(format_real(0.0), "0");
    }
}
