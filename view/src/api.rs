//! The HTTP API: routing, request validation and response bodies, independent of the HTTP
//! library (the server turns a [`Reply`] into bytes on the wire).
//!
//! | route | answer |
//! |---|---|
//! | `GET /`, `/index.html` | the page (self-contained HTML, no external resources) |
//! | `GET /api/info` | the stack, the view, the colormap tables and the limits (JSON) |
//! | `GET /api/stats` | cache and render counters (JSON) |
//! | `GET /api/level/{L}/counts?stride=S` | raw counts, `u16` little-endian, row 0 first |
//! | `GET /api/level/{L}/counts?values=smooth&stride=S` | raw smooth values, `f32` little-endian (numpy contract only) |
//! | `GET /api/level/{L}/grid?stride=S` | the complex coordinate of every row and column (JSON) |
//! | `GET /api/level/{L}/image.png?colormap=C&mode=M&stride=S` | 8-bit PNG, as the PNG sink writes it |
//! | `GET /api/level/{L}/image.png?values=smooth&cycle=P&...` | the PNG sink's smooth-coloured PNG |
//! | `GET /api/level/{L}/counts.png?stride=S` | 16-bit grayscale PNG of the raw counts |
//!
//! Nothing is read from the file system: the page is compiled into the binary, so no path can
//! reach a file. Every parameter is checked; errors are JSON `{"error": "..."}` naming the value
//! and what was expected. No route takes a request body: a request announcing one is refused
//! and its connection closed, so the body is never read.

use std::str::FromStr;
use std::sync::Arc;
use std::time::Instant;

use serde_json::json;
use zoomstack_kernel::IndexRange;
use zoomstack_sinks::{
    Colormap, PngCompression, Scaling, SmoothColours, counts16_png_bytes, preview_png_bytes,
    smooth_png_bytes, stack_json,
};

use crate::frames::{CacheStats, Frame, FrameCache, FrameError, Pixels, Renderer, Values};
use crate::grid::grid_json;
use crate::request::{Reply, ViewRequest, parse_query, printable, refuse_body};
use crate::view::AxisJson;
use crate::{Limits, ServerOptions, View, ViewError};

/// The page, compiled in.
const INDEX_HTML: &str = include_str!("../assets/index.html");

/// The viewer without its socket: the view, the renderer, the cache and the request handler
/// that the HTTP workers share. Usable on its own (tests, fuzzing, embedding in another server).
///
/// ```
/// use zoomstack_engine::ZoomStack;
/// use zoomstack_view::{RequestBody, ServerOptions, View, ViewApp, ViewRequest};
///
/// let app = ViewApp::new(View::whole(ZoomStack::default()), &ServerOptions::default()).unwrap();
/// let reply = app.handle(&ViewRequest::get("/api/level/119999/counts?stride=8", "localhost"));
/// assert_eq!((reply.status, reply.body.len()), (200, 64 * 64 * 2));
/// assert_eq!(app.handle(&ViewRequest::get("/../etc/passwd", "localhost")).status, 404);
/// let upload = ViewRequest { method: "POST", body: RequestBody::Length(1 << 40), ..ViewRequest::get("/", "localhost") };
/// let refused = app.handle(&upload);
/// assert_eq!((refused.status, refused.close), (413, true));
/// ```
pub struct ViewApp {
    view: View,
    limits: Limits,
    renderer: Renderer,
    cache: FrameCache,
    /// Host names (without port) accepted in the `Host` header; `None` accepts any.
    allowed_hosts: Option<Vec<String>>,
}

/// The parameters a frame request may carry.
#[derive(Debug, Clone, Copy)]
struct FrameQuery {
    stride: usize,
    colormap: Colormap,
    mode: Mode,
    values: Values,
    /// Iterations per colour cycle (smooth values only).
    cycle: Option<f32>,
}

/// Largest `cycle` a request may ask for (as a spec's `cycle`).
const MAX_CYCLE: f64 = 1e9;

#[derive(Debug, Clone, Copy)]
enum Mode {
    Fixed,
    PerFrame,
}

