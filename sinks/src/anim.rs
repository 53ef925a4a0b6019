//! Animated GIF and APNG: the notebook's `stackview.animate`, streamed frame by frame.

use std::borrow::Cow;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use ndarray::ArrayView2;

use crate::frames::{FrameSink, png_dims};
use crate::output::{FileOutput, OutputWriter};
use crate::{Colormap, Colouring, Scaling, SinkError};

/// How many times an animation plays.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum Playback {
    /// Loop forever (GIF loop count 0, APNG `num_plays` 0).
    #[default]
    Forever,
    /// Play this many times in total (at least 1). APNG stores it as `num_plays`; GIF stores
    /// `n - 1` as the NETSCAPE2.0 loop count (browsers play the frames once, then repeat that
    /// many times), and no loop extension at all for a single play.
    Times(u16),
}

/// Options shared by the GIF and APNG writers.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct AnimationOptions {
    /// The colormap (the palette) and what the frames are coloured from: counts (through a
    /// count-to-index scaling; stackview's `animate`, the notebook's call, is
    /// [`Scaling::PerFrame`]) or smooth values ([`crate::SmoothColours`]: the GIF shows each
    /// value's nearest palette entry, the APNG the interpolated colours in truecolour).
    pub colouring: Colouring,
    /// Delay between frames in milliseconds (stackview's default: 150). GIF stores
    /// centiseconds, so the delay is rounded to the nearest 10 ms there.
    pub frame_delay_ms: u32,
    /// Loop behaviour.
    pub playback: Playback,
}

impl Default for AnimationOptions {
    /// stackview's `animate` defaults: gray, per-frame stretch, 150 ms, looping.
    fn default() -> Self {
        AnimationOptions {
            colouring: Colouring::Counts {
                colormap: Colormap::Gray,
                scaling: Scaling::PerFrame,
            },
            frame_delay_ms: 150,
            playback: Playback::Forever,
        }
    }
}

impl AnimationOptions {
    fn validate(&self) -> Result<(), SinkError> {
        self.colouring.validate()?;
        if let Playback::Times(0) = self.playback {
            return Err(SinkError::invalid(
                "play count",
                0,
                "expected at least 1 (or Playback::Forever)",
            ));
        }
        if self.frame_delay_ms > 655_350 {
            return Err(SinkError::invalid(
                "frame delay (ms)",
                self.frame_delay_ms,
                "expected at most 655350 ms (GIF stores u16 centiseconds)",
            ));
        }
        Ok(())
    }
}

pub(crate) fn check_frame<T>(
    level: u64,
    frame: &ArrayView2<'_, T>,
    width: usize,
    height: usize,
) -> Result<(), SinkError> {
    if frame.dim() != (height, width) {
        return Err(SinkError::FrameShape {
            level,
            expected: (height, width),
            actual: frame.dim(),
        });
    }
    Ok(())
}

/// Animated GIF with the colormap as its global palette, so every frame is exact (no
/// re-quantisation): pixel = `colormap[scaling(count)]`.
///
/// From smooth values ([`Colouring::Smooth`], frames through [`GifWriter::add_smooth_frame`])
/// the palette stays the colormap and each pixel is the entry nearest the value's colormap
/// position ([`crate::SmoothColours::nearest_indices`]: the position the PNG sink
/// interpolates at, rounded). GIF holds 256 colours, so this is the closest it gets to the
/// PNG's interpolated colours without re-quantising: no count bands, only changes of one
/// palette step, and every colour still exactly a colormap entry.
///
/// Frames are encoded as they arrive; the file appears under its final name only after
/// [`GifWriter::finish`].
pub struct GifWriter {
    path: PathBuf,
    width: usize,
    height: usize,
    options: AnimationOptions,
    encoder: Option<gif::Encoder<BufWriter<OutputWriter>>>,
    output: FileOutput,
    frames: u64,
    indices: Vec<u8>,
}

impl std::fmt::Debug for GifWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GifWriter")
            .field("path", &self.path)
            .field("width", &self.width)
            .field("height", &self.height)
            .field("options", &self.options)
            .field("frames", &self.frames)
            .finish_non_exhaustive()
    }
}

impl GifWriter {
    /// The checks of [`GifWriter::create`] that need no file: the options and the size (1 to
    /// 65535 a side). Returns the size as GIF stores it.
    ///
    /// # Errors
    ///
    /// [`SinkError::InvalidParameter`] for invalid options or a size outside `1..=65535`.
    pub fn check(
        width: usize,
        height: usize,
        options: &AnimationOptions,
    ) -> Result<(u16, u16), SinkError> {
        options.validate()?;
        match (u16::try_from(width), u16::try_from(height)) {
            (Ok(w), Ok(h)) if w > 0 && h > 0 => Ok((w, h)),
            _ => Err(SinkError::invalid(
                "GIF size",
                format!("{height} x {width} (height x width)"),
                "expected both between 1 and 65535",
            )),
        }
    }

