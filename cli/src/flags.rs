//! `render`'s flags turned into a spec, remembering which flag wrote each line so that an error
//! in a value names the flag.

use anyhow::anyhow;
use std::fmt::Write as _;

use crate::args::RenderArgs;
use crate::{Result, user};
use zoomstack_engine::Excerpt;

/// The spec `render`'s flags describe, with the flag behind each line (for error messages).
pub(crate) struct FlagSpec {
    /// The spec text.
    pub(crate) text: String,
    /// Byte range of each line a flag wrote, with the flag as typed (`--max-iter 70000`).
    pub(crate) flags: Vec<(std::ops::Range<usize>, String)>,
}

impl FlagSpec {
    /// Starts a `[[sink]]` table of `kind` lines with its `path`, all written by `flag PATH`.
    fn sink(&mut self, flag: &str, kind: &str, path: &str) {
        let start = self.text.len();
        let _ = writeln!(
            self.text,
            "\n[[sink]]\n{kind}\npath = {}",
            toml_string(path)
        );
        self.flags
            .push((start..self.text.len() - 1, format!("{flag} {path}")));
    }
    /// Appends `line` (and a newline), written by `flag` when given.
    fn line(&mut self, flag: Option<&str>, line: &str) {
        let start = self.text.len();
        self.text.push_str(line);
        if let Some(f) = flag {
            self.flags.push((start..self.text.len(), f.to_string()));
        }
        self.text.push('\n');
    }
    fn lines(&mut self, lines: &[(String, String)]) {
        for (flag, line) in lines {
            self.line(Some(flag), line);
        }
    }
}

fn toml_string(s: &str) -> String {
    toml::Value::String(s.to_string()).to_string()
}

/// `s` as `n` comma-separated parts, or an error naming `flag`.
fn parts<'a>(flag: &str, s: &'a str, n: usize, what: &str) -> Result<Vec<&'a str>> {
    let parts: Vec<&str> = s.split(',').map(str::trim).collect();
    if parts.len() != n || parts.iter().any(|p| p.is_empty()) {
        return Err(user(anyhow!(
            "{flag} {}: expected {n} comma-separated {what}",
            Excerpt::around(s, 0)
        )));
    }
    Ok(parts)
}

