//! `zoomstack render --video`: the file is what ffprobe says it is, its decoded frames match the
//! PNG sink's frames for the same levels and colours, `-` streams a fragmented MP4, fractional
//! frames are the scales of their levels, and bad input leaves nothing behind. Needs ffmpeg and
//! ffprobe (the test command installs them).

mod common;

use std::path::Path;
use std::process::{Command, Stdio};

use common::*;

fn ffprobe(path: &Path) -> serde_json::Value {
    let out = Command::new("ffprobe")
        .args([
            "-v",
            "error",
            "-count_frames",
            "-show_streams",
            "-show_format",
        ])
        .args(["-of", "json"])
        .arg(path)
        .output()
        .expect("ffprobe must be installed (the test command installs ffmpeg)");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// The video's frames as RGB24, decoded by ffmpeg.
fn decode(path: &Path, w: usize, h: usize) -> Vec<Vec<u8>> {
    let out = Command::new("ffmpeg")
        .args(["-v", "error", "-i"])
        .arg(path)
        .args(["-f", "rawvideo", "-pix_fmt", "rgb24", "-"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout.chunks(w * h * 3).map(<[u8]>::to_vec).collect()
}

/// A PNG file's pixels as RGB24.
fn png_rgb(path: &Path) -> Vec<u8> {
    let dec = png::Decoder::new(std::io::BufReader::new(std::fs::File::open(path).unwrap()));
    let mut r = dec.read_info().unwrap();
    let mut buf = vec![0; r.output_buffer_size().unwrap()];
    let info = r.next_frame(&mut buf).unwrap();
    buf.truncate(info.buffer_size());
    match info.color_type {
        png::ColorType::Rgb => buf,
        png::ColorType::Grayscale => buf.iter().flat_map(|&g| [g, g, g]).collect(),
        other => panic!("unexpected PNG colour type {other:?}"),
    }
}

fn psnr(a: &[u8], b: &[u8]) -> f64 {
    assert_eq!(a.len(), b.len());
    let mse: f64 = a
        .iter()
        .zip(b)
        .map(|(&x, &y)| (f64::from(x) - f64::from(y)).powi(2))
        .sum::<f64>()
        / a.len() as f64;
    if mse == 0.0 {
        f64::INFINITY
    } else {
        10.0 * (255.0f64 * 255.0 / mse).log10()
    }
}

const STACK: &[&str] = &["--height", "96", "--width", "128"];

#[test]
fn mp4_frames_match_the_png_frames_of_the_same_levels_and_colours() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // Gray: 4:2:0 chroma loses nothing, so PSNR measures the codec (a colourful map is capped
    // near 33 dB by the chroma subsampling alone; sinks/tests/video.rs measures that bound).
    let colours = ["--colormap", "gray", "--colour", "smooth", "--cycle", "40"];
    let out = zoomstack(d)
        .args(["render", "--levels", "0:6000:1000"])
        .args(STACK)
        .args(colours)
        .args([
            "--png", "frames", "--video", "zoom.mp4", "--fps", "12", "--crf", "10",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let probe = ffprobe(&d.join("zoom.mp4"));
    let s = &probe["streams"][0];
    assert_eq!(s["codec_name"], "h264");
    assert_eq!(s["pix_fmt"], "yuv420p");
    assert_eq!(
        (s["width"].as_u64(), s["height"].as_u64()),
        (Some(128), Some(96))
    );
    assert_eq!(s["r_frame_rate"], "12/1");
    assert_eq!(s["nb_read_frames"], "6");
    let duration: f64 = probe["format"]["duration"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((duration - 0.5).abs() < 0.05, "duration {duration}");
    let frames = decode(&d.join("zoom.mp4"), 128, 96);
    assert_eq!(frames.len(), 6);
    for (k, f) in frames.iter().enumerate() {
        let png = png_rgb(&d.join(format!("frames/level-{:06}.png", k * 1000)));
        let p = psnr(f, &png);
        assert!(p >= 40.0, "frame {k}: PSNR {p:.1} dB");
    }
}

#[test]
fn fractional_frames_are_the_levels_they_name_and_integer_ones_the_stack_levels() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // 5 frames over levels 3000..=3004 (t = 3000, 3001, ...): lossless, so exactly the PNGs.
    let out = zoomstack(d)
        .args([
            "render",
            "--levels",
            "3000:3005",
            "--duration",
            "0.5",
            "--fps",
            "10",
        ])
        .args(STACK)
        .args(["--colormap", "viridis", "--colour", "counts"])
        .args(["--video", "zoom.mkv", "--codec", "ffv1", "--png", "frames"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let probe = ffprobe(&d.join("zoom.mkv"));
    assert_eq!(probe["streams"][0]["codec_name"], "ffv1");
    let frames = decode(&d.join("zoom.mkv"), 128, 96);
    assert_eq!(frames.len(), 5);
    let png = zoomstack(d)
        .args(["render", "--levels", "3000:3005"])
        .args(STACK)
        .args(["--colormap", "viridis", "--png", "levels"])
        .output()
        .unwrap();
    assert!(png.status.success());
    for (k, f) in frames.iter().enumerate() {
        let want = png_rgb(&d.join(format!("levels/level-{:06}.png", 3000 + k)));
        assert!(
            f == &want,
            "frame {k} (t = {}) differs from level {}",
            3000 + k,
            3000 + k
        );
    }
}

#[test]
fn dash_streams_a_fragmented_mp4_to_stdout() {
    let dir = tempfile::tempdir().unwrap();
    let child = zoomstack(dir.path())
        .args(["render", "--levels", "0:4"])
        .args(STACK)
        .args(["--video", "-"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .output()
        .unwrap();
    assert!(
        child.status.success(),
        "{}",
        String::from_utf8_lossy(&child.stderr)
    );
    let path = dir.path().join("piped.mp4");
    std::fs::write(&path, &child.stdout).unwrap();
    let probe = ffprobe(&path);
    assert_eq!(probe["streams"][0]["codec_name"], "h264");
    assert_eq!(probe["streams"][0]["nb_read_frames"], "4");
    assert!(
        child.stdout.windows(4).any(|w| w == b"moof"),
        "fragmented MP4 (moof boxes)"
    );
}

#[test]
fn bad_video_input_is_refused_before_anything_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    for (args, want) in [
        (vec!["--video", "z.avi"], "avi"),
        (vec!["--video", "z.mp4", "--fps", "0"], "fps"),
        (vec!["--video", "z.mp4", "--duration", "-1"], "duration"),
        (
            vec!["--video", "z.mp4", "--codec", "vp9", "--colour", "bands"],
            "colour",
        ),
        (vec!["--video", "z.webm", "--codec", "h264"], "h264"),
        (
            vec!["--video", "z.mp4", "--duration", "2", "--levels", "0:100:5"],
            "without a step",
        ),
    ] {
        let levels: &[&str] = if args.contains(&"--levels") {
            &[]
        } else {
            &["--levels", "0:4"]
        };
        let out = zoomstack(d)
            .arg("render")
            .args(levels)
            .args(STACK)
            .args(&args)
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains(want), "{args:?}: {err}");
        assert!(!err.contains("panicked"), "{err}");
    }
    // A missing ffmpeg stops the run before rendering, with how to get it.
    let out = zoomstack(d)
        .env("ZOOMSTACK_FFMPEG", "/nonexistent/ffmpeg")
        .args(["render", "--levels", "0:4"])
        .args(STACK)
        .args(["--video", "z.mp4", "--png", "frames"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_ne!(out.status.code(), Some(0), "{err}");
    assert!(err.contains("apt-get install ffmpeg"), "{err}");
    let left: Vec<_> = std::fs::read_dir(d).unwrap().collect();
    assert!(left.is_empty(), "nothing written: {left:?}");
}

#[test]
fn describe_plans_a_1080p_film_under_the_guard_as_float32_frames() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let out = zoomstack(d)
        .args(["render", "--height", "1080", "--width", "1920"])
        .args(["--video", "film.mp4", "--fps", "60", "--duration", "60"])
        .args(["--colormap", "twilight", "--describe"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Smooth frames are float32 values; the MP4 is estimated from its CRF (one bit a pixel),
    // far below the 20.9 GiB of its raw RGB frames, so the default guard lets it through.
    assert!(text.contains("| Type   | float32 "), "{text}");
    assert!(text.contains("| Bytes  | 27.81 GiB "), "{text}");
    assert!(
        text.contains("Writes: 1 files, at most 890.12 MiB"),
        "{text}"
    );
    assert!(!text.contains("Above the guard"), "{text}");
    assert!(!d.join("film.mp4").exists());
}
