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
//! kind = "png"                 # zarr | png | png16 | animation | contact-sheet
//! path = "frames"              # relative paths are resolved against --out (default: .)
//! select = "[0:20000:500, ::2, ::2]"   # numpy basic slicing, in the stack's index space
//! downsample = 2               # or [fy, fx], or { factors = [fy, fx], mode = "mean" | "stride" }
//! chunks = [1, 256, 256]       # tiles rendered in parallel (and Zarr chunks)
//! colormap = "gray"            # gray | rainbow | viridis | magma | inferno | plasma | cividis
//! ```
//!
//! Parsing is two-staged so every error points at the offending text: `serde` with
//! `deny_unknown_fields` over a flat table of spanned options (unknown keys and ill-typed values
//! come back from `toml` with their span), then a typed check per sink kind (values in range,
//! options that belong to the kind), each error with the span of the key or value at fault.

use std::collections::HashMap;
use std::ops::Range;
use std::path::PathBuf;

use serde::Deserialize;
use serde::de::{self, MapAccess, SeqAccess, Visitor};
use toml::Spanned;
use toml::de::{DeTable, DeValue};
use zoomstack_engine::{
    DownsampleMode, EngineError, LazyArray, RenderPlan, StoreLayout, ZoomStack,
};
use zoomstack_kernel::StackParams;
use zoomstack_sinks::{
    AnimationOptions, Colormap, Compression, ContactSheetOptions, IfExists, Playback, Scaling,
};

use crate::diag::{Source, SpecError};

/// Largest accepted frame height or width.
pub const MAX_FRAME_SIDE: u64 = 1 << 20;

/// Sink kinds, as written in `kind = "..."`.
pub const KINDS: [&str; 5] = ["zarr", "png", "png16", "animation", "contact-sheet"];

const COMMON_KEYS: [&str; 5] = ["kind", "path", "select", "chunks", "downsample"];

fn kind_keys(kind: &str) -> &'static [&'static str] {
    match kind {
        "zarr" => &[
            "array",
            "compression",
            "compression_level",
            "shards",
            "ome",
            "pyramid_levels",
            "if_exists",
        ],
        "png" => &["colormap", "scaling", "scaling_max", "compression"],
        "png16" => &["compression"],
        "animation" => &[
            "format",
            "colormap",
            "scaling",
            "scaling_max",
            "delay_ms",
            "loop",
        ],
        "contact-sheet" => &[
            "colormap",
            "scaling",
            "scaling_max",
            "columns",
            "labels",
            "gap",
        ],
        _ => &[],
    }
}

