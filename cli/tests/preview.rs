//! `zoomstack` with no arguments: the notebook's preview, decoded back.

mod common;

use common::*;
use zoomstack_engine::ZoomStack;
use zoomstack_sinks::{Colormap, to_uint8};

#[test]
fn default_preview_writes_frames_gif_and_sheet() {
    let dir = tempfile::tempdir().unwrap();
    let out = ok(&run(dir.path(), &[]));
    // The describe table and where the files are.
    assert!(out.contains("(40, 256, 256)"), "{out}");
    assert!(out.contains("5.00 MiB"), "{out}");
    assert!(out.contains("zoomstack-out/frames"), "{out}");
    assert!(out.contains("zoomstack-out/preview.gif"), "{out}");
    assert!(out.contains("zoomstack-out/contact-sheet.png"), "{out}");

    let root = dir.path().join("zoomstack-out");
    let mut frames: Vec<String> = std::fs::read_dir(root.join("frames"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    frames.sort();
    let expected: Vec<String> = (0..40)
        .map(|k| format!("level-{:06}.png", k * 500))
        .collect();
    assert_eq!(frames, expected);

    // The notebook's pixels: stack[0:20000:500, ::2, ::2] through to_uint8.
    let reference = compute(&ZoomStack::default(), "[0:20000:500, ::2, ::2]");
    for k in [0usize, 17, 39] {
        let (w, h, color, depth, bytes) = decode_png(&root.join("frames").join(&expected[k]));
        assert_eq!((w, h), (256, 256));
        assert_eq!(color, png::ColorType::Grayscale);
        assert_eq!(depth, png::BitDepth::Eight);
        let want: Vec<u8> = reference
            .index_axis(ndarray::Axis(0), k)
            .iter()
            .map(|&v| to_uint8(v, 256))
            .collect();
        assert_eq!(bytes, want, "frame {k}");
    }

    // The animation: 40 frames of 256 x 256, gray palette, per-frame stretch.
    let (w, h, gif_frames) = decode_gif(&root.join("preview.gif"));
    assert_eq!((w, h, gif_frames.len()), (256, 256, 40));
    for (k, f) in gif_frames.iter().enumerate() {
        assert_eq!(f.len(), 256 * 256);
        let frame = reference.index_axis(ndarray::Axis(0), k);
        let (lo, hi) = frame
            .iter()
            .fold((u16::MAX, 0), |(a, b), &v| (a.min(v), b.max(v)));
        let want: Vec<u8> = frame
            .iter()
            .map(|&v| zoomstack_sinks::stretch(v, lo, hi))
            .collect();
        assert_eq!(f, &want, "GIF frame {k}");
    }

    // The contact sheet: one RGB image holding 40 frames (7 x 6 grid of 256 x 256 plus labels).
    let (w, h, color, _, bytes) = decode_png(&root.join("contact-sheet.png"));
    assert_eq!(color, png::ColorType::Rgb);
    assert!(w >= 7 * 256 && h >= 6 * 256, "{w} x {h}");
    // The first frame's top-left pixel sits at (gap, gap) in the rainbow colormap.
    let gap = 4usize;
    let i = (gap * w as usize + gap) * 3;
    let want = Colormap::Rainbow.rgb(to_uint8(reference[[0, 0, 0]], 256));
    assert_eq!(&bytes[i..i + 3], &want);
}

#[test]
fn preview_example_is_the_default_preview() {
    let dir = tempfile::tempdir().unwrap();
    ok(&run(dir.path(), &["preview", "--out", "a", "--quiet"]));
    let spec = examples().join("preview.toml");
    ok(&run(
        dir.path(),
        &["run", spec.to_str().unwrap(), "--out", "b", "--quiet"],
    ));
    for f in [
        "preview.gif",
        "contact-sheet.png",
        "frames/level-019500.png",
    ] {
        let a = std::fs::read(dir.path().join("a").join(f)).unwrap();
        let b = std::fs::read(dir.path().join("b").join(f)).unwrap();
        assert!(
            a == b,
            "{f} differs between `zoomstack` and examples/preview.toml"
        );
    }
    // --print-spec shows exactly the example.
    let printed = ok(&run(dir.path(), &["preview", "--print-spec"]));
    assert_eq!(printed, std::fs::read_to_string(spec).unwrap());
}

#[test]
fn preview_with_overrides_and_quiet() {
    let dir = tempfile::tempdir().unwrap();
    let o = run(
        dir.path(),
        &[
            "-q",
            "preview",
            "--out",
            "small",
            "--set",
            "sink.0.select=\"[0:20000:5000, ::8, ::8]\"",
            "--set",
            "sink.1.select=\"[0:20000:5000, ::8, ::8]\"",
            "--set",
            "sink.2.select=\"[0:20000:5000, ::8, ::8]\"",
            "--set",
            "sink.2.colormap=\"viridis\"",
        ],
    );
    let stdout = ok(&o);
    assert!(stdout.is_empty(), "--quiet prints nothing: {stdout}");
    assert!(o.stderr.is_empty(), "{}", text(&o));
    let (w, h, frames) = decode_gif(&dir.path().join("small/preview.gif"));
    assert_eq!((w, h, frames.len()), (64, 64, 4));
    // Every kernel backend and thread count writes the same files.
    let small = |out: &str, extra: &[&str]| {
        let mut args = vec!["-q"];
        args.extend_from_slice(extra);
        args.extend_from_slice(&["preview", "--out", out]);
        for k in 0..3 {
            args.push("--set");
            args.push(match k {
                0 => "sink.0.select=\"[0:20000:5000, ::8, ::8]\"",
                1 => "sink.1.select=\"[0:20000:5000, ::8, ::8]\"",
                _ => "sink.2.select=\"[0:20000:5000, ::8, ::8]\"",
            });
        }
        ok(&run(dir.path(), &args));
        let root = dir.path().join(out);
        [
            "preview.gif",
            "contact-sheet.png",
            "frames/level-015000.png",
        ]
        .map(|f| std::fs::read(root.join(f)).unwrap())
    };
    let reference = small("auto", &[]);
    for (out, extra) in [
        ("scalar", &["--kernel", "scalar"][..]),
        ("f64x4", &["--kernel", "f64x4"][..]),
        ("one", &["--threads", "1"][..]),
    ] {
        assert!(small(out, extra) == reference, "{extra:?} differs");
    }
}

#[test]
fn help_explains_every_command() {
    let dir = tempfile::tempdir().unwrap();
    let top = ok(&run(dir.path(), &["--help"]));
    for cmd in ["preview", "run", "describe", "init", "render", "bench"] {
        assert!(top.contains(cmd), "{top}");
    }
    assert!(top.contains("Examples:"), "{top}");
    for cmd in ["preview", "run", "describe", "init", "render", "bench"] {
        let h = ok(&run(dir.path(), &[cmd, "--help"]));
        assert!(h.contains("Example"), "{cmd} --help has no example:\n{h}");
    }
}

#[test]
fn bench_reports_every_backend_exact() {
    let dir = tempfile::tempdir().unwrap();
    let out = ok(&run(
        dir.path(),
        &[
            "bench",
            "--levels",
            "0,119999",
            "--stride",
            "16",
            "--min-time-ms",
            "0",
        ],
    ));
    for name in ["reference", "scalar", "f64x4", "f64x8"] {
        assert!(out.contains(name), "{out}");
    }
    assert!(
        !out.contains(" NO "),
        "a backend differs from the reference:\n{out}"
    );
    assert!(out.contains("FMA"), "{out}");
}