/// The spec the `render` flags describe.
pub(crate) fn render_spec(a: &RenderArgs) -> Result<FlagSpec> {
    fn list(flag: &str, s: &str, n: usize) -> Result<String> {
        let p = parts(flag, s, n, "non-negative integers")?;
        if p.iter().any(|p| p.parse::<u64>().is_err()) {
            return Err(user(anyhow!(
                "{flag} {}: expected {n} comma-separated non-negative integers",
                Excerpt::around(s, 0)
            )));
        }
        Ok(format!("[{}]", p.join(", ")))
    }
    let mut t = FlagSpec {
        text: String::new(),
        flags: Vec::new(),
    };
    t.line(None, "[stack]");
    for (key, flag, v) in [
        ("levels", "--stack-levels", a.stack_levels),
        ("height", "--height", a.height),
        ("width", "--width", a.width),
        ("max_iter", "--max-iter", a.max_iter),
    ] {
        if let Some(v) = v {
            t.line(Some(&format!("{flag} {v}")), &format!("{key} = {v}"));
        }
    }
    if let Some(c) = &a.center {
        let p = parts("--center", c, 2, "numbers RE,IM")?;
        let (re, im) = (toml_string(p[0]), toml_string(p[1]));
        t.line(
            Some(&format!("--center {c}")),
            &format!("center = [{re}, {im}]"),
        );
    }
    for (key, flag, v) in [
        ("scale0", "--scale0", &a.scale0),
        ("zoom_per_level", "--zoom-per-level", &a.zoom_per_level),
        ("arithmetic", "--arithmetic", &a.arithmetic),
    ] {
        if let Some(v) = v {
            let line = format!("{key} = {}", toml_string(v.trim()));
            t.line(Some(&format!("{flag} {v}")), &line);
        }
    }
    let select = match (&a.select, &a.levels) {
        (Some(s), _) => Some((format!("--select {s}"), s.clone())),
        (None, Some(l)) => Some((format!("--levels {l}"), format!("[{l}, :, :]"))),
        (None, None) => None,
    };
    let mut common = Vec::new();
    if let Some((flag, s)) = select {
        common.push((flag, format!("select = {}", toml_string(&s))));
    }
    if let Some(c) = &a.chunks {
        let line = format!("chunks = {}", list("--chunks", c, 3)?);
        common.push((format!("--chunks {c}"), line));
    }
    if let Some(d) = &a.downsample {
        let factors = if d.contains(',') {
            list("--downsample", d, 2)?
        } else {
            let k: u64 = d.trim().parse().map_err(|_| {
                user(anyhow!(
                    "--downsample {}: expected K or FY,FX",
                    Excerpt::around(d, 0)
                ))
            })?;
            format!("[{k}, {k}]")
        };
        let mode = a.downsample_mode.as_deref().unwrap_or("mean");
        let flag = match &a.downsample_mode {
            Some(m) => format!("--downsample {d} --downsample-mode {m}"),
            None => format!("--downsample {d}"),
        };
        let line = format!(
            "downsample = {{ factors = {factors}, mode = {} }}",
            toml_string(mode)
        );
        common.push((flag, line));
    }
    let mut image = Vec::new();
    if let Some(c) = &a.colormap {
        image.push((
            format!("--colormap {c}"),
            format!("colormap = {}", toml_string(c)),
        ));
    }
    if let Some(s) = &a.scaling {
        image.push((
            format!("--scaling {s}"),
            format!("scaling = {}", toml_string(s)),
        ));
    }
    // Colour options belong to the sinks that colour frames: PNG frames, animations, contact
    // sheets and video (not 16-bit counts).
    let mut colour = Vec::new();
    if let Some(c) = &a.colour {
        colour.push((
            format!("--colour {c}"),
            format!("colour = {}", toml_string(c)),
        ));
    }
    if let Some(c) = a.cycle {
        colour.push((format!("--cycle {c}"), format!("cycle = {c:?}")));
    }
    let mut n = 0;
    if let Some(p) = &a.zarr {
        n += 1;
        t.sink("--zarr", "kind = \"zarr\"", p);
        t.lines(&common);
        if let Some(s) = &a.shards {
            let line = format!("shards = {}", list("--shards", s, 3)?);
            t.line(Some(&format!("--shards {s}")), &line);
        }
        if let Some(c) = &a.compression {
            let line = format!("compression = {}", toml_string(c));
            t.line(Some(&format!("--compression {c}")), &line);
        }
        if let Some(l) = a.compression_level {
            let line = format!("compression_level = {l}");
            t.line(Some(&format!("--compression-level {l}")), &line);
        }
        if let Some(v) = &a.values {
            let line = format!("values = {}", toml_string(v));
            t.line(Some(&format!("--values {v}")), &line);
        }
        if a.ome || a.pyramid_levels.is_some_and(|p| p > 0) {
            t.line(Some("--ome"), "ome = true");
        }
        if let Some(p) = a.pyramid_levels {
            let line = format!("pyramid_levels = {p}");
            t.line(Some(&format!("--pyramid-levels {p}")), &line);
        }
    }
    for (kind, flag, path, images) in [
        ("png", "--png", &a.png, true),
        ("png16", "--png16", &a.png16, false),
        ("contact-sheet", "--sheet", &a.sheet, true),
    ] {
        if let Some(p) = path {
            n += 1;
            t.sink(flag, &format!("kind = \"{kind}\""), p);
            t.lines(&common);
            if images {
                t.lines(&image);
                t.lines(&colour);
            }
        }
    }
    for (format, flag, path) in [("gif", "--gif", &a.gif), ("apng", "--apng", &a.apng)] {
        if let Some(p) = path {
            n += 1;
            t.sink(
                flag,
                &format!("kind = \"animation\"\nformat = \"{format}\""),
                p,
            );
            t.lines(&common);
            t.lines(&image);
            t.lines(&colour);
            if let Some(d) = a.delay_ms {
                t.line(Some(&format!("--delay-ms {d}")), &format!("delay_ms = {d}"));
            }
        }
    }
    if let Some(p) = &a.video {
        n += 1;
        t.sink("--video", "kind = \"video\"", p);
        let mut lines = common.clone();
        if let Some(d) = a.duration {
            // Frames at fractional levels: --levels A:B is the level range, not a select.
            if let (None, Some(l)) = (&a.select, &a.levels) {
                lines.retain(|(f, _)| !f.starts_with("--levels"));
                let (first, last) = level_range(l, a.stack_levels)?;
                lines.push((
                    format!("--levels {l}"),
                    format!("levels = [{first}, {last}]"),
                ));
            }
            lines.push((format!("--duration {d}"), format!("duration = {d:?}")));
        }
        t.lines(&lines);
        t.lines(&image);
        t.lines(&colour);
        for (flag, key, v) in [("--fps", "fps", a.fps.map(|v| format!("{v:?}")))] {
            if let Some(v) = v {
                t.line(Some(&format!("{flag} {v}")), &format!("{key} = {v}"));
            }
        }
        if let Some(c) = &a.codec {
            t.line(
                Some(&format!("--codec {c}")),
                &format!("codec = {}", toml_string(c)),
            );
        }
        if let Some(c) = a.crf {
            t.line(Some(&format!("--crf {c}")), &format!("crf = {c}"));
        }
        if a.lossless {
            t.line(Some("--lossless"), "lossless = true");
        }
    }
    if n == 0 {
        return Err(user(anyhow!(
            "render needs at least one output: --zarr PATH, --png DIR, --png16 DIR, --gif FILE, --apng FILE, --sheet FILE or --video FILE"
        )));
    }
    Ok(t)
}

/// `--levels A:B` (no step) as the inclusive real range `[A, B - 1]` of a video's frames;
/// `A:` ends at the stack's last level.
fn level_range(l: &str, stack_levels: Option<u64>) -> Result<(u64, u64)> {
    let bad = || {
        user(anyhow!(
            "--levels {} with --duration: expected A:B (the level range the video zooms through, B excluded) without a step",
            Excerpt::around(l, 0)
        ))
    };
    let (a, b) = l.split_once(':').ok_or_else(bad)?;
    if b.contains(':') {
        return Err(bad());
    }
    let a: u64 = if a.trim().is_empty() {
        0
    } else {
        a.trim().parse().map_err(|_| bad())?
    };
    let b: u64 = if b.trim().is_empty() {
        stack_levels.unwrap_or(zoomstack_engine::NOTEBOOK_LEVELS)
    } else {
        b.trim().parse().map_err(|_| bad())?
    };
    if b <= a + 1 {
        return Err(user(anyhow!(
            "--levels {l} with --duration: the range needs at least 2 levels"
        )));
    }
    Ok((a, b - 1))
}
