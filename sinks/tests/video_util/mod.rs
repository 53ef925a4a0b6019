//! Helpers of the video tests: kernel-rendered count frames, the PNG sink's colours for them,
//! and ffprobe/ffmpeg to read videos back. They need `ffmpeg` and `ffprobe` (Debian's `ffmpeg`
//! package; `scripts/test-all.sh` installs it) and fail, not skip, without them.

#![allow(dead_code)] // each test file uses a part

use std::path::Path;
use std::process::{Command, Stdio};

use ndarray::{Array3, ArrayView2, Axis};
use zoomstack_kernel::{Backend, IndexRange, StackParams, render_block};
use zoomstack_sinks::{
    Colormap, Colouring, FrameSink, PngFrameOptions, PngFrameWriter, PngKind, Scaling,
    VideoOptions, VideoWriter,
};

/// The colour settings of the test videos and their PNG references: matplotlib's `magma`.
pub(crate) const COLOURING: Colouring = Colouring::Counts {
    colormap: Colormap::Magma,
    scaling: Scaling::Fixed { max: 256 },
};

/// The same frames in gray: no chroma, so 4:2:0 subsampling loses nothing and what is lost is
/// the codec's.
pub(crate) const GRAY: Colouring = Colouring::Counts {
    colormap: Colormap::Gray,
    scaling: Scaling::Fixed { max: 256 },
};

/// Runs `tool -version`, failing the test with how to install it when it is missing.
pub(crate) fn require(tool: &str) {
    let ok = Command::new(tool)
        .arg("-version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    assert!(
        ok,
        "`{tool}` is needed by the video tests and was not found: install it with \
         `apt-get install ffmpeg` (scripts/test-all.sh does)"
    );
}

/// `count` notebook levels (`first`, `first + step`, ...) of `width x height`, rendered by the
/// kernel: (level, y, x) counts.
pub(crate) fn counts(
    width: usize,
    height: usize,
    first: u64,
    step: u64,
    count: usize,
) -> Array3<u16> {
    let params = StackParams {
        width,
        height,
        ..StackParams::default()
    };
    let mut out = Array3::zeros((count, height, width));
    for (k, mut frame) in out.outer_iter_mut().enumerate() {
        let level = first + k as u64 * step;
        let (rows, cols) = (
            IndexRange::full(height as u64),
            IndexRange::full(width as u64),
        );
        let buf = frame.as_slice_mut().unwrap();
        render_block(&params, level, rows, cols, Backend::Scalar, buf).unwrap();
    }
    out
}

/// Writes `frames` as a video with [`VideoWriter`] (levels 0, 1, ...).
pub(crate) fn write_video(
    path: &Path,
    frames: &Array3<u16>,
    colouring: Colouring,
    options: &VideoOptions,
) -> VideoWriter {
    let (_, h, w) = frames.dim();
    let mut video = VideoWriter::create(path, w, h, colouring, options).unwrap();
    for (k, f) in frames.outer_iter().enumerate() {
        video.add_frame(k as u64, f).unwrap();
    }
    video
}

/// The RGB frames the PNG preview sink writes for `frames` with `colouring` (written to `dir`
/// and decoded; gray PNGs expanded to RGB).
pub(crate) fn png_frames(dir: &Path, frames: &Array3<u16>, colouring: Colouring) -> Vec<Vec<u8>> {
    let levels = frames.len_of(Axis(0)) as u64;
    let Colouring::Counts { colormap, scaling } = colouring else {
        panic!("count frames need a colouring from counts");
    };
    let mut options = PngFrameOptions::preview(levels, 256, colormap);
    options.kind = PngKind::Preview { colormap, scaling };
    let mut sink: Box<dyn FrameSink> = Box::new(PngFrameWriter::new(dir, options).unwrap());
    for (k, f) in frames.outer_iter().enumerate() {
        sink.write_frame(k as u64, f).unwrap();
    }
    sink.finish()
        .unwrap()
        .iter()
        .map(|p| {
            let dec = png::Decoder::new(std::io::BufReader::new(std::fs::File::open(p).unwrap()));
            let mut reader = dec.read_info().unwrap();
            let mut buf = vec![0; reader.output_buffer_size().unwrap()];
            let info = reader.next_frame(&mut buf).unwrap();
            buf.truncate(info.buffer_size());
            match info.color_type {
                png::ColorType::Rgb => buf,
                png::ColorType::Grayscale => buf.iter().flat_map(|&v| [v, v, v]).collect(),
                other => panic!("unexpected PNG colour type {other:?}"),
            }
        })
        .collect()
}

/// ffprobe's view of the first video stream, frames counted (`-count_frames`).
pub(crate) fn probe(path: &Path) -> serde_json::Value {
    require("ffprobe");
    let out = Command::new("ffprobe")
        .args(["-v", "error", "-select_streams", "v:0", "-count_frames"])
        .args(["-show_streams", "-show_format", "-of", "json"])
        .arg(path)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "ffprobe {}: {}",
        path.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// What a test asks of a video stream.
pub(crate) struct Expect<'a> {
    /// ffprobe's `codec_name`.
    pub(crate) codec: &'a str,
    /// Encoded size.
    pub(crate) size: (u64, u64),
    /// ffprobe's `pix_fmt`.
    pub(crate) pix_fmt: &'a str,
    /// ffprobe's `r_frame_rate`.
    pub(crate) rate: &'a str,
    /// Frames decoded.
    pub(crate) frames: u64,
    /// Seconds (frames / fps), within one frame's duration.
    pub(crate) duration: f64,
}

