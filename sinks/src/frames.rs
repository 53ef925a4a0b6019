//! One PNG per level: 8-bit colormapped previews and 16-bit raw counts.

use std::path::{Path, PathBuf};

use ndarray::ArrayView2;

use crate::fsutil::{create_dir_all, write_atomic};
use crate::{Colormap, Scaling, SinkError, SmoothColours};

/// A consumer of whole frames in level order (PNG files, animations, contact sheets).
///
/// The engine's `Executor::for_each_frame` hands each output frame with its stack level; a
/// caller can fan one frame stream out to several `FrameSink`s.
pub trait FrameSink {
    /// Consume the frame of stack level `level` (row-major `height x width` counts).
    ///
    /// # Errors
    ///
    /// The sink's own: e.g. [`SinkError::FrameShape`] for a frame of another size, or a
    /// file-system or encoder error when the frame cannot be written.
    fn write_frame(&mut self, level: u64, frame: ArrayView2<'_, u16>) -> Result<(), SinkError>;

    /// Consume the frame of stack level `level` as smooth escape values (`f32`), for sinks
    /// that colour them ([`crate::SmoothColours`]).
    ///
    /// # Errors
    ///
    /// [`SinkError::FrameValues`] for a sink that takes counts only (the default); otherwise
    /// as [`FrameSink::write_frame`].
    fn write_smooth_frame(
        &mut self,
        level: u64,
        frame: ArrayView2<'_, f32>,
    ) -> Result<(), SinkError> {
        let _ = frame;
        Err(SinkError::FrameValues {
            sink: self.name(),
            expected: "counts",
            got: "smooth values",
            level,
        })
    }

    /// The sink's name for messages (`PNG frames`, `GIF`, ...).
    fn name(&self) -> &'static str;

    /// Finish writing; returns the files written.
    ///
    /// # Errors
    ///
    /// The sink's own: e.g. [`SinkError::FrameCount`] for a missing frame, or a file-system or
    /// encoder error when a file cannot be completed.
    fn finish(self: Box<Self>) -> Result<Vec<PathBuf>, SinkError>;
}

/// File names that sort in level order and say the level: `{prefix}{level:0digits}{suffix}.png`,
/// e.g. `level-000500.png` for level 500 of a 120000-level stack.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FrameNaming {
    /// Text before the level number (default `level-`).
    pub prefix: String,
    /// Zero-padded width of the level number.
    pub digits: usize,
    /// Text after the level number, before `.png` (default empty).
    pub suffix: String,
}

impl FrameNaming {
    /// `level-NNN.png`, padded to the number of digits of the stack's last level
    /// (`levels - 1`; 6 digits for the notebook's 120000 levels).
    pub fn for_stack(levels: u64) -> FrameNaming {
        FrameNaming {
            prefix: "level-".to_string(),
            digits: digit_count(levels.saturating_sub(1)),
            suffix: String::new(),
        }
    }

    /// The same naming with another suffix (e.g. `-raw` for 16-bit count images).
    #[must_use]
    pub fn with_suffix(mut self, suffix: &str) -> FrameNaming {
        self.suffix = suffix.to_string();
        self
    }

    /// The file name for `level`.
    pub fn file_name(&self, level: u64) -> String {
        format!(
            "{}{:0width$}{}.png",
            self.prefix,
            level,
            self.suffix,
            width = self.digits
        )
    }
}

/// Number of decimal digits of `n` (1 for 0).
pub fn digit_count(n: u64) -> usize {
    n.checked_ilog10().map_or(1, |d| d as usize + 1)
}

/// What each PNG holds.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum PngKind {
    /// 8-bit preview: counts scaled by `scaling` to 0..=255, coloured by `colormap`
    /// (8-bit grayscale for `gray`, RGB otherwise).
    Preview {
        /// The colormap.
        colormap: Colormap,
        /// Count-to-index scaling.
        scaling: Scaling,
    },
    /// Lossless 16-bit grayscale of the raw counts (PNG stores them big-endian).
    Counts16,
    /// 8-bit RGB (grayscale for `gray`) coloured from smooth values, interpolated between
    /// colormap entries: takes smooth frames ([`FrameSink::write_smooth_frame`]).
    Smooth(SmoothColours),
}

/// Options of [`PngFrameWriter`].
#[derive(Clone, Debug)]
pub struct PngFrameOptions {
    /// Preview or raw counts.
    pub kind: PngKind,
    /// File naming.
    pub naming: FrameNaming,
    /// zlib effort.
    pub compression: png::Compression,
}