impl ViewApp {
    /// Check the view and limits and start the render threads. The `Host` check accepts the
    /// loopback names when `options.host` is a loopback address, any name otherwise.
    ///
    /// # Errors
    ///
    /// [`ViewError::Engine`] for a stack the engine rejects or a render pool that cannot start
    /// ([`EngineError::ThreadPool`](zoomstack_engine::EngineError::ThreadPool)),
    /// [`ViewError::Config`] for limits that cannot work ([`Limits::validate`]) or a default
    /// stride above the view's larger side.
    pub fn new(view: View, options: &ServerOptions) -> Result<ViewApp, ViewError> {
        view.stack.validate()?;
        let limits = options.limits;
        limits.validate()?;
        let max_stride = view.rows.count.max(view.cols.count);
        if limits.default_stride as u64 > max_stride {
            return Err(ViewError::Config(format!(
                "default stride {}: expected at most {max_stride} (the view's larger side)",
                limits.default_stride
            )));
        }
        // The engine's executor (0 threads: one per core); its pool is built here, once.
        let executor =
            zoomstack_engine::Executor::new(options.threads).with_backend(options.backend);
        executor.pool()?;
        let ip = options.host;
        let allowed_hosts = ip.is_loopback().then(|| {
            let mut hosts = vec!["localhost".to_string(), ip.to_string()];
            if ip.is_ipv4() && ip.to_string() != "127.0.0.1" {
                hosts.push("127.0.0.1".to_string());
            }
            hosts
        });
        Ok(ViewApp {
            renderer: Renderer::new(view.stack.clone(), executor),
            cache: FrameCache::new(limits.cache_bytes, limits.max_active_renders),
            view,
            limits,
            allowed_hosts,
        })
    }

    /// The limits requests are checked against.
    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// Render and cache counters.
    pub fn stats(&self) -> CacheStats {
        self.cache.stats()
    }

    /// Answer one request. Never panics on any input. A request announcing a body is refused
    /// first (`413`, [`Reply::close`] set), before anything else is looked at.
    pub fn handle(&self, request: &ViewRequest<'_>) -> Reply {
        let &ViewRequest {
            method,
            target,
            host,
            body,
        } = request;
        if let Some(reply) = refuse_body(body) {
            return reply;
        }
        if target.len() > self.limits.max_target_bytes {
            return Reply::error(
                414,
                format!(
                    "request target of {} bytes: expected at most {}",
                    target.len(),
                    self.limits.max_target_bytes
                ),
            );
        }
        if let Err(reply) = self.check_host(host) {
            return reply;
        }
        if method != "GET" && method != "HEAD" {
            return Reply::error(
                405,
                format!("method {method} is not supported: expected GET or HEAD"),
            )
            .header("Allow", "GET, HEAD");
        }
        let (path, query) = target.split_once('?').unwrap_or((target, ""));
        let segments: Vec<&str> = path.split('/').collect();
        match segments.as_slice() {
            ["", "" | "index.html"] => {
                Reply::ok("text/html; charset=utf-8", INDEX_HTML.as_bytes().to_vec())
            }
            ["", "api", "info"] => Self::no_query(query).unwrap_or_else(|| self.info()),
            ["", "api", "stats"] => {
                Self::no_query(query).unwrap_or_else(|| Reply::json(&json!(self.cache.stats())))
            }
            ["", "api", "level", level, resource] => self.level(level, resource, query),
            _ => Reply::error(404, format!("no such resource: {}", printable(path))),
        }
    }

    fn check_host(&self, host: Option<&str>) -> Result<(), Reply> {
        let Some(allowed) = &self.allowed_hosts else {
            return Ok(());
        };
        let Some(host) = host else {
            return Err(Reply::error(400, "missing Host header"));
        };
        // `name:port`, `[v6]:port` or a bare name.
        let name = if let Some(rest) = host.strip_prefix('[') {
            rest.split(']').next().unwrap_or("")
        } else {
            host.rsplit_once(':').map_or(host, |(n, _)| n)
        };
        if allowed.iter().any(|a| a.eq_ignore_ascii_case(name)) {
            Ok(())
        } else {
            Err(Reply::error(
                403,
                format!(
                    "Host {} is not this server's address: expected one of {} (the viewer \
                     refuses other names to defeat DNS rebinding; start it with --host to serve \
                     other names)",
                    printable(host),
                    allowed.join(", ")
                ),
            ))
        }
    }

