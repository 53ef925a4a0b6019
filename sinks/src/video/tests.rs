use std::path::Path;

use super::*;

fn check(path: &str, o: &VideoOptions) -> Result<VideoFormat, SinkError> {
    o.check(Path::new(path), 64, 48)
}

#[test]
fn containers_and_default_codecs_follow_the_extension() {
    let o = VideoOptions::default();
    let f = check("a.mp4", &o).unwrap();
    assert_eq!(
        (f.container, f.codec),
        (VideoContainer::Mp4, Some(VideoCodec::H264))
    );
    let f = check("a.WebM", &o).unwrap();
    assert_eq!(
        (f.container, f.codec),
        (VideoContainer::Webm, Some(VideoCodec::Vp9))
    );
    let f = check("a.y4m", &o).unwrap();
    assert_eq!((f.container, f.codec), (VideoContainer::Y4m, None));
    let f = check("-", &o).unwrap();
    assert!(f.stdout);
    assert_eq!(f.container, VideoContainer::Mp4);
    let lossless = VideoOptions {
        lossless: true,
        ..o.clone()
    };
    assert_eq!(
        check("a.mkv", &lossless).unwrap().codec,
        Some(VideoCodec::Ffv1)
    );
    let webm = VideoOptions {
        container: Some(VideoContainer::Webm),
        ..o
    };
    assert_eq!(check("-", &webm).unwrap().container, VideoContainer::Webm);
    assert_eq!(
        check("clip.bin", &webm).unwrap().container,
        VideoContainer::Webm
    );
}

#[test]
fn bad_formats_name_the_choices() {
    let o = VideoOptions::default();
    let e = check("a.avi", &o).unwrap_err().to_string();
    assert!(
        e.contains("\".avi\"") && e.contains(".mp4, .webm, .mkv, .y4m"),
        "{e}"
    );
    let e = check("noext", &o).unwrap_err();
    assert!(matches!(e, SinkError::UnknownVideoContainer { .. }), "{e}");
    let h264_webm = VideoOptions {
        codec: Some(VideoCodec::H264),
        ..o.clone()
    };
    let e = check("a.webm", &h264_webm).unwrap_err().to_string();
    assert!(
        e.contains("codec h264 cannot go into a webm container"),
        "{e}"
    );
    assert!(e.contains("one of vp9, av1 for .webm"), "{e}");
    let e = check("a.y4m", &h264_webm).unwrap_err().to_string();
    assert!(e.contains("raw frames"), "{e}");
    let contradict = VideoOptions {
        container: Some(VideoContainer::Webm),
        ..o
    };
    let e = check("a.mp4", &contradict).unwrap_err().to_string();
    assert!(e.contains("contradicts the extension .mp4"), "{e}");
    let e = "h265".parse::<VideoCodec>().unwrap_err().to_string();
    assert!(e.contains("h264, vp9, av1, ffv1"), "{e}");
    assert_eq!("AVC".parse::<VideoCodec>().unwrap(), VideoCodec::H264);
    assert_eq!(
        ".webm".parse::<VideoContainer>().unwrap(),
        VideoContainer::Webm
    );
    assert!("avi".parse::<VideoContainer>().is_err());
}

#[test]
fn fps_must_be_positive_and_finite() {
    for fps in [0.0, -1.0, f64::NAN, f64::INFINITY, 1000.5] {
        let o = VideoOptions {
            fps,
            ..VideoOptions::default()
        };
        let e = check("a.mp4", &o).unwrap_err().to_string();
        assert!(e.contains("invalid fps") && e.contains("above 0"), "{e}");
    }
    assert_eq!(fps_fraction(30.0).unwrap(), (30, 1));
    assert_eq!(fps_fraction(30000.0 / 1001.0).unwrap(), (30000, 1001));
    assert_eq!(fps_fraction(12.5).unwrap(), (25, 2));
    assert_eq!(fps_fraction(0.5).unwrap(), (1, 2));
    assert!(fps_fraction(1e-6).is_err());
}

#[test]
fn quality_and_presets_are_checked() {
    let o = VideoOptions::default();
    let both = VideoOptions {
        crf: Some(20),
        bitrate_kbps: Some(900),
        ..o.clone()
    };
    assert!(
        check("a.mp4", &both)
            .unwrap_err()
            .to_string()
            .contains("crf or bitrate")
    );
    let crf = VideoOptions {
        crf: Some(52),
        ..o.clone()
    };
    assert!(
        check("a.mp4", &crf)
            .unwrap_err()
            .to_string()
            .contains("0 to 51 for h264")
    );
    assert!(check("a.webm", &crf).is_ok());
    let preset = VideoOptions {
        preset: Some("quick".into()),
        ..o.clone()
    };
    let e = check("a.mp4", &preset).unwrap_err().to_string();
    assert!(
        e.contains("invalid preset: quick") && e.contains("veryfast"),
        "{e}"
    );
    let av1 = VideoOptions {
        codec: Some(VideoCodec::Av1),
        lossless: true,
        ..o.clone()
    };
    assert!(
        check("a.webm", &av1)
            .unwrap_err()
            .to_string()
            .contains("no lossless AV1")
    );
    let lossless_crf = VideoOptions {
        crf: Some(0),
        lossless: true,
        ..o.clone()
    };
    assert!(check("a.mp4", &lossless_crf).is_err());
    let y4m = VideoOptions {
        lossless: true,
        ..o
    };
    assert!(
        check("a.y4m", &y4m)
            .unwrap_err()
            .to_string()
            .contains("Y4M holds YUV")
    );
}