impl PngFrameOptions {
    /// Previews with the notebook's `to_uint8` scaling for `max_iter` and the given colormap,
    /// named for a stack of `levels` levels.
    pub fn preview(levels: u64, max_iter: u32, colormap: Colormap) -> PngFrameOptions {
        PngFrameOptions {
            kind: PngKind::Preview {
                colormap,
                scaling: Scaling::notebook(max_iter),
            },
            naming: FrameNaming::for_stack(levels),
            compression: png::Compression::Fast,
        }
    }

    /// Raw 16-bit counts, named `level-NNN-raw.png`.
    pub fn counts16(levels: u64) -> PngFrameOptions {
        PngFrameOptions {
            kind: PngKind::Counts16,
            naming: FrameNaming::for_stack(levels).with_suffix("-raw"),
            compression: png::Compression::Fast,
        }
    }
}

/// Writes one PNG per frame into a directory.
///
/// Each file is written under a temporary name and renamed into place, so a killed run never
/// leaves a truncated PNG under a final name.
#[derive(Debug)]
pub struct PngFrameWriter {
    dir: PathBuf,
    options: PngFrameOptions,
    written: Vec<PathBuf>,
    indices: Vec<u8>,
}

impl PngFrameWriter {
    /// Create the directory (if needed) and a writer into it.
    ///
    /// # Errors
    ///
    /// [`SinkError::InvalidParameter`] for an invalid preview scaling,
    /// [`SinkError::UnsafeOutput`] when `dir` exists and is not a directory (or a symlink to
    /// one). A file-system error ([`SinkError::Io`], [`SinkError::PermissionDenied`],
    /// [`SinkError::DiskFull`]) when the directory cannot be created.
    pub fn new(dir: impl AsRef<Path>, options: PngFrameOptions) -> Result<Self, SinkError> {
        match options.kind {
            PngKind::Preview { scaling, .. } => scaling.validate()?,
            PngKind::Smooth(c) => c.validate()?,
            PngKind::Counts16 => {}
        }
        let dir = dir.as_ref().to_path_buf();
        crate::output::check_dir_output(&dir)?;
        create_dir_all(&dir)?;
        Ok(PngFrameWriter {
            dir,
            options,
            written: Vec::new(),
            indices: Vec::new(),
        })
    }

    /// The files written so far.
    pub fn written(&self) -> &[PathBuf] {
        &self.written
    }

    /// Write the PNG of `level`; returns its path.
    ///
    /// # Errors
    ///
    /// [`SinkError::InvalidParameter`] for a frame with a side of 0 or above 2^32 - 1.
    /// [`SinkError::Png`] or a file-system error ([`SinkError::Io`],
    /// [`SinkError::PermissionDenied`], [`SinkError::DiskFull`]) when the file cannot be written.
    // An `ArrayView2` is a small `Copy` handle, passed by value as ndarray (and `FrameSink`) do.
    #[allow(clippy::needless_pass_by_value)]
    pub fn write(&mut self, level: u64, frame: ArrayView2<'_, u16>) -> Result<PathBuf, SinkError> {
        let path = self.dir.join(self.options.naming.file_name(level));
        match self.options.kind {
            PngKind::Preview { colormap, scaling } => {
                scaling.apply(frame, &mut self.indices)?;
                let (h, w) = frame.dim();
                write_preview_png(
                    &path,
                    w,
                    h,
                    &self.indices,
                    colormap,
                    self.options.compression,
                )?;
            }
            PngKind::Counts16 => write_counts16_png(&path, frame, self.options.compression)?,
            PngKind::Smooth(_) => {
                return Err(SinkError::FrameValues {
                    sink: "smooth-coloured PNG frames",
                    expected: "smooth values",
                    got: "counts",
                    level,
                });
            }
        }
        self.written.push(path.clone());
        Ok(path)
    }

    /// Write the PNG of `level` from smooth values; returns its path.
    ///
    /// # Errors
    ///
    /// [`SinkError::FrameValues`] unless the writer's kind is [`PngKind::Smooth`]; otherwise
    /// as [`PngFrameWriter::write`].
    // An `ArrayView2` is a small `Copy` handle, passed by value as ndarray (and `FrameSink`) do.
    #[allow(clippy::needless_pass_by_value)]
    pub fn write_smooth(
        &mut self,
        level: u64,
        frame: ArrayView2<'_, f32>,
    ) -> Result<PathBuf, SinkError> {
        let PngKind::Smooth(colours) = self.options.kind else {
            return Err(SinkError::FrameValues {
                sink: "PNG frames",
                expected: "counts",
                got: "smooth values",
                level,
            });
        };
        let path = self.dir.join(self.options.naming.file_name(level));
        let (h, w) = frame.dim();
        let dims = png_dims(w, h)?;
        let color = smooth_samples(&colours, frame, &mut self.indices)?;
        let compression = self.options.compression;
        let samples = &self.indices;
        write_atomic(&path, false, |out| {
            encode_png(
                out,
                &path,
                dims,
                color,
                png::BitDepth::Eight,
                compression,
                samples,
            )
        })?;
        self.written.push(path.clone());
        Ok(path)
    }
}