    fn no_query(query: &str) -> Option<Reply> {
        parse_query(query, &[]).err()
    }

    fn info(&self) -> Reply {
        let smooth_refused = self.view.stack.check_smooth().err().map(|e| e.to_string());
        let v = &self.view;
        let p = v.stack.params;
        let colormaps: serde_json::Map<String, serde_json::Value> = Colormap::ALL
            .iter()
            .map(|c| (c.name().to_string(), json!(c.palette())))
            .collect();
        Reply::json(&json!({
            "version": env!("CARGO_PKG_VERSION"),
            "kernel": self.renderer.backend().describe(),
            "render_threads": self.renderer.threads(),
            "stack": stack_json(v.stack.levels, &p, &v.stack.arithmetic),
            "view": {
                "select": v.select,
                "levels": AxisJson::from(v.levels),
                "rows": AxisJson::from(v.rows),
                "cols": AxisJson::from(v.cols),
                "initial_level": v.initial_level(),
                "stride": self.limits.default_stride,
            },
            // `fixed` is the notebook's to_uint8(counts, max_iter); `per-frame` stretches each
            // frame from its minimum to its maximum (stackview's display).
            "scaling": { "fixed_max": p.max_iter, "modes": ["fixed", "per-frame"] },
            "colormaps": colormaps,
            "default_colormap": "rainbow",
            // What `counts?values=` serves: smooth values only in the numpy contract.
            "values": {
                "smooth": smooth_refused.is_none(),
                "smooth_refused": smooth_refused,
                "max_cycle": MAX_CYCLE,
            },
            "limits": {
                "max_frame_pixels": self.limits.max_frame_pixels,
                "max_stride": self.max_stride(),
                "max_active_renders": self.limits.max_active_renders,
                "cache_bytes": self.limits.cache_bytes,
                "max_target_bytes": self.limits.max_target_bytes,
            },
        }))
    }

    fn max_stride(&self) -> usize {
        usize::try_from(self.view.rows.count.max(self.view.cols.count)).unwrap_or(usize::MAX)
    }

    fn level(&self, level: &str, resource: &str, query: &str) -> Reply {
        let allowed: &[&str] = match resource {
            "counts" => &["stride", "values"],
            "grid" | "counts.png" => &["stride"],
            "image.png" => &["stride", "colormap", "mode", "values", "cycle"],
            _ => {
                return Reply::error(
                    404,
                    format!(
                        "no such level resource: {}: expected counts, grid, image.png or \
                         counts.png",
                        printable(resource)
                    ),
                );
            }
        };
        let level = match self.parse_level(level) {
            Ok(l) => l,
            Err(reply) => return reply,
        };
        let q = match parse_query(query, allowed).and_then(|pairs| self.frame_query(&pairs)) {
            Ok(q) => q,
            Err(reply) => return reply,
        };
        if q.values == Values::Smooth
            && let Err(e) = self.view.stack.check_smooth()
        {
            return Reply::error(400, format!("values=smooth: {e}"));
        }
        let (rows, cols) = self.view.strided(q.stride);
        let pixels = rows.count * cols.count;
        if pixels > self.limits.max_frame_pixels {
            let min_stride = self.view.stride_for(self.limits.max_frame_pixels);
            return Reply::error(
                413,
                format!(
                    "a frame at stride {} is {} x {} = {pixels} pixels: expected at most {} \
                     (use stride >= {min_stride}, or start the viewer with a larger \
                     --max-pixels)",
                    q.stride, rows.count, cols.count, self.limits.max_frame_pixels
                ),
            );
        }
        if resource == "grid" {
            return self.grid(level, q.stride, rows, cols);
        }
        let started = Instant::now();
        let mut rendered = false;
        let frame = self.cache.get_or_render((level, q.stride, q.values), || {
            rendered = true;
            self.renderer.render(level, rows, cols, q.values)
        });
        let frame = match frame {
            Ok(f) => f,
            Err(FrameError::Busy { limit }) => {
                return Reply::error(
                    503,
                    format!(
                        "busy: {limit} renders are running or waiting (the server's limit); \
                         retry shortly"
                    ),
                )
                .header("Retry-After", "1");
            }
            Err(FrameError::Engine(e)) => {
                return Reply::error(422, format!("level {level} cannot be rendered: {e}"));
            }
        };
        let timing = format!(
            "{};dur={:.2}",
            if rendered { "render" } else { "cache" },
            started.elapsed().as_secs_f64() * 1e3
        );
        let reply = match resource {
            "counts" => values_reply(&frame),
            "image.png" => self.image_png(&frame, q),
            _ => counts16_reply(&frame),
        };
        reply.header("Server-Timing", timing)
    }

