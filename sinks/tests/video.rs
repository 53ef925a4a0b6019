//! The video sink's files are what they claim: ffprobe reports codec, size, pixel format,
//! frame rate, frame count and duration as asked; ffmpeg's decoded frames match the PNG sink's
//! frames for the same counts and colours (PSNR >= 40 dB where 4:2:0 chroma can hold the
//! colours, within 1 dB of the 4:2:0 conversion alone where it cannot, exact in the lossless
//! modes).
//! Needs `ffmpeg` and `ffprobe` (Debian's `ffmpeg` package).

mod common;
mod video_util;

use std::process::{Command, Stdio};

use video_util::{
    COLOURING, Expect, GRAY, assert_stream, counts, decode_rgb, names, png_frames, psnr,
    write_video, yuv420_bound,
};
use zoomstack_sinks::{Colouring, VideoCodec, VideoContainer, VideoOptions};

/// The side of the test clip: the size of the default preview's frames.
const SIDE: usize = 256;

/// 12 kernel-rendered levels of 256 x 256 (levels 0, 50, ..., 550: a smooth zoom).
fn clip() -> ndarray::Array3<u16> {
    counts(SIDE, SIDE, 0, 50, 12)
}

/// Writes `clip()` in `colouring` to `name` with `options`, checks the stream with ffprobe and
/// returns the lowest per-frame PSNR against the PNG sink's frames, and the lowest PSNR of only
/// the 4:2:0 conversion of those frames ([`yuv420_bound`]).
fn round_trip(
    name: &str,
    options: &VideoOptions,
    want: &Expect<'_>,
    colouring: Colouring,
) -> (f64, f64) {
    let dir = tempfile::tempdir().unwrap();
    let frames = clip();
    let reference = png_frames(&dir.path().join("png"), &frames, colouring);
    let path = dir.path().join(name);
    let video = write_video(&path, &frames, colouring, options);
    assert!(!path.exists(), "under its final name only after finish");
    assert_eq!(video.finish().unwrap(), path);
    let mut files = vec![name.to_string(), "png".to_string()];
    files.sort();
    assert_eq!(names(dir.path()), files, "no temporary file left");
    assert_stream(&path, want);
    let decoded = decode_rgb(&path, SIDE, SIDE);
    assert_eq!(decoded.len(), reference.len());
    let db = decoded
        .iter()
        .zip(&reference)
        .map(|(d, r)| psnr(d, r))
        .fold(f64::INFINITY, f64::min);
    (db, yuv420_bound(&reference, SIDE, SIDE))
}

/// A lossy 4:2:0 video at the default quality: in gray (no chroma to subsample) at least
/// 40 dB; in magma, whose colour edges 4:2:0 chroma cannot hold (33.1 dB with no codec at
/// all, [`yuv420_bound`]), within 2 dB of that bound (the codecs measured 1.4 to 1.7 dB).
fn check_lossy(name: &str, options: &VideoOptions, want: &Expect<'_>) {
    let (gray, _) = round_trip(name, options, want, GRAY);
    assert!(gray >= 40.0, "{name} in gray: {gray:.2} dB");
    let (magma, bound) = round_trip(name, options, want, COLOURING);
    eprintln!("{name}: gray {gray:.2} dB, magma {magma:.2} dB (4:2:0 alone: {bound:.2} dB)");
    assert!(
        magma >= bound - 2.0,
        "{name} in magma: {magma:.2} dB, 4:2:0 alone {bound:.2} dB"
    );
}

#[test]
fn mp4_h264_is_yuv420p_at_the_asked_rate_and_matches_the_png_frames() {
    let options = VideoOptions {
        fps: 24.0,
        ..VideoOptions::default()
    };
    let want = Expect {
        codec: "h264",
        size: (SIDE as u64, SIDE as u64),
        pix_fmt: "yuv420p",
        rate: "24/1",
        frames: 12,
        duration: 0.5,
    };
    check_lossy("zoom.mp4", &options, &want);
}

#[test]
fn webm_vp9_at_a_rational_rate_matches_the_png_frames() {
    let options = VideoOptions {
        fps: 30000.0 / 1001.0,
        ..VideoOptions::default()
    };
    let want = Expect {
        codec: "vp9",
        size: (SIDE as u64, SIDE as u64),
        pix_fmt: "yuv420p",
        rate: "30000/1001",
        frames: 12,
        duration: 12.0 * 1001.0 / 30000.0,
    };
    check_lossy("zoom.webm", &options, &want);
}

