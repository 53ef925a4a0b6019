use super::*;
use crate::test_support::{decode_png_rgb, png_sink_rgb, smooth_frames};
use ndarray::Array3;
use std::fs::{self, File};

fn frames() -> Array3<u16> {
    Array3::from_shape_fn((3, 4, 6), |(k, y, x)| (k * 50 + y * 10 + x) as u16)
}

#[test]
fn gif_round_trip_exact() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("a.gif");
    let opts = AnimationOptions {
        colouring: Colouring::Counts {
            colormap: Colormap::Magma,
            scaling: Scaling::PerFrame,
        },
        playback: Playback::Times(3),
        ..AnimationOptions::default()
    };
    let mut w = GifWriter::create(&path, 6, 4, opts).unwrap();
    let stack = frames();
    for (k, f) in stack.outer_iter().enumerate() {
        w.add_frame(k as u64, f).unwrap();
    }
    assert!(!path.exists(), "not under its final name before finish");
    assert_eq!(w.finish().unwrap(), path);

    let mut opts = gif::DecodeOptions::new();
    opts.set_color_output(gif::ColorOutput::Indexed);
    let mut dec = opts.read_info(File::open(&path).unwrap()).unwrap();
    assert_eq!(
        dec.global_palette().unwrap(),
        &Colormap::Magma.palette()[..]
    );
    let mut n = 0;
    while let Some(frame) = dec.read_next_frame().unwrap() {
        assert_eq!(frame.delay, 15);
        let mut want = Vec::new();
        Scaling::PerFrame
            .apply(stack.index_axis(ndarray::Axis(0), n), &mut want)
            .unwrap();
        assert_eq!(&frame.buffer[..], &want[..]);
        n += 1;
    }
    assert_eq!(n, 3);
    assert_eq!(dec.repeat(), gif::Repeat::Finite(2));
}

#[test]
fn gif_rejects_wrong_shapes_and_cleans_up() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("b.gif");
    let mut w = GifWriter::create(&path, 6, 4, AnimationOptions::default()).unwrap();
    let other = Array3::<u16>::zeros((1, 5, 6));
    let err = w
        .add_frame(7, other.index_axis(ndarray::Axis(0), 0))
        .unwrap_err();
    assert!(err.to_string().contains("level 7"), "{err}");
    let err = w.finish().unwrap_err();
    assert!(matches!(err, SinkError::FrameCount { .. }), "{err}");
    assert_eq!(
        fs::read_dir(dir.path()).unwrap().count(),
        0,
        "temp file removed"
    );
    assert!(GifWriter::create(&path, 70000, 4, AnimationOptions::default()).is_err());
}

#[test]
fn apng_round_trip_exact() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("a.png");
    let opts = AnimationOptions {
        colouring: Colouring::Counts {
            colormap: Colormap::Viridis,
            scaling: Scaling::notebook(256),
        },
        frame_delay_ms: 80,
        playback: Playback::Times(2),
    };
    let stack = frames();
    let mut w = ApngWriter::create(&path, 6, 4, 3, opts).unwrap();
    for (k, f) in stack.outer_iter().enumerate() {
        w.add_frame(k as u64, f).unwrap();
    }
    let extra = w.add_frame(9, stack.index_axis(ndarray::Axis(0), 0));
    assert!(matches!(extra, Err(SinkError::FrameCount { .. })));
    w.finish().unwrap();

    let dec = png::Decoder::new(std::io::BufReader::new(File::open(&path).unwrap()));
    let mut reader = dec.read_info().unwrap();
    let actl = reader.info().animation_control.unwrap();
    assert_eq!((actl.num_frames, actl.num_plays), (3, 2));
    assert_eq!(
        reader.info().palette.as_deref().unwrap(),
        &Colormap::Viridis.palette()[..]
    );
    let mut buf = vec![0; reader.output_buffer_size().unwrap()];
    for f in stack.outer_iter() {
        let info = reader.next_frame(&mut buf).unwrap();
        let fc = reader.info().frame_control.unwrap();
        assert_eq!((fc.delay_num, fc.delay_den), (80, 1000));
        let want: Vec<u8> = f.iter().map(|&v| crate::scale::to_uint8(v, 256)).collect();
        assert_eq!(&buf[..info.buffer_size()], &want[..]);
    }
}

#[test]
fn apng_too_few_frames_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("c.png");
    let mut w = ApngWriter::create(&path, 6, 4, 3, AnimationOptions::default()).unwrap();
    w.add_frame(0, frames().index_axis(ndarray::Axis(0), 0))
        .unwrap();
    let err = w.finish().unwrap_err();
    assert!(
        err.to_string().contains("declared 3 frames but received 1"),
        "{err}"
    );
    assert!(!path.exists());
    assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 0);
    assert!(ApngWriter::create(&path, 6, 4, 0, AnimationOptions::default()).is_err());
}

