//! Renders levels of the notebook's stack with the kernel and writes them as a video through
//! [`VideoWriter`]: the child process of the video tests (`-` writes to standard output), the
//! source of the browser check and of the encoder measurement in `sinks/README.md`.
//!
//! ```text
//! cargo run -p zoomstack-sinks --example write_video -- OUT WIDTH HEIGHT FIRST STEP COUNT [KEY=VALUE ...]
//! ```
//!
//! Keys: `fps`, `codec`, `container`, `crf`, `bitrate_kbps`, `preset`, `lossless` (`true`),
//! `colormap` (default `magma`), `max_iter` (scaling maximum and iteration limit, default 256),
//! `png=DIR` (the same frames also as PNG previews, one frame stream fanned out to both sinks).
//! Prints the padded size to standard error when the frame size is odd.

use std::process::ExitCode;

use ndarray::ArrayView2;
use zoomstack_kernel::{Backend, IndexRange, StackParams, render_block};
use zoomstack_sinks::{
    Colormap, Colouring, FrameSink, PngFrameOptions, PngFrameWriter, Scaling, VideoOptions,
    VideoWriter,
};

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("write_video: {e}");
            ExitCode::from(2)
        }
    }
}

fn run() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [out, width, height, first, step, count, keys @ ..] = &args[..] else {
        return Err("usage: write_video OUT WIDTH HEIGHT FIRST STEP COUNT [KEY=VALUE ...]".into());
    };
    let (width, height): (usize, usize) = (width.parse()?, height.parse()?);
    let (first, step, count): (u64, u64, u64) = (first.parse()?, step.parse()?, count.parse()?);
    let mut options = VideoOptions::default();
    let mut colormap = Colormap::Magma;
    let mut max_iter = 256;
    let mut png_dir = None;
    for kv in keys {
        let (k, v) = kv
            .split_once('=')
            .ok_or(format!("expected KEY=VALUE, got {kv}"))?;
        match k {
            "fps" => options.fps = v.parse()?,
            "codec" => options.codec = Some(v.parse()?),
            "container" => options.container = Some(v.parse()?),
            "crf" => options.crf = Some(v.parse()?),
            "bitrate_kbps" => options.bitrate_kbps = Some(v.parse()?),
            "preset" => options.preset = Some(v.to_string()),
            "lossless" => options.lossless = v.parse()?,
            "colormap" => colormap = v.parse()?,
            "max_iter" => max_iter = v.parse()?,
            "png" => png_dir = Some(v.to_string()),
            _ => return Err(format!("unknown key {k}").into()),
        }
    }
    let params = StackParams {
        width,
        height,
        max_iter,
        ..StackParams::default()
    };
    let colouring = Colouring::Counts {
        colormap,
        scaling: Scaling::notebook(max_iter),
    };
    let video = VideoWriter::create(out, width, height, colouring, &options)?;
    if let Some((w, h)) = video.padded() {
        eprintln!("write_video: {width}x{height} padded to {w}x{h} (4:2:0 needs even sides)");
    }
    let mut sinks: Vec<Box<dyn FrameSink>> = vec![Box::new(video)];
    if let Some(dir) = png_dir {
        let png = PngFrameOptions::preview(first + step * count, max_iter, colormap);
        sinks.push(Box::new(PngFrameWriter::new(dir, png)?));
    }
    let mut frame = vec![0u16; width * height];
    for k in 0..count {
        let level = first + k * step;
        let (rows, cols) = (
            IndexRange::full(height as u64),
            IndexRange::full(width as u64),
        );
        render_block(&params, level, rows, cols, Backend::F64x4, &mut frame)?;
        let view = ArrayView2::from_shape((height, width), &frame)?;
        for sink in &mut sinks {
            sink.write_frame(level, view)?;
        }
    }
    for sink in sinks {
        sink.finish()?;
    }
    Ok(())
}
