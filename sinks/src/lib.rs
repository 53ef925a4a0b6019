//! Sinks for zoomstack tile streams: Zarr v3 stores, PNG frames, GIF/APNG animations, contact
//! sheets and videos.
//!
//! - [`ZarrSink`] writes a (possibly sharded) Zarr v3 array tile by tile from many threads,
//!   self-describing (`zoomstack` attribute) and resumable (completion markers), with exactly
//!   one writer per stored object. [`ZarrPyramid`] writes several of them as an OME-Zarr 0.5
//!   multiscale group.
//! - [`PngFrameWriter`] writes one PNG per level (8-bit colormapped preview or 16-bit counts),
//!   [`GifWriter`] and [`ApngWriter`] write animations, [`ContactSheet`] a labelled grid. They
//!   all implement [`FrameSink`], so one frame stream can feed several of them.
//! - [`VideoWriter`] (a [`FrameSink`] too) encodes the frames, coloured like the PNG previews
//!   ([`Colouring`]), into MP4/H.264, WebM/VP9, AV1, lossless MKV or Y4M through the
//!   system's `ffmpeg` ([`VideoEncoder`], [`VideoOptions`]).
//! - [`Scaling`] maps counts to 8-bit values exactly like the notebook's `to_uint8` (or
//!   stackview's per-frame stretch); [`Colormap`] holds matplotlib's tables byte for byte.
//!
//! # Example
//!
//! Render a few small levels with the kernel and write them to a Zarr store and a GIF:
//!
//! ```
//! use zoomstack_engine::StoreLayout;
//! use zoomstack_kernel::{Backend, IndexRange, StackParams, render_block};
//! use zoomstack_sinks::{
//!     AnimationOptions, ArrayDescription, GifWriter, ZarrOptions, ZarrSink,
//! };
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let dir = tempfile::tempdir()?;
//! let params = StackParams { height: 32, width: 48, ..StackParams::default() };
//! let levels = 4;
//! let layout = StoreLayout::new([levels, 32, 48], [1, 32, 48], None)?;
//! let desc = ArrayDescription::full_stack(levels, params, layout);
//! let zarr = ZarrSink::open(dir.path().join("stack.zarr"), desc, ZarrOptions::default())?;
//! let mut gif = GifWriter::create(dir.path().join("zoom.gif"), 48, 32, AnimationOptions::default())?;
//!
//! let mut frame = vec![0u16; 32 * 48];
//! for level in 0..levels {
//!     let (rows, cols) = (IndexRange::full(32), IndexRange::full(48));
//!     render_block(&params, level, rows, cols, Backend::Scalar, &mut frame)?;
//!     zarr.write_tile([level, 0, 0], [1, 32, 48], &frame)?;
//!     gif.add_frame(level, ndarray::ArrayView2::from_shape((32, 48), &frame)?)?;
//! }
//! let report = zarr.finish()?;
//! assert!(report.complete);
//! assert_eq!(report.units_written, 4);
//! gif.finish()?;
//! # Ok(()) }
//! ```

mod anim;
mod colormap;
mod error;
mod frames;
mod fsutil;
mod output;
mod scale;
mod sheet;
mod smooth;
#[cfg(test)]
mod test_support;
mod video;
mod zarr;

pub use anim::{AnimationOptions, ApngWriter, GifWriter, Playback};
pub use colormap::Colormap;
pub use error::SinkError;
pub use frames::{
    FrameNaming, FrameSink, PngFrameOptions, PngFrameWriter, PngKind, counts16_png_bytes,
    digit_count, preview_png_bytes, smooth_png_bytes, write_counts16_png, write_preview_png,
};
pub use output::{
    FileOutput, OutputWriter, STDOUT_PATH, check_dir_output, check_file_output, is_stdout,
};
pub use scale::{Scaling, stretch, to_uint8};
pub use sheet::{ContactSheet, ContactSheetOptions, MAX_SHEET_PIXELS};
pub use smooth::{Colouring, SmoothColours};
pub use video::{
    FFMPEG_ENV, VideoCodec, VideoContainer, VideoEncoder, VideoFormat, VideoOptions, VideoWriter,
};
pub use zarr::{
    ArrayDescription, COORDINATE_NAMES, Compression, DEFAULT_ARRAY, DamagedUnit, FILL_VALUE,
    IfExists, MARKER_DIR, MAX_UNITS, OmeAxisScale, StoreStatus, StoreValues, StoredElement,
    VerifyReport, Writers, ZarrOptions, ZarrProgress, ZarrPyramid, ZarrReport, ZarrSink,
    stack_json, store_status, verify_store,
};

/// Re-exported so callers can name the PNG compression level without depending on `png`.
pub use png::Compression as PngCompression;
