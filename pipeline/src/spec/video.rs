//! The `video` sink's options and the frame plan (which levels, how many frames, how long).

use std::ops::Range;

use toml::Spanned;
use zoomstack_engine::{RenderPlan, ZoomStack};
use zoomstack_sinks::{Colouring, VideoCodec, VideoContainer, VideoOptions};

use super::raw::{RawF64, RawSink, S};
use super::stack::in_range;
use crate::diag::SpecError;

/// Most frames a video may have (about 46 hours at 60 fps).
pub const MAX_VIDEO_FRAMES: u64 = 10_000_000;

/// A video sink: how it encodes, how it colours, which frames it shows.
#[derive(Debug, Clone)]
pub struct VideoSpec {
    /// Container, codec, fps, quality, preset.
    pub options: VideoOptions,
    /// From counts or from smooth values.
    pub colouring: Colouring,
    /// The frame plan.
    pub timing: FrameTiming,
}

/// Which levels a video's frames show and how long it plays.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FrameTiming {
    /// Number of frames.
    pub frames: u64,
    /// Frames per second.
    pub fps: f64,
    /// The (real) level of the first frame.
    pub first: f64,
    /// The (real) level of the last frame.
    pub last: f64,
    /// `true` when frames sit at fractional levels (`duration`), `false` when the sink's
    /// select picks them.
    pub fractional: bool,
}

impl FrameTiming {
    /// Levels between consecutive frames (0 for a single frame).
    #[must_use]
    pub fn levels_per_frame(&self) -> f64 {
        if self.frames <= 1 {
            0.0
        } else {
            (self.last - self.first) / (self.frames - 1) as f64
        }
    }

    /// Playing time in seconds (`frames / fps`).
    #[must_use]
    pub fn duration_s(&self) -> f64 {
        self.frames as f64 / self.fps
    }

    /// `3600 frames, levels 0 .. 120000 (33.34 levels per frame, fractional), 60.0 s at 60 fps`.
    #[must_use]
    pub fn summary(&self) -> String {
        format!(
            "{} frames, levels {} .. {} ({:.4} levels per frame{}), {:.2} s at {} fps",
            self.frames,
            self.first,
            self.last,
            self.levels_per_frame(),
            if self.fractional { ", fractional" } else { "" },
            self.duration_s(),
            self.fps
        )
    }
}

pub(super) fn positive(v: &S<RawF64>, name: &str, max: f64) -> Result<f64, SpecError> {
    let x = v.get_ref().0;
    if x.is_finite() && x > 0.0 && x <= max {
        Ok(x)
    } else {
        Err(SpecError::at(
            v.span(),
            format!("{name} must be a number above 0 and at most {max}, got {x}"),
        ))
    }
}

/// The `fps` of a video sink (default 30), checked.
fn fps(r: &RawSink) -> Result<f64, SpecError> {
    r.fps.as_ref().map_or(Ok(VideoOptions::default().fps), |f| {
        positive(f, "fps", 1000.0)
    })
}

/// For a video sink with `duration`: the stack re-timed to `round(duration * fps)` frames at
/// evenly spaced real levels of `levels = [first, last]` (default: the whole stack). `None`
/// without `duration` (the select picks the frames).
pub(super) fn timed_stack(
    r: &RawSink,
    stack: &ZoomStack,
    span: &Range<usize>,
    label: &str,
) -> Result<Option<ZoomStack>, SpecError> {
    let Some(d) = &r.duration else {
        if let Some(l) = &r.levels {
            return Err(SpecError::at(
                l.span(),
                format!(
                    "{label}: `levels` needs `duration` (frames at fractional levels over the range); without it the sink's select picks the frames"
                ),
            ));
        }
        return Ok(None);
    };
    let fps = fps(r)?;
    let duration = positive(d, "duration (seconds)", 1e7)?;
    let frames_f = (duration * fps).round();
    if !(1.0..=MAX_VIDEO_FRAMES as f64).contains(&frames_f) {
        return Err(SpecError::at(
            d.span(),
            format!(
                "{label}: duration {duration} s at {fps} fps is {frames_f} frames: expected 1 to {MAX_VIDEO_FRAMES}"
            ),
        ));
    }
    let frames = frames_f as u64;
    let top = stack.levels.saturating_sub(1) as f64;
    let (first, last) = match &r.levels {
        None => (0.0, top),
        Some(l) => {
            let v = l.get_ref();
            let [a, b] = v.as_slice() else {
                return Err(SpecError::at(
                    l.span(),
                    format!(
                        "{label}: levels must be [first, last] (2 numbers), got {} numbers",
                        v.len()
                    ),
                ));
            };
            for x in [a, b] {
                let t = x.get_ref().0;
                if !(t.is_finite() && (0.0..=top).contains(&t)) {
                    return Err(SpecError::at(
                        x.span(),
                        format!(
                            "{label}: level {t} is outside the stack: expected 0 to {top} (the stack has {} levels)",
                            stack.levels
                        ),
                    ));
                }
            }
            (a.get_ref().0, b.get_ref().0)
        }
    };
    let at = r.levels.as_ref().map_or(span.clone(), Spanned::span);
    stack
        .spanning(first, last, frames)
        .map(Some)
        .map_err(|e| SpecError::at(at, format!("{label}: {e}")))
}