    /// Start a GIF of `width x height` frames at `path`.
    ///
    /// # Errors
    ///
    /// [`SinkError::InvalidParameter`] for invalid options or a size outside `1..=65535`. A
    /// file-system error ([`SinkError::Io`], [`SinkError::PermissionDenied`],
    /// [`SinkError::DiskFull`]) when the temporary file cannot be created, [`SinkError::Gif`]
    /// when the encoder rejects the header.
    pub fn create(
        path: impl AsRef<Path>,
        width: usize,
        height: usize,
        options: AnimationOptions,
    ) -> Result<GifWriter, SinkError> {
        let path = path.as_ref().to_path_buf();
        let (w, h) = GifWriter::check(width, height, &options)?;
        let (out, output) = FileOutput::create(&path, "GIF")?;
        let out = BufWriter::new(out);
        let palette = options.colouring.colormap().palette();
        let mut encoder =
            gif::Encoder::new(out, w, h, &palette).map_err(|e| SinkError::gif(&path, e))?;
        let repeat = match options.playback {
            Playback::Forever => Some(gif::Repeat::Infinite),
            Playback::Times(1) => None,
            Playback::Times(n) => Some(gif::Repeat::Finite(n - 1)),
        };
        if let Some(repeat) = repeat {
            encoder
                .set_repeat(repeat)
                .map_err(|e| SinkError::gif(&path, e))?;
        }
        Ok(GifWriter {
            path,
            width,
            height,
            options,
            encoder: Some(encoder),
            output,
            frames: 0,
            indices: Vec::new(),
        })
    }

    /// Append the frame of stack level `level`.
    ///
    /// # Errors
    ///
    /// [`SinkError::FrameValues`] when the colouring is [`Colouring::Smooth`] (smooth frames go
    /// to [`GifWriter::add_smooth_frame`]).
    /// [`SinkError::FrameShape`] for a frame of another size. [`SinkError::Gif`] or a
    /// file-system error when the frame cannot be written.
    // An `ArrayView2` is a small `Copy` handle, passed by value as ndarray (and `FrameSink`) do.
    #[allow(clippy::needless_pass_by_value)]
    pub fn add_frame(&mut self, level: u64, frame: ArrayView2<'_, u16>) -> Result<(), SinkError> {
        let (_, scaling) = self.options.colouring.expect_counts("GIF", level)?;
        check_frame(level, &frame, self.width, self.height)?;
        scaling.apply(frame, &mut self.indices)?;
        self.encode_indices()
    }

    /// Append the frame of stack level `level` from smooth values: each pixel the palette
    /// entry nearest its colormap position.
    ///
    /// # Errors
    ///
    /// [`SinkError::FrameValues`] unless the colouring is [`Colouring::Smooth`]; otherwise as
    /// [`GifWriter::add_frame`].
    // An `ArrayView2` is a small `Copy` handle, passed by value as ndarray (and `FrameSink`) do.
    #[allow(clippy::needless_pass_by_value)]
    pub fn add_smooth_frame(
        &mut self,
        level: u64,
        frame: ArrayView2<'_, f32>,
    ) -> Result<(), SinkError> {
        let colours = self.options.colouring.expect_smooth("GIF", level)?;
        check_frame(level, &frame, self.width, self.height)?;
        colours.nearest_indices(frame, &mut self.indices)?;
        self.encode_indices()
    }

    /// Encodes `self.indices` as the next frame.
    fn encode_indices(&mut self) -> Result<(), SinkError> {
        let encoder = self.encoder.as_mut().ok_or_else(|| {
            SinkError::invalid("GIF writer state", "finished", "no frame after the end")
        })?;
        let gif_frame = gif::Frame {
            delay: u16::try_from(self.options.frame_delay_ms.saturating_add(5) / 10)
                .unwrap_or(u16::MAX),
            width: self.width as u16,
            height: self.height as u16,
            buffer: Cow::Borrowed(&self.indices),
            ..gif::Frame::default()
        };
        encoder
            .write_frame(&gif_frame)
            .map_err(|e| SinkError::gif(&self.path, e))?;
        self.frames += 1;
        Ok(())
    }

    /// Number of frames written so far.
    pub fn frames(&self) -> u64 {
        self.frames
    }