type S<T> = Spanned<T>;

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawSpec {
    stack: Option<S<RawStack>>,
    #[serde(default)]
    sink: Vec<S<RawSink>>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawStack {
    levels: Option<S<u64>>,
    height: Option<S<u64>>,
    width: Option<S<u64>>,
    center: Option<S<[f64; 2]>>,
    scale0: Option<S<f64>>,
    zoom_per_level: Option<S<f64>>,
    max_iter: Option<S<u64>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSink {
    kind: S<String>,
    path: Option<S<String>>,
    select: Option<S<String>>,
    chunks: Option<S<Vec<u64>>>,
    downsample: Option<S<RawDownsample>>,
    colormap: Option<S<String>>,
    scaling: Option<S<String>>,
    scaling_max: Option<S<u64>>,
    compression: Option<S<String>>,
    format: Option<S<String>>,
    delay_ms: Option<S<u64>>,
    #[serde(rename = "loop")]
    loop_: Option<S<RawLoop>>,
    columns: Option<S<u64>>,
    labels: Option<S<bool>>,
    gap: Option<S<u64>>,
    array: Option<S<String>>,
    compression_level: Option<S<i64>>,
    shards: Option<S<Vec<u64>>>,
    ome: Option<S<bool>>,
    pyramid_levels: Option<S<u64>>,
    if_exists: Option<S<String>>,
}

/// `downsample = k`, `[fy, fx]` or `{ factors = [fy, fx] | factor = k, mode = "mean" | "stride" }`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct RawDownsample {
    factors: [u64; 2],
    mode: DownsampleMode,
}

impl<'de> Deserialize<'de> for RawDownsample {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        const EXPECTED: &str = "a factor (2), factors ([2, 2]) or a table { factors = [2, 2], mode = \"mean\" | \"stride\" }";
        fn factor<E: de::Error>(v: i64) -> Result<u64, E> {
            if v < 1 {
                return Err(E::custom(format!(
                    "downsample factor must be at least 1, got {v}"
                )));
            }
            Ok(v as u64)
        }
        fn mode<E: de::Error>(s: &str) -> Result<DownsampleMode, E> {
            match s {
                "mean" => Ok(DownsampleMode::Mean),
                "stride" => Ok(DownsampleMode::Stride),
                _ => Err(E::custom(format!(
                    "unknown downsample mode {s:?}: expected \"mean\" or \"stride\""
                ))),
            }
        }
        impl<'de> Visitor<'de> for V {
            type Value = RawDownsample;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str(EXPECTED)
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<RawDownsample, E> {
                let k = factor(v)?;
                Ok(RawDownsample {
                    factors: [k, k],
                    mode: DownsampleMode::Mean,
                })
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<RawDownsample, E> {
                self.visit_i64(i64::try_from(v).unwrap_or(i64::MAX))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<RawDownsample, A::Error> {
                let mut f = Vec::new();
                while let Some(v) = seq.next_element::<i64>()? {
                    f.push(factor(v)?);
                }
                match f[..] {
                    [fy, fx] => Ok(RawDownsample {
                        factors: [fy, fx],
                        mode: DownsampleMode::Mean,
                    }),
                    _ => Err(de::Error::custom(format!(
                        "downsample factors must be [fy, fx] (2 numbers), got {} numbers",
                        f.len()
                    ))),
                }
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<RawDownsample, A::Error> {
                let mut factors = None;
                let mut m = DownsampleMode::Mean;
                while let Some(key) = map.next_key::<String>()? {
                    match key.as_str() {
                        "factors" | "factor" => {
                            let d: RawDownsample = map.next_value()?;
                            factors = Some(d.factors);
                        }
                        "mode" => m = mode(&map.next_value::<String>()?)?,
                        other => {
                            return Err(de::Error::unknown_field(
                                other,
                                &["factors", "factor", "mode"],
                            ));
                        }
                    }
                }
                let factors = factors.ok_or_else(|| de::Error::missing_field("factors"))?;
                Ok(RawDownsample { factors, mode: m })
            }
        }
        d.deserialize_any(V)
    }
}

/// `loop = "forever"` or a number of plays (at least 1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct RawLoop(Playback);

impl<'de> Deserialize<'de> for RawLoop {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = RawLoop;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("\"forever\" or a number of plays from 1 to 65535")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<RawLoop, E> {
                match v {
                    "forever" => Ok(RawLoop(Playback::Forever)),
                    _ => Err(E::invalid_value(de::Unexpected::Str(v), &self)),
                }
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<RawLoop, E> {
                match u16::try_from(v) {
                    Ok(n) if n >= 1 => Ok(RawLoop(Playback::Times(n))),
                    _ => Err(E::invalid_value(de::Unexpected::Signed(v), &self)),
                }
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<RawLoop, E> {
                self.visit_i64(i64::try_from(v).unwrap_or(i64::MAX))
            }
        }
        d.deserialize_any(V)
    }
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
}

/// Animation container.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AnimationFormat {
    /// Animated GIF.
    Gif,
    /// Animated PNG.
    Apng,
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
        /// Colormap.
        colormap: Colormap,
        /// Count-to-colour scaling.
        scaling: Scaling,
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
                    "--set {arg:?}: expected KEY=VALUE, e.g. stack.levels=64 or 'sink.0.select=\"[:8]\"'"
                ),
            ));
        };
        if arg[..eq].trim().is_empty() {
            return Err(SpecError::at(
                range.start..range.start + eq + 1,
                format!("--set {arg:?}: the key before '=' is empty"),
            ));
        }
        let t = DeTable::parse(text)?;
        merge(root.get_mut(), t.into_inner(), range)?;
    }
    let (key_spans, tables) = sink_keys(root.get_ref());
    let raw = RawSpec::deserialize(toml::de::Deserializer::from(root))
        .map_err(|e| explain_unknown_field(SpecError::from(e), &tables, &key_spans))?;
    let stack = stack_from_raw(raw.stack)?;
    let mut sinks = Vec::with_capacity(raw.sink.len());
    let empty = HashMap::new();
    for (i, s) in raw.sink.into_iter().enumerate() {
        let keys = key_spans.get(i).unwrap_or(&empty);
        sinks.push(sink_from_raw(i, s, keys, &stack, source.text())?);
    }
    check_distinct_paths(&sinks, &key_spans)?;
    Ok(Spec { stack, sinks })
}

/// Parses `text` as a spec named `name` without overrides (what the fuzz target drives).
pub fn parse_str(name: &str, text: &str) -> Result<Spec, SpecError> {
    parse(&Source::new(name, text, &[]))
}

/// Merges an override table into the document: tables merge key by key, an array of tables is
/// indexed by integer keys (`sink.0.select`), anything else is replaced.
fn merge<'a>(dst: &mut DeTable<'a>, src: DeTable<'a>, arg: &Range<usize>) -> Result<(), SpecError> {
    for (k, v) in src {
        let existing = dst
            .iter_mut()
            .find(|(dk, _)| dk.get_ref() == k.get_ref())
            .map(|(_, dv)| dv);
        match existing {
            Some(dv) => merge_value(dv, k, v, arg)?,
            None => {
                dst.insert(k, v);
            }
        }
    }
    Ok(())
}

