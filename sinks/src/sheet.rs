//! Contact sheet: one PNG grid of the selected frames, each labelled with its stack level.

use std::io::BufWriter;
use std::path::{Path, PathBuf};

use ndarray::ArrayView2;

use crate::frames::{FrameSink, png_dims};
use crate::output::FileOutput;
use crate::{Colormap, Colouring, Scaling, SinkError};

/// 5x7 bitmap digits `0`-`9`, one `u8` per row (low 5 bits, most significant bit = left).
const DIGITS: [[u8; 7]; 10] = [
    [
        0b01110, 0b10001, 0b10011, 0b10101, 0b11001, 0b10001, 0b01110,
    ],
    [
        0b00100, 0b01100, 0b00100, 0b00100, 0b00100, 0b00100, 0b01110,
    ],
    [
        0b01110, 0b10001, 0b00001, 0b00010, 0b00100, 0b01000, 0b11111,
    ],
    [
        0b11111, 0b00010, 0b00100, 0b00010, 0b00001, 0b10001, 0b01110,
    ],
    [
        0b00010, 0b00110, 0b01010, 0b10010, 0b11111, 0b00010, 0b00010,
    ],
    [
        0b11111, 0b10000, 0b11110, 0b00001, 0b00001, 0b10001, 0b01110,
    ],
    [
        0b00110, 0b01000, 0b10000, 0b11110, 0b10001, 0b10001, 0b01110,
    ],
    [
        0b11111, 0b00001, 0b00010, 0b00100, 0b01000, 0b01000, 0b01000,
    ],
    [
        0b01110, 0b10001, 0b10001, 0b01110, 0b10001, 0b10001, 0b01110,
    ],
    [
        0b01110, 0b10001, 0b10001, 0b01111, 0b00001, 0b00010, 0b01100,
    ],
];
const GLYPH_W: usize = 5;
const GLYPH_H: usize = 7;
/// Glyph advance (one column of spacing).
const ADVANCE: usize = GLYPH_W + 1;

/// Largest accepted sheet, in pixels (about 300 MiB of RGB).
pub const MAX_SHEET_PIXELS: usize = 100_000_000;

/// Options of [`ContactSheet`].
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ContactSheetOptions {
    /// Number of columns; `None` picks `ceil(sqrt(frames))`.
    pub columns: Option<usize>,
    /// How the frames are coloured: from counts (colormap and count-to-index scaling) or from
    /// smooth values, exactly as the PNG sink colours them.
    pub colouring: Colouring,
    /// Label each frame with its stack level (skipped if the frames are too narrow for the text).
    pub labels: bool,
    /// Pixels between frames and around the sheet.
    pub gap: usize,
    /// Background colour.
    pub background: [u8; 3],
    /// Label text colour.
    pub text: [u8; 3],
}

impl Default for ContactSheetOptions {
    fn default() -> Self {
        ContactSheetOptions {
            columns: None,
            colouring: Colouring::Counts {
                colormap: Colormap::Gray,
                scaling: Scaling::default(),
            },
            labels: true,
            gap: 4,
            background: [24, 24, 24],
            text: [240, 240, 240],
        }
    }
}

/// Collects frames and writes the grid on [`ContactSheet::finish`]. Frames of counts are kept
/// as 8-bit indices (one byte per frame pixel), frames of smooth values as their RGB colours
/// (three bytes); the sheet is capped at [`MAX_SHEET_PIXELS`] (select fewer levels or stride
/// the frames for a larger stack).
#[derive(Debug)]
pub struct ContactSheet {
    path: PathBuf,
    options: ContactSheetOptions,
    shape: Option<(usize, usize)>,
    frames: Vec<(u64, Vec<u8>)>,
}

impl ContactSheet {
    /// A sheet to be written to `path`.
    ///
    /// # Errors
    ///
    /// [`SinkError::InvalidParameter`] for an invalid scaling or 0 columns,
    /// [`SinkError::UnsafeOutput`] when `path` cannot receive the sheet (a device, FIFO,
    /// socket, directory, dangling symlink; checked again when the sheet is written). `-` is
    /// standard output.
    pub fn new(
        path: impl AsRef<Path>,
        options: ContactSheetOptions,
    ) -> Result<ContactSheet, SinkError> {
        options.colouring.validate()?;
        if options.columns == Some(0) {
            return Err(SinkError::invalid(
                "contact sheet columns",
                0,
                "expected at least 1",
            ));
        }
        crate::output::check_file_output(path.as_ref())?;
        Ok(ContactSheet {
            path: path.as_ref().to_path_buf(),
            options,
            shape: None,
            frames: Vec::new(),
        })
    }

