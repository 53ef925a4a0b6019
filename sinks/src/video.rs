//! Video files (MP4/H.264, WebM/VP9, AV1, lossless MKV, raw Y4M) encoded by the system's
//! `ffmpeg`, driven as a subprocess the way matplotlib and imageio drive it: RGB frames stream
//! through a pipe, so memory stays bounded whatever the length. `sinks/README.md` says why
//! ffmpeg (a measurement of the encoders on 2 cores).
//!
//! - [`VideoOptions`] and [`VideoOptions::check`]: codec, container, quality, preset; every
//!   check that needs no ffmpeg (a preflight), giving the [`VideoFormat`] that will be written.
//! - [`VideoEncoder`]: RGB frames in, a file (or standard output) out, renamed into place only
//!   when ffmpeg succeeded.
//! - [`VideoWriter`]: a [`crate::FrameSink`] of count frames, coloured by [`crate::Colouring`]
//!   (the PNG preview's colours) and pushed to a [`VideoEncoder`].

use std::fmt;
use std::path::Path;
use std::str::FromStr;

use crate::SinkError;
use crate::output::is_stdout;

mod args;
mod encoder;
mod writer;

pub use encoder::{FFMPEG_ENV, VideoEncoder};
pub use writer::VideoWriter;

/// A video codec.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum VideoCodec {
    /// H.264 (ffmpeg's `libx264`; `libx264rgb` in lossless mode). What every browser and phone
    /// plays (as `yuv420p` in MP4).
    H264,
    /// VP9 (`libvpx-vp9`), in `WebM`, MKV or MP4.
    Vp9,
    /// AV1 (`libsvtav1`), in `WebM`, MKV or MP4.
    Av1,
    /// FFV1 (ffmpeg's own lossless codec), in MKV: exact RGB, for archiving, not for browsers.
    Ffv1,
}

impl VideoCodec {
    /// Every codec, in a fixed order.
    pub const ALL: [VideoCodec; 4] = [
        VideoCodec::H264,
        VideoCodec::Vp9,
        VideoCodec::Av1,
        VideoCodec::Ffv1,
    ];

    /// The codec's name as written in specs and ffprobe's `codec_name` (`h264`, `vp9`, ...).
    pub fn name(self) -> &'static str {
        match self {
            VideoCodec::H264 => "h264",
            VideoCodec::Vp9 => "vp9",
            VideoCodec::Av1 => "av1",
            VideoCodec::Ffv1 => "ffv1",
        }
    }

    /// The presets [`VideoOptions::preset`] accepts: x264's names (slower is smaller), or the
    /// encoder's speed numbers (libvpx's `-cpu-used` 0 to 5 of its `good` mode for VP9,
    /// SVT-AV1's `-preset` 0 to 13; higher is faster).
    pub fn presets(self) -> &'static [&'static str] {
        match self {
            VideoCodec::H264 => &[
                "ultrafast",
                "superfast",
                "veryfast",
                "faster",
                "fast",
                "medium",
                "slow",
                "slower",
                "veryslow",
                "placebo",
            ],
            VideoCodec::Vp9 => &["0", "1", "2", "3", "4", "5"],
            VideoCodec::Av1 => &[
                "0", "1", "2", "3", "4", "5", "6", "7", "8", "9", "10", "11", "12", "13",
            ],
            VideoCodec::Ffv1 => &[],
        }
    }

    /// The default preset (measured on 2 cores, `sinks/README.md`).
    pub fn default_preset(self) -> Option<&'static str> {
        match self {
            VideoCodec::H264 => Some("medium"),
            VideoCodec::Vp9 => Some("5"),
            VideoCodec::Av1 => Some("8"),
            VideoCodec::Ffv1 => None,
        }
    }

    /// The default constant-rate factor (lower is better; H.264 18 is visually lossless).
    pub fn default_crf(self) -> Option<u8> {
        match self {
            VideoCodec::H264 => Some(18),
            VideoCodec::Vp9 => Some(31),
            VideoCodec::Av1 => Some(30),
            VideoCodec::Ffv1 => None,
        }
    }

    /// The largest CRF the encoder takes.
    pub fn max_crf(self) -> u8 {
        match self {
            VideoCodec::H264 => 51,
            VideoCodec::Vp9 | VideoCodec::Av1 => 63,
            VideoCodec::Ffv1 => 0,
        }
    }
}