fn merge_value<'a>(
    dst: &mut Spanned<DeValue<'a>>,
    key: Spanned<std::borrow::Cow<'a, str>>,
    src: Spanned<DeValue<'a>>,
    arg: &Range<usize>,
) -> Result<(), SpecError> {
    let src_is_table = matches!(src.get_ref(), DeValue::Table(_));
    match dst.get_mut() {
        DeValue::Table(d) if src_is_table => {
            let DeValue::Table(s) = src.into_inner() else {
                return Ok(());
            };
            merge(d, s, arg)
        }
        DeValue::Array(items) if src_is_table => {
            let DeValue::Table(s) = src.into_inner() else {
                return Ok(());
            };
            let n = items.len();
            for (ik, iv) in s {
                let Some(item) = ik
                    .get_ref()
                    .parse::<usize>()
                    .ok()
                    .and_then(|i| items.get_mut(i))
                else {
                    return Err(SpecError::at(
                        ik.span(),
                        format!(
                            "`{}.{}`: expected an index into the {n} `{}` entries (0 to {})",
                            key.get_ref(),
                            ik.get_ref(),
                            key.get_ref(),
                            n.saturating_sub(1)
                        ),
                    ));
                };
                match (item.get_mut(), iv.get_ref()) {
                    (DeValue::Table(_), DeValue::Table(_)) => merge_value(item, ik, iv, arg)?,
                    _ => *item = iv,
                }
            }
            Ok(())
        }
        _ => {
            *dst = src;
            Ok(())
        }
    }
}

/// For each `[[sink]]` table: the spans of its keys (to point errors at the key) and its `kind`
/// (if a string).
type SinkKeys = (Vec<HashMap<String, Range<usize>>>, Vec<Option<String>>);

fn sink_keys(root: &DeTable<'_>) -> SinkKeys {
    let items = match root.iter().find(|(k, _)| k.get_ref() == "sink") {
        Some((_, sinks)) => match sinks.get_ref() {
            DeValue::Array(items) => &items[..],
            _ => &[],
        },
        None => &[],
    };
    items
        .iter()
        .map(|item| match item.get_ref() {
            DeValue::Table(t) => (
                t.iter()
                    .map(|(k, _)| (k.get_ref().to_string(), k.span()))
                    .collect(),
                t.iter()
                    .find(|(k, _)| k.get_ref() == "kind")
                    .and_then(|(_, v)| v.get_ref().as_str().map(str::to_string)),
            ),
            _ => (HashMap::new(), None),
        })
        .unzip()
}