#[test]
fn av1_in_webm_matches_the_png_frames() {
    let options = VideoOptions {
        codec: Some(VideoCodec::Av1),
        fps: 10.0,
        ..VideoOptions::default()
    };
    let want = Expect {
        codec: "av1",
        size: (SIDE as u64, SIDE as u64),
        pix_fmt: "yuv420p",
        rate: "10/1",
        frames: 12,
        duration: 1.2,
    };
    check_lossy("zoom.webm", &options, &want);
}

#[test]
fn lossless_modes_are_exact() {
    let cases = [
        ("exact.mkv", None, "ffv1", "bgr0"),
        ("exact.mp4", None, "h264", "gbrp"),
        ("exact.webm", None, "vp9", "gbrp"),
        ("exact-h264.mkv", Some(VideoCodec::H264), "h264", "gbrp"),
    ];
    for (name, codec, codec_name, pix_fmt) in cases {
        let options = VideoOptions {
            lossless: true,
            codec,
            ..VideoOptions::default()
        };
        let want = Expect {
            codec: codec_name,
            size: (SIDE as u64, SIDE as u64),
            pix_fmt,
            rate: "30/1",
            frames: 12,
            duration: 0.4,
        };
        let (db, _) = round_trip(name, &options, &want, COLOURING);
        assert!(db.is_infinite(), "{name}: lossless, yet {db:.2} dB");
    }
}

#[test]
fn odd_sizes_are_padded_to_even_and_say_so() {
    let dir = tempfile::tempdir().unwrap();
    let frames = counts(255, 191, 1000, 40, 5);
    let reference = png_frames(&dir.path().join("png"), &frames, GRAY);
    let path = dir.path().join("odd.mp4");
    let video = write_video(&path, &frames, GRAY, &VideoOptions::default());
    assert_eq!(video.padded(), Some((256, 192)));
    video.finish().unwrap();
    let want = Expect {
        codec: "h264",
        size: (256, 192),
        pix_fmt: "yuv420p",
        rate: "30/1",
        frames: 5,
        duration: 5.0 / 30.0,
    };
    assert_stream(&path, &want);
    for (d, r) in decode_rgb(&path, 255, 191).iter().zip(&reference) {
        let db = psnr(d, r);
        assert!(db >= 40.0, "padded H.264: {db:.2} dB");
    }
}

#[test]
fn y4m_holds_raw_444_frames() {
    let options = VideoOptions {
        container: Some(VideoContainer::Y4m),
        fps: 25.0,
        ..VideoOptions::default()
    };
    let want = Expect {
        codec: "rawvideo",
        size: (SIDE as u64, SIDE as u64),
        pix_fmt: "yuv444p",
        rate: "25/1",
        frames: 12,
        duration: 12.0 / 25.0,
    };
    let (db, _) = round_trip("raw.y4m", &options, &want, COLOURING);
    assert!(db >= 40.0, "Y4M 4:4:4: {db:.2} dB");
}

/// `-` writes a fragmented MP4 to standard output: the example writes it into a pipe read
/// by this test, which ffprobe then reads as a stream (`pipe:0`).
#[test]
fn dash_streams_fragmented_mp4_to_stdout() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(common::example("write_video"))
        .args(["-", "96", "64", "0", "100", "8", "fps=8"])
        .stderr(Stdio::piped())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(&out.stdout[4..8], b"ftyp");
    let moof = out.stdout.windows(4).filter(|w| w == b"moof").count();
    assert!(moof >= 1, "fragmented: a moof box per fragment");
    let path = dir.path().join("stdout.mp4");
    std::fs::write(&path, &out.stdout).unwrap();
    let want = Expect {
        codec: "h264",
        size: (96, 64),
        pix_fmt: "yuv420p",
        rate: "8/1",
        frames: 8,
        duration: 1.0,
    };
    assert_stream(&path, &want);
    // A stream reader needs no seeking: ffprobe reads it from a pipe.
    let mut probe = Command::new("ffprobe")
        .args(["-v", "error", "-count_frames", "-select_streams", "v:0"])
        .args([
            "-show_entries",
            "stream=nb_read_frames",
            "-of",
            "csv=p=0",
            "pipe:0",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    std::io::Write::write_all(probe.stdin.as_mut().unwrap(), &out.stdout).unwrap();
    drop(probe.stdin.take());
    let res = probe.wait_with_output().unwrap();
    assert_eq!(String::from_utf8_lossy(&res.stdout).trim(), "8");
}