#[test]
fn odd_sizes_are_padded_for_420_only() {
    let o = VideoOptions::default();
    let f = o.check(Path::new("a.mp4"), 63, 47).unwrap();
    assert_eq!(f.padded, Some((64, 48)));
    let args: Vec<String> = f
        .ffmpeg_args(&o)
        .into_iter()
        .map(|a| a.into_string().unwrap())
        .collect();
    assert!(
        args.iter().any(|a| a.starts_with("pad=64:48:0:0:black,")),
        "{args:?}"
    );
    assert_eq!(o.check(Path::new("a.mp4"), 64, 48).unwrap().padded, None);
    let lossless = VideoOptions {
        lossless: true,
        ..o.clone()
    };
    assert_eq!(
        lossless.check(Path::new("a.mkv"), 63, 47).unwrap().padded,
        None
    );
    assert_eq!(o.check(Path::new("a.y4m"), 63, 47).unwrap().padded, None);
    let av1 = VideoOptions {
        codec: Some(VideoCodec::Av1),
        ..o.clone()
    };
    let e = av1
        .check(Path::new("a.webm"), 63, 64)
        .unwrap_err()
        .to_string();
    assert!(e.contains("at least 64 x 64 for AV1"), "{e}");
    let e = o.check(Path::new("a.mp4"), 0, 47).unwrap_err().to_string();
    assert!(e.contains("width 0"), "{e}");
}

#[test]
fn command_lines() {
    let o = VideoOptions::default();
    let f = check("a.mp4", &o).unwrap();
    let args: Vec<String> = f
        .ffmpeg_args(&o)
        .into_iter()
        .map(|a| a.into_string().unwrap())
        .collect();
    let line = args.join(" ");
    assert!(
        line.contains("-f rawvideo -pix_fmt rgb24 -video_size 64x48 -framerate 30/1 -i pipe:0"),
        "{line}"
    );
    assert!(
        line.contains("-c:v libx264 -preset medium -crf 18"),
        "{line}"
    );
    assert!(
        line.contains("-f mp4 -movflags +faststart -y file:OUTPUT"),
        "{line}"
    );
    let f = check("-", &o).unwrap();
    let line = f
        .ffmpeg_args(&o)
        .join(std::ffi::OsStr::new(" "))
        .into_string()
        .unwrap();
    assert!(
        line.ends_with("-movflags frag_keyframe+empty_moov+default_base_moof -y pipe:1"),
        "{line}"
    );
    let vp9 = VideoOptions {
        bitrate_kbps: Some(800),
        ..o
    };
    let f = check("a.webm", &vp9).unwrap();
    let line = f
        .ffmpeg_args(&vp9)
        .join(std::ffi::OsStr::new(" "))
        .into_string()
        .unwrap();
    assert!(
        line.contains("-c:v libvpx-vp9 -deadline good -cpu-used 5 -row-mt 1 -b:v 800k -f webm"),
        "{line}"
    );
}

#[test]
fn size_estimates_follow_the_quality_setting() {
    let o = VideoOptions {
        fps: 60.0,
        ..VideoOptions::default()
    };
    let at = |path: &str, o: &VideoOptions| o.check(Path::new(path), 1920, 1080).unwrap();
    let frames = 3600;
    let raw = frames * 1920 * 1080 * 3;
    // Y4M (4:4:4) and lossless codecs: the raw frames.
    assert_eq!(at("a.y4m", &o).estimated_bytes(&o, frames), raw);
    let lossless = VideoOptions {
        lossless: true,
        ..o.clone()
    };
    assert_eq!(
        at("a.mkv", &lossless).estimated_bytes(&lossless, frames),
        raw
    );
    // H.264 at its default CRF 18: one bit a pixel (the README film wrote 0.35), far below raw.
    let h264 = at("a.mp4", &o).estimated_bytes(&o, frames);
    let pixels = frames * 1920 * 1080;
    assert!(
        h264 >= pixels / 8 && h264 < pixels / 8 + (1 << 20),
        "{h264}"
    );
    // Six CRF steps finer doubles it; a bitrate gives bitrate x duration plus 25%.
    let finer = VideoOptions {
        crf: Some(12),
        ..o.clone()
    };
    let f = at("a.mp4", &finer).estimated_bytes(&finer, frames);
    assert!(f.abs_diff(2 * h264) < 1 << 20, "{f} vs {h264}");
    let rate = VideoOptions {
        bitrate_kbps: Some(8000),
        ..o.clone()
    };
    let r = at("a.mp4", &rate).estimated_bytes(&rate, frames);
    let expected = 8_000_000 / 8 * 60 * 5 / 4;
    assert!(r.abs_diff(expected) < 1 << 20, "{r} vs {expected}");
    // Never above raw (plus container slack), even at CRF 0.
    let best = VideoOptions { crf: Some(0), ..o };
    assert!(at("a.mp4", &best).estimated_bytes(&best, frames) <= raw + (1 << 20));
}