    /// Write the trailer and move the file into place. A GIF needs at least one frame.
    ///
    /// # Errors
    ///
    /// [`SinkError::FrameCount`] when no frame was added. [`SinkError::Gif`] or a file-system
    /// error ([`SinkError::Io`], [`SinkError::PermissionDenied`], [`SinkError::DiskFull`]) when
    /// the file cannot be completed or renamed into place.
    pub fn finish(mut self) -> Result<PathBuf, SinkError> {
        if self.frames == 0 {
            return Err(SinkError::FrameCount {
                path: self.path.clone(),
                format: "GIF",
                expected: 1,
                actual: 0,
            });
        }
        let encoder = self
            .encoder
            .take()
            .ok_or_else(|| SinkError::invalid("GIF writer state", "finished", "finished once"))?;
        let mut out = encoder
            .into_inner()
            .map_err(|e| SinkError::gif(&self.path, e))?;
        out.flush()
            .map_err(|e| SinkError::io("write GIF", &self.path, e))?;
        drop(out);
        self.output.commit()
    }
}

impl FrameSink for GifWriter {
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
        "GIF"
    }

    fn finish(self: Box<Self>) -> Result<Vec<PathBuf>, SinkError> {
        GifWriter::finish(*self).map(|p| vec![p])
    }
}

/// Animated PNG (APNG). The frame count must be declared up front (APNG stores it before the
/// first frame); [`ApngWriter::finish`] fails if a different number arrived. Frames are 8-bit
/// grayscale for `gray`, otherwise indexed colour with the colormap as palette (exact); from
/// smooth values ([`Colouring::Smooth`]) 8-bit grayscale for `gray`, otherwise truecolour RGB,
/// coloured exactly as the PNG sink colours them ([`crate::SmoothColours::apply`]).
pub struct ApngWriter {
    path: PathBuf,
    width: usize,
    height: usize,
    options: AnimationOptions,
    expected: u64,
    writer: Option<png::Writer<BufWriter<OutputWriter>>>,
    output: FileOutput,
    frames: u64,
    indices: Vec<u8>,
}

impl std::fmt::Debug for ApngWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApngWriter")
            .field("path", &self.path)
            .field("width", &self.width)
            .field("height", &self.height)
            .field("options", &self.options)
            .field("expected", &self.expected)
            .field("frames", &self.frames)
            .finish_non_exhaustive()
    }
}

impl ApngWriter {
    /// The checks of [`ApngWriter::create`] that need no file: the options, the size and the
    /// frame count (1 to 2^32 - 1). Returns them as APNG stores them.
    ///
    /// # Errors
    ///
    /// [`SinkError::InvalidParameter`] for invalid options, or a size or frame count outside
    /// 1 to 2^32 - 1.
    pub fn check(
        width: usize,
        height: usize,
        num_frames: u64,
        options: &AnimationOptions,
    ) -> Result<(u32, u32, u32), SinkError> {
        options.validate()?;
        let (w, h) = png_dims(width, height)?;
        let n = u32::try_from(num_frames)
            .ok()
            .filter(|&n| n > 0)
            .ok_or_else(|| {
                SinkError::invalid("APNG frame count", num_frames, "expected 1 to 2^32 - 1")
            })?;
        Ok((w, h, n))
    }

    /// Start an APNG of `num_frames` frames of `width x height` at `path`.
    ///
    /// # Errors
    ///
    /// [`SinkError::InvalidParameter`] for invalid options, or a size or frame count outside
    /// 1 to 2^32 - 1. A file-system error ([`SinkError::Io`], [`SinkError::PermissionDenied`],
    /// [`SinkError::DiskFull`]) when the temporary file cannot be created, [`SinkError::Png`]
    /// when the encoder rejects the header.
    pub fn create(
        path: impl AsRef<Path>,
        width: usize,
        height: usize,
        num_frames: u64,
        options: AnimationOptions,
    ) -> Result<ApngWriter, SinkError> {
        let path = path.as_ref().to_path_buf();
        let (w, h, n) = ApngWriter::check(width, height, num_frames, &options)?;
        let (out, output) = FileOutput::create(&path, "APNG")?;
        let out = BufWriter::new(out);
        let mut enc = png::Encoder::new(out, w, h);
        enc.set_depth(png::BitDepth::Eight);
        let colormap = options.colouring.colormap();
        if colormap.is_gray() {
            enc.set_color(png::ColorType::Grayscale);
        } else if options.colouring.is_smooth() {
            enc.set_color(png::ColorType::Rgb);
        } else {
            enc.set_color(png::ColorType::Indexed);
            enc.set_palette(colormap.palette());
        }
        enc.set_compression(png::Compression::Fast);
        let plays = match options.playback {
            Playback::Forever => 0,
            Playback::Times(n) => u32::from(n),
        };
        let png_err = |e| SinkError::png(&path, e);
        enc.set_animated(n, plays).map_err(png_err)?;
        let (num, den) = delay_fraction(options.frame_delay_ms);
        enc.set_frame_delay(num, den).map_err(png_err)?;
        enc.set_dispose_op(png::DisposeOp::None).map_err(png_err)?;
        enc.set_blend_op(png::BlendOp::Source).map_err(png_err)?;
        let writer = enc.write_header().map_err(png_err)?;
        Ok(ApngWriter {
            path,
            width,
            height,
            options,
            expected: num_frames,
            writer: Some(writer),
            output,
            frames: 0,
            indices: Vec::new(),
        })
    }

