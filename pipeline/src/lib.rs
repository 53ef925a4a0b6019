//! # zoomstack-pipeline
//!
//! Pipelines of zoomstack: the TOML spec format ([`spec`], with line/column diagnostics in
//! [`diag`]) and the one run path ([`Pipeline`]): a spec's sinks grouped into render jobs
//! (frame sinks with equal selections share one render; each Zarr store is rendered tile =
//! write unit), run with progress, cancellation and a share of a job array. The `zoomstack`
//! binary, the tests, the examples and the benches run specs through it.
//!
//! ```
//! use zoomstack_pipeline::{Pipeline, spec::parse_str};
//!
//! let spec = parse_str("preview.toml", zoomstack_pipeline::PREVIEW_SPEC).unwrap();
//! let pipeline = Pipeline::new(spec).unwrap();
//! assert_eq!(pipeline.jobs().len(), 1); // PNG frames, GIF and contact sheet share one render
//! assert!(pipeline.describe(std::path::Path::new(".")).contains("Total: 2621440 pixels rendered"));
//!
//! let err = parse_str("bad.toml", "[stack]\nlevls = 3\n").unwrap_err();
//! assert_eq!(err.span, Some(8..13)); // points at `levls`
//! ```

mod describe;
pub mod diag;
mod error;
mod frames;
mod jobs;
mod preflight;
mod run;
pub mod spec;
mod store;

pub use error::RunError;
pub use jobs::{Dataset, FrameJob, FrameTarget, Job, SinkName, ZarrJob};
pub use preflight::{DEFAULT_MAX_BYTES, DEFAULT_MAX_FILES, Estimate, Limits, SinkEstimate};
pub use run::{Observer, Pipeline, RunOptions, RunReport, Share, Silent, SinkOutcome, resolve};

/// The built-in preview spec (`examples/preview.toml`): the notebook's
/// `stack[0:20000:500, ::2, ::2]` to PNG frames, an animated GIF and a contact sheet.
pub const PREVIEW_SPEC: &str = include_str!("../../examples/preview.toml");
