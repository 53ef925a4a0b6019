//! Pipeline spec files: one `[stack]` table and any number of `[[sink]]` tables.
//!
//! ```toml
//! [stack]                      # every key optional; defaults = the notebook
//! levels = 120000
//! height = 512
//! width = 512
//! center = [-0.743645857047151, 0.13182592380533]
//! scale0 = 3.0
//! zoom_per_level = 1.00025
//! max_iter = 256
//!
//! [[sink]]
//! kind = "png"                 # zarr | png | png16 | animation | contact-sheet | video
//! path = "frames"              # relative paths are resolved against --out (default: .)
//! select = "[0:20000:500, ::2, ::2]"   # numpy basic slicing, in the stack's index space
//! downsample = 2               # or [fy, fx], or { factors = [fy, fx], mode = "mean" | "stride" }
//! chunks = [1, 256, 256]       # tiles rendered in parallel (and Zarr chunks)
//! colormap = "gray"            # gray | rainbow | viridis | magma | inferno | plasma | cividis | twilight
//! colour = "counts"            # png, animation, contact-sheet, video: "counts" (the notebook's
//!                              # bands; the default but for video) or "smooth" (no bands)
//!
//! [[sink]]
//! kind = "video"               # MP4/H.264 by default; .webm is VP9; needs ffmpeg
//! path = "zoom.mp4"
//! fps = 30
//! duration = 60                # seconds: frames at evenly spaced fractional levels of `levels`
//! levels = [0, 120000]         # the level range (default: the whole stack)
//! colour = "smooth"            # the default for video
//! colormap = "twilight"
//! cycle = 64                   # iterations per colour cycle (smooth colouring)
//! ```
//!
//! Parsing is two-staged so every error points at the offending text: `serde` with
//! `deny_unknown_fields` over a flat table of spanned options (unknown keys and ill-typed values
//! come back from `toml` with their span), then a typed check per sink kind (values in range,
//! options that belong to the kind), each error with the span of the key or value at fault.

mod colour;
mod overrides;
mod raw;
mod sink;
mod stack;
#[cfg(test)]
mod tests;
mod video;

use std::collections::HashMap;
use std::ops::Range;
use std::path::PathBuf;

use serde::Deserialize;
use toml::de::DeTable;
use zoomstack_engine::{LazyArray, RenderPlan, ZoomStack};
use zoomstack_sinks::{
    AnimationOptions, Colouring, Compression, ContactSheetOptions, IfExists, StoreValues,
};

use self::overrides::{explain_unknown_field, merge, sink_keys};
use self::raw::RawSpec;
use self::sink::{check_distinct_paths, sink_from_raw};
use self::stack::{stack_from_raw, triple};
pub use self::video::{FrameTiming, MAX_VIDEO_FRAMES, VideoSpec};
use crate::diag::{Source, SpecError};

/// Largest accepted frame height or width.
pub const MAX_FRAME_SIDE: u64 = 1 << 20;

/// One sink kind of spec files: its `kind = "..."` name, the keys of its own (beside
/// [`COMMON_KEYS`]), and the path it writes when the spec gives none. The one table of kinds:
/// validation, error messages and defaults all read it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KindInfo {
    /// `kind = "..."`.
    pub name: &'static str,
    /// The options only this kind takes.
    pub keys: &'static [&'static str],
    /// Output path when `path` is not given.
    pub default_path: &'static str,
}

/// Keys every sink takes.
pub const COMMON_KEYS: [&str; 5] = ["kind", "path", "select", "chunks", "downsample"];

/// The sink kinds, in the order the docs list them.
pub const SINK_KINDS: [KindInfo; 6] = [
    KindInfo {
        name: "zarr",
        keys: &[
            "array",
            "compression",
            "compression_level",
            "shards",
            "ome",
            "pyramid_levels",
            "if_exists",
            "values",
        ],
        default_path: "zoomstack.zarr",
    },
    KindInfo {
        name: "png",
        keys: &[
            "colormap",
            "scaling",
            "scaling_max",
            "compression",
            "colour",
            "cycle",
        ],
        default_path: "frames",
    },
    KindInfo {
        name: "png16",
        keys: &["compression"],
        default_path: "frames-raw",
    },
    KindInfo {
        name: "animation",
        keys: &[
            "format",
            "colormap",
            "scaling",
            "scaling_max",
            "delay_ms",
            "loop",
            "colour",
            "cycle",
        ],
        default_path: "animation.gif",
    },
    KindInfo {
        name: "contact-sheet",
        keys: &[
            "colormap",
            "scaling",
            "scaling_max",
            "columns",
            "labels",
            "gap",
            "colour",
            "cycle",
        ],
        default_path: "contact-sheet.png",
    },
    KindInfo {
        name: "video",
        keys: &[
            "format",
            "codec",
            "fps",
            "crf",
            "bitrate_kbps",
            "preset",
            "lossless",
            "duration",
            "levels",
            "colormap",
            "scaling",
            "scaling_max",
            "colour",
            "cycle",
        ],
        default_path: "zoom.mp4",
    },
];

