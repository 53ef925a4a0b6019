//! One `[[sink]]` table: its array (select, downsample, rechunk), plan, kind and options.

use std::collections::HashMap;
use std::ops::Range;
use std::path::PathBuf;

use toml::Spanned;
use zoomstack_engine::{EngineError, Excerpt, StoreLayout, ZoomStack};
use zoomstack_sinks::{
    AnimationOptions, Colormap, Compression, ContactSheetOptions, IfExists, Playback, Scaling,
    StoreValues,
};

use super::raw::{RawDownsample, RawSink, S, present_options};
use super::stack::{in_range, triple};
use super::{
    AnimationFormat, COMMON_KEYS, DEFAULT_ZSTD_LEVEL, FrameKind, SINK_KINDS, SinkKind, SinkSpec,
    ZarrSpec, kind_info,
};
use super::{colour, video};
use crate::diag::SpecError;

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

pub(super) fn sink_from_raw(
    index: usize,
    raw: S<RawSink>,
    keys: &HashMap<String, Range<usize>>,
    stack: &ZoomStack,
    default_chunks: [usize; 3],
    text: &str,
) -> Result<SinkSpec, SpecError> {
    let span = raw.span();
    let r = raw.into_inner();
    let key_span =
        |k: &str, fallback: &Range<usize>| keys.get(k).cloned().unwrap_or(fallback.clone());
    let kind = r.kind.get_ref().as_str();
    let Some(info) = kind_info(kind) else {
        return Err(SpecError::at(
            r.kind.span(),
            format!(
                "unknown sink kind {}: expected one of {}",
                Excerpt::around(kind, 0),
                SINK_KINDS.map(|k| format!("\"{}\"", k.name)).join(", ")
            ),
        ));
    };
    let allowed = info.keys;
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

    // The array: select -> downsample -> rechunk (a video with a duration: of the stack
    // re-timed to its frames).
    let timed = if kind == "video" {
        video::timed_stack(&r, stack, &span, &label)?
    } else {
        None
    };
    let mut array = timed.as_ref().unwrap_or(stack).array();
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
        Some(c) => triple(c, "chunks", u64::from(u32::MAX))?,
        None => default_chunks,
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
                            "unknown scaling {}: expected \"fixed\" (the notebook's to_uint8 over 0..scaling_max) or \"per-frame\" (each frame stretched from its min to its max, like stackview)",
                            Excerpt::around(other, 0)
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
                        "unknown PNG compression {}: expected \"none\", \"fastest\", \"fast\", \"balanced\" or \"high\"",
                        Excerpt::around(other, 0)
                    ),
                )),
            },
        }
    };
    let default_path = info.default_path;
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
        Some(p)
            if zoomstack_sinks::is_stdout(std::path::Path::new(p.get_ref()))
                && !matches!(kind, "animation" | "contact-sheet" | "video") =>
        {
            return Err(SpecError::at(
                p.span(),
                format!(
                    "{label}: path \"-\" (standard output) is only for single-file sinks (animation, contact-sheet, video); a `{kind}` sink writes {}; name it (or \"./-\" for a file called -)",
                    if kind == "zarr" {
                        "a store directory"
                    } else {
                        "a directory of files"
                    }
                ),
            ));
        }
        Some(p) => PathBuf::from(p.get_ref()),
        None => PathBuf::from(default_path),
    };

    let kind = match kind {
        "png" => SinkKind::Frames(FrameKind::Png {
            colouring: colour::colouring(&r, colormap, scaling(false)?, false, stack, &label)?,
            compression: png_compression()?,
        }),
        "video" => {
            // Smooth colours by default where the contract has them (numpy).
            let smooth = stack.check_smooth().is_ok();
            let colouring =
                colour::colouring(&r, colormap, scaling(false)?, smooth, stack, &label)?;
            let v = video::video_from_raw(&r, colouring, &plan)?;
            let [_, h, w] = plan.shape();
            let at = r.path.as_ref().map_or(span.clone(), Spanned::span);
            v.options
                .check(&path, w as usize, h as usize)
                .map_err(|e| SpecError::at(at, format!("{label}: {e}")))?;
            SinkKind::Frames(FrameKind::Video(v))
        }
        "png16" => SinkKind::Frames(FrameKind::Png16 {
            compression: png_compression()?,
        }),
        "animation" => {
            let format = if let Some(f) = &r.format {
                f.get_ref()
                    .parse::<AnimationFormat>()
                    .map_err(|e| SpecError::at(f.span(), e))?
            } else {
                let ext = path
                    .extension()
                    .map(|e| e.to_string_lossy().to_ascii_lowercase());
                match ext.as_deref() {
                    Some("gif") => AnimationFormat::Gif,
                    Some("png" | "apng") => AnimationFormat::Apng,
                    _ if zoomstack_sinks::is_stdout(&path) => {
                        let at = r.path.as_ref().map_or(span.clone(), Spanned::span);
                        return Err(SpecError::at(
                            at,
                            format!(
                                "{label}: path \"-\" writes to standard output, which has no file name to tell the format from: set format = \"gif\" | \"apng\""
                            ),
                        ));
                    }
                    _ => {
                        let at = r.path.as_ref().map_or(span.clone(), Spanned::span);
                        return Err(SpecError::at(
                            at,
                            format!(
                                "{label}: cannot tell the animation format from {}: name the file .gif, .png or .apng, or set format = \"gif\" | \"apng\"",
                                Excerpt::around(&path.display().to_string(), 0)
                            ),
                        ));
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
                    colouring: colour::colouring(
                        &r,
                        colormap,
                        scaling(true)?,
                        false,
                        stack,
                        &label,
                    )?,
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
                colouring: colour::colouring(&r, colormap, scaling(false)?, false, stack, &label)?,
                labels: r.labels.as_ref().map_or(d.labels, |l| *l.get_ref()),
                gap: match &r.gap {
                    Some(g) => in_range(g, "gap", 0, 1000)? as usize,
                    None => d.gap,
                },
                ..d
            }))
        }
        _ => {
            let z = zarr_from_raw(&r, plan.chunks(), plan.shape(), &key_span)?;
            if z.values == StoreValues::Smooth
                && let Err(e) = stack.check_smooth()
            {
                let at = r.values.as_ref().map_or(span.clone(), Spanned::span);
                return Err(SpecError::at(
                    at,
                    format!("{label}: values = \"smooth\": {e}"),
                ));
            }
            SinkKind::Zarr(z)
        }
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
                format!(
                    "unknown Zarr compression {}: expected \"zstd\" or \"none\"",
                    Excerpt::around(other, 0)
                ),
            ));
        }
    };
    let shards = match &r.shards {
        Some(s) => {
            let shards = triple(s, "shards", u64::from(u32::MAX))?;
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
                        "array path {} is not a valid Zarr node path: expected names separated by '/', none empty, '.', '..' or starting with '__'",
                        Excerpt::around(a.get_ref(), 0)
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
    let if_exists = match &r.if_exists {
        None => IfExists::Resume,
        Some(v) => v
            .get_ref()
            .parse::<IfExists>()
            .map_err(|e| SpecError::at(v.span(), e))?,
    };
    let values = match &r.values {
        None => StoreValues::Counts,
        Some(v) => v
            .get_ref()
            .parse::<StoreValues>()
            .map_err(|e| SpecError::at(v.span(), e))?,
    };
    Ok(ZarrSpec {
        array,
        compression,
        shards,
        ome,
        pyramid_levels,
        if_exists,
        values,
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

pub(super) fn check_distinct_paths(
    sinks: &[SinkSpec],
    keys: &[HashMap<String, Range<usize>>],
) -> Result<(), SpecError> {
    for (j, b) in sinks.iter().enumerate() {
        let nb = normalized(&b.path);
        let b_stdout = zoomstack_sinks::is_stdout(&b.path);
        for a in &sinks[..j] {
            let na = normalized(&a.path);
            // `-` is standard output, not the file `./-`.
            let overlap = match (zoomstack_sinks::is_stdout(&a.path), b_stdout) {
                (true, true) => true,
                (false, false) => na == nb || nb.starts_with(&na) || na.starts_with(&nb),
                _ => false,
            };
            if overlap {
                let at = keys
                    .get(j)
                    .and_then(|k| k.get("path"))
                    .cloned()
                    .unwrap_or(b.span.clone());
                return Err(SpecError::at(
                    at,
                    format!(
                        "{} writes to {}, which overlaps the output of {} ({}); give each sink its own path",
                        b.label(),
                        Excerpt::around(&b.path.display().to_string(), 0),
                        a.label(),
                        Excerpt::around(&a.path.display().to_string(), 0)
                    ),
                ));
            }
        }
    }
    Ok(())
}