impl fmt::Display for VideoCodec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

fn names<T: Copy>(all: &[T], name: impl Fn(T) -> &'static str) -> String {
    all.iter().map(|&c| name(c)).collect::<Vec<_>>().join(", ")
}

impl FromStr for VideoCodec {
    type Err = SinkError;

    /// Parse a name (case-insensitive; `avc`/`x264` for H.264, `vp09`, `av01` accepted).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(match s.to_ascii_lowercase().as_str() {
            "h264" | "h.264" | "avc" | "x264" | "libx264" => VideoCodec::H264,
            "vp9" | "vp09" | "libvpx-vp9" => VideoCodec::Vp9,
            "av1" | "av01" | "libsvtav1" => VideoCodec::Av1,
            "ffv1" => VideoCodec::Ffv1,
            _ => {
                return Err(SinkError::UnknownVideoCodec {
                    name: s.to_string(),
                    expected: names(&VideoCodec::ALL, VideoCodec::name),
                });
            }
        })
    }
}

/// A video container (file format).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum VideoContainer {
    /// `.mp4` (ISO BMFF); fragmented when written to standard output. Default codec H.264.
    Mp4,
    /// `.webm`. Default codec VP9.
    Webm,
    /// `.mkv` (Matroska). Default codec H.264; FFV1 for lossless.
    Mkv,
    /// `.y4m` (YUV4MPEG2): raw, uncompressed 4:4:4 frames, no codec.
    Y4m,
}

impl VideoContainer {
    /// Every container, in a fixed order.
    pub const ALL: [VideoContainer; 4] = [
        VideoContainer::Mp4,
        VideoContainer::Webm,
        VideoContainer::Mkv,
        VideoContainer::Y4m,
    ];

    /// The file extension (without the dot), also the container's name in specs.
    pub fn extension(self) -> &'static str {
        match self {
            VideoContainer::Mp4 => "mp4",
            VideoContainer::Webm => "webm",
            VideoContainer::Mkv => "mkv",
            VideoContainer::Y4m => "y4m",
        }
    }

    /// The container of a path's extension (case-insensitive), `None` for others.
    pub fn from_extension(path: &Path) -> Option<VideoContainer> {
        let ext = path.extension()?.to_str()?.to_ascii_lowercase();
        VideoContainer::ALL
            .into_iter()
            .find(|c| c.extension() == ext)
    }

    /// The codecs it can hold (the first is the default); none for Y4M.
    pub fn codecs(self) -> &'static [VideoCodec] {
        match self {
            VideoContainer::Mp4 => &[VideoCodec::H264, VideoCodec::Av1, VideoCodec::Vp9],
            VideoContainer::Webm => &[VideoCodec::Vp9, VideoCodec::Av1],
            VideoContainer::Mkv => &VideoCodec::ALL,
            VideoContainer::Y4m => &[],
        }
    }
}

impl fmt::Display for VideoContainer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.extension())
    }
}

impl FromStr for VideoContainer {
    type Err = SinkError;

    /// Parse a container name or extension (`mp4`, `.webm`, `matroska`, ...).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let t = s.trim_start_matches('.').to_ascii_lowercase();
        let t = if t == "matroska" {
            "mkv".to_string()
        } else {
            t
        };
        VideoContainer::ALL
            .into_iter()
            .find(|c| c.extension() == t)
            .ok_or_else(|| SinkError::UnknownVideoContainer {
                path: "<container>".into(),
                container: s.to_string(),
                expected: names(&VideoContainer::ALL, VideoContainer::extension),
            })
    }
}