fn smooth(colormap: Colormap, max: u32, cycle: Option<f32>) -> crate::SmoothColours {
    crate::SmoothColours {
        colormap,
        scaling: Scaling::Fixed { max },
        cycle,
    }
}

#[test]
fn apng_smooth_frames_are_the_png_sinks_rgb() {
    let levels = [0, 1500, 3000];
    let stack = smooth_frames(&levels, 24, 32);
    for colours in [
        smooth(Colormap::Viridis, 256, None),
        smooth(Colormap::Twilight, 256, Some(24.0)),
        crate::SmoothColours {
            scaling: Scaling::PerFrame,
            ..smooth(Colormap::Magma, 256, None)
        },
        smooth(Colormap::Gray, 256, Some(40.0)),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.png");
        let opts = AnimationOptions {
            colouring: Colouring::Smooth(colours),
            ..AnimationOptions::default()
        };
        let mut apng = ApngWriter::create(&path, 32, 24, 3, opts).unwrap();
        for (f, &level) in stack.outer_iter().zip(&levels) {
            apng.add_smooth_frame(level, f).unwrap();
        }
        // A frame of counts is not what a smooth-coloured APNG takes.
        let err = apng
            .add_frame(
                9,
                Array3::<u16>::zeros((1, 24, 32)).index_axis(ndarray::Axis(0), 0),
            )
            .unwrap_err();
        assert!(
            matches!(err, SinkError::FrameValues { level: 9, .. }),
            "{err}"
        );
        apng.finish().unwrap();
        let got = decode_png_rgb(&path);
        assert_eq!(got.len(), 3);
        let pngs = png_sink_rgb(dir.path(), colours, &stack, &levels);
        for (k, want) in pngs.iter().enumerate() {
            assert_eq!(&got[k], want, "{colours:?}, frame {k}");
            // And both are SmoothColours::apply's colours.
            let mut rgb = Vec::new();
            colours
                .apply(stack.index_axis(ndarray::Axis(0), k), &mut rgb)
                .unwrap();
            assert_eq!(got[k], rgb);
        }
        // Varied frames, not a constant colour.
        assert!(got[2].chunks(3).any(|p| p != &got[2][..3]));
    }
}

/// The nearest colormap entry of `v`, computed here from the formula (not with the
/// crate's position function): `max` and `cycle` are powers of two, so the divisions are
/// exact.
fn nearest_by_formula(v: f32, max: f64, cycle: Option<f64>) -> u8 {
    let v = f64::from(v);
    match cycle {
        Some(p) => ((v / p - (v / p).floor()) * 256.0).round() as u32 as u8, // 256 wraps
        None => ((v / max).clamp(0.0, 1.0) * 255.0).round() as u8,
    }
}

fn decode_gif_indices(path: &Path, colormap: Colormap) -> Vec<Vec<u8>> {
    let mut opts = gif::DecodeOptions::new();
    opts.set_color_output(gif::ColorOutput::Indexed);
    let mut dec = opts.read_info(File::open(path).unwrap()).unwrap();
    assert_eq!(dec.global_palette().unwrap(), &colormap.palette()[..]);
    let mut out = Vec::new();
    while let Some(frame) = dec.read_next_frame().unwrap() {
        assert!(frame.palette.is_none(), "no local palette");
        out.push(frame.buffer.to_vec());
    }
    out
}

