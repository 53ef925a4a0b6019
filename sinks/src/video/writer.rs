//! [`VideoWriter`]: frames coloured by a [`Colouring`] (from counts like the PNG previews, or
//! from smooth values), encoded by a [`VideoEncoder`].

use std::path::{Path, PathBuf};

use ndarray::ArrayView2;

use super::{VideoEncoder, VideoOptions};
use crate::anim::check_frame;
use crate::frames::FrameSink;
use crate::{Colouring, SinkError};

/// A video: each frame (counts or smooth values, as the [`Colouring`] takes) coloured and
/// pushed to a [`VideoEncoder`]. Frames stream through; the file appears under its final name only after
/// [`VideoWriter::finish`].
///
/// ```no_run
/// use zoomstack_sinks::{Colormap, Colouring, Scaling, VideoOptions, VideoWriter};
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let colouring = Colouring::Counts { colormap: Colormap::Viridis, scaling: Scaling::default() };
/// let mut video = VideoWriter::create("zoom.mp4", 64, 48, colouring, &VideoOptions::default())?;
/// let frame = ndarray::Array2::<u16>::from_shape_fn((48, 64), |(y, x)| (x + y) as u16);
/// video.add_frame(0, frame.view())?;
/// video.finish()?;
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct VideoWriter {
    encoder: VideoEncoder,
    colouring: Colouring,
    indices: Vec<u8>,
    rgb: Vec<u8>,
}

impl VideoWriter {
    /// A video of `width x height` frames at `path` (`-`: standard output).
    ///
    /// # Errors
    ///
    /// [`SinkError::InvalidParameter`] for an invalid colouring; the errors of
    /// [`VideoEncoder::create`].
    pub fn create(
        path: impl AsRef<Path>,
        width: usize,
        height: usize,
        colouring: Colouring,
        options: &VideoOptions,
    ) -> Result<VideoWriter, SinkError> {
        colouring.validate()?;
        let encoder = VideoEncoder::create(path, width, height, options)?;
        Ok(VideoWriter::new(encoder, colouring))
    }

    /// A writer around an encoder already started.
    pub fn new(encoder: VideoEncoder, colouring: Colouring) -> VideoWriter {
        VideoWriter {
            encoder,
            colouring,
            indices: Vec::new(),
            rgb: Vec::new(),
        }
    }

    /// The encoder (its format, padding and frame count).
    pub fn encoder(&self) -> &VideoEncoder {
        &self.encoder
    }

    /// See [`VideoEncoder::padded`].
    pub fn padded(&self) -> Option<(usize, usize)> {
        self.encoder.padded()
    }

    /// Colours and encodes the frame of stack level `level`.
    ///
    /// # Errors
    ///
    /// [`SinkError::FrameShape`] for a frame of another size; the errors of
    /// [`VideoEncoder::push_rgb`].
    // An `ArrayView2` is a small `Copy` handle, passed by value as ndarray (and `FrameSink`) do.
    #[allow(clippy::needless_pass_by_value)]
    pub fn add_frame(&mut self, level: u64, frame: ArrayView2<'_, u16>) -> Result<(), SinkError> {
        let (width, height) = self.encoder.format().size;
        check_frame(level, &frame, width, height)?;
        self.colouring
            .counts_rgb(level, frame, &mut self.indices, &mut self.rgb)?;
        self.encoder.push_rgb(&self.rgb)
    }

    /// Colours and encodes the frame of stack level `level` from smooth values.
    ///
    /// # Errors
    ///
    /// [`SinkError::FrameValues`] unless the colouring is [`Colouring::Smooth`]; otherwise as
    /// [`VideoWriter::add_frame`].
    // An `ArrayView2` is a small `Copy` handle, passed by value as ndarray (and `FrameSink`) do.
    #[allow(clippy::needless_pass_by_value)]
    pub fn add_smooth_frame(
        &mut self,
        level: u64,
        frame: ArrayView2<'_, f32>,
    ) -> Result<(), SinkError> {
        let (width, height) = self.encoder.format().size;
        check_frame(level, &frame, width, height)?;
        self.colouring.smooth_rgb(level, frame, &mut self.rgb)?;
        self.encoder.push_rgb(&self.rgb)
    }

    /// See [`VideoEncoder::finish`].
    ///
    /// # Errors
    ///
    /// The errors of [`VideoEncoder::finish`].
    pub fn finish(self) -> Result<PathBuf, SinkError> {
        self.encoder.finish()
    }
}

impl FrameSink for VideoWriter {
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
        "video"
    }

    fn finish(self: Box<Self>) -> Result<Vec<PathBuf>, SinkError> {
        VideoWriter::finish(*self).map(|p| vec![p])
    }
}