    fn parse_level(&self, text: &str) -> Result<u64, Reply> {
        let levels = self.view.stack.levels;
        let expected = format!("expected an integer from 0 to {}", levels - 1);
        if text.is_empty() || text.len() > 20 || !text.bytes().all(|b| b.is_ascii_digit()) {
            return Err(Reply::error(
                400,
                format!(
                    "level {} is not a level number: {expected}",
                    printable(text)
                ),
            ));
        }
        match text.parse::<u64>() {
            Ok(l) if l < levels => Ok(l),
            _ => Err(Reply::error(
                404,
                format!("level {text} is not in the stack of {levels} levels: {expected}"),
            )),
        }
    }

    fn frame_query(&self, pairs: &[(String, String)]) -> Result<FrameQuery, Reply> {
        let mut q = FrameQuery {
            stride: self.limits.default_stride,
            colormap: Colormap::Rainbow,
            mode: Mode::Fixed,
            values: Values::Counts,
            cycle: None,
        };
        for (key, value) in pairs {
            match key.as_str() {
                "stride" => {
                    let max = self.max_stride();
                    q.stride = value
                        .parse::<usize>()
                        .ok()
                        .filter(|s| (1..=max).contains(s))
                        .ok_or_else(|| {
                            Reply::error(
                                400,
                                format!(
                                    "stride {}: expected an integer from 1 to {max}",
                                    printable(value)
                                ),
                            )
                        })?;
                }
                "colormap" => {
                    q.colormap = Colormap::from_str(value).map_err(|_| {
                        Reply::error(
                            400,
                            format!(
                                "colormap {}: expected one of {}",
                                printable(value),
                                Colormap::ALL.map(Colormap::name).join(", ")
                            ),
                        )
                    })?;
                }
                "mode" => {
                    q.mode = match value.as_str() {
                        "fixed" => Mode::Fixed,
                        "per-frame" => Mode::PerFrame,
                        _ => {
                            return Err(Reply::error(
                                400,
                                format!("mode {}: expected fixed or per-frame", printable(value)),
                            ));
                        }
                    }
                }
                "values" => {
                    q.values = match value.as_str() {
                        "counts" => Values::Counts,
                        "smooth" => Values::Smooth,
                        _ => {
                            return Err(Reply::error(
                                400,
                                format!("values {}: expected counts or smooth", printable(value)),
                            ));
                        }
                    }
                }
                "cycle" => {
                    let p = value
                        .parse::<f64>()
                        .ok()
                        .filter(|p| p.is_finite() && *p > 0.0 && *p <= MAX_CYCLE)
                        .ok_or_else(|| {
                            Reply::error(
                                400,
                                format!(
                                    "cycle {}: expected a number of iterations above 0 and at \
                                     most {MAX_CYCLE}",
                                    printable(value)
                                ),
                            )
                        })?;
                    q.cycle = Some(p as f32);
                }
                // `parse_query` lets only the allowed keys through.
                other => {
                    return Err(Reply::error(
                        400,
                        format!("unknown parameter {}", printable(other)),
                    ));
                }
            }
        }
        if q.cycle.is_some() && q.values != Values::Smooth {
            return Err(Reply::error(
                400,
                "cycle applies to smooth colours only: add values=smooth",
            ));
        }
        Ok(q)
    }