    /// Add the frame of stack level `level`; all frames must have the same shape.
    ///
    /// # Errors
    ///
    /// [`SinkError::FrameValues`] when the colouring is [`Colouring::Smooth`] (smooth frames go
    /// to [`ContactSheet::add_smooth_frame`]).
    /// [`SinkError::FrameShape`] for a frame of another shape. [`SinkError::InvalidParameter`]
    /// for a frame with a side of 0 or above 2^32 - 1, or when the frames so far would exceed
    /// [`MAX_SHEET_PIXELS`].
    // An `ArrayView2` is a small `Copy` handle, passed by value as ndarray (and `FrameSink`) do.
    #[allow(clippy::needless_pass_by_value)]
    pub fn add_frame(&mut self, level: u64, frame: ArrayView2<'_, u16>) -> Result<(), SinkError> {
        let (_, scaling) = self
            .options
            .colouring
            .expect_counts("contact sheet", level)?;
        self.admit(level, frame.dim())?;
        let mut indices = Vec::new();
        scaling.apply(frame, &mut indices)?;
        self.frames.push((level, indices));
        Ok(())
    }

    /// Add the frame of stack level `level` from smooth values, coloured as the PNG sink
    /// colours them.
    ///
    /// # Errors
    ///
    /// [`SinkError::FrameValues`] unless the colouring is [`Colouring::Smooth`]; otherwise as
    /// [`ContactSheet::add_frame`].
    // An `ArrayView2` is a small `Copy` handle, passed by value as ndarray (and `FrameSink`) do.
    #[allow(clippy::needless_pass_by_value)]
    pub fn add_smooth_frame(
        &mut self,
        level: u64,
        frame: ArrayView2<'_, f32>,
    ) -> Result<(), SinkError> {
        let colours = self
            .options
            .colouring
            .expect_smooth("contact sheet", level)?;
        self.admit(level, frame.dim())?;
        let mut rgb = Vec::new();
        colours.apply(frame, &mut rgb)?;
        self.frames.push((level, rgb));
        Ok(())
    }

    /// Checks a new frame's shape (the first one sets it) and the sheet's size with it.
    fn admit(&mut self, level: u64, (h, w): (usize, usize)) -> Result<(), SinkError> {
        png_dims(w, h)?;
        match self.shape {
            None => self.shape = Some((h, w)),
            Some(s) if s != (h, w) => {
                return Err(SinkError::FrameShape {
                    level,
                    expected: s,
                    actual: (h, w),
                });
            }
            Some(_) => {}
        }
        let pixels = (self.frames.len() + 1).saturating_mul(h * w);
        if pixels > MAX_SHEET_PIXELS {
            return Err(SinkError::invalid(
                "contact sheet size",
                format!("{} frames of {h} x {w}", self.frames.len() + 1),
                format!(
                    "expected at most {MAX_SHEET_PIXELS} pixels in total; select fewer levels or stride y/x"
                ),
            ));
        }
        Ok(())
    }

