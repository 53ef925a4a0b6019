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
pub(crate) mod tests {
    use super::*;
    use ndarray::Array3;
    use std::fs::{self, File};

    fn frames() -> Array3<u16> {
        Array3::from_shape_fn((3, 4, 6), |(k, y, x)| (k * 50 + y * 10 + x) as u16)
    }

    #[test]
    fn gif_round_trip_exact() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.gif");
        let opts = AnimationOptions {
            colouring: Colouring::Counts {
                colormap: Colormap::Magma,
                scaling: Scaling::PerFrame,
            },
            playback: Playback::Times(3),
            ..AnimationOptions::default()
        };
        let mut w = GifWriter::create(&path, 6, 4, opts).unwrap();
        let stack = frames();
        for (k, f) in stack.outer_iter().enumerate() {
            w.add_frame(k as u64, f).unwrap();
        }
        assert!(!path.exists(), "not under its final name before finish");
        assert_eq!(w.finish().unwrap(), path);

        let mut opts = gif::DecodeOptions::new();
        opts.set_color_output(gif::ColorOutput::Indexed);
        let mut dec = opts.read_info(File::open(&path).unwrap()).unwrap();
        assert_eq!(
            dec.global_palette().unwrap(),
            &Colormap::Magma.palette()[..]
        );
        let mut n = 0;
        while let Some(frame) = dec.read_next_frame().unwrap() {
            assert_eq!(frame.delay, 15);
            let mut want = Vec::new();
            Scaling::PerFrame
                .apply(stack.index_axis(ndarray::Axis(0), n), &mut want)
                .unwrap();
            assert_eq!(&frame.buffer[..], &want[..]);
            n += 1;
        }
        assert_eq!(n, 3);
        assert_eq!(dec.repeat(), gif::Repeat::Finite(2));
    }

    #[test]
    fn gif_rejects_wrong_shapes_and_cleans_up() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("b.gif");
        let mut w = GifWriter::create(&path, 6, 4, AnimationOptions::default()).unwrap();
        let other = Array3::<u16>::zeros((1, 5, 6));
        let err = w
            .add_frame(7, other.index_axis(ndarray::Axis(0), 0))
            .unwrap_err();
        assert!(err.to_string().contains("level 7"), "{err}");
        let err = w.finish().unwrap_err();
        assert!(matches!(err, SinkError::FrameCount { .. }), "{err}");
        assert_eq!(
            fs::read_dir(dir.path()).unwrap().count(),
            0,
            "temp file removed"
        );
        assert!(GifWriter::create(&path, 70000, 4, AnimationOptions::default()).is_err());
    }

    #[test]
    fn apng_round_trip_exact() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.png");
        let opts = AnimationOptions {
            colouring: Colouring::Counts {
                colormap: Colormap::Viridis,
                scaling: Scaling::notebook(256),
            },
            frame_delay_ms: 80,
            playback: Playback::Times(2),
        };
        let stack = frames();
        let mut w = ApngWriter::create(&path, 6, 4, 3, opts).unwrap();
        for (k, f) in stack.outer_iter().enumerate() {
            w.add_frame(k as u64, f).unwrap();
        }
        let extra = w.add_frame(9, stack.index_axis(ndarray::Axis(0), 0));
        assert!(matches!(extra, Err(SinkError::FrameCount { .. })));
        w.finish().unwrap();

        let dec = png::Decoder::new(std::io::BufReader::new(File::open(&path).unwrap()));
        let mut reader = dec.read_info().unwrap();
        let actl = reader.info().animation_control.unwrap();
        assert_eq!((actl.num_frames, actl.num_plays), (3, 2));
        assert_eq!(
            reader.info().palette.as_deref().unwrap(),
            &Colormap::Viridis.palette()[..]
        );
        let mut buf = vec![0; reader.output_buffer_size().unwrap()];
        for f in stack.outer_iter() {
            let info = reader.next_frame(&mut buf).unwrap();
            let fc = reader.info().frame_control.unwrap();
            assert_eq!((fc.delay_num, fc.delay_den), (80, 1000));
            let want: Vec<u8> = f.iter().map(|&v| crate::scale::to_uint8(v, 256)).collect();
            assert_eq!(&buf[..info.buffer_size()], &want[..]);
        }
    }

    #[test]
    fn apng_too_few_frames_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.png");
        let mut w = ApngWriter::create(&path, 6, 4, 3, AnimationOptions::default()).unwrap();
        w.add_frame(0, frames().index_axis(ndarray::Axis(0), 0))
            .unwrap();
        let err = w.finish().unwrap_err();
        assert!(
            err.to_string().contains("declared 3 frames but received 1"),
            "{err}"
        );
        assert!(!path.exists());
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 0);
        assert!(ApngWriter::create(&path, 6, 4, 0, AnimationOptions::default()).is_err());
    }

    /// Smooth values of levels of the notebook's stack (`height x width`), from the kernel.
    pub(crate) fn smooth_frames(levels: &[u64], height: usize, width: usize) -> Array3<f32> {
        use zoomstack_kernel::{Backend, IndexRange, StackParams, render_block_smooth};
        let p = StackParams {
            height,
            width,
            ..StackParams::default()
        };
        let (rows, cols) = (
            IndexRange::full(height as u64),
            IndexRange::full(width as u64),
        );
        let mut stack = Array3::<f32>::zeros((levels.len(), height, width));
        for (k, &level) in levels.iter().enumerate() {
            let mut v = vec![0f32; height * width];
            render_block_smooth(&p, level, rows, cols, Backend::Scalar, &mut v).unwrap();
            stack
                .index_axis_mut(ndarray::Axis(0), k)
                .assign(&ndarray::ArrayView2::from_shape((height, width), &v).unwrap());
        }
        stack
    }

    /// Every frame of a (possibly animated) PNG file, as decoded RGB triples.
    pub(crate) fn decode_png_rgb(path: &Path) -> Vec<Vec<u8>> {
        let mut dec = png::Decoder::new(std::io::BufReader::new(File::open(path).unwrap()));
        dec.set_transformations(png::Transformations::EXPAND);
        let mut reader = dec.read_info().unwrap();
        let frames = reader
            .info()
            .animation_control
            .map_or(1, |a| a.num_frames as usize);
        let mut out = Vec::new();
        for _ in 0..frames {
            let mut buf = vec![0; reader.output_buffer_size().unwrap()];
            let info = reader.next_frame(&mut buf).unwrap();
            buf.truncate(info.buffer_size());
            out.push(match info.color_type {
                png::ColorType::Rgb => buf,
                png::ColorType::Grayscale => buf.iter().flat_map(|&g| [g, g, g]).collect(),
                other => panic!("unexpected colour type {other:?}"),
            });
        }
        out
    }

    fn smooth(colormap: Colormap, max: u32, cycle: Option<f32>) -> crate::SmoothColours {
        crate::SmoothColours {
            colormap,
            scaling: Scaling::Fixed { max },
            cycle,
        }
    }

    #[test]
    fn apng_smooth_frames_are_the_png_sinks_rgb() {
        let levels = [0, 1500, 3000];
        let stack = smooth_frames(&levels, 24, 32);
        for colours in [
            smooth(Colormap::Viridis, 256, None),
            smooth(Colormap::Twilight, 256, Some(24.0)),
            crate::SmoothColours {
                scaling: Scaling::PerFrame,
                ..smooth(Colormap::Magma, 256, None)
            },
            smooth(Colormap::Gray, 256, Some(40.0)),
        ] {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("a.png");
            let opts = AnimationOptions {
                colouring: Colouring::Smooth(colours),
                ..AnimationOptions::default()
            };
            let mut apng = ApngWriter::create(&path, 32, 24, 3, opts).unwrap();
            let mut pngs = crate::PngFrameWriter::new(
                dir.path().join("frames"),
                crate::PngFrameOptions {
                    kind: crate::PngKind::Smooth(colours),
                    ..crate::PngFrameOptions::counts16(10000)
                },
            )
            .unwrap();
            let mut files = Vec::new();
            for (f, &level) in stack.outer_iter().zip(&levels) {
                apng.add_smooth_frame(level, f).unwrap();
                files.push(pngs.write_smooth(level, f).unwrap());
            }
            // A frame of counts is not what a smooth-coloured APNG takes.
            let err = apng
                .add_frame(
                    9,
                    Array3::<u16>::zeros((1, 24, 32)).index_axis(ndarray::Axis(0), 0),
                )
                .unwrap_err();
            assert!(
                matches!(err, SinkError::FrameValues { level: 9, .. }),
                "{err}"
            );
            apng.finish().unwrap();
            let got = decode_png_rgb(&path);
            assert_eq!(got.len(), 3);
            for (k, file) in files.iter().enumerate() {
                let want = decode_png_rgb(file).remove(0);
                assert_eq!(got[k], want, "{colours:?}, frame {k}");
                // And both are SmoothColours::apply's colours.
                let mut rgb = Vec::new();
                colours
                    .apply(stack.index_axis(ndarray::Axis(0), k), &mut rgb)
                    .unwrap();
                assert_eq!(got[k], rgb);
            }
            // Varied frames, not a constant colour.
            assert!(got[2].chunks(3).any(|p| p != &got[2][..3]));
        }
    }

    /// The nearest colormap entry of `v`, computed here from the formula (not with the
    /// crate's position function): `max` and `cycle` are powers of two, so the divisions are
    /// exact.
    fn nearest_by_formula(v: f32, max: f64, cycle: Option<f64>) -> u8 {
        let v = f64::from(v);
        match cycle {
            Some(p) => ((v / p - (v / p).floor()) * 256.0).round() as u32 as u8, // 256 wraps
            None => ((v / max).clamp(0.0, 1.0) * 255.0).round() as u8,
        }
    }

    fn decode_gif_indices(path: &Path, colormap: Colormap) -> Vec<Vec<u8>> {
        let mut opts = gif::DecodeOptions::new();
        opts.set_color_output(gif::ColorOutput::Indexed);
        let mut dec = opts.read_info(File::open(path).unwrap()).unwrap();
        assert_eq!(dec.global_palette().unwrap(), &colormap.palette()[..]);
        let mut out = Vec::new();
        while let Some(frame) = dec.read_next_frame().unwrap() {
            assert!(frame.palette.is_none(), "no local palette");
            out.push(frame.buffer.to_vec());
        }
        out
    }

    #[test]
    fn gif_smooth_frames_are_the_nearest_palette_entries() {
        let levels = [0, 2000, 3000];
        let stack = smooth_frames(&levels, 24, 32);
        for (colormap, cycle) in [(Colormap::Inferno, None), (Colormap::Twilight, Some(32.0))] {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("s.gif");
            let colours = smooth(colormap, 256, cycle.map(|c: f64| c as f32));
            let opts = AnimationOptions {
                colouring: Colouring::Smooth(colours),
                ..AnimationOptions::default()
            };
            let mut w = GifWriter::create(&path, 32, 24, opts).unwrap();
            for (f, &level) in stack.outer_iter().zip(&levels) {
                w.add_smooth_frame(level, f).unwrap();
            }
            let err = w
                .add_frame(
                    4,
                    Array3::<u16>::zeros((1, 24, 32)).index_axis(ndarray::Axis(0), 0),
                )
                .unwrap_err();
            assert!(
                err.to_string()
                    .contains("GIF takes frames of smooth values"),
                "{err}"
            );
            w.finish().unwrap();
            let got = decode_gif_indices(&path, colormap);
            assert_eq!(got.len(), 3);
            let table = colormap.table();
            for (k, f) in stack.outer_iter().enumerate() {
                let want: Vec<u8> = f
                    .iter()
                    .map(|&v| nearest_by_formula(v, 256.0, cycle))
                    .collect();
                assert_eq!(got[k], want, "{colormap:?} {cycle:?} frame {k}");
                // The nearest entry is the interpolated colour's closer end: within half a
                // palette step of the PNG sink's colour in every channel.
                let mut rgb = Vec::new();
                colours.apply(f, &mut rgb).unwrap();
                for (i, &idx) in got[k].iter().enumerate() {
                    let pos = {
                        let x = f64::from(f.as_slice().unwrap()[i]);
                        match cycle {
                            Some(p) => (x / p).rem_euclid(1.0) * 256.0,
                            None => (x / 256.0).clamp(0.0, 1.0) * 255.0,
                        }
                    };
                    let (lo, hi) = (pos.floor() as usize % 256, (pos.floor() as usize + 1) % 256);
                    let hi = if cycle.is_none() {
                        hi.min(255).max(lo)
                    } else {
                        hi
                    };
                    assert!(
                        usize::from(idx) == lo || usize::from(idx) == hi,
                        "{pos} -> {idx}"
                    );
                    for c in 0..3 {
                        let (a, b) = (table[lo][c], table[hi][c]);
                        let v = rgb[3 * i + c];
                        assert!(v >= a.min(b) && v <= a.max(b), "pixel {i}");
                    }
                }
            }
        }
        // Counts to a smooth GIF, smooth values to a GIF of counts: refused, naming the level.
        let dir = tempfile::tempdir().unwrap();
        let mut w = GifWriter::create(
            dir.path().join("c.gif"),
            32,
            24,
            AnimationOptions::default(),
        )
        .unwrap();
        let err = w
            .add_smooth_frame(7, stack.index_axis(ndarray::Axis(0), 0))
            .unwrap_err();
        assert!(
            err.to_string()
                .contains("GIF takes frames of counts, got smooth values (frame for level 7)"),
            "{err}"
        );
    }

    /// Where the counts step (the notebook's bands), the smooth GIF's colour steps by at most
    /// one palette entry; the GIF of counts jumps by about four there (`scaling_max` 64: 255/64
    /// entries per count). Level 0 of the notebook's stack at 4096 x 4096 (every 256th row),
    /// counts up to 7: fine enough that neighbours' values differ by less than a palette
    /// step's 64/255 iterations (measured: at most 0.13 there; from count 8 on, pixels border
    /// the set's filaments at this level and neighbours differ by up to 2 iterations).
    #[test]
    fn gif_smooth_has_no_count_bands() {
        use zoomstack_kernel::{
            Backend, IndexRange, StackParams, render_block, render_block_smooth,
        };
        let (h, w) = (16, 4096);
        let p = StackParams {
            height: 4096,
            width: 4096,
            ..StackParams::default()
        };
        let (rows, cols) = (IndexRange::new(128, 256, 16), IndexRange::full(4096));
        let mut values = vec![0f32; h * w];
        render_block_smooth(&p, 0, rows, cols, Backend::Scalar, &mut values).unwrap();
        let mut counts = vec![0u16; h * w];
        render_block(&p, 0, rows, cols, Backend::Scalar, &mut counts).unwrap();
        let values = ndarray::ArrayView2::from_shape((h, w), &values).unwrap();
        let counts = ndarray::ArrayView2::from_shape((h, w), &counts).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let write = |name: &str, colouring: Colouring| {
            let path = dir.path().join(name);
            let opts = AnimationOptions {
                colouring,
                ..AnimationOptions::default()
            };
            let mut gif = GifWriter::create(&path, w, h, opts).unwrap();
            match colouring {
                Colouring::Smooth(_) => gif.add_smooth_frame(0, values).unwrap(),
                Colouring::Counts { .. } => gif.add_frame(0, counts).unwrap(),
            }
            gif.finish().unwrap();
            decode_gif_indices(&path, Colormap::Viridis).remove(0)
        };
        let smooth_gif = write(
            "s.gif",
            Colouring::Smooth(smooth(Colormap::Viridis, 64, None)),
        );
        let counts_gif = write(
            "c.gif",
            Colouring::Counts {
                colormap: Colormap::Viridis,
                scaling: Scaling::Fixed { max: 64 },
            },
        );
        let mut boundaries = 0;
        for y in 0..h {
            for x in 0..w - 1 {
                let (a, b) = (counts[(y, x)], counts[(y, x + 1)]);
                // Adjacent pixels on either side of a count boundary, away from the set (where
                // neighbours' values lie far apart at any resolution).
                if a == b || a.max(b) > 7 {
                    continue;
                }
                boundaries += 1;
                let (i, j) = (y * w + x, y * w + x + 1);
                let step = smooth_gif[i].abs_diff(smooth_gif[j]);
                assert!(
                    step <= 1,
                    "({y}, {x}): counts {a} -> {b}, smooth step {step}"
                );
                assert!(
                    counts_gif[i].abs_diff(counts_gif[j]) >= 3,
                    "a band at ({y}, {x})"
                );
            }
        }
        assert!(boundaries > 100, "{boundaries} count boundaries");
    }

    #[test]
    fn delays() {
        assert_eq!(delay_fraction(150), (150, 1000));
        assert_eq!(delay_fraction(100_000), (10_000, 100));
    }
}