/// How to encode. Every field has a default (`VideoOptions::default()`): 30 fps, the
/// container's default codec, the codec's default CRF and preset.
#[derive(Clone, Debug, PartialEq)]
pub struct VideoOptions {
    /// Frames per second: finite, above 0, at most 1000. Fractional rates are kept as the
    /// nearest fraction with a denominator up to 1001 (29.97002997 -> 30000/1001).
    pub fps: f64,
    /// The container; `None`: from the path's extension (MP4 for standard output).
    pub container: Option<VideoContainer>,
    /// The codec; `None`: the container's default (H.264 for MP4/MKV, VP9 for `WebM`).
    pub codec: Option<VideoCodec>,
    /// Constant-rate factor (0 to the codec's [`VideoCodec::max_crf`]); `None` and no bitrate:
    /// the codec's [`VideoCodec::default_crf`]. Exclusive with `bitrate_kbps`.
    pub crf: Option<u8>,
    /// Target bitrate in kbit/s instead of a CRF.
    pub bitrate_kbps: Option<u32>,
    /// The encoder's speed/size trade-off, one of [`VideoCodec::presets`]; `None`: the codec's
    /// [`VideoCodec::default_preset`].
    pub preset: Option<String>,
    /// Exact RGB: H.264 as `libx264rgb -qp 0` (RGB 4:4:4, which browsers do not play), VP9
    /// `-lossless 1` in planar RGB, FFV1; not with AV1 or a CRF/bitrate.
    pub lossless: bool,
    /// More ffmpeg output options, passed through unchecked before the output (e.g.
    /// `["-tune", "animation"]`); ffmpeg's own error (its standard error) reports bad ones.
    pub extra_args: Vec<String>,
}

impl Default for VideoOptions {
    fn default() -> Self {
        VideoOptions {
            fps: 30.0,
            container: None,
            codec: None,
            crf: None,
            bitrate_kbps: None,
            preset: None,
            lossless: false,
            extra_args: Vec::new(),
        }
    }
}

/// What [`VideoOptions::check`] resolved: the file that will be written.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VideoFormat {
    /// The container.
    pub container: VideoContainer,
    /// The codec (`None` for Y4M).
    pub codec: Option<VideoCodec>,
    /// The frame rate as a fraction (numerator, denominator).
    pub fps: (u32, u32),
    /// The frames' size (width, height).
    pub size: (usize, usize),
    /// The size actually encoded when it differs: odd sides padded to even for 4:2:0 chroma
    /// (a black column on the right, a black row at the bottom).
    pub padded: Option<(usize, usize)>,
    /// `true` when written to standard output (MP4 then fragmented).
    pub stdout: bool,
}

/// Bits per pixel [`VideoFormat::estimated_bytes`] assumes at a codec's default CRF: about 3x
/// what H.264 at CRF 18 wrote for the notebook's whole zoom at 1080p (0.35 bit per pixel,
/// README's film), so fractal detail finer than that film's stays under the estimate.
const DEFAULT_CRF_BITS_PER_PIXEL: f64 = 1.0;

impl VideoFormat {
    /// A generous estimate of the file's size for `frames` frames (for the output guard): raw
    /// frames for Y4M and lossless codecs (4:4:4, 3 bytes a pixel, an upper bound), the
    /// bitrate with 25% headroom for a bitrate target, and for a CRF
    /// [`DEFAULT_CRF_BITS_PER_PIXEL`] at the codec's default CRF, doubling every 6 steps below
    /// it (x264's rule of thumb), at most raw.
    #[must_use]
    pub fn estimated_bytes(&self, options: &VideoOptions, frames: u64) -> u64 {
        let (w, h) = self.padded.unwrap_or(self.size);
        let pixels = frames.saturating_mul((w * h) as u64);
        let raw = pixels.saturating_mul(3);
        let seconds = frames as f64 * f64::from(self.fps.1) / f64::from(self.fps.0);
        let estimate = match self.codec {
            None | Some(VideoCodec::Ffv1) => return raw,
            Some(_) if options.lossless => return raw,
            Some(codec) => {
                if let Some(kbps) = options.bitrate_kbps {
                    f64::from(kbps) * 1000.0 / 8.0 * seconds * 1.25
                } else {
                    let default = codec.default_crf().unwrap_or(0);
                    let crf = options.crf.unwrap_or(default);
                    let bpp = DEFAULT_CRF_BITS_PER_PIXEL
                        * 2f64.powf((f64::from(default) - f64::from(crf)) / 6.0);
                    pixels as f64 * bpp / 8.0
                }
            }
        };
        // Containers add a little per frame; a float past u64 saturates in the cast.
        ((estimate + 4096.0 + 64.0 * frames as f64) as u64).min(raw.saturating_add(1 << 20))
    }