    /// Lay out the grid and write the PNG (RGB). Needs at least one frame.
    ///
    /// # Errors
    ///
    /// [`SinkError::FrameCount`] when no frame was added, [`SinkError::InvalidParameter`] when
    /// the laid-out sheet exceeds [`MAX_SHEET_PIXELS`] or 2^32 - 1 pixels a side.
    /// [`SinkError::Png`] or a file-system error ([`SinkError::Io`],
    /// [`SinkError::PermissionDenied`], [`SinkError::DiskFull`]) when the file cannot be written.
    pub fn finish(self) -> Result<PathBuf, SinkError> {
        let Some((h, w)) = self.shape else {
            return Err(SinkError::FrameCount {
                path: self.path,
                format: "contact sheet",
                expected: 1,
                actual: 0,
            });
        };
        let o = &self.options;
        let n = self.frames.len();
        let cols = o
            .columns
            .unwrap_or_else(|| n.isqrt() + usize::from(n.isqrt().pow(2) < n));
        let cols = cols.min(n);
        let rows = n.div_ceil(cols);
        let max_digits = self
            .frames
            .iter()
            .map(|(l, _)| crate::frames::digit_count(*l))
            .max()
            .unwrap_or(1);
        let scale = label_scale(w, max_digits).filter(|_| o.labels);
        let label_h = scale.map_or(0, |s| GLYPH_H * s + 2 * s.max(2));
        let cell_h = h + label_h;
        let sheet_w = cols * w + (cols + 1) * o.gap;
        let sheet_h = rows * cell_h + (rows + 1) * o.gap;
        png_dims(sheet_w, sheet_h)?;
        if sheet_w.saturating_mul(sheet_h) > MAX_SHEET_PIXELS {
            return Err(SinkError::invalid(
                "contact sheet size",
                format!("{sheet_h} x {sheet_w}"),
                format!("expected at most {MAX_SHEET_PIXELS} pixels"),
            ));
        }
        let mut img = Vec::with_capacity(sheet_w * sheet_h * 3);
        for _ in 0..sheet_w * sheet_h {
            img.extend_from_slice(&o.background);
        }
        let mut coloured = Vec::new();
        for (k, (level, pixels)) in self.frames.iter().enumerate() {
            let (r, c) = (k / cols, k % cols);
            let x0 = o.gap + c * (w + o.gap);
            let y0 = o.gap + r * (cell_h + o.gap);
            // Counts were kept as indices, smooth values already as RGB.
            let rgb: &[u8] = match o.colouring {
                Colouring::Counts { colormap, .. } => {
                    crate::frames::colorize_rgb(pixels, colormap, &mut coloured);
                    &coloured
                }
                Colouring::Smooth(_) => pixels,
            };
            for y in 0..h {
                let dst = ((y0 + y) * sheet_w + x0) * 3;
                img[dst..dst + w * 3].copy_from_slice(&rgb[y * w * 3..(y + 1) * w * 3]);
            }
            if let Some(s) = scale {
                let text = level.to_string();
                let tw = text_width(text.len(), s);
                let tx = x0 + (w - tw) / 2;
                let ty = y0 + h + (label_h - GLYPH_H * s) / 2;
                draw_text(&mut img, sheet_w, tx, ty, &text, s, o.text);
            }
        }
        let (sw, sh) = png_dims(sheet_w, sheet_h)?;
        let path = &self.path;
        let (out, output) = FileOutput::create(path, "PNG")?;
        let mut enc = png::Encoder::new(BufWriter::new(out), sw, sh);
        enc.set_color(png::ColorType::Rgb);
        enc.set_depth(png::BitDepth::Eight);
        // Fast (fdeflate): a 40-frame sheet is ~9 MB of RGB; zlib `Balanced` took ~0.18 s of the
        // 0.3 s preview budget for a 20% smaller file (0.99 vs 1.23 MB for the preview).
        enc.set_compression(png::Compression::Fast);
        let mut writer = enc.write_header().map_err(|e| SinkError::png(path, e))?;
        writer
            .write_image_data(&img)
            .map_err(|e| SinkError::png(path, e))?;
        writer.finish().map_err(|e| SinkError::png(path, e))?;
        output.commit()
    }
}

impl FrameSink for ContactSheet {
    fn write_frame(&mut self, level: u64, frame: ArrayView2<'_, u16>) -> Result<(), SinkError> {
        self.add_frame(level, frame)
    }

    fn write_smooth_frame(
        &mut self,
        level: u64,
        frame: ArrayView2<'_, f32>,
    ) -> Result<(), SinkError> {
        self.add_smooth_frame(level, frame)
    }

    fn name(&self) -> &'static str {
        "contact sheet"
    }

    fn finish(self: Box<Self>) -> Result<Vec<PathBuf>, SinkError> {
        ContactSheet::finish(*self).map(|p| vec![p])
    }
}

fn text_width(chars: usize, scale: usize) -> usize {
    (chars * ADVANCE - 1) * scale
}

