//! # zoomstack-view
//!
//! `zoomstack view`: a local HTTP server and one self-contained page to scrub through a lazy
//! zoom stack, the notebook's `stackview.picker` for any of its levels. Levels are rendered on
//! demand by the kernel (split over all cores), kept in a small cache of recent levels, and
//! sent to the page as raw counts, so the value under the cursor is the exact escape count;
//! the page colours them with the PNG sink's colormaps and scalings. In the numpy contract the
//! page can ask for the kernel's smooth values (`f32`) instead and colours them as the sinks'
//! `colour = "smooth"` does (with an optional colour cycle).
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
//! (see [`Limits`]) and nothing is read from the file system. The server is hyper (HTTP/1.1) on
//! a tokio runtime of two I/O threads, with a cap on connections, header size, count and time
//! limits, an idle timeout and no request bodies, so threads and memory stay bounded whatever
//! clients do; [`ViewApp`] is the same API without a socket.

use std::time::Duration;

mod api;
mod connection;
mod error;
mod frames;
mod grid;
mod request;
mod server;
mod view;

pub use api::ViewApp;
pub use error::ViewError;
pub use frames::CacheStats;
pub use request::{Reply, RequestBody, ViewRequest};
pub use server::{ConnectionStats, ServerOptions, ViewServer};
pub use view::{NOTEBOOK_PICKER_LEVEL, View};

/// Frame size `zoomstack view` aims for when no stride is given: about 1024 x 1024 pixels, more
/// than a screen shows and fast to render.
pub const DEFAULT_FRAME_PIXELS: u64 = 1 << 20;

/// Most connections [`Limits::max_connections`] may allow.
const MAX_CONNECTIONS: usize = 1 << 20;
/// The HTTP library's smallest read buffer: a request head may always be this long.
const MIN_HEADER_BYTES: usize = 8192;
/// Largest [`Limits::max_header_bytes`] accepted (a head is headers, not data).
const MAX_HEADER_BYTES: usize = 1 << 20;

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
    /// Requests answered at once, each on its own thread from computing its reply until its body
    /// has been handed to the socket (more wait for a turn); always more than
    /// `max_active_renders`, so cheap requests (the page, info, cached levels) are answered while
    /// levels render. Default 12.
    pub http_workers: usize,
    /// Longest request target (path and query) accepted, in bytes. Default 2048.
    pub max_target_bytes: usize,
    /// Connections open at once; a connection over the limit is answered `503` with
    /// `Retry-After: 1` and closed without its request being read. Default 1024.
    pub max_connections: usize,
    /// Largest request head (request line and headers) in bytes; a larger one is answered `431`
    /// and the connection closed. At least 8192 (the HTTP library's floor). Default 32 KiB.
    pub max_header_bytes: usize,
    /// Most headers in a request; more are answered `431` and the connection closed. Default 64.
    pub max_headers: usize,
    /// Time a client has to send a whole request head, counted from when the server starts
    /// waiting for it (a new connection, or the end of the previous response); past it the
    /// connection is closed. Default 10 s.
    pub header_read_timeout: Duration,
    /// A connection on which no byte moves either way for this long, while none of its requests
    /// is being computed, is closed: idle keep-alive connections, connections that never send,
    /// clients that stop reading a response. Default 10 s.
    pub idle_timeout: Duration,
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
            max_connections: 1024,
            max_header_bytes: 32 << 10,
            max_headers: 64,
            header_read_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(10),
        }
    }
}

impl Limits {
    /// Check that the limits can work together.
    ///
    /// # Errors
    ///
    /// [`ViewError::Config`] naming the first limit that is 0 or out of its range, or too small
    /// for another (e.g. HTTP workers not above the active renders).
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
        if !(1..=MAX_CONNECTIONS).contains(&self.max_connections) {
            return bad(
                "max connections",
                self.max_connections.to_string(),
                &format!("from 1 to {MAX_CONNECTIONS}"),
            );
        }
        if self.max_header_bytes < MIN_HEADER_BYTES || self.max_header_bytes > MAX_HEADER_BYTES {
            return bad(
                "max header bytes",
                self.max_header_bytes.to_string(),
                &format!("from {MIN_HEADER_BYTES} to {MAX_HEADER_BYTES}"),
            );
        }
        if self.max_header_bytes < self.max_target_bytes + 64 {
            return bad(
                "max header bytes",
                self.max_header_bytes.to_string(),
                &format!(
                    "room for the longest request target ({} bytes) and a Host header",
                    self.max_target_bytes
                ),
            );
        }
        if self.max_headers == 0 {
            return bad("max headers", "0".into(), "at least 1 (the Host header)");
        }
        for (what, t) in [
            ("header read timeout", self.header_read_timeout),
            ("idle timeout", self.idle_timeout),
        ] {
            if t.is_zero() {
                return bad(what, format!("{t:?}"), "more than 0");
            }
        }
        Ok(())
    }
}
