//! # zoomstack-view
//!
//! `zoomstack view`: a local HTTP server and one self-contained page to scrub through a lazy
//! zoom stack, the notebook's `stackview.picker` for any of its levels. Levels are rendered on
//! demand by the kernel (split over all cores), kept in a small cache of recent levels, and
//! sent to the page as raw counts, so the value under the cursor is the exact escape count;
//! the page colours them with the PNG sink's colormaps and scalings.
//!
//! ```
//! use zoomstack_engine::ZoomStack;
//! use zoomstack_view::{ServerOptions, View, ViewServer};
//!
//! let view = View::from_select(ZoomStack::default(), "[0:20000:500, ::2, ::2]").unwrap();
//! let server = ViewServer::start(view, ServerOptions { port: 0, ..Default::default() }).unwrap();
//! println!("open {}", server.url());
//! server.shutdown();
//! ```
//!
//! The routes and their parameters are listed in the crate README; every request is validated
//! (see [`Limits`]) and nothing is read from the file system.

mod api;
mod error;
mod frames;
mod server;
mod view;

pub use api::{Reply, ViewApp};
pub use error::ViewError;
pub use frames::CacheStats;
pub use server::{ServerOptions, ViewServer};
pub use view::{NOTEBOOK_PICKER_LEVEL, View};

/// Frame size `zoomstack view` aims for when no stride is given: about 1024 x 1024 pixels, more
/// than a screen shows and fast to render.
pub const DEFAULT_FRAME_PIXELS: u64 = 1 << 20;

/// The limits that bound the work and memory one request (and all of them together) can cost.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Largest frame a request may ask for, in pixels (after its stride). Default 2048 x 2048.
    pub max_frame_pixels: u64,
    /// Stride used when a request names none (1 = every row and column of the view).
    pub default_stride: usize,
    /// Bytes of rendered levels kept for reuse. Default 128 MiB (256 levels of 512 x 512).
    pub cache_bytes: usize,
    /// Requests that may be rendering or waiting for a render at once; more are answered
    /// `503 Busy`. Default 8.
    pub max_active_renders: usize,
    /// HTTP worker threads; always more than `max_active_renders`, so cheap requests (the page,
    /// info, cached levels) are answered while levels render. Default 12.
    pub http_workers: usize,
    /// Longest request target (path and query) accepted, in bytes. Default 2048.
    pub max_target_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_frame_pixels: 2048 * 2048,
            default_stride: 1,
            cache_bytes: 128 << 20,
            max_active_renders: 8,
            http_workers: 12,
            max_target_bytes: 2048,
        }
    }
}

impl Limits {
    /// Check that the limits can work together.
    pub fn validate(&self) -> Result<(), ViewError> {
        let bad = |what: &str, value: String, expected: &str| {
            Err(ViewError::Config(format!(
                "{what} {value}: expected {expected}"
            )))
        };
        if self.max_frame_pixels == 0 {
            return bad("max frame pixels", "0".into(), "at least 1");
        }
        if self.default_stride == 0 {
            return bad("default stride", "0".into(), "at least 1");
        }
        if self.max_active_renders == 0 {
            return bad("max active renders", "0".into(), "at least 1");
        }
        if self.http_workers <= self.max_active_renders {
            return bad(
                "HTTP workers",
                self.http_workers.to_string(),
                &format!(
                    "more than max active renders ({}), so cheap requests never wait",
                    self.max_active_renders
                ),
            );
        }
        if self.max_target_bytes < 64 {
            return bad(
                "max request target bytes",
                self.max_target_bytes.to_string(),
                "at least 64",
            );
        }
        Ok(())
    }
}
