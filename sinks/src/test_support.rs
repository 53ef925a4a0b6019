//! What the unit tests of the smooth-coloured frame sinks share: smooth values of the notebook's
//! stack, and the PNG sink's frames of them as the reference the animations and contact sheets
//! are compared with.

use std::fs::File;
use std::path::Path;

use ndarray::Array3;

use crate::{PngFrameOptions, PngFrameWriter, PngKind, SmoothColours};

/// Smooth values of levels of the notebook's stack (`height x width`), from the kernel.
pub(crate) fn smooth_frames(levels: &[u64], height: usize, width: usize) -> Array3<f32> {
    use zoomstack_kernel::{Backend, IndexRange, StackParams, render_block_smooth};
    let p = StackParams {
        height,
        width,
        ..StackParams::default()
    };
    let (rows, cols) = (
        IndexRange::full(height as u64),
        IndexRange::full(width as u64),
    );
    let mut stack = Array3::<f32>::zeros((levels.len(), height, width));
    for (k, &level) in levels.iter().enumerate() {
        let mut v = vec![0f32; height * width];
        render_block_smooth(&p, level, rows, cols, Backend::Scalar, &mut v).unwrap();
        stack
            .index_axis_mut(ndarray::Axis(0), k)
            .assign(&ndarray::ArrayView2::from_shape((height, width), &v).unwrap());
    }
    stack
}

/// Every frame of a (possibly animated) PNG file, as decoded RGB triples.
pub(crate) fn decode_png_rgb(path: &Path) -> Vec<Vec<u8>> {
    let mut dec = png::Decoder::new(std::io::BufReader::new(File::open(path).unwrap()));
    dec.set_transformations(png::Transformations::EXPAND);
    let mut reader = dec.read_info().unwrap();
    let frames = reader
        .info()
        .animation_control
        .map_or(1, |a| a.num_frames as usize);
    let mut out = Vec::new();
    for _ in 0..frames {
        let mut buf = vec![0; reader.output_buffer_size().unwrap()];
        let info = reader.next_frame(&mut buf).unwrap();
        buf.truncate(info.buffer_size());
        out.push(match info.color_type {
            png::ColorType::Rgb => buf,
            png::ColorType::Grayscale => buf.iter().flat_map(|&g| [g, g, g]).collect(),
            other => panic!("unexpected colour type {other:?}"),
        });
    }
    out
}

/// The PNG sink's frames of `stack` (smooth values of `levels`) coloured with `colours`, as
/// decoded RGB triples: what every other smooth-coloured sink must show. The PNG files are
/// written under `dir/frames`.
pub(crate) fn png_sink_rgb(
    dir: &Path,
    colours: SmoothColours,
    stack: &Array3<f32>,
    levels: &[u64],
) -> Vec<Vec<u8>> {
    let mut pngs = PngFrameWriter::new(
        dir.join("frames"),
        PngFrameOptions {
            kind: PngKind::Smooth(colours),
            ..PngFrameOptions::counts16(10000)
        },
    )
    .unwrap();
    stack
        .outer_iter()
        .zip(levels)
        .map(|(frame, &level)| {
            let file = pngs.write_smooth(level, frame).unwrap();
            decode_png_rgb(&file).remove(0)
        })
        .collect()
}