    fn grid(&self, level: u64, stride: usize, rows: IndexRange, cols: IndexRange) -> Reply {
        match grid_json(&self.view.stack, level, stride, rows, cols) {
            Ok(body) => Reply::json(&body),
            Err(e) => Reply::error(422, format!("level {level} has no grid: {e}")),
        }
    }

    fn image_png(&self, frame: &Frame, q: FrameQuery) -> Reply {
        let scaling = match q.mode {
            Mode::Fixed => Scaling::notebook(self.view.stack.params.max_iter),
            Mode::PerFrame => Scaling::PerFrame,
        };
        let png = if let Some(values) = frame.smooth() {
            let colours = SmoothColours {
                colormap: q.colormap,
                scaling,
                cycle: q.cycle,
            };
            smooth_png_bytes(values, &colours, PngCompression::Fast)
        } else if let Some(counts) = frame.counts() {
            let mut indices = Vec::new();
            scaling.apply(counts, &mut indices).and_then(|()| {
                preview_png_bytes(
                    frame.width(),
                    frame.height(),
                    &indices,
                    q.colormap,
                    PngCompression::Fast,
                )
            })
        } else {
            return Reply::error(500, "a frame without pixels");
        };
        let smooth = match (frame.values(), q.cycle) {
            (Values::Counts, _) => String::new(),
            (Values::Smooth, None) => "-smooth".to_string(),
            (Values::Smooth, Some(p)) => format!("-smooth-cycle{p}"),
        };
        match png {
            Ok(bytes) => Reply::ok("image/png", bytes).header(
                "Content-Disposition",
                format!(
                    "inline; filename=\"level-{}-{}-{}{smooth}.png\"",
                    frame.level,
                    q.colormap.name(),
                    match q.mode {
                        Mode::Fixed => "fixed",
                        Mode::PerFrame => "per-frame",
                    }
                ),
            ),
            Err(e) => Reply::error(500, format!("cannot encode PNG: {e}")),
        }
    }
}

fn frame_headers(reply: Reply, frame: &Frame) -> Reply {
    let (min, max) = match &frame.pixels {
        Pixels::Counts { min, max, .. } => (min.to_string(), max.to_string()),
        // Shortest text that reads back as the same f32.
        Pixels::Smooth { min, max, .. } => (min.to_string(), max.to_string()),
    };
    reply
        .header("X-Zoomstack-Level", frame.level.to_string())
        .header("X-Zoomstack-Height", frame.rows.count.to_string())
        .header("X-Zoomstack-Width", frame.cols.count.to_string())
        .header("X-Zoomstack-Values", frame.values().name())
        .header("X-Zoomstack-Min", min)
        .header("X-Zoomstack-Max", max)
}

/// The raw frame: counts as `u16`, smooth values as `f32`, little-endian, row 0 first.
fn values_reply(frame: &Arc<Frame>) -> Reply {
    let body = match &frame.pixels {
        Pixels::Counts { counts, .. } => counts.iter().flat_map(|v| v.to_le_bytes()).collect(),
        Pixels::Smooth { values, .. } => values.iter().flat_map(|v| v.to_le_bytes()).collect(),
    };
    frame_headers(Reply::ok("application/octet-stream", body), frame)
}

fn counts16_reply(frame: &Arc<Frame>) -> Reply {
    let Some(counts) = frame.counts() else {
        return Reply::error(500, "a frame of smooth values has no 16-bit PNG");
    };
    match counts16_png_bytes(counts, PngCompression::Fast) {
        Ok(bytes) => frame_headers(Reply::ok("image/png", bytes), frame).header(
            "Content-Disposition",
            format!("inline; filename=\"level-{}-counts16.png\"", frame.level),
        ),
        Err(e) => Reply::error(500, format!("cannot encode PNG: {e}")),
    }
}