    /// The arguments [`VideoEncoder::create`] runs ffmpeg with for these `options` (after the
    /// program name; `file:OUTPUT` stands for the temporary file), e.g. to show them.
    pub fn ffmpeg_args(&self, options: &VideoOptions) -> Vec<std::ffi::OsString> {
        let out = (!self.stdout).then(|| std::ffi::OsStr::new("OUTPUT"));
        args::ffmpeg_args(self, options, out)
    }
}

impl VideoOptions {
    /// Every check that needs no ffmpeg: container and codec (from the options or `path`'s
    /// extension), their fit, fps, quality, preset, and the size (1 to 16384 a side, at least
    /// 64 for AV1; odd sides padded for 4:2:0). Call it before rendering anything.
    ///
    /// # Errors
    ///
    /// [`SinkError::UnknownVideoContainer`] for an extension (or its absence) that names no
    /// container, [`SinkError::VideoFormatMismatch`] for a codec the container cannot hold or
    /// a `container` that contradicts the extension, [`SinkError::InvalidParameter`] for fps,
    /// CRF, bitrate, preset, lossless combination or size out of range.
    pub fn check(
        &self,
        path: &Path,
        width: usize,
        height: usize,
    ) -> Result<VideoFormat, SinkError> {
        let stdout = is_stdout(path);
        let container = self.container_for(path, stdout)?;
        let codec = self.codec_for(path, container)?;
        let fps = fps_fraction(self.fps)?;
        self.check_quality(codec)?;
        for (side, v) in [("width", width), ("height", height)] {
            if !(1..=16384).contains(&v) {
                return Err(SinkError::invalid(
                    "video frame size",
                    format!("{side} {v}"),
                    "expected 1 to 16384 pixels a side",
                ));
            }
        }
        if codec == Some(VideoCodec::Av1) && (width < 64 || height < 64) {
            return Err(SinkError::invalid(
                "video frame size",
                format!("{width} x {height} (width x height)"),
                "expected at least 64 x 64 for AV1 (SVT-AV1's minimum)",
            ));
        }
        let chroma_420 = codec.is_some() && !self.lossless;
        let even = (width.next_multiple_of(2), height.next_multiple_of(2));
        let padded = (chroma_420 && even != (width, height)).then_some(even);
        Ok(VideoFormat {
            container,
            codec,
            fps,
            size: (width, height),
            padded,
            stdout,
        })
    }

    fn container_for(&self, path: &Path, stdout: bool) -> Result<VideoContainer, SinkError> {
        let from_ext = VideoContainer::from_extension(path);
        match (self.container, from_ext) {
            (Some(c), Some(e)) if c != e => Err(SinkError::VideoFormatMismatch {
                path: path.to_path_buf(),
                problem: format!("container {c} contradicts the extension .{e}"),
                expected: format!("a path ending in .{c}, or no container key"),
            }),
            (Some(c), _) | (None, Some(c)) => Ok(c),
            (None, None) if stdout => Ok(VideoContainer::Mp4),
            (None, None) => Err(SinkError::UnknownVideoContainer {
                path: path.to_path_buf(),
                container: path
                    .extension()
                    .map(|e| format!(".{}", e.to_string_lossy()))
                    .unwrap_or_default(),
                expected: VideoContainer::ALL.map(|c| format!(".{c}")).join(", "),
            }),
        }
    }

