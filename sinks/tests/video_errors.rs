//! Bad input to the video sink: clear errors, and no file at the target path (nor a temporary
//! one) afterwards. Needs `ffmpeg` (Debian's `ffmpeg` package).

mod common;
mod video_util;

use std::path::Path;
use std::process::Command;

use video_util::{COLOURING, counts, frame, names, require};
use zoomstack_sinks::{SinkError, VideoCodec, VideoEncoder, VideoOptions, VideoWriter};

fn create(path: &Path, options: &VideoOptions) -> Result<VideoWriter, SinkError> {
    VideoWriter::create(path, 32, 24, COLOURING, options)
}

#[test]
fn bad_formats_and_rates_are_refused_before_anything_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let o = VideoOptions::default();
    let e = create(&dir.path().join("a.avi"), &o).unwrap_err();
    assert!(matches!(e, SinkError::UnknownVideoContainer { .. }), "{e}");
    assert!(e.to_string().contains(".mp4, .webm, .mkv, .y4m"), "{e}");
    let h264 = VideoOptions {
        codec: Some(VideoCodec::H264),
        ..o.clone()
    };
    let e = create(&dir.path().join("a.webm"), &h264).unwrap_err();
    assert!(matches!(e, SinkError::VideoFormatMismatch { .. }), "{e}");
    assert!(
        e.to_string()
            .contains("codec h264 cannot go into a webm container"),
        "{e}"
    );
    for fps in [0.0, -24.0, f64::NAN] {
        let bad = VideoOptions { fps, ..o.clone() };
        let e = create(&dir.path().join("a.mp4"), &bad)
            .unwrap_err()
            .to_string();
        assert!(e.contains("invalid fps"), "{e}");
    }
    let e = "hevc".parse::<VideoCodec>().unwrap_err().to_string();
    assert!(
        e.contains("unknown video codec") && e.contains("h264, vp9, av1, ffv1"),
        "{e}"
    );
    assert!(names(dir.path()).is_empty(), "{:?}", names(dir.path()));
}

#[test]
fn a_frame_of_the_wrong_length_or_shape_is_an_error_and_leaves_no_file() {
    require("ffmpeg");
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("a.mp4");
    let mut enc = VideoEncoder::create(&path, 32, 24, &VideoOptions::default()).unwrap();
    let e = enc.push_rgb(&[0; 32 * 24 * 3 - 1]).unwrap_err().to_string();
    assert!(
        e.contains("video frame data length: 2303") && e.contains("2304 bytes"),
        "{e}"
    );
    enc.push_rgb(&[7; 32 * 24 * 3]).unwrap();
    drop(enc);
    assert!(names(dir.path()).is_empty(), "{:?}", names(dir.path()));

    let mut video = create(&path, &VideoOptions::default()).unwrap();
    let other = counts(32, 20, 0, 1, 1);
    let e = video.add_frame(3, frame(&other, 0)).unwrap_err();
    assert!(matches!(e, SinkError::FrameShape { level: 3, .. }), "{e}");
    let e = video.finish().unwrap_err().to_string();
    assert!(e.contains("expected at least 1 frame"), "{e}");
    assert!(names(dir.path()).is_empty(), "{:?}", names(dir.path()));
}

#[test]
fn an_encoder_dropped_before_finish_leaves_the_old_file() {
    require("ffmpeg");
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("a.webm");
    std::fs::write(&path, b"old").unwrap();
    let mut enc = VideoEncoder::create(&path, 32, 24, &VideoOptions::default()).unwrap();
    for _ in 0..5 {
        enc.push_rgb(&[100; 32 * 24 * 3]).unwrap();
    }
    assert_eq!(
        names(dir.path()).len(),
        2,
        "the temporary file beside the target"
    );
    drop(enc);
    assert_eq!(std::fs::read(&path).unwrap(), b"old");
    assert_eq!(names(dir.path()), vec!["a.webm"]);
}

#[test]
fn a_failing_ffmpeg_reports_its_stderr_and_leaves_no_file() {
    require("ffmpeg");
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("a.mp4");
    let options = VideoOptions {
        extra_args: vec!["-tune".into(), "no-such-tune".into()],
        ..VideoOptions::default()
    };
    let mut enc = VideoEncoder::create(&path, 32, 24, &options).unwrap();
    // ffmpeg opens the encoder at the first frame; it may fail while being fed or at the end.
    let pushed = (0..50).try_for_each(|_| enc.push_rgb(&[9; 32 * 24 * 3]));
    let e = match pushed {
        Err(e) => e,
        Ok(()) => enc.finish().unwrap_err(),
    };
    assert!(matches!(e, SinkError::EncoderFailed { .. }), "{e:?}");
    let msg = e.to_string();
    assert!(
        msg.contains("no-such-tune"),
        "stderr tail in the message: {msg}"
    );
    assert!(msg.contains("a.mp4"), "{msg}");
    assert!(names(dir.path()).is_empty(), "{:?}", names(dir.path()));
}

/// A missing ffmpeg (`ZOOMSTACK_FFMPEG=/nonexistent`, in a child process: the environment of
/// this multi-threaded test process is not changed) says how to install it.
#[test]
fn a_missing_ffmpeg_says_how_to_install_it() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("a.mp4");
    let out = Command::new(common::example("write_video"))
        .arg(&path)
        .args(["32", "24", "0", "1", "2"])
        .env(zoomstack_sinks::FFMPEG_ENV, "/nonexistent/ffmpeg")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("/nonexistent/ffmpeg"), "{err}");
    assert!(err.contains("apt-get install ffmpeg"), "{err}");
    assert!(err.contains("ZOOMSTACK_FFMPEG"), "{err}");
    assert!(names(dir.path()).is_empty(), "{:?}", names(dir.path()));
}

/// An ffmpeg without the codec's encoder: a fake `ffmpeg` whose `-encoders` lists none.
#[test]
fn an_ffmpeg_without_the_encoder_names_it() {
    let dir = tempfile::tempdir().unwrap();
    let fake = dir.path().join("ffmpeg");
    std::fs::write(&fake, "#!/bin/sh\necho ' V....D libx264  libx264 H.264'\n").unwrap();
    let mut perm = std::fs::metadata(&fake).unwrap().permissions();
    std::os::unix::fs::PermissionsExt::set_mode(&mut perm, 0o755);
    std::fs::set_permissions(&fake, perm).unwrap();
    let path = dir.path().join("a.webm");
    let out = Command::new(common::example("write_video"))
        .arg(&path)
        .args(["32", "24", "0", "1", "2"])
        .env(zoomstack_sinks::FFMPEG_ENV, &fake)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("no libvpx-vp9 encoder"), "{err}");
    assert!(!path.exists());
}
