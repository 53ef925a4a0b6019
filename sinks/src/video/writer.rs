//! [`VideoWriter`]: count frames coloured like the PNG previews, encoded by a [`VideoEncoder`].

use std::path::{Path, PathBuf};

use ndarray::ArrayView2;

use super::{VideoEncoder, VideoOptions};
use crate::anim::check_frame;
use crate::frames::{FrameSink, colorize_rgb};
use crate::{Colormap, Scaling, SinkError};

/// How count frames become RGB: `colormap[scaling(count)]`, the colours of the PNG preview
/// sink (`PngKind::Preview` with the same colormap and scaling) pixel for pixel.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct FrameColouring {
    /// The colormap (`gray` gives `(i, i, i)`).
    pub colormap: Colormap,
    /// Count-to-index scaling (default: the notebook's `to_uint8` for 256 iterations).
    pub scaling: Scaling,
}

impl FrameColouring {
    /// Checks the scaling ([`Scaling::validate`]).
    ///
    /// # Errors
    ///
    /// [`SinkError::InvalidParameter`] for an invalid scaling.
    pub fn validate(&self) -> Result<(), SinkError> {
        self.scaling.validate()
    }

    /// Colours `frame` into `rgb` (row-major, three bytes a pixel), using `indices` as scratch.
    ///
    /// # Errors
    ///
    /// The errors of [`Scaling::apply`].
    // An `ArrayView2` is a small `Copy` handle, passed by value as ndarray (and `FrameSink`) do.
    #[allow(clippy::needless_pass_by_value)]
    pub fn rgb(
        &self,
        frame: ArrayView2<'_, u16>,
        indices: &mut Vec<u8>,
        rgb: &mut Vec<u8>,
    ) -> Result<(), SinkError> {
        self.scaling.apply(frame, indices)?;
        colorize_rgb(indices, self.colormap, rgb);
        Ok(())
    }
}

/// A video of count frames: each frame coloured by a [`FrameColouring`] and pushed to a
/// [`VideoEncoder`]. Frames stream through; the file appears under its final name only after
/// [`VideoWriter::finish`].
///
/// ```no_run
/// use zoomstack_sinks::{FrameColouring, VideoOptions, VideoWriter};
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let mut video = VideoWriter::create("zoom.mp4", 64, 48, FrameColouring::default(), &VideoOptions::default())?;
/// let frame = ndarray::Array2::<u16>::from_shape_fn((48, 64), |(y, x)| (x + y) as u16);
/// video.add_frame(0, frame.view())?;
/// video.finish()?;
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct VideoWriter {
    encoder: VideoEncoder,
    colouring: FrameColouring,
    indices: Vec<u8>,
    rgb: Vec<u8>,
}

impl VideoWriter {
    /// A video of `width x height` frames at `path` (`-`: standard output).
    ///
    /// # Errors
    ///
    /// [`SinkError::InvalidParameter`] for an invalid scaling; the errors of
    /// [`VideoEncoder::create`].
    pub fn create(
        path: impl AsRef<Path>,
        width: usize,
        height: usize,
        colouring: FrameColouring,
        options: &VideoOptions,
    ) -> Result<VideoWriter, SinkError> {
        colouring.validate()?;
        let encoder = VideoEncoder::create(path, width, height, options)?;
        Ok(VideoWriter::new(encoder, colouring))
    }

    /// A writer around an encoder already started.
    pub fn new(encoder: VideoEncoder, colouring: FrameColouring) -> VideoWriter {
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
            .rgb(frame, &mut self.indices, &mut self.rgb)?;
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

    fn finish(self: Box<Self>) -> Result<Vec<PathBuf>, SinkError> {
        VideoWriter::finish(*self).map(|p| vec![p])
    }
}