/// Integer glyph scale for frames `width` wide and labels of `digits` digits: about 1/128 of the
/// width (1..=4), reduced until the text fits with a margin; `None` if even scale 1 does not fit.
fn label_scale(width: usize, digits: usize) -> Option<usize> {
    let mut s = (width / 128).clamp(1, 4);
    while s > 1 && text_width(digits, s) + 2 * s > width {
        s -= 1;
    }
    (text_width(digits, s) + 2 <= width).then_some(s)
}

fn draw_text(
    img: &mut [u8],
    img_w: usize,
    x0: usize,
    y0: usize,
    text: &str,
    scale: usize,
    color: [u8; 3],
) {
    for (k, ch) in text.bytes().enumerate() {
        let Some(glyph) = ch
            .checked_sub(b'0')
            .and_then(|d| DIGITS.get(usize::from(d)))
        else {
            continue;
        };
        let gx = x0 + k * ADVANCE * scale;
        for (gy, bits) in glyph.iter().enumerate() {
            for bx in 0..GLYPH_W {
                if bits & (1 << (GLYPH_W - 1 - bx)) == 0 {
                    continue;
                }
                for dy in 0..scale {
                    for dx in 0..scale {
                        let (px, py) = (gx + bx * scale + dx, y0 + gy * scale + dy);
                        let i = (py * img_w + px) * 3;
                        img[i..i + 3].copy_from_slice(&color);
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::{png_sink_rgb, smooth_frames};
    use ndarray::Array2;

    fn read_rgb(path: &Path) -> (u32, u32, Vec<u8>) {
        let dec = png::Decoder::new(std::io::BufReader::new(std::fs::File::open(path).unwrap()));
        let mut reader = dec.read_info().unwrap();
        let mut buf = vec![0; reader.output_buffer_size().unwrap()];
        let info = reader.next_frame(&mut buf).unwrap();
        assert_eq!(info.color_type, png::ColorType::Rgb);
        (info.width, info.height, buf)
    }

    #[test]
    fn grid_layout_and_pixels() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sheet.png");
        let opts = ContactSheetOptions {
            columns: Some(2),
            colouring: Colouring::Counts {
                colormap: Colormap::Inferno,
                scaling: Scaling::default(),
            },
            labels: true,
            ..ContactSheetOptions::default()
        };
        let mut sheet = ContactSheet::new(&path, opts).unwrap();
        let frames: Vec<Array2<u16>> = (0..3)
            .map(|k| Array2::from_shape_fn((32, 40), |(y, x)| (k * 60 + y + x) as u16))
            .collect();
        for (k, f) in frames.iter().enumerate() {
            sheet.add_frame(500 * k as u64, f.view()).unwrap();
        }
        sheet.finish().unwrap();
        let (w, h, buf) = read_rgb(&path);
        let scale = label_scale(40, 4).unwrap();
        assert_eq!(scale, 1);
        let label_h = GLYPH_H + 4;
        assert_eq!(w as usize, 2 * 40 + 3 * 4);
        assert_eq!(h as usize, 2 * (32 + label_h) + 3 * 4);
        // Frame 2 sits in row 1, column 0: check its pixels.
        let (x0, y0) = (4, 4 + 32 + label_h + 4);
        for y in 0..32 {
            for x in 0..40 {
                let i = ((y0 + y) * w as usize + x0 + x) * 3;
                let want = Colormap::Inferno.rgb(crate::scale::to_uint8(frames[2][(y, x)], 256));
                assert_eq!(&buf[i..i + 3], &want, "({y}, {x})");
            }
        }
        // The empty fourth cell is background.
        let i = ((y0 + 5) * w as usize + 4 + 40 + 4 + 5) * 3;
        assert_eq!(&buf[i..i + 3], &[24, 24, 24]);
        // The label strip of frame 1 ("500") has text-coloured pixels.
        let strip = (4 + 32)..(4 + 32 + label_h);
        let lit = strip
            .flat_map(|y| (48..88).map(move |x| (y, x)))
            .filter(|&(y, x)| buf[(y * w as usize + x) * 3] == 240)
            .count();
        assert!(lit > 10, "label drawn ({lit} pixels)");
    }

    #[test]
    fn smooth_tiles_are_the_png_sinks_frames() {
        let levels = [0u64, 1000, 2000, 3000, 4000];
        let (fh, fw) = (30, 44);
        let stack = smooth_frames(&levels, fh, fw);
        for colours in [
            crate::SmoothColours {
                colormap: Colormap::Magma,
                scaling: Scaling::Fixed { max: 256 },
                cycle: Some(24.0),
            },
            crate::SmoothColours {
                colormap: Colormap::Gray,
                scaling: Scaling::PerFrame,
                cycle: None,
            },
        ] {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("sheet.png");
            let opts = ContactSheetOptions {
                columns: Some(3),
                colouring: Colouring::Smooth(colours),
                ..ContactSheetOptions::default()
            };
            let mut sheet = ContactSheet::new(&path, opts).unwrap();
            for (f, &level) in stack.outer_iter().zip(&levels) {
                sheet.add_smooth_frame(level, f).unwrap();
            }
            let err = sheet
                .add_frame(1, Array2::<u16>::zeros((fh, fw)).view())
                .unwrap_err();
            assert!(
                err.to_string()
                    .contains("contact sheet takes frames of smooth values"),
                "{err}"
            );
            sheet.finish().unwrap();
            let (w, h, buf) = read_rgb(&path);
            let label_h = GLYPH_H + 4;
            assert_eq!(w as usize, 3 * fw + 4 * 4);
            assert_eq!(h as usize, 2 * (fh + label_h) + 3 * 4);
            let pngs = png_sink_rgb(dir.path(), colours, &stack, &levels);
            for (k, want) in pngs.iter().enumerate() {
                let (x0, y0) = (4 + (k % 3) * (fw + 4), 4 + (k / 3) * (fh + label_h + 4));
                for y in 0..fh {
                    let i = ((y0 + y) * w as usize + x0) * 3;
                    assert_eq!(
                        &buf[i..i + 3 * fw],
                        &want[y * 3 * fw..(y + 1) * 3 * fw],
                        "{colours:?}: tile {k}, row {y}"
                    );
                }
            }
            // The labels are drawn as for counts: level 4000 under tile 4.
            let strip = (4 + 2 * fh + label_h + 4)..(4 + 2 * (fh + label_h) + 4);
            let lit = strip
                .flat_map(|y| (4 + fw + 4..4 + 2 * fw + 4).map(move |x| (y, x)))
                .filter(|&(y, x)| buf[(y * w as usize + x) * 3] == 240)
                .count();
            assert!(lit > 10, "label drawn ({lit} pixels)");
        }
        // Smooth values to a sheet of counts: refused.
        let dir = tempfile::tempdir().unwrap();
        let mut s =
            ContactSheet::new(dir.path().join("c.png"), ContactSheetOptions::default()).unwrap();
        let err = s
            .add_smooth_frame(3, stack.index_axis(ndarray::Axis(0), 0))
            .unwrap_err();
        assert!(
            matches!(err, SinkError::FrameValues { level: 3, .. }),
            "{err}"
        );
    }

    #[test]
    fn label_scale_fits() {
        assert_eq!(label_scale(256, 6), Some(2));
        assert_eq!(label_scale(512, 6), Some(4));
        assert_eq!(label_scale(8, 6), None);
        assert_eq!(label_scale(37, 6), Some(1));
    }

    #[test]
    fn errors() {
        let dir = tempfile::tempdir().unwrap();
        let sheet = ContactSheet::new(dir.path().join("x.png"), ContactSheetOptions::default());
        assert!(sheet.unwrap().finish().is_err());
        let bad = ContactSheetOptions {
            columns: Some(0),
            ..ContactSheetOptions::default()
        };
        assert!(ContactSheet::new(dir.path().join("x.png"), bad).is_err());
        let mut s =
            ContactSheet::new(dir.path().join("x.png"), ContactSheetOptions::default()).unwrap();
        s.add_frame(0, Array2::<u16>::zeros((4, 4)).view()).unwrap();
        let err = s
            .add_frame(1, Array2::<u16>::zeros((4, 5)).view())
            .unwrap_err();
        assert!(
            matches!(err, SinkError::FrameShape { level: 1, .. }),
            "{err}"
        );
    }
}