/// The video sink of `r` whose frames are `plan`'s levels.
pub(super) fn video_from_raw(
    r: &RawSink,
    colouring: Colouring,
    plan: &RenderPlan,
) -> Result<VideoSpec, SpecError> {
    let mut options = VideoOptions {
        fps: fps(r)?,
        ..VideoOptions::default()
    };
    if let Some(f) = &r.format {
        options.container = Some(
            f.get_ref()
                .parse::<VideoContainer>()
                .map_err(|e| SpecError::at(f.span(), e.to_string()))?,
        );
    }
    if let Some(c) = &r.codec {
        options.codec = Some(
            c.get_ref()
                .parse::<VideoCodec>()
                .map_err(|e| SpecError::at(c.span(), e.to_string()))?,
        );
    }
    if let Some(c) = &r.crf {
        options.crf = Some(in_range(c, "crf", 0, 63)? as u8);
    }
    if let Some(b) = &r.bitrate_kbps {
        options.bitrate_kbps = Some(in_range(b, "bitrate_kbps", 1, 1_000_000)? as u32);
    }
    options.preset = r.preset.as_ref().map(|p| p.get_ref().clone());
    options.lossless = r.lossless.as_ref().is_some_and(|l| *l.get_ref());
    let n = plan.shape()[0];
    let stack = plan.stack();
    let timing = FrameTiming {
        frames: n,
        fps: options.fps,
        first: stack.level_at(plan.stack_level(0)),
        last: stack.level_at(plan.stack_level(n.saturating_sub(1))),
        fractional: r.duration.is_some(),
    };
    Ok(VideoSpec {
        options,
        colouring,
        timing,
    })
}

#[cfg(test)]
#[allow(clippy::float_cmp)] // the parsed numbers are exact
mod tests {
    use super::super::{FrameKind, SinkKind, SinkSpec, parse_str};
    use crate::diag::SpecError;
    use zoomstack_engine::Timeline;
    use zoomstack_sinks::{Colormap, Colouring, VideoCodec, VideoContainer};

    fn sink(body: &str) -> Result<SinkSpec, SpecError> {
        parse_str(
            "t.toml",
            &format!("[stack]\nlevels = 1000\nheight = 64\nwidth = 48\n[[sink]]\n{body}"),
        )
        .map(|s| s.sinks.into_iter().next().expect("one sink"))
    }

    fn video(body: &str) -> (SinkSpec, super::VideoSpec) {
        let s = sink(&format!("kind = \"video\"\n{body}")).unwrap();
        let SinkKind::Frames(FrameKind::Video(v)) = s.kind.clone() else {
            panic!("{:?}", s.kind)
        };
        (s, v)
    }

    fn err(body: &str) -> String {
        sink(body).unwrap_err().to_string()
    }

    #[test]
    fn defaults_are_an_h264_mp4_of_the_selected_levels_in_smooth_colours() {
        let (s, v) = video("select = \"[::10]\"");
        assert_eq!(s.path, std::path::PathBuf::from("zoom.mp4"));
        assert_eq!(s.plan.shape(), [100, 64, 48]);
        assert_eq!(v.options.fps, 30.0);
        assert!(v.colouring.is_smooth());
        assert_eq!(v.colouring.colormap(), Colormap::Gray);
        let t = v.timing;
        assert_eq!(
            (t.frames, t.first, t.last, t.fractional),
            (100, 0.0, 990.0, false)
        );
        assert_eq!(t.levels_per_frame(), 10.0);
        assert!((t.duration_s() - 100.0 / 30.0).abs() < 1e-12);
    }