#[test]
fn gif_smooth_frames_are_the_nearest_palette_entries() {
    let levels = [0, 2000, 3000];
    let stack = smooth_frames(&levels, 24, 32);
    for (colormap, cycle) in [(Colormap::Inferno, None), (Colormap::Twilight, Some(32.0))] {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.gif");
        let colours = smooth(colormap, 256, cycle.map(|c: f64| c as f32));
        let opts = AnimationOptions {
            colouring: Colouring::Smooth(colours),
            ..AnimationOptions::default()
        };
        let mut w = GifWriter::create(&path, 32, 24, opts).unwrap();
        for (f, &level) in stack.outer_iter().zip(&levels) {
            w.add_smooth_frame(level, f).unwrap();
        }
        let err = w
            .add_frame(
                4,
                Array3::<u16>::zeros((1, 24, 32)).index_axis(ndarray::Axis(0), 0),
            )
            .unwrap_err();
        assert!(
            err.to_string()
                .contains("GIF takes frames of smooth values"),
            "{err}"
        );
        w.finish().unwrap();
        let got = decode_gif_indices(&path, colormap);
        assert_eq!(got.len(), 3);
        let table = colormap.table();
        for (k, f) in stack.outer_iter().enumerate() {
            let want: Vec<u8> = f
                .iter()
                .map(|&v| nearest_by_formula(v, 256.0, cycle))
                .collect();
            assert_eq!(got[k], want, "{colormap:?} {cycle:?} frame {k}");
            // The nearest entry is the interpolated colour's closer end: within half a
            // palette step of the PNG sink's colour in every channel.
            let mut rgb = Vec::new();
            colours.apply(f, &mut rgb).unwrap();
            for (i, &idx) in got[k].iter().enumerate() {
                let pos = {
                    let x = f64::from(f.as_slice().unwrap()[i]);
                    match cycle {
                        Some(p) => (x / p).rem_euclid(1.0) * 256.0,
                        None => (x / 256.0).clamp(0.0, 1.0) * 255.0,
                    }
                };
                let (lo, hi) = (pos.floor() as usize % 256, (pos.floor() as usize + 1) % 256);
                let hi = if cycle.is_none() {
                    hi.min(255).max(lo)
                } else {
                    hi
                };
                assert!(
                    usize::from(idx) == lo || usize::from(idx) == hi,
                    "{pos} -> {idx}"
                );
                for c in 0..3 {
                    let (a, b) = (table[lo][c], table[hi][c]);
                    let v = rgb[3 * i + c];
                    assert!(v >= a.min(b) && v <= a.max(b), "pixel {i}");
                }
            }
        }
    }
    // Counts to a smooth GIF, smooth values to a GIF of counts: refused, naming the level.
    let dir = tempfile::tempdir().unwrap();
    let mut w = GifWriter::create(
        dir.path().join("c.gif"),
        32,
        24,
        AnimationOptions::default(),
    )
    .unwrap();
    let err = w
        .add_smooth_frame(7, stack.index_axis(ndarray::Axis(0), 0))
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("GIF takes frames of counts, got smooth values (frame for level 7)"),
        "{err}"
    );
}

/// Where the counts step (the notebook's bands), the smooth GIF's colour steps by at most
/// one palette entry; the GIF of counts jumps by about four there (`scaling_max` 64: 255/64
/// entries per count). Level 0 of the notebook's stack at 4096 x 4096 (every 256th row),
/// counts up to 7: fine enough that neighbours' values differ by less than a palette
/// step's 64/255 iterations (measured: at most 0.13 there; from count 8 on, pixels border
/// the set's filaments at this level and neighbours differ by up to 2 iterations).
#[test]
fn gif_smooth_has_no_count_bands() {
    use zoomstack_kernel::{Backend, IndexRange, StackParams, render_block, render_block_smooth};
    let (h, w) = (16, 4096);
    let p = StackParams {
        height: 4096,
        width: 4096,
        ..StackParams::default()
    };
    let (rows, cols) = (IndexRange::new(128, 256, 16), IndexRange::full(4096));
    let mut values = vec![0f32; h * w];
    render_block_smooth(&p, 0, rows, cols, Backend::Scalar, &mut values).unwrap();
    let mut counts = vec![0u16; h * w];
    render_block(&p, 0, rows, cols, Backend::Scalar, &mut counts).unwrap();
    let values = ndarray::ArrayView2::from_shape((h, w), &values).unwrap();
    let counts = ndarray::ArrayView2::from_shape((h, w), &counts).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, colouring: Colouring| {
        let path = dir.path().join(name);
        let opts = AnimationOptions {
            colouring,
            ..AnimationOptions::default()
        };
        let mut gif = GifWriter::create(&path, w, h, opts).unwrap();
        match colouring {
            Colouring::Smooth(_) => gif.add_smooth_frame(0, values).unwrap(),
            Colouring::Counts { .. } => gif.add_frame(0, counts).unwrap(),
        }
        gif.finish().unwrap();
        decode_gif_indices(&path, Colormap::Viridis).remove(0)
    };
    let smooth_gif = write(
        "s.gif",
        Colouring::Smooth(smooth(Colormap::Viridis, 64, None)),
    );
    let counts_gif = write(
        "c.gif",
        Colouring::Counts {
            colormap: Colormap::Viridis,
            scaling: Scaling::Fixed { max: 64 },
        },
    );
    let mut boundaries = 0;
    for y in 0..h {
        for x in 0..w - 1 {
            let (a, b) = (counts[(y, x)], counts[(y, x + 1)]);
            // Adjacent pixels on either side of a count boundary, away from the set (where
            // neighbours' values lie far apart at any resolution).
            if a == b || a.max(b) > 7 {
                continue;
            }
            boundaries += 1;
            let (i, j) = (y * w + x, y * w + x + 1);
            let step = smooth_gif[i].abs_diff(smooth_gif[j]);
            assert!(
                step <= 1,
                "({y}, {x}): counts {a} -> {b}, smooth step {step}"
            );
            assert!(
                counts_gif[i].abs_diff(counts_gif[j]) >= 3,
                "a band at ({y}, {x})"
            );
        }
    }
    assert!(boundaries > 100, "{boundaries} count boundaries");
}

#[test]
fn delays() {
    assert_eq!(delay_fraction(150), (150, 1000));
    assert_eq!(delay_fraction(100_000), (10_000, 100));
}
