//! `render --colour smooth --cycle N` for every colouring output (`--png`, `--gif`, `--apng`,
//! `--sheet`): the spec it builds, and the files decoded back against the engine's smooth
//! values coloured by the sinks' one rule (`SmoothColours`).

mod common;

use common::*;
use zoomstack_engine::{Executor, ZoomStack};
use zoomstack_sinks::{Colormap, Scaling, SmoothColours};

const FLAGS: &[&str] = &[
    "render",
    "--levels",
    "0:3000:1000",
    "--height",
    "24",
    "--width",
    "32",
    "--colormap",
    "twilight",
    "--colour",
    "smooth",
    "--cycle",
    "32",
    "--png",
    "frames",
    "--gif",
    "z.gif",
    "--apng",
    "z.png",
    "--sheet",
    "sheet.png",
];

#[test]
fn colour_and_cycle_apply_to_png_gif_apng_and_sheet() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let spec = ok(&run(d, &[FLAGS, &["--print-spec"]].concat()));
    assert_eq!(spec.matches("colour = \"smooth\"").count(), 4, "{spec}");
    assert_eq!(spec.matches("cycle = 32.0").count(), 4, "{spec}");
    ok(&run(d, &[FLAGS, &["--quiet"]].concat()));

    let stack = ZoomStack {
        params: zoomstack_kernel::StackParams {
            height: 24,
            width: 32,
            ..zoomstack_kernel::StackParams::default()
        },
        ..ZoomStack::default()
    };
    let plan = stack
        .array()
        .select("[0:3000:1000]")
        .unwrap()
        .optimize()
        .unwrap();
    let values = Executor::new(2).compute_values::<f32>(&plan).unwrap();
    let colours = |scaling| SmoothColours {
        colormap: Colormap::Twilight,
        scaling,
        cycle: Some(32.0),
    };
    // With a cycle the scaling does not matter: PNG (fixed) and GIF (per-frame) agree.
    let c = colours(Scaling::notebook(256));
    let (_, _, gif) = decode_gif(&d.join("z.gif"));
    assert_eq!(gif.len(), 3);
    let mut sheet_tiles = Vec::new();
    for (k, level) in ["0000", "1000", "2000"].iter().enumerate() {
        let frame = values.index_axis(ndarray::Axis(0), k);
        let mut rgb = Vec::new();
        c.apply(frame, &mut rgb).unwrap();
        let (w, h, color, _, png) = decode_png(&d.join(format!("frames/level-00{level}.png")));
        assert_eq!((w, h, color), (32, 24, png::ColorType::Rgb));
        assert_eq!(png, rgb, "PNG frame {k}");
        let mut nearest = Vec::new();
        colours(Scaling::PerFrame)
            .nearest_indices(frame, &mut nearest)
            .unwrap();
        assert_eq!(gif[k], nearest, "GIF frame {k}");
        sheet_tiles.push(rgb);
    }
    // The APNG: truecolour frames equal to the PNG frames.
    let dec = png::Decoder::new(std::io::BufReader::new(
        std::fs::File::open(d.join("z.png")).unwrap(),
    ));
    let mut r = dec.read_info().unwrap();
    assert_eq!(r.info().animation_control.unwrap().num_frames, 3);
    assert_eq!(r.info().color_type, png::ColorType::Rgb);
    for (k, want) in sheet_tiles.iter().enumerate() {
        let mut buf = vec![0; r.output_buffer_size().unwrap()];
        let info = r.next_frame(&mut buf).unwrap();
        assert_eq!(&buf[..info.buffer_size()], &want[..], "APNG frame {k}");
    }
    // The sheet: the first tile at (gap, gap) = (4, 4).
    let (w, _, color, _, sheet) = decode_png(&d.join("sheet.png"));
    assert_eq!(color, png::ColorType::Rgb);
    for y in 0..24 {
        let i = 3 * ((4 + y) * w as usize + 4);
        assert_eq!(
            &sheet[i..i + 96],
            &sheet_tiles[0][96 * y..96 * (y + 1)],
            "row {y}"
        );
    }
}

#[test]
fn smooth_colours_are_refused_for_exact_stacks_naming_the_sink() {
    let dir = tempfile::tempdir().unwrap();
    let out = run(
        dir.path(),
        &[
            "render",
            "--levels",
            "0:2",
            "--height",
            "8",
            "--width",
            "8",
            "--arithmetic",
            "exact",
            "--colour",
            "smooth",
            "--gif",
            "z.gif",
        ],
    );
    let e = fails(&out, 2);
    assert!(
        e.contains("(animation)") && e.contains("smooth values"),
        "{e}"
    );
    assert!(!dir.path().join("z.gif").exists());
}