    /// Append the frame of stack level `level`.
    ///
    /// # Errors
    ///
    /// [`SinkError::FrameValues`] when the colouring is [`Colouring::Smooth`] (smooth frames go
    /// to [`ApngWriter::add_smooth_frame`]).
    /// [`SinkError::FrameShape`] for a frame of another size, [`SinkError::FrameCount`] for a
    /// frame beyond the declared count. [`SinkError::Png`] or a file-system error when the frame
    /// cannot be written.
    // An `ArrayView2` is a small `Copy` handle, passed by value as ndarray (and `FrameSink`) do.
    #[allow(clippy::needless_pass_by_value)]
    pub fn add_frame(&mut self, level: u64, frame: ArrayView2<'_, u16>) -> Result<(), SinkError> {
        let (_, scaling) = self.options.colouring.expect_counts("APNG", level)?;
        check_frame(level, &frame, self.width, self.height)?;
        self.check_count()?;
        scaling.apply(frame, &mut self.indices)?;
        self.encode_samples()
    }

    /// Append the frame of stack level `level` from smooth values, coloured as the PNG sink
    /// colours them.
    ///
    /// # Errors
    ///
    /// [`SinkError::FrameValues`] unless the colouring is [`Colouring::Smooth`]; otherwise as
    /// [`ApngWriter::add_frame`].
    // An `ArrayView2` is a small `Copy` handle, passed by value as ndarray (and `FrameSink`) do.
    #[allow(clippy::needless_pass_by_value)]
    pub fn add_smooth_frame(
        &mut self,
        level: u64,
        frame: ArrayView2<'_, f32>,
    ) -> Result<(), SinkError> {
        let colours = self.options.colouring.expect_smooth("APNG", level)?;
        check_frame(level, &frame, self.width, self.height)?;
        self.check_count()?;
        crate::frames::smooth_samples(&colours, frame, &mut self.indices)?;
        self.encode_samples()
    }

    /// A frame beyond the declared count is an error.
    fn check_count(&self) -> Result<(), SinkError> {
        if self.frames >= self.expected {
            return Err(SinkError::FrameCount {
                path: self.path.clone(),
                format: "APNG",
                expected: self.expected,
                actual: self.frames + 1,
            });
        }
        Ok(())
    }

    /// Encodes `self.indices` (palette indices, gray or RGB samples, as the header says) as
    /// the next frame.
    fn encode_samples(&mut self) -> Result<(), SinkError> {
        let writer = self.writer.as_mut().ok_or_else(|| {
            SinkError::invalid("APNG writer state", "finished", "no frame after the end")
        })?;
        writer
            .write_image_data(&self.indices)
            .map_err(|e| SinkError::png(&self.path, e))?;
        self.frames += 1;
        Ok(())
    }

    /// Number of frames written so far.
    pub fn frames(&self) -> u64 {
        self.frames
    }

    /// Check the frame count, write the end of the file and move it into place.
    ///
    /// # Errors
    ///
    /// [`SinkError::FrameCount`] when the number of frames differs from the declared count.
    /// [`SinkError::Png`] or a file-system error ([`SinkError::Io`],
    /// [`SinkError::PermissionDenied`], [`SinkError::DiskFull`]) when the file cannot be
    /// completed or renamed into place.
    pub fn finish(mut self) -> Result<PathBuf, SinkError> {
        if self.frames != self.expected {
            return Err(SinkError::FrameCount {
                path: self.path.clone(),
                format: "APNG",
                expected: self.expected,
                actual: self.frames,
            });
        }
        let writer = self
            .writer
            .take()
            .ok_or_else(|| SinkError::invalid("APNG writer state", "finished", "finished once"))?;
        writer.finish().map_err(|e| SinkError::png(&self.path, e))?;
        self.output.commit()
    }
}

impl FrameSink for ApngWriter {
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
        "APNG"
    }

    fn finish(self: Box<Self>) -> Result<Vec<PathBuf>, SinkError> {
        ApngWriter::finish(*self).map(|p| vec![p])
    }
}

/// A delay in milliseconds as an APNG `delay_num / delay_den` fraction.
fn delay_fraction(ms: u32) -> (u16, u16) {
    match u16::try_from(ms) {
        Ok(ms) => (ms, 1000),
        // Up to 655350 ms (validated): centiseconds.
        Err(_) => (u16::try_from(ms / 10).unwrap_or(u16::MAX), 100),
    }
}

#[cfg(test)]
mod tests;