    fn codec_for(
        &self,
        path: &Path,
        container: VideoContainer,
    ) -> Result<Option<VideoCodec>, SinkError> {
        let allowed = container.codecs();
        let default = if self.lossless && container == VideoContainer::Mkv {
            Some(VideoCodec::Ffv1)
        } else {
            allowed.first().copied()
        };
        match self.codec {
            None => Ok(default),
            Some(c) if allowed.contains(&c) => Ok(Some(c)),
            Some(c) => Err(SinkError::VideoFormatMismatch {
                path: path.to_path_buf(),
                problem: format!("codec {c} cannot go into a {container} container"),
                expected: if allowed.is_empty() {
                    format!("no codec for .{container} (raw frames)")
                } else {
                    format!(
                        "one of {} for .{container}",
                        names(allowed, VideoCodec::name)
                    )
                },
            }),
        }
    }

    fn check_quality(&self, codec: Option<VideoCodec>) -> Result<(), SinkError> {
        if self.crf.is_some() && self.bitrate_kbps.is_some() {
            return Err(SinkError::invalid(
                "video quality",
                "both crf and bitrate",
                "expected one of crf or bitrate_kbps",
            ));
        }
        let Some(codec) = codec else {
            if self.lossless {
                return Err(SinkError::invalid(
                    "lossless container",
                    "y4m",
                    "expected mkv, mp4 or webm (Y4M holds YUV, not exact RGB)",
                ));
            }
            return Ok(());
        };
        if self.lossless && codec == VideoCodec::Av1 {
            return Err(SinkError::invalid(
                "lossless codec",
                codec,
                "expected h264, vp9 or ffv1 (no lossless AV1 is offered)",
            ));
        }
        let rate_control = self.crf.is_some() || self.bitrate_kbps.is_some();
        if rate_control && (self.lossless || codec == VideoCodec::Ffv1) {
            return Err(SinkError::invalid(
                "video quality",
                "a crf or bitrate with a lossless encoding",
                "expected no crf and no bitrate when lossless (or ffv1)",
            ));
        }
        if let Some(crf) = self.crf.filter(|&c| c > codec.max_crf()) {
            return Err(SinkError::invalid(
                "crf",
                crf,
                format!("expected 0 to {} for {codec}", codec.max_crf()),
            ));
        }
        if self.bitrate_kbps == Some(0) {
            return Err(SinkError::invalid("bitrate_kbps", 0, "expected at least 1"));
        }
        if let Some(p) = &self.preset
            && !codec.presets().contains(&p.as_str())
        {
            let expected = match codec.presets() {
                [] => format!("no preset for {codec}"),
                list => format!("one of {} for {codec}", list.join(", ")),
            };
            return Err(SinkError::invalid("preset", p, expected));
        }
        Ok(())
    }
}

/// `fps` as a fraction with a denominator up to 1001 (best rational approximation).
fn fps_fraction(fps: f64) -> Result<(u32, u32), SinkError> {
    if !(fps.is_finite() && fps > 0.0 && fps <= 1000.0) {
        return Err(SinkError::invalid(
            "fps",
            fps,
            "expected a finite number above 0 and at most 1000",
        ));
    }
    // Continued fraction convergents of fps, the last with a denominator <= 1001.
    let (mut h0, mut h1, mut k0, mut k1) = (0u64, 1u64, 1u64, 0u64);
    let mut x = fps;
    let mut best = (fps.round().max(1.0) as u64, 1u64);
    for _ in 0..32 {
        let a = x.floor();
        let (h2, k2) = (a as u64 * h1 + h0, a as u64 * k1 + k0);
        if k2 > 1001 {
            break;
        }
        best = (h2, k2);
        (h0, h1, k0, k1) = (h1, h2, k1, k2);
        let frac = x - a;
        if frac.abs() < 1e-9 || ((h2 as f64) / (k2 as f64) - fps).abs() < 1e-9 * fps {
            break;
        }
        x = 1.0 / frac;
    }
    if best.0 == 0 {
        return Err(SinkError::invalid(
            "fps",
            fps,
            "expected at least 1/1001 frames per second",
        ));
    }
    Ok((best.0 as u32, best.1 as u32))
}

#[cfg(test)]
mod tests;