/// Checks codec, size, pixel format, frame rate, frame count and duration with ffprobe.
pub(crate) fn assert_stream(path: &Path, want: &Expect<'_>) {
    let info = probe(path);
    let s = &info["streams"][0];
    let field = |k: &str| s[k].as_str().map_or_else(|| s[k].to_string(), String::from);
    assert_eq!(field("codec_name"), want.codec, "{s}");
    assert_eq!(
        (s["width"].as_u64().unwrap(), s["height"].as_u64().unwrap()),
        want.size,
        "{s}"
    );
    assert_eq!(field("pix_fmt"), want.pix_fmt, "{s}");
    assert_eq!(field("r_frame_rate"), want.rate, "{s}");
    assert_eq!(field("nb_read_frames"), want.frames.to_string(), "{s}");
    // WebM/MKV streams carry no duration of their own: the container's.
    let duration = s["duration"]
        .as_str()
        .or(info["format"]["duration"].as_str())
        .unwrap()
        .parse::<f64>()
        .unwrap();
    let (n, d) = want.rate.split_once('/').unwrap();
    let frame = d.parse::<f64>().unwrap() / n.parse::<f64>().unwrap();
    assert!(
        (duration - want.duration).abs() <= frame * 1.01,
        "duration {duration} s, expected {} s: {info}",
        want.duration
    );
}

/// The video's frames decoded by ffmpeg to RGB, cropped to `width x height` (the top left of
/// a padded frame; ffmpeg's `crop` would round odd sizes of 4:2:0 video down to even).
pub(crate) fn decode_rgb(path: &Path, width: usize, height: usize) -> Vec<Vec<u8>> {
    require("ffmpeg");
    let s = &probe(path)["streams"][0];
    let coded = s["width"].as_u64().unwrap() as usize;
    let rows = s["height"].as_u64().unwrap() as usize;
    let out = Command::new("ffmpeg")
        .args(["-v", "error", "-i"])
        .arg(path)
        .args(["-f", "rawvideo", "-pix_fmt", "rgb24", "pipe:1"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(out.stdout.len() % (coded * rows * 3), 0);
    out.stdout
        .chunks(coded * rows * 3)
        .map(|f| {
            f.chunks(coded * 3)
                .take(height)
                .flat_map(|row| &row[..width * 3])
                .copied()
                .collect()
        })
        .collect()
}

/// The lowest PSNR over `frames` (RGB, `width x height`) of only the 4:2:0 conversion the
/// sink asks ffmpeg for (BT.709 limited range, there and back, no codec): the best any 4:2:0
/// video of them can do.
pub(crate) fn yuv420_bound(frames: &[Vec<u8>], width: usize, height: usize) -> f64 {
    require("ffmpeg");
    let mut child = Command::new("ffmpeg")
        .args(["-v", "error", "-f", "rawvideo", "-pix_fmt", "rgb24"])
        .args(["-video_size", &format!("{width}x{height}"), "-i", "pipe:0"])
        .args([
            "-vf",
            "scale=out_color_matrix=bt709:out_range=tv,format=yuv420p",
        ])
        .args(["-f", "rawvideo", "-pix_fmt", "yuv420p", "pipe:1"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let all = frames.concat();
    let feeder = std::thread::spawn(move || std::io::Write::write_all(&mut stdin, &all));
    let yuv = child.wait_with_output().unwrap().stdout;
    feeder.join().unwrap().unwrap();
    let mut back = Command::new("ffmpeg")
        .args(["-v", "error", "-f", "rawvideo", "-pix_fmt", "yuv420p"])
        .args(["-video_size", &format!("{width}x{height}")])
        .args(["-color_range", "tv", "-colorspace", "bt709", "-i", "pipe:0"])
        .args(["-f", "rawvideo", "-pix_fmt", "rgb24", "pipe:1"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = back.stdin.take().unwrap();
    let feeder = std::thread::spawn(move || std::io::Write::write_all(&mut stdin, &yuv));
    let rgb = back.wait_with_output().unwrap().stdout;
    feeder.join().unwrap().unwrap();
    assert_eq!(rgb.len(), frames.len() * width * height * 3);
    rgb.chunks(width * height * 3)
        .zip(frames)
        .map(|(a, b)| psnr(a, b))
        .fold(f64::INFINITY, f64::min)
}

/// PSNR in dB of `a` against `b` (8-bit samples); infinite when equal.
pub(crate) fn psnr(a: &[u8], b: &[u8]) -> f64 {
    assert_eq!(a.len(), b.len());
    let se: f64 = a
        .iter()
        .zip(b)
        .map(|(&x, &y)| (f64::from(x) - f64::from(y)).powi(2))
        .sum();
    let mse = se / a.len() as f64;
    10.0 * (255.0f64 * 255.0 / mse).log10()
}

/// One frame of `frames` as a view (for the frame-shape tests).
pub(crate) fn frame(frames: &Array3<u16>, k: usize) -> ArrayView2<'_, u16> {
    frames.index_axis(Axis(0), k)
}

/// The names in `dir` (to see that nothing, not even a temporary file, was left).
pub(crate) fn names(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}