/// The kind named `name`, if there is one.
#[must_use]
pub fn kind_info(name: &str) -> Option<&'static KindInfo> {
    SINK_KINDS.iter().find(|k| k.name == name)
}

/// A parsed, validated spec.
#[derive(Debug, Clone)]
pub struct Spec {
    /// The stack every sink draws from.
    pub stack: ZoomStack,
    /// The sinks, in file order.
    pub sinks: Vec<SinkSpec>,
}

/// Default zstd level of Zarr sinks.
pub const DEFAULT_ZSTD_LEVEL: i32 = 3;

/// Options of a Zarr sink.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ZarrSpec {
    /// Array path inside the store (`None`: the store root, or `"0"` with OME).
    pub array: Option<String>,
    /// Compression codec.
    pub compression: Compression,
    /// Shard shape (a multiple of the chunk shape), if sharded.
    pub shards: Option<[usize; 3]>,
    /// Write OME-Zarr 0.5 multiscales metadata on the root group.
    pub ome: bool,
    /// Extra pyramid levels (stride 2, 4, ... in y and x), only with `ome`.
    pub pyramid_levels: u32,
    /// What to do with an existing store.
    pub if_exists: IfExists,
    /// What the array stores: counts (`uint16`, the default) or smooth values (`float32`).
    pub values: StoreValues,
}

/// Animation container.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AnimationFormat {
    /// Animated GIF.
    Gif,
    /// Animated PNG.
    Apng,
}

impl std::str::FromStr for AnimationFormat {
    type Err = String;
    /// `gif` or `apng`.
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "gif" => Ok(AnimationFormat::Gif),
            "apng" => Ok(AnimationFormat::Apng),
            other => Err(format!(
                "unknown animation format {}: expected \"gif\" or \"apng\"",
                zoomstack_engine::Excerpt::around(other, 0)
            )),
        }
    }
}

/// What a sink writes, with its options: a Zarr store, or a sink of whole frames.
#[derive(Debug, Clone)]
pub enum SinkKind {
    /// A Zarr v3 store.
    Zarr(ZarrSpec),
    /// A sink that consumes whole frames in level order.
    Frames(FrameKind),
}

/// The frame sinks, with their options.
#[derive(Debug, Clone)]
pub enum FrameKind {
    /// One 8-bit PNG per level (directory).
    Png {
        /// From counts (colormap, scaling) or from smooth values.
        colouring: Colouring,
        /// zlib effort.
        compression: png::Compression,
    },
    /// One 16-bit PNG of raw counts per level (directory).
    Png16 {
        /// zlib effort.
        compression: png::Compression,
    },
    /// An animated GIF or APNG (file).
    Animation {
        /// GIF or APNG.
        format: AnimationFormat,
        /// Colormap, scaling, delay, loop.
        options: AnimationOptions,
    },
    /// One PNG grid of all frames (file).
    ContactSheet(ContactSheetOptions),
    /// A video file (MP4, `WebM`, MKV, Y4M) encoded by ffmpeg.
    Video(VideoSpec),
}

impl FrameKind {
    /// `true` when the sink colours smooth values (it is fed `f32` frames).
    #[must_use]
    pub fn smooth(&self) -> bool {
        match self {
            FrameKind::Png { colouring, .. } => colouring.is_smooth(),
            FrameKind::Video(v) => v.colouring.is_smooth(),
            FrameKind::Animation { options, .. } => options.colouring.is_smooth(),
            FrameKind::ContactSheet(o) => o.colouring.is_smooth(),
            FrameKind::Png16 { .. } => false,
        }
    }
}

impl SinkKind {
    /// The kind's name in spec files.
    #[must_use]
    pub fn name(&self) -> &'static str {
        match self {
            SinkKind::Zarr(_) => "zarr",
            SinkKind::Frames(FrameKind::Png { .. }) => "png",
            SinkKind::Frames(FrameKind::Png16 { .. }) => "png16",
            SinkKind::Frames(FrameKind::Animation { .. }) => "animation",
            SinkKind::Frames(FrameKind::ContactSheet(_)) => "contact-sheet",
            SinkKind::Frames(FrameKind::Video(_)) => "video",
        }
    }

    /// True for sinks that consume whole frames in level order (everything but Zarr).
    #[must_use]
    pub fn is_frame_sink(&self) -> bool {
        matches!(self, SinkKind::Frames(_))
    }
}