    #[test]
    fn a_duration_spans_the_level_range_at_fractional_levels() {
        let (s, v) = video("fps = 24\nduration = 2.5\nlevels = [100, 400]\ncolour = \"counts\"");
        assert_eq!(s.plan.shape(), [60, 64, 48]);
        assert_eq!(
            s.plan.stack().timeline,
            Timeline::Span {
                first: 100.0,
                last: 400.0
            }
        );
        let t = v.timing;
        assert_eq!(
            (t.frames, t.first, t.last, t.fractional),
            (60, 100.0, 400.0, true)
        );
        assert!(matches!(v.colouring, Colouring::Counts { .. }));
        assert!(t.summary().contains("60 frames"), "{}", t.summary());
        // Without levels: the whole stack.
        let (_, v) = video("duration = 1");
        assert_eq!(
            (v.timing.first, v.timing.last, v.timing.frames),
            (0.0, 999.0, 30)
        );
    }

    #[test]
    fn codec_and_container_keys() {
        let (_, v) = video("path = \"z.webm\"\ncrf = 40\npreset = \"4\"");
        assert_eq!(v.options.crf, Some(40));
        let (_, v) = video("path = \"-\"\nformat = \"mp4\"\ncodec = \"h264\"");
        assert_eq!(v.options.container, Some(VideoContainer::Mp4));
        assert_eq!(v.options.codec, Some(VideoCodec::H264));
    }

    #[test]
    fn bad_video_input_names_the_value() {
        for (body, want) in [
            ("kind = \"video\"\nfps = 0", "fps must be a number above 0"),
            ("kind = \"video\"\nfps = -3", "fps must be a number above 0"),
            (
                "kind = \"video\"\nfps = nan",
                "fps must be a number above 0",
            ),
            (
                "kind = \"video\"\nduration = 0",
                "duration (seconds) must be",
            ),
            (
                "kind = \"video\"\nlevels = [0, 10]",
                "`levels` needs `duration`",
            ),
            (
                "kind = \"video\"\nduration = 1\nlevels = [0, 5000]",
                "level 5000 is outside the stack",
            ),
            ("kind = \"video\"\nduration = 1\nlevels = [3]", "2 numbers"),
            ("kind = \"video\"\npath = \"z.avi\"", "avi"),
            (
                "kind = \"video\"\npath = \"z.webm\"\ncodec = \"h264\"",
                "h264",
            ),
            ("kind = \"video\"\ncodec = \"mpeg2\"", "mpeg2"),
            (
                "kind = \"video\"\ncolour = \"bands\"",
                "unknown colour \"bands\"",
            ),
            (
                "kind = \"video\"\ncolour = \"counts\"\ncycle = 10",
                "`cycle` only applies",
            ),
            (
                "kind = \"video\"\ncycle = 0",
                "cycle (iterations per colour cycle) must be",
            ),
            ("kind = \"video\"\npreset = \"ludicrous\"", "ludicrous"),
            (
                "kind = \"video\"\nduration = 1e6\nfps = 1000",
                "frames: expected 1 to",
            ),
            ("kind = \"gif\"", "unknown sink kind"),
            (
                "kind = \"png16\"\ncolour = \"smooth\"",
                "`colour` is not an option of a `png16` sink",
            ),
        ] {
            let e = err(body);
            assert!(e.contains(want), "{body:?}: {e}");
        }
    }

    #[test]
    fn smooth_colours_need_the_numpy_contract() {
        let e = parse_str(
            "t.toml",
            "[stack]\narithmetic = \"exact\"\nlevels = 10\nheight = 8\nwidth = 8\n[[sink]]\nkind = \"png\"\ncolour = \"smooth\"\n",
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("smooth values"), "{e}");
        let e = parse_str(
            "t.toml",
            "[stack]\narithmetic = \"exact\"\nlevels = 10\nheight = 8\nwidth = 8\n[[sink]]\nkind = \"video\"\ncolour = \"counts\"\nduration = 1\n",
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("fractional levels"), "{e}");
    }
}
