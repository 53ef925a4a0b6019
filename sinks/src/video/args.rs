//! The ffmpeg command line for a [`VideoFormat`]: rawvideo RGB on standard input, the codec's
//! options, the container's muxer.

use std::ffi::{OsStr, OsString};

use super::{VideoCodec, VideoContainer, VideoFormat, VideoOptions};

/// The ffmpeg encoder that writes `codec` (`None`: raw frames, no encoder to look for).
pub(super) fn encoder_name(codec: Option<VideoCodec>, lossless: bool) -> Option<&'static str> {
    Some(match codec? {
        VideoCodec::H264 if lossless => "libx264rgb",
        VideoCodec::H264 => "libx264",
        VideoCodec::Vp9 => "libvpx-vp9",
        VideoCodec::Av1 => "libsvtav1",
        VideoCodec::Ffv1 => "ffv1",
    })
}

/// Colour tags of the BT.709 limited-range YUV the RGB frames are converted to, so players
/// (browsers) convert back with the same matrix.
const BT709_TAGS: [&str; 8] = [
    "-colorspace",
    "bt709",
    "-color_primaries",
    "bt709",
    "-color_trc",
    "bt709",
    "-color_range",
    "tv",
];

/// The arguments after the program name. `output` is the file to write (`file:`-prefixed
/// here, so no name is taken for a protocol) or `None` for standard output.
pub(super) fn ffmpeg_args(
    format: &VideoFormat,
    options: &VideoOptions,
    output: Option<&OsStr>,
) -> Vec<OsString> {
    let (w, h) = format.size;
    let rate = format!("{}/{}", format.fps.0, format.fps.1);
    let mut a: Vec<String> = [
        "-hide_banner",
        "-nostats",
        "-loglevel",
        "error",
        "-f",
        "rawvideo",
        "-pix_fmt",
        "rgb24",
        "-video_size",
    ]
    .map(String::from)
    .to_vec();
    a.extend([format!("{w}x{h}"), "-framerate".into(), rate, "-i".into()]);
    a.push("pipe:0".into());

    let yuv = match (format.codec, options.lossless) {
        (None, _) => Some("yuv444p"),
        (Some(VideoCodec::Ffv1), _) | (Some(_), true) => None,
        (Some(_), false) => Some("yuv420p"),
    };
    if let Some(pix) = yuv {
        let pad = format
            .padded
            .map(|(pw, ph)| format!("pad={pw}:{ph}:0:0:black,"))
            .unwrap_or_default();
        let vf = format!("{pad}scale=out_color_matrix=bt709:out_range=tv,format={pix}");
        a.extend(["-vf".into(), vf, "-pix_fmt".into(), pix.into()]);
        a.extend(BT709_TAGS.map(String::from));
    }
    a.extend(codec_args(format.codec, options));
    a.extend(options.extra_args.iter().cloned());

    let muxer = match format.container {
        VideoContainer::Mp4 => "mp4",
        VideoContainer::Webm => "webm",
        VideoContainer::Mkv => "matroska",
        VideoContainer::Y4m => "yuv4mpegpipe",
    };
    a.extend(["-f".into(), muxer.into()]);
    if format.container == VideoContainer::Mp4 {
        let flags = if output.is_some() {
            "+faststart"
        } else {
            "frag_keyframe+empty_moov+default_base_moof"
        };
        a.extend(["-movflags".into(), flags.into()]);
    }
    let mut args: Vec<OsString> = a.into_iter().map(OsString::from).collect();
    args.push("-y".into());
    match output {
        Some(path) => {
            let mut o = OsString::from("file:");
            o.push(path);
            args.push(o);
        }
        None => args.push("pipe:1".into()),
    }
    args
}

/// `-c:v ...` and the codec's quality and speed options.
fn codec_args(codec: Option<VideoCodec>, o: &VideoOptions) -> Vec<String> {
    let Some(codec) = codec else {
        return Vec::new();
    };
    let mut a = vec![
        "-c:v".to_string(),
        encoder_name(Some(codec), o.lossless)
            .unwrap_or_default()
            .to_string(),
    ];
    let preset = o
        .preset
        .clone()
        .or_else(|| codec.default_preset().map(String::from));
    let crf = o.crf.or(codec.default_crf()).unwrap_or(0).to_string();
    let bitrate = o.bitrate_kbps.map(|b| format!("{b}k"));
    let mut push = |k: &str, v: &str| a.extend([k.to_string(), v.to_string()]);
    match codec {
        VideoCodec::H264 => {
            if let Some(p) = &preset {
                push("-preset", p);
            }
            if o.lossless {
                push("-qp", "0");
                push("-pix_fmt", "rgb24");
            } else if let Some(b) = &bitrate {
                push("-b:v", b);
            } else {
                push("-crf", &crf);
            }
        }
        VideoCodec::Vp9 => {
            push("-deadline", "good");
            if let Some(p) = &preset {
                push("-cpu-used", p);
            }
            push("-row-mt", "1");
            if o.lossless {
                push("-lossless", "1");
                push("-pix_fmt", "gbrp");
            } else if let Some(b) = &bitrate {
                push("-b:v", b);
            } else {
                push("-crf", &crf);
                push("-b:v", "0");
            }
        }
        VideoCodec::Av1 => {
            if let Some(p) = &preset {
                push("-preset", p);
            }
            if let Some(b) = &bitrate {
                push("-b:v", b);
            } else {
                push("-crf", &crf);
            }
        }
        VideoCodec::Ffv1 => {
            push("-level", "3");
            push("-pix_fmt", "bgr0");
        }
    }
    a
}