impl FrameSink for PngFrameWriter {
    fn write_frame(&mut self, level: u64, frame: ArrayView2<'_, u16>) -> Result<(), SinkError> {
        self.write(level, frame).map(|_| ())
    }

    fn write_smooth_frame(
        &mut self,
        level: u64,
        frame: ArrayView2<'_, f32>,
    ) -> Result<(), SinkError> {
        self.write_smooth(level, frame).map(|_| ())
    }

    fn name(&self) -> &'static str {
        "PNG frames"
    }

    fn finish(self: Box<Self>) -> Result<Vec<PathBuf>, SinkError> {
        Ok(self.written)
    }
}

pub(crate) fn png_dims(width: usize, height: usize) -> Result<(u32, u32), SinkError> {
    let w = u32::try_from(width).ok().filter(|&w| w > 0);
    let h = u32::try_from(height).ok().filter(|&h| h > 0);
    match (w, h) {
        (Some(w), Some(h)) => Ok((w, h)),
        _ => Err(SinkError::invalid(
            "image size",
            format!("{height} x {width} (height x width)"),
            "expected both between 1 and 2^32 - 1",
        )),
    }
}

/// The 8-bit samples of a frame of smooth values coloured by `colours` into `out`: gray levels
/// for `gray` (its RGB triples are `(g, g, g)`), RGB triples otherwise; returns the PNG colour
/// type. The one way every sink that writes smooth colours as PNG lays them out (PNG frames,
/// APNG, the viewer's PNG).
///
/// # Errors
///
/// The errors of [`SmoothColours::apply`].
// An `ArrayView2` is a small `Copy` handle, passed by value as ndarray (and `FrameSink`) do.
#[allow(clippy::needless_pass_by_value)]
pub(crate) fn smooth_samples(
    colours: &SmoothColours,
    frame: ArrayView2<'_, f32>,
    out: &mut Vec<u8>,
) -> Result<png::ColorType, SinkError> {
    colours.apply(frame, out)?;
    if colours.colormap.is_gray() {
        let n = out.len() / 3;
        for i in 0..n {
            out[i] = out[3 * i];
        }
        out.truncate(n);
        Ok(png::ColorType::Grayscale)
    } else {
        Ok(png::ColorType::Rgb)
    }
}

/// The PNG file [`PngFrameWriter::write_smooth`] writes for a frame of smooth values, in
/// memory (e.g. to serve it over HTTP).
///
/// # Errors
///
/// [`SinkError::InvalidParameter`] for a frame with a side of 0 or above 2^32 - 1, or invalid
/// colours ([`SmoothColours::validate`]). [`SinkError::Png`] when the encoder fails.
// An `ArrayView2` is a small `Copy` handle, passed by value as ndarray (and `FrameSink`) do.
#[allow(clippy::needless_pass_by_value)]
pub fn smooth_png_bytes(
    frame: ArrayView2<'_, f32>,
    colours: &SmoothColours,
    compression: png::Compression,
) -> Result<Vec<u8>, SinkError> {
    let (h, w) = frame.dim();
    let dims = png_dims(w, h)?;
    let mut samples = Vec::new();
    let color = smooth_samples(colours, frame, &mut samples)?;
    let mut bytes = Vec::new();
    encode_png(
        &mut bytes,
        Path::new("<memory>"),
        dims,
        color,
        png::BitDepth::Eight,
        compression,
        &samples,
    )?;
    Ok(bytes)
}

/// Apply `colormap` to 8-bit indices: RGB bytes, or the indices themselves for `gray`.
pub(crate) fn colorize(indices: &[u8], colormap: Colormap, out: &mut Vec<u8>) {
    if colormap.is_gray() {
        out.clear();
        out.extend_from_slice(indices);
    } else {
        colorize_rgb(indices, colormap, out);
    }
}

