//! Animated GIF and APNG: the notebook's `stackview.animate`, streamed frame by frame.

use std::borrow::Cow;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use ndarray::ArrayView2;

use crate::frames::{FrameSink, png_dims};
use crate::output::{FileOutput, OutputWriter};
use crate::{Colormap, Scaling, SinkError};

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
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AnimationOptions {
    /// Palette.
    pub colormap: Colormap,
    /// Count-to-index scaling. stackview's `animate` (the notebook's call) is
    /// [`Scaling::PerFrame`].
    pub scaling: Scaling,
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
            colormap: Colormap::Gray,
            scaling: Scaling::PerFrame,
            frame_delay_ms: 150,
            playback: Playback::Forever,
        }
    }
}

impl AnimationOptions {
    fn validate(&self) -> Result<(), SinkError> {
        self.scaling.validate()?;
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
        let palette = options.colormap.palette();
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
    /// [`SinkError::FrameShape`] for a frame of another size. [`SinkError::Gif`] or a
    /// file-system error when the frame cannot be written.
    // An `ArrayView2` is a small `Copy` handle, passed by value as ndarray (and `FrameSink`) do.
    #[allow(clippy::needless_pass_by_value)]
    pub fn add_frame(&mut self, level: u64, frame: ArrayView2<'_, u16>) -> Result<(), SinkError> {
        check_frame(level, &frame, self.width, self.height)?;
        self.options.scaling.apply(frame, &mut self.indices)?;
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

    fn name(&self) -> &'static str {
        "GIF"
    }

    fn finish(self: Box<Self>) -> Result<Vec<PathBuf>, SinkError> {
        GifWriter::finish(*self).map(|p| vec![p])
    }
}

/// Animated PNG (APNG). The frame count must be declared up front (APNG stores it before the
/// first frame); [`ApngWriter::finish`] fails if a different number arrived. Frames are 8-bit
/// grayscale for `gray`, otherwise indexed colour with the colormap as palette (exact).
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
        if options.colormap.is_gray() {
            enc.set_color(png::ColorType::Grayscale);
        } else {
            enc.set_color(png::ColorType::Indexed);
            enc.set_palette(options.colormap.palette());
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
    /// [`SinkError::FrameShape`] for a frame of another size, [`SinkError::FrameCount`] for a
    /// frame beyond the declared count. [`SinkError::Png`] or a file-system error when the frame
    /// cannot be written.
    // An `ArrayView2` is a small `Copy` handle, passed by value as ndarray (and `FrameSink`) do.
    #[allow(clippy::needless_pass_by_value)]
    pub fn add_frame(&mut self, level: u64, frame: ArrayView2<'_, u16>) -> Result<(), SinkError> {
        check_frame(level, &frame, self.width, self.height)?;
        if self.frames >= self.expected {
            return Err(SinkError::FrameCount {
                path: self.path.clone(),
                format: "APNG",
                expected: self.expected,
                actual: self.frames + 1,
            });
        }
        self.options.scaling.apply(frame, &mut self.indices)?;
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
mod tests {
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
            colormap: Colormap::Magma,
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
            colormap: Colormap::Viridis,
            scaling: Scaling::notebook(256),
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

    #[test]
    fn delays() {
        assert_eq!(delay_fraction(150), (150, 1000));
        assert_eq!(delay_fraction(100_000), (10_000, 100));
    }
}