/// One `[[sink]]` table, validated.
#[derive(Debug, Clone)]
pub struct SinkSpec {
    /// Position in the spec (0-based).
    pub index: usize,
    /// Output path as written (relative paths are resolved against the output directory).
    pub path: PathBuf,
    /// The select string as written (`[...]` when omitted: everything).
    pub select: String,
    /// The chunk shape as requested (the plan's is clamped to the output shape).
    pub chunks: [usize; 3],
    /// The lazy array: stack -> select -> downsample -> rechunk.
    pub array: LazyArray,
    /// The optimized plan of `array`.
    pub plan: RenderPlan,
    /// Kind and options.
    pub kind: SinkKind,
    /// Span of the `[[sink]]` table in the source.
    pub span: Range<usize>,
}

impl SinkSpec {
    /// `png frames`, for the progress bar.
    pub fn short_label(&self) -> String {
        format!("{} {}", self.kind.name(), self.path.display())
    }

    /// `true` when the sink is fed smooth escape values (`f32`), not counts.
    #[must_use]
    pub fn smooth(&self) -> bool {
        match &self.kind {
            SinkKind::Zarr(z) => z.values == StoreValues::Smooth,
            SinkKind::Frames(f) => f.smooth(),
        }
    }

    /// The dask-style summary of what the sink renders, in its value type (`uint16` counts,
    /// `float32` smooth values).
    #[must_use]
    pub fn describe(&self) -> zoomstack_engine::Describe {
        if self.smooth() {
            self.array.describe_values::<f32>()
        } else {
            self.array.describe()
        }
    }

    /// `sink 2 (png -> frames)`, for messages.
    pub fn label(&self) -> String {
        format!(
            "sink {} ({} -> {})",
            self.index + 1,
            self.kind.name(),
            self.path.display()
        )
    }
}

/// Parses and validates a spec (with its overrides) from `source`.
///
/// # Errors
///
/// A [`SpecError`] at the offending span: TOML that does not parse, a `--set` that is not
/// `KEY=VALUE` or conflicts with the spec, an unknown or mistyped field, an invalid stack or
/// sink, or two sinks writing the same path.
pub fn parse(source: &Source) -> Result<Spec, SpecError> {
    // Each override is parsed on its own, padded with spaces so its spans index the combined
    // source text (the spec, then the overrides).
    let padded: Vec<String> = source
        .overrides()
        .iter()
        .map(|(range, arg)| format!("{}{}", " ".repeat(range.start), arg))
        .collect();
    let mut root = DeTable::parse(source.spec_text())?;
    for ((range, arg), text) in source.overrides().iter().zip(&padded) {
        let Some(eq) = arg.find('=') else {
            return Err(SpecError::at(
                range.clone(),
                format!(
                    "--set {}: expected KEY=VALUE, e.g. stack.levels=64 or 'sink.0.select=\"[:8]\"'",
                    zoomstack_engine::Excerpt::around(arg, 0)
                ),
            ));
        };
        if arg[..eq].trim().is_empty() {
            return Err(SpecError::at(
                range.start..range.start + eq + 1,
                format!(
                    "--set {}: the key before '=' is empty",
                    zoomstack_engine::Excerpt::around(arg, 0)
                ),
            ));
        }
        let t = DeTable::parse(text)?;
        merge(root.get_mut(), t.into_inner(), range)?;
    }
    let (key_spans, tables) = sink_keys(root.get_ref());
    let raw = RawSpec::deserialize(toml::de::Deserializer::from(root))
        .map_err(|e| explain_unknown_field(SpecError::from(e), &tables, &key_spans))?;
    // `[stack] chunks` (where the notebook keeps CHUNKS) is every sink's default chunking.
    let chunks = match raw.stack.as_ref().and_then(|s| s.get_ref().chunks.as_ref()) {
        Some(c) => triple(c, "stack.chunks", u64::from(u32::MAX))?,
        None => zoomstack_engine::DEFAULT_CHUNKS,
    };
    let stack = stack_from_raw(raw.stack)?;
    let mut sinks = Vec::with_capacity(raw.sink.len());
    let empty = HashMap::new();
    for (i, s) in raw.sink.into_iter().enumerate() {
        let keys = key_spans.get(i).unwrap_or(&empty);
        sinks.push(sink_from_raw(i, s, keys, &stack, chunks, source.text())?);
    }
    check_distinct_paths(&sinks, &key_spans)?;
    Ok(Spec { stack, sinks })
}

/// Parses `text` as a spec named `name` without overrides (what the fuzz target drives).
///
/// # Errors
///
/// The errors of [`parse`].
pub fn parse_str(name: &str, text: &str) -> Result<Spec, SpecError> {
    parse(&Source::new(name, text, &[]))
}