/// Apply `colormap` to 8-bit indices as RGB bytes, also for `gray` (`i -> (i, i, i)`): the
/// colours [`colorize`] gives, always three bytes a pixel (what a video encoder takes).
pub(crate) fn colorize_rgb(indices: &[u8], colormap: Colormap, out: &mut Vec<u8>) {
    out.clear();
    let t = colormap.table();
    out.reserve(indices.len() * 3);
    for &i in indices {
        out.extend_from_slice(&t[usize::from(i)]);
    }
}

/// Write an 8-bit image of colormap indices as grayscale (`gray`) or RGB PNG.
///
/// # Errors
///
/// The errors of [`preview_png_bytes`]. A file-system error ([`SinkError::Io`],
/// [`SinkError::PermissionDenied`], [`SinkError::DiskFull`]) when the file cannot be written.
pub fn write_preview_png(
    path: &Path,
    width: usize,
    height: usize,
    indices: &[u8],
    colormap: Colormap,
    compression: png::Compression,
) -> Result<(), SinkError> {
    write_atomic(path, false, |out| {
        encode_preview_png(out, path, width, height, indices, colormap, compression)
    })
}

/// The PNG file [`write_preview_png`] writes, in memory (e.g. to serve it over HTTP).
///
/// # Errors
///
/// [`SinkError::InvalidParameter`] for a side of 0 or above 2^32 - 1, or when `indices` does
/// not hold `width * height` values. [`SinkError::Png`] when the encoder fails.
pub fn preview_png_bytes(
    width: usize,
    height: usize,
    indices: &[u8],
    colormap: Colormap,
    compression: png::Compression,
) -> Result<Vec<u8>, SinkError> {
    let mut bytes = Vec::new();
    encode_preview_png(
        &mut bytes,
        Path::new("<memory>"),
        width,
        height,
        indices,
        colormap,
        compression,
    )?;
    Ok(bytes)
}

fn encode_preview_png<W: std::io::Write>(
    out: W,
    path: &Path,
    width: usize,
    height: usize,
    indices: &[u8],
    colormap: Colormap,
    compression: png::Compression,
) -> Result<(), SinkError> {
    let (w, h) = png_dims(width, height)?;
    if indices.len() != width * height {
        return Err(SinkError::invalid(
            "image data length",
            indices.len(),
            format!("expected {height} x {width} = {}", width * height),
        ));
    }
    let mut pixels = Vec::new();
    colorize(indices, colormap, &mut pixels);
    let color = if colormap.is_gray() {
        png::ColorType::Grayscale
    } else {
        png::ColorType::Rgb
    };
    encode_png(
        out,
        path,
        (w, h),
        color,
        png::BitDepth::Eight,
        compression,
        &pixels,
    )
}

/// One PNG image of `size` (width, height) with already laid-out samples.
fn encode_png<W: std::io::Write>(
    out: W,
    path: &Path,
    (w, h): (u32, u32),
    color: png::ColorType,
    depth: png::BitDepth,
    compression: png::Compression,
    samples: &[u8],
) -> Result<(), SinkError> {
    let mut enc = png::Encoder::new(out, w, h);
    enc.set_color(color);
    enc.set_depth(depth);
    enc.set_compression(compression);
    let mut writer = enc.write_header().map_err(|e| SinkError::png(path, e))?;
    writer
        .write_image_data(samples)
        .map_err(|e| SinkError::png(path, e))?;
    writer.finish().map_err(|e| SinkError::png(path, e))
}

/// Write a frame of raw counts as a 16-bit grayscale PNG (samples big-endian, as PNG requires).
///
/// # Errors
///
/// The errors of [`counts16_png_bytes`]. A file-system error ([`SinkError::Io`],
/// [`SinkError::PermissionDenied`], [`SinkError::DiskFull`]) when the file cannot be written.
// An `ArrayView2` is a small `Copy` handle, passed by value as ndarray (and `FrameSink`) do.
#[allow(clippy::needless_pass_by_value)]
pub fn write_counts16_png(
    path: &Path,
    frame: ArrayView2<'_, u16>,
    compression: png::Compression,
) -> Result<(), SinkError> {
    write_atomic(path, false, |out| {
        encode_counts16_png(out, path, frame, compression)
    })
}

/// The PNG file [`write_counts16_png`] writes, in memory (e.g. to serve it over HTTP).
///
/// # Errors
///
/// [`SinkError::InvalidParameter`] for a frame with a side of 0 or above 2^32 - 1.
/// [`SinkError::Png`] when the encoder fails.
// An `ArrayView2` is a small `Copy` handle, passed by value as ndarray (and `FrameSink`) do.
#[allow(clippy::needless_pass_by_value)]
pub fn counts16_png_bytes(
    frame: ArrayView2<'_, u16>,
    compression: png::Compression,
) -> Result<Vec<u8>, SinkError> {
    let mut bytes = Vec::new();
    encode_counts16_png(&mut bytes, Path::new("<memory>"), frame, compression)?;
    Ok(bytes)
}