/// Rewrites serde's "unknown field `x`, expected one of ..." for a sink table to list the
/// options of that sink's kind, and suggests the closest key.
fn explain_unknown_field(
    mut e: SpecError,
    kinds: &[Option<String>],
    key_spans: &[HashMap<String, Range<usize>>],
) -> SpecError {
    let Some(rest) = e.message.strip_prefix("unknown field `") else {
        return e;
    };
    let Some(end) = rest.find('`') else {
        return e;
    };
    let field = rest[..end].to_string();
    // The sink whose key the error points at.
    let sink = key_spans
        .iter()
        .position(|keys| keys.get(&field).is_some_and(|r| Some(r) == e.span.as_ref()));
    let kind = sink.and_then(|i| kinds.get(i)).and_then(|k| k.as_deref());
    let candidates: Vec<String> = match kind {
        Some(kind) if KINDS.contains(&kind) => {
            let options: Vec<&str> = COMMON_KEYS.iter().chain(kind_keys(kind)).copied().collect();
            let all_keys = KINDS.iter().flat_map(|k| kind_keys(k)).any(|k| *k == field);
            e.message = if all_keys {
                format!("`{field}` is not an option of a `{kind}` sink")
            } else {
                format!("unknown key `{field}` in a `{kind}` sink")
            };
            e.message += &format!(
                "; its options are: {}",
                options
                    .iter()
                    .map(|k| format!("`{k}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            );
            options.iter().map(|s| s.to_string()).collect()
        }
        _ => rest[end..]
            .split('`')
            .skip(2)
            .step_by(2)
            .map(str::to_string)
            .collect(),
    };
    if let Some(best) = candidates
        .iter()
        .filter(|c| **c != field)
        .min_by_key(|c| strsim::levenshtein(&field, c))
        .filter(|c| strsim::levenshtein(&field, c) <= (field.len() / 3).max(2))
    {
        e.message += &format!("; did you mean `{best}`?");
    }
    e
}

fn stack_from_raw(raw: Option<S<RawStack>>) -> Result<ZoomStack, SpecError> {
    let d = StackParams::default();
    let Some(raw) = raw else {
        return Ok(ZoomStack::default());
    };
    let span = raw.span();
    let raw = raw.into_inner();
    let levels = match raw.levels {
        Some(v) => in_range(&v, "stack.levels", 1, i64::MAX as u64)?,
        None => zoomstack_engine::NOTEBOOK_LEVELS,
    };
    let side = |v: Option<S<u64>>, name: &str, default: usize| -> Result<usize, SpecError> {
        match v {
            Some(v) => Ok(in_range(&v, name, 1, MAX_FRAME_SIDE)? as usize),
            None => Ok(default),
        }
    };
    let height = side(raw.height, "stack.height", d.height)?;
    let width = side(raw.width, "stack.width", d.width)?;
    let (center_re, center_im) = match raw.center {
        Some(c) => {
            let [re, im] = *c.get_ref();
            if !re.is_finite() || !im.is_finite() {
                return Err(SpecError::at(
                    c.span(),
                    format!("stack.center must be two finite numbers [re, im], got [{re}, {im}]"),
                ));
            }
            (re, im)
        }
        None => (d.center_re, d.center_im),
    };
    let positive = |v: Option<S<f64>>, name: &str, default: f64| -> Result<f64, SpecError> {
        match v {
            Some(v) => {
                let x = *v.get_ref();
                if x.is_finite() && x > 0.0 {
                    Ok(x)
                } else {
                    Err(SpecError::at(
                        v.span(),
                        format!("{name} must be a finite number > 0, got {x}"),
                    ))
                }
            }
            None => Ok(default),
        }
    };
    let scale0 = positive(raw.scale0, "stack.scale0", d.scale0)?;
    let zoom_per_level = positive(raw.zoom_per_level, "stack.zoom_per_level", d.zoom_per_level)?;
    let max_iter = match raw.max_iter {
        Some(v) => in_range(&v, "stack.max_iter", 1, 65535)? as u32,
        None => d.max_iter,
    };
    let params = StackParams {
        height,
        width,
        center_re,
        center_im,
        scale0,
        zoom_per_level,
        max_iter,
    };
    ZoomStack::new(levels, params).map_err(|e| SpecError::at(span, format!("[stack]: {e}")))
}

fn in_range(v: &S<u64>, name: &str, lo: u64, hi: u64) -> Result<u64, SpecError> {
    let x = *v.get_ref();
    if (lo..=hi).contains(&x) {
        Ok(x)
    } else {
        Err(SpecError::at(
            v.span(),
            format!("{name} must be in {lo}..={hi}, got {x}"),
        ))
    }
}

fn triple(v: &S<Vec<u64>>, name: &str, max: u64) -> Result<[usize; 3], SpecError> {
    let vals = v.get_ref();
    if vals.len() != 3 {
        return Err(SpecError::at(
            v.span(),
            format!(
                "{name} must be [levels, y, x] (3 numbers), got {} numbers",
                vals.len()
            ),
        ));
    }
    let mut out = [0usize; 3];
    for (k, &x) in vals.iter().enumerate() {
        if x < 1 || x > max {
            return Err(SpecError::at(
                v.span(),
                format!(
                    "{name}[{k}] ({} axis) must be in 1..={max}, got {x}",
                    zoomstack_engine::AXES[k]
                ),
            ));
        }
        out[k] = x as usize;
    }
    Ok(out)
}

/// Present options of a raw sink with the spans of their values.
fn present_options(r: &RawSink) -> Vec<(&'static str, Range<usize>)> {
    fn sp<T>(v: &Option<S<T>>) -> Option<Range<usize>> {
        v.as_ref().map(Spanned::span)
    }
    [
        ("path", sp(&r.path)),
        ("select", sp(&r.select)),
        ("chunks", sp(&r.chunks)),
        ("downsample", sp(&r.downsample)),
        ("colormap", sp(&r.colormap)),
        ("scaling", sp(&r.scaling)),
        ("scaling_max", sp(&r.scaling_max)),
        ("compression", sp(&r.compression)),
        ("format", sp(&r.format)),
        ("delay_ms", sp(&r.delay_ms)),
        ("loop", sp(&r.loop_)),
        ("columns", sp(&r.columns)),
        ("labels", sp(&r.labels)),
        ("gap", sp(&r.gap)),
        ("array", sp(&r.array)),
        ("compression_level", sp(&r.compression_level)),
        ("shards", sp(&r.shards)),
        ("ome", sp(&r.ome)),
        ("pyramid_levels", sp(&r.pyramid_levels)),
        ("if_exists", sp(&r.if_exists)),
    ]
    .into_iter()
    .filter_map(|(k, s)| s.map(|s| (k, s)))
    .collect()
}

/// Maps an engine error about a select string to the span of the offending byte when the TOML
/// string is written without escapes (its text is then the value verbatim).
fn select_error(source_span: &Range<usize>, raw_text: Option<&str>, e: &EngineError) -> SpecError {
    let position = match e {
        EngineError::SelectSyntax { position, .. }
        | EngineError::SelectZeroStep { position, .. }
        | EngineError::SelectArity { position, .. } => Some(*position),
        _ => None,
    };
    let span = match (position, raw_text) {
        (Some(p), Some(_)) => {
            let start = source_span.start + 1 + p;
            start
                ..(start + 1)
                    .min(source_span.end.saturating_sub(1))
                    .max(start + 1)
        }
        _ => source_span.clone(),
    };
    SpecError::at(span, e.to_string())
}

fn sink_from_raw(
    index: usize,
    raw: S<RawSink>,
    keys: &HashMap<String, Range<usize>>,
    stack: &ZoomStack,
    text: &str,
) -> Result<SinkSpec, SpecError> {
    let span = raw.span();
    let r = raw.into_inner();
    let key_span =
        |k: &str, fallback: &Range<usize>| keys.get(k).cloned().unwrap_or(fallback.clone());
    let kind = r.kind.get_ref().as_str();
    if !KINDS.contains(&kind) {
        return Err(SpecError::at(
            r.kind.span(),
            format!(
                "unknown sink kind {kind:?}: expected one of {}",
                KINDS.map(|k| format!("\"{k}\"")).join(", ")
            ),
        ));
    }
    let allowed = kind_keys(kind);
    for (name, value_span) in present_options(&r) {
        if !COMMON_KEYS.contains(&name) && !allowed.contains(&name) {
            return Err(SpecError::at(
                key_span(name, &value_span),
                format!(
                    "`{name}` is not an option of a `{kind}` sink; its options are: {}",
                    COMMON_KEYS
                        .iter()
                        .chain(allowed)
                        .map(|k| format!("`{k}`"))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            ));
        }
    }
    let label = format!("sink {} ({kind})", index + 1);

    // The array: select -> downsample -> rechunk.
    let mut array = stack.array();
    let select = match &r.select {
        Some(sel) => {
            array = array.select(sel.get_ref()).map_err(|e| {
                // Point inside the string only if it is written verbatim (no escapes).
                let raw = text.get(sel.span());
                let v = sel.get_ref();
                let verbatim = raw == Some(&format!("\"{v}\"")) || raw == Some(&format!("'{v}'"));
                select_error(&sel.span(), verbatim.then_some(v.as_str()), &e)
            })?;
            sel.get_ref().clone()
        }
        None => "[:, :, :]".to_string(),
    };
    if let Some(ds) = &r.downsample {
        let RawDownsample {
            factors: [fy, fx],
            mode,
        } = *ds.get_ref();
        array = array
            .downsample(fy, fx, mode)
            .map_err(|e| SpecError::at(ds.span(), format!("{label}: downsample: {e}")))?;
    }
    let chunks = match &r.chunks {
        Some(c) => triple(c, "chunks", u32::MAX as u64)?,
        None => zoomstack_engine::DEFAULT_CHUNKS,
    };
    array = array
        .rechunk(chunks)
        .map_err(|e| SpecError::at(span.clone(), format!("{label}: chunks: {e}")))?;
    let plan = array.optimize().map_err(|e| {
        let at = r.select.as_ref().map_or(span.clone(), Spanned::span);
        SpecError::at(at, format!("{label}: {e}"))
    })?;

    let select_span = r.select.as_ref().map_or(span.clone(), Spanned::span);
    if plan.is_empty() {
        return Err(SpecError::at(
            select_span,
            format!(
                "{label}: the selection is empty (shape {:?}): nothing to write",
                plan.shape()
            ),
        ));
    }
    if kind == "contact-sheet" && plan.len() > zoomstack_sinks::MAX_SHEET_PIXELS as u64 {
        return Err(SpecError::at(
            select_span,
            format!(
                "{label}: {} frames of {} x {} are {} pixels, more than a contact sheet holds ({}); select fewer levels or stride y and x",
                plan.shape()[0],
                plan.shape()[1],
                plan.shape()[2],
                plan.len(),
                zoomstack_sinks::MAX_SHEET_PIXELS
            ),
        ));
    }
    let max_iter = stack.params.max_iter;
    let colormap = match &r.colormap {
        Some(c) => c
            .get_ref()
            .parse::<Colormap>()
            .map_err(|e| SpecError::at(c.span(), e.to_string()))?,
        None => Colormap::Gray,
    };
    let scaling = |default_per_frame: bool| -> Result<Scaling, SpecError> {
        let per_frame = match &r.scaling {
            Some(s) => match s.get_ref().as_str() {
                "fixed" | "notebook" => false,
                "per-frame" | "stretch" => true,
                other => {
                    return Err(SpecError::at(
                        s.span(),
                        format!(
                            "unknown scaling {other:?}: expected \"fixed\" (the notebook's to_uint8 over 0..scaling_max) or \"per-frame\" (each frame stretched from its min to its max, like stackview)"
                        ),
                    ));
                }
            },
            None => default_per_frame,
        };
        match (&r.scaling_max, per_frame) {
            (Some(m), true) => Err(SpecError::at(
                key_span("scaling_max", &m.span()),
                "`scaling_max` only applies to scaling = \"fixed\"",
            )),
            (Some(m), false) => Ok(Scaling::Fixed {
                max: in_range(m, "scaling_max", 1, 65535)? as u32,
            }),
            (None, false) => Ok(Scaling::notebook(max_iter)),
            (None, true) => Ok(Scaling::PerFrame),
        }
    };
    let png_compression = || -> Result<png::Compression, SpecError> {
        match &r.compression {
            None => Ok(png::Compression::Fast),
            Some(c) => match c.get_ref().as_str() {
                "none" => Ok(png::Compression::NoCompression),
                "fastest" => Ok(png::Compression::Fastest),
                "fast" => Ok(png::Compression::Fast),
                "balanced" => Ok(png::Compression::Balanced),
                "high" => Ok(png::Compression::High),
                other => Err(SpecError::at(
                    c.span(),
                    format!(
                        "unknown PNG compression {other:?}: expected \"none\", \"fastest\", \"fast\", \"balanced\" or \"high\""
                    ),
                )),
            },
        }
    };
    let default_path = match kind {
        "zarr" => "zoomstack.zarr",
        "png" => "frames",
        "png16" => "frames-raw",
        "animation" => "animation.gif",
        _ => "contact-sheet.png",
    };
    let path = match &r.path {
        Some(p) if p.get_ref().trim().is_empty() => {
            return Err(SpecError::at(p.span(), format!("{label}: path is empty")));
        }
        Some(p) if p.get_ref().contains('\0') => {
            return Err(SpecError::at(
                p.span(),
                format!("{label}: path contains a NUL byte"),
            ));
        }
        Some(p) => PathBuf::from(p.get_ref()),
        None => PathBuf::from(default_path),
    };

    let kind = match kind {
        "png" => SinkKind::Frames(FrameKind::Png {
            colormap,
            scaling: scaling(false)?,
            compression: png_compression()?,
        }),
        "png16" => SinkKind::Frames(FrameKind::Png16 {
            compression: png_compression()?,
        }),
        "animation" => {
            let format = match &r.format {
                Some(f) => match f.get_ref().as_str() {
                    "gif" => AnimationFormat::Gif,
                    "apng" => AnimationFormat::Apng,
                    other => {
                        return Err(SpecError::at(
                            f.span(),
                            format!(
                                "unknown animation format {other:?}: expected \"gif\" or \"apng\""
                            ),
                        ));
                    }
                },
                None => {
                    let ext = path
                        .extension()
                        .map(|e| e.to_string_lossy().to_ascii_lowercase());
                    match ext.as_deref() {
                        Some("gif") => AnimationFormat::Gif,
                        Some("png" | "apng") => AnimationFormat::Apng,
                        _ => {
                            let at = r.path.as_ref().map_or(span.clone(), Spanned::span);
                            return Err(SpecError::at(
                                at,
                                format!(
                                    "{label}: cannot tell the animation format from {:?}: name the file .gif, .png or .apng, or set format = \"gif\" | \"apng\"",
                                    path.display()
                                ),
                            ));
                        }
                    }
                }
            };
            let frame_delay_ms = match &r.delay_ms {
                Some(d) => in_range(d, "delay_ms", 0, 655_350)? as u32,
                None => AnimationOptions::default().frame_delay_ms,
            };
            SinkKind::Frames(FrameKind::Animation {
                format,
                options: AnimationOptions {
                    colormap,
                    scaling: scaling(true)?,
                    frame_delay_ms,
                    playback: r
                        .loop_
                        .as_ref()
                        .map_or(Playback::Forever, |l| l.get_ref().0),
                },
            })
        }
        "contact-sheet" => {
            let d = ContactSheetOptions::default();
            SinkKind::Frames(FrameKind::ContactSheet(ContactSheetOptions {
                columns: match &r.columns {
                    Some(c) => Some(in_range(c, "columns", 1, 100_000)? as usize),
                    None => None,
                },
                colormap,
                scaling: scaling(false)?,
                labels: r.labels.as_ref().map_or(d.labels, |l| *l.get_ref()),
                gap: match &r.gap {
                    Some(g) => in_range(g, "gap", 0, 1000)? as usize,
                    None => d.gap,
                },
                ..d
            }))
        }
        _ => SinkKind::Zarr(zarr_from_raw(&r, plan.chunks(), plan.shape(), &key_span)?),
    };
    Ok(SinkSpec {
        index,
        path,
        select,
        chunks,
        array,
        plan,
        kind,
        span,
    })
}

/// `chunks` is the sink's chunk shape clamped to its output shape (what is stored).
fn zarr_from_raw(
    r: &RawSink,
    chunks: [usize; 3],
    shape: [u64; 3],
    key_span: &dyn Fn(&str, &Range<usize>) -> Range<usize>,
) -> Result<ZarrSpec, SpecError> {
    let compression = match r
        .compression
        .as_ref()
        .map(|c| (c.get_ref().as_str(), c.span()))
    {
        None | Some(("zstd", _)) => {
            let level = match &r.compression_level {
                Some(l) => {
                    let v = *l.get_ref();
                    if !(-7..=22).contains(&v) {
                        return Err(SpecError::at(
                            l.span(),
                            format!("compression_level must be in -7..=22 (zstd levels), got {v}"),
                        ));
                    }
                    v as i32
                }
                None => DEFAULT_ZSTD_LEVEL,
            };
            Compression::Zstd { level }
        }
        Some(("none", _)) => {
            if let Some(l) = &r.compression_level {
                return Err(SpecError::at(
                    key_span("compression_level", &l.span()),
                    "`compression_level` only applies to compression = \"zstd\"",
                ));
            }
            Compression::None
        }
        Some((other, span)) => {
            return Err(SpecError::at(
                span,
                format!("unknown Zarr compression {other:?}: expected \"zstd\" or \"none\""),
            ));
        }
    };
    let shards = match &r.shards {
        Some(s) => {
            let shards = triple(s, "shards", u32::MAX as u64)?;
            // The engine's rule: a shard covering the whole axis is clamped to it; otherwise
            // it must hold whole chunks.
            if let Err(EngineError::BadShard { axis, .. }) =
                StoreLayout::new(shape, chunks, Some(shards))
            {
                let k = zoomstack_engine::AXES
                    .iter()
                    .position(|a| *a == axis)
                    .unwrap_or(0);
                return Err(SpecError::at(
                    s.span(),
                    format!(
                        "shards must be a multiple of chunks on every axis: shards {shards:?}, chunks {chunks:?} (clamped to the output shape; {axis} axis: {} is not a multiple of {})",
                        shards[k], chunks[k]
                    ),
                ));
            }
            Some(shards)
        }
        None => None,
    };
    let array = match &r.array {
        Some(a) => {
            let t = a.get_ref().trim_matches('/');
            let bad = t.is_empty()
                || t.split('/').any(|c| {
                    c.is_empty() || c == "." || c == ".." || c.starts_with("__") || c.contains('\0')
                });
            if bad {
                return Err(SpecError::at(
                    a.span(),
                    format!(
                        "array path {:?} is not a valid Zarr node path: expected names separated by '/', none empty, '.', '..' or starting with '__'",
                        a.get_ref()
                    ),
                ));
            }
            Some(t.to_string())
        }
        None => None,
    };
    let ome = r.ome.as_ref().is_some_and(|o| *o.get_ref());
    let pyramid_levels = match &r.pyramid_levels {
        Some(p) => {
            let v = in_range(p, "pyramid_levels", 0, 16)? as u32;
            if v > 0 && !ome {
                return Err(SpecError::at(
                    key_span("pyramid_levels", &p.span()),
                    "`pyramid_levels` needs ome = true (the pyramid is described by OME-Zarr multiscales metadata)",
                ));
            }
            v
        }
        None => 0,
    };
    let if_exists = match r
        .if_exists
        .as_ref()
        .map(|v| (v.get_ref().as_str(), v.span()))
    {
        None | Some(("resume", _)) => IfExists::Resume,
        Some(("fail", _)) => IfExists::Fail,
        Some(("replace", _)) => IfExists::Replace,
        Some((other, span)) => {
            return Err(SpecError::at(
                span,
                format!(
                    "unknown if_exists {other:?}: expected \"resume\" (continue a store written with the same parameters), \"fail\" or \"replace\""
                ),
            ));
        }
    };
    Ok(ZarrSpec {
        array,
        compression,
        shards,
        ome,
        pyramid_levels,
        if_exists,
    })
}

/// Lexically normalized path for comparing sink outputs.
fn normalized(p: &std::path::Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in p.components() {
        match c {
            std::path::Component::CurDir => {}
            std::path::Component::ParentDir => {
                if !out.pop() {
                    out.push("..");
                }
            }
            other => out.push(other),
        }
    }
    out
}

fn check_distinct_paths(
    sinks: &[SinkSpec],
    keys: &[HashMap<String, Range<usize>>],
) -> Result<(), SpecError> {
    for (j, b) in sinks.iter().enumerate() {
        let nb = normalized(&b.path);
        for a in &sinks[..j] {
            let na = normalized(&a.path);
            if na == nb || nb.starts_with(&na) || na.starts_with(&nb) {
                let at = keys
                    .get(j)
                    .and_then(|k| k.get("path"))
                    .cloned()
                    .unwrap_or(b.span.clone());
                return Err(SpecError::at(
                    at,
                    format!(
                        "{} writes to {:?}, which overlaps the output of {} ({:?}); give each sink its own path",
                        b.label(),
                        b.path.display().to_string(),
                        a.label(),
                        a.path.display().to_string()
                    ),
                ));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sink(body: &str) -> Result<SinkSpec, SpecError> {
        parse_str(
            "t.toml",
            &format!("[stack]\nheight = 64\nwidth = 48\n[[sink]]\n{body}"),
        )
        .map(|s| s.sinks.into_iter().next().expect("one sink"))
    }

    #[test]
    fn examples_parse() {
        for (name, text, kinds) in [
            (
                "preview.toml",
                crate::PREVIEW_SPEC,
                &["png", "animation", "contact-sheet"][..],
            ),
            (
                "full-stack.toml",
                include_str!("../../examples/full-stack.toml"),
                &["zarr"][..],
            ),
            (
                "pyramid.toml",
                include_str!("../../examples/pyramid.toml"),
                &["zarr", "animation"][..],
            ),
        ] {
            let spec = parse_str(name, text).unwrap();
            let got: Vec<&str> = spec.sinks.iter().map(|s| s.kind.name()).collect();
            assert_eq!(got, kinds, "{name}");
            assert_eq!(spec.stack, ZoomStack::default(), "{name}");
        }
    }

    #[test]
    fn defaults_are_the_notebook() {
        let spec = parse_str("t", "").unwrap();
        assert_eq!(spec.stack, ZoomStack::default());
        assert!(spec.sinks.is_empty());
        let s = parse_str("t", "[[sink]]\nkind = \"png\"\n")
            .unwrap()
            .sinks
            .remove(0);
        assert_eq!(s.plan.shape(), [120000, 512, 512]);
        assert_eq!(s.plan.chunks(), [1, 256, 256]);
        assert_eq!(s.path, PathBuf::from("frames"));
        match s.kind {
            SinkKind::Frames(FrameKind::Png {
                colormap, scaling, ..
            }) => {
                assert_eq!(colormap, Colormap::Gray);
                assert_eq!(scaling, Scaling::Fixed { max: 256 });
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn downsample_forms() {
        let shape =
            |d: &str| sink(&format!("kind = \"png\"\ndownsample = {d}\n")).map(|s| s.plan.shape());
        assert_eq!(shape("2").unwrap(), [120000, 32, 24]);
        assert_eq!(shape("[4, 3]").unwrap(), [120000, 16, 16]);
        assert_eq!(
            shape("{ factors = [2, 2], mode = \"stride\" }").unwrap(),
            [120000, 32, 24]
        );
        assert_eq!(shape("{ factor = 8 }").unwrap(), [120000, 8, 6]);
        let s =
            sink("kind = \"png\"\ndownsample = { factors = [2, 2], mode = \"mean\" }\n").unwrap();
        assert_eq!(s.plan.selection().mean_factors(), Some([2, 2]));
        for bad in [
            "0",
            "[1, 2, 3]",
            "{ mode = \"mean\" }",
            "{ factors = [2, 2], mode = \"max\" }",
            "\"x\"",
        ] {
            let e = shape(bad).unwrap_err();
            assert!(e.span.is_some(), "{bad}: {e:?}");
        }
    }

    #[test]
    fn animation_options() {
        let s = sink("kind = \"animation\"\npath = \"a.apng\"\nloop = 3\ndelay_ms = 40\n").unwrap();
        match s.kind {
            SinkKind::Frames(FrameKind::Animation { format, options }) => {
                assert_eq!(format, AnimationFormat::Apng);
                assert_eq!(options.playback, Playback::Times(3));
                assert_eq!(options.frame_delay_ms, 40);
                assert_eq!(options.scaling, Scaling::PerFrame);
            }
            other => panic!("{other:?}"),
        }
        let s =
            sink("kind = \"animation\"\npath = \"movie\"\nformat = \"gif\"\nloop = \"forever\"\n")
                .unwrap();
        assert!(matches!(
            s.kind,
            SinkKind::Frames(FrameKind::Animation { format: AnimationFormat::Gif, options }) if options.playback == Playback::Forever
        ));
        assert!(sink("kind = \"animation\"\nloop = \"twice\"\n").is_err());
        assert!(sink("kind = \"animation\"\nscaling = \"per-frame\"\nscaling_max = 9\n").is_err());
    }

    #[test]
    fn overrides_merge_into_the_document() {
        let text = "[stack]\nlevels = 100\n[[sink]]\nkind = \"png\"\n[[sink]]\nkind = \"zarr\"\n";
        let src = Source::new(
            "t",
            text,
            &[
                "stack.levels = 10".to_string(),
                "stack.height=32".to_string(),
                "sink.1.select=\"[::2]\"".to_string(),
                "sink.1.shards=[4, 32, 512]".to_string(),
            ],
        );
        let spec = parse(&src).unwrap();
        assert_eq!(spec.stack.levels, 10);
        assert_eq!(spec.sinks[0].plan.shape(), [10, 32, 512]);
        assert_eq!(spec.sinks[1].plan.shape(), [5, 32, 512]);
        match &spec.sinks[1].kind {
            SinkKind::Zarr(z) => assert_eq!(z.shards, Some([4, 32, 512])),
            other => panic!("{other:?}"),
        }
        // An override error points into the override.
        let src = Source::new("t", text, &["stack.width=0".to_string()]);
        let e = parse(&src).unwrap_err();
        let at = e.span.clone().unwrap();
        assert_eq!(&src.text()[at], "0");
        assert!(e.located(&src).rendered.contains("--set stack.width=0"));
    }

    #[test]
    fn unknown_keys_suggest_the_closest() {
        let e = sink("kind = \"png\"\ncolmap = \"gray\"\n").unwrap_err();
        assert!(
            e.message.contains("did you mean `colormap`?"),
            "{}",
            e.message
        );
        let e = parse_str("t", "[stack]\nmaxiter = 3\n").unwrap_err();
        assert!(
            e.message.contains("did you mean `max_iter`?"),
            "{}",
            e.message
        );
        let e = sink("kind = \"png\"\nzzzzzzzz = 1\n").unwrap_err();
        assert!(!e.message.contains("did you mean"), "{}", e.message);
        assert_eq!(strsim::levenshtein("kitten", "sitting"), 3);
    }

    #[test]
    fn select_errors_point_inside_the_string() {
        let e = sink("kind = \"png\"\nselect = \"[1:2:0]\"\n").unwrap_err();
        let src = Source::new("t", "", &[]);
        let _ = e.clone().located(&src);
        let text =
            "[stack]\nheight = 64\nwidth = 48\n[[sink]]\nkind = \"png\"\nselect = \"[1:2:0]\"\n";
        let at = e.span.unwrap();
        assert_eq!(&text[at], "0");
        // With escapes the whole string is underlined.
        let e = sink("kind = \"png\"\nselect = \"[1:2:\\u0030]\"\n").unwrap_err();
        let text = "[stack]\nheight = 64\nwidth = 48\n[[sink]]\nkind = \"png\"\nselect = \"[1:2:\\u0030]\"\n";
        assert_eq!(&text[e.span.unwrap()], "\"[1:2:\\u0030]\"");
    }
}
