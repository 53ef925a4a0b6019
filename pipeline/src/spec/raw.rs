//! The raw form of a spec: `serde` types over spanned TOML values, so every error can point at
//! the offending text.

use std::ops::Range;

use serde::Deserialize;
use serde::de::{self, MapAccess, SeqAccess, Visitor};
use toml::Spanned;
use zoomstack_engine::DownsampleMode;
use zoomstack_sinks::Playback;

pub(super) type S<T> = Spanned<T>;

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct RawSpec {
    pub(super) stack: Option<S<RawStack>>,
    #[serde(default)]
    pub(super) sink: Vec<S<RawSink>>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct RawStack {
    pub(super) levels: Option<S<u64>>,
    pub(super) height: Option<S<u64>>,
    pub(super) width: Option<S<u64>>,
    pub(super) center: Option<S<Vec<S<RawReal>>>>,
    pub(super) scale0: Option<S<RawReal>>,
    pub(super) zoom_per_level: Option<S<RawReal>>,
    pub(super) max_iter: Option<S<u64>>,
    pub(super) arithmetic: Option<S<String>>,
    /// Exact mode's BLA method (`ExactStack::bla`).
    pub(super) bla: Option<S<bool>>,
    /// The default chunking of every sink (the notebook's `CHUNKS`); a sink's own wins.
    pub(super) chunks: Option<S<Vec<u64>>>,
}

/// A real parameter: a TOML number (its exact binary value, as the notebook's Python floats)
/// or a decimal string with any number of digits (taken exactly as written).
#[derive(Debug, Clone, PartialEq)]
pub(super) enum RawReal {
    Number(f64),
    Decimal(String),
}

impl<'de> Deserialize<'de> for RawReal {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = RawReal;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a number or a decimal string such as \"-0.7436438870371587\"")
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<RawReal, E> {
                Ok(RawReal::Number(v))
            }
            #[allow(clippy::cast_precision_loss)] // integers beyond 2^53 go through the string form
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<RawReal, E> {
                if v.unsigned_abs() <= 1 << 53 {
                    Ok(RawReal::Number(v as f64))
                } else {
                    Ok(RawReal::Decimal(v.to_string()))
                }
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<RawReal, E> {
                match i64::try_from(v) {
                    Ok(i) => self.visit_i64(i),
                    Err(_) => Ok(RawReal::Decimal(v.to_string())),
                }
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<RawReal, E> {
                Ok(RawReal::Decimal(v.to_string()))
            }
        }
        d.deserialize_any(V)
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawSink {
    pub(super) kind: S<String>,
    pub(super) path: Option<S<String>>,
    pub(super) select: Option<S<String>>,
    pub(super) chunks: Option<S<Vec<u64>>>,
    pub(super) downsample: Option<S<RawDownsample>>,
    pub(super) colormap: Option<S<String>>,
    pub(super) scaling: Option<S<String>>,
    pub(super) scaling_max: Option<S<u64>>,
    pub(super) compression: Option<S<String>>,
    pub(super) format: Option<S<String>>,
    pub(super) delay_ms: Option<S<u64>>,
    #[serde(rename = "loop")]
    pub(super) loop_: Option<S<RawLoop>>,
    pub(super) columns: Option<S<u64>>,
    pub(super) labels: Option<S<bool>>,
    pub(super) gap: Option<S<u64>>,
    pub(super) array: Option<S<String>>,
    pub(super) compression_level: Option<S<i64>>,
    pub(super) shards: Option<S<Vec<u64>>>,
    pub(super) ome: Option<S<bool>>,
    pub(super) pyramid_levels: Option<S<u64>>,
    pub(super) if_exists: Option<S<String>>,
    pub(super) colour: Option<S<String>>,
    pub(super) cycle: Option<S<RawF64>>,
    pub(super) fps: Option<S<RawF64>>,
    pub(super) duration: Option<S<RawF64>>,
    pub(super) levels: Option<S<Vec<S<RawF64>>>>,
    pub(super) codec: Option<S<String>>,
    pub(super) crf: Option<S<u64>>,
    pub(super) bitrate_kbps: Option<S<u64>>,
    pub(super) preset: Option<S<String>>,
    pub(super) lossless: Option<S<bool>>,
    pub(super) values: Option<S<String>>,
}

/// A TOML number, integer or float, as `f64` (`fps = 30` and `fps = 29.97` both work).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct RawF64(pub(super) f64);

impl<'de> Deserialize<'de> for RawF64 {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = RawF64;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a number")
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<RawF64, E> {
                Ok(RawF64(v))
            }
            #[allow(clippy::cast_precision_loss)] // a rate, duration or level: f64 is the type
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<RawF64, E> {
                Ok(RawF64(v as f64))
            }
            #[allow(clippy::cast_precision_loss)]
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<RawF64, E> {
                Ok(RawF64(v as f64))
            }
        }
        d.deserialize_any(V)
    }
}

/// `downsample = k`, `[fy, fx]` or `{ factors = [fy, fx] | factor = k, mode = "mean" | "stride" }`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct RawDownsample {
    pub(super) factors: [u64; 2],
    pub(super) mode: DownsampleMode,
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
                    "unknown downsample mode {}: expected \"mean\" or \"stride\"",
                    zoomstack_engine::Excerpt::around(s, 0)
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
pub(super) struct RawLoop(pub(super) Playback);

impl<'de> Deserialize<'de> for RawLoop {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
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

/// Present options of a raw sink with the spans of their values.
pub(super) fn present_options(r: &RawSink) -> Vec<(&'static str, Range<usize>)> {
    // Takes the fields as the table below names them (`&r.path`); `Option<&_>` would only add
    // `.as_ref()` to every row.
    #[allow(clippy::ref_option)]
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
        ("colour", sp(&r.colour)),
        ("cycle", sp(&r.cycle)),
        ("fps", sp(&r.fps)),
        ("duration", sp(&r.duration)),
        ("levels", sp(&r.levels)),
        ("codec", sp(&r.codec)),
        ("crf", sp(&r.crf)),
        ("bitrate_kbps", sp(&r.bitrate_kbps)),
        ("preset", sp(&r.preset)),
        ("lossless", sp(&r.lossless)),
        ("values", sp(&r.values)),
    ]
    .into_iter()
    .filter_map(|(k, s)| s.map(|s| (k, s)))
    .collect()
}