// An `ArrayView2` is a small `Copy` handle, passed by value as ndarray (and `FrameSink`) do.
#[allow(clippy::needless_pass_by_value)]
fn encode_counts16_png<W: std::io::Write>(
    out: W,
    path: &Path,
    frame: ArrayView2<'_, u16>,
    compression: png::Compression,
) -> Result<(), SinkError> {
    let (h, w) = frame.dim();
    let (w32, h32) = png_dims(w, h)?;
    let mut bytes = Vec::with_capacity(frame.len() * 2);
    for row in frame.rows() {
        for &v in row {
            bytes.extend_from_slice(&v.to_be_bytes());
        }
    }
    encode_png(
        out,
        path,
        (w32, h32),
        png::ColorType::Grayscale,
        png::BitDepth::Sixteen,
        compression,
        &bytes,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::Array2;

    fn decode(path: &Path) -> (png::OutputInfo, Vec<u8>) {
        let dec = png::Decoder::new(std::io::BufReader::new(std::fs::File::open(path).unwrap()));
        let mut reader = dec.read_info().unwrap();
        let mut buf = vec![0; reader.output_buffer_size().unwrap()];
        let info = reader.next_frame(&mut buf).unwrap();
        buf.truncate(info.buffer_size());
        (info, buf)
    }

    #[test]
    fn naming_sorts_and_pads() {
        let n = FrameNaming::for_stack(120000);
        assert_eq!(n.file_name(500), "level-000500.png");
        assert_eq!(n.file_name(119999), "level-119999.png");
        assert_eq!(FrameNaming::for_stack(1).file_name(0), "level-0.png");
        assert_eq!(FrameNaming::for_stack(10).file_name(9), "level-9.png");
        assert_eq!(FrameNaming::for_stack(11).file_name(3), "level-03.png");
        assert_eq!(
            FrameNaming::for_stack(100).with_suffix("-raw").file_name(7),
            "level-07-raw.png"
        );
        assert_eq!(digit_count(0), 1);
        assert_eq!(digit_count(99), 2);
        assert_eq!(digit_count(u64::MAX), 20);
    }

    #[test]
    fn preview_and_counts_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let frame = Array2::from_shape_fn((3, 5), |(y, x)| (y * 100 + x * 7) as u16);
        let mut w = PngFrameWriter::new(
            dir.path(),
            PngFrameOptions::preview(1000, 256, Colormap::Viridis),
        )
        .unwrap();
        let p = w.write(42, frame.view()).unwrap();
        assert_eq!(p.file_name().unwrap(), "level-042.png");
        let (info, buf) = decode(&p);
        assert_eq!((info.width, info.height), (5, 3));
        assert_eq!(info.color_type, png::ColorType::Rgb);
        for (k, &v) in frame.iter().enumerate() {
            let want = Colormap::Viridis.rgb(crate::scale::to_uint8(v, 256));
            assert_eq!(&buf[3 * k..3 * k + 3], &want);
        }

        let mut w = PngFrameWriter::new(dir.path(), PngFrameOptions::counts16(1000)).unwrap();
        let p = w.write(42, frame.view()).unwrap();
        assert_eq!(p.file_name().unwrap(), "level-042-raw.png");
        let (info, buf) = decode(&p);
        assert_eq!(info.bit_depth, png::BitDepth::Sixteen);
        let vals: Vec<u16> = buf
            .chunks_exact(2)
            .map(|c| u16::from_be_bytes([c[0], c[1]]))
            .collect();
        assert_eq!(vals, frame.iter().copied().collect::<Vec<_>>());

        let mut w = PngFrameWriter::new(
            dir.path().join("gray"),
            PngFrameOptions::preview(1000, 256, Colormap::Gray),
        )
        .unwrap();
        let p = w.write(1, frame.view()).unwrap();
        let (info, buf) = decode(&p);
        assert_eq!(info.color_type, png::ColorType::Grayscale);
        assert_eq!(buf[14], crate::scale::to_uint8(frame[(2, 4)], 256));
    }

    #[test]
    fn empty_frame_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let frame = Array2::<u16>::zeros((0, 4));
        let mut w = PngFrameWriter::new(dir.path(), PngFrameOptions::counts16(10)).unwrap();
        let err = w.write(0, frame.view()).unwrap_err();
        assert!(err.to_string().contains("image size"), "{err}");
    }
}
