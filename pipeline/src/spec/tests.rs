//! Spec parsing: examples, defaults, every kind's options, and the errors.

use super::*;
use zoomstack_sinks::{Colormap, Colouring, Playback, Scaling};

fn sink(body: &str) -> Result<SinkSpec, SpecError> {
    parse_str(
        "t.toml",
        &format!("[stack]\nheight = 64\nwidth = 48\n[[sink]]\n{body}"),
    )
    .map(|s| s.sinks.into_iter().next().expect("one sink"))
}

#[test]
fn examples_parse() {
    for (name, text, kinds) in [
        (
            "preview.toml",
            crate::PREVIEW_SPEC,
            &["png", "animation", "contact-sheet"][..],
        ),
        (
            "full-stack.toml",
            include_str!("../../../examples/full-stack.toml"),
            &["zarr"][..],
        ),
        (
            "pyramid.toml",
            include_str!("../../../examples/pyramid.toml"),
            &["zarr", "animation"][..],
        ),
    ] {
        let spec = parse_str(name, text).unwrap();
        let got: Vec<&str> = spec.sinks.iter().map(|s| s.kind.name()).collect();
        assert_eq!(got, kinds, "{name}");
        assert_eq!(spec.stack, ZoomStack::default(), "{name}");
    }
}

#[test]
fn defaults_are_the_notebook() {
    let spec = parse_str("t", "").unwrap();
    assert_eq!(spec.stack, ZoomStack::default());
    assert!(spec.sinks.is_empty());
    let s = parse_str("t", "[[sink]]\nkind = \"png\"\n")
        .unwrap()
        .sinks
        .remove(0);
    assert_eq!(s.plan.shape(), [120000, 512, 512]);
    assert_eq!(s.plan.chunks(), [1, 256, 256]);
    assert_eq!(s.path, PathBuf::from("frames"));
    match s.kind {
        SinkKind::Frames(FrameKind::Png { colouring, .. }) => {
            assert_eq!(
                colouring,
                Colouring::Counts {
                    colormap: Colormap::Gray,
                    scaling: Scaling::Fixed { max: 256 }
                }
            );
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn downsample_forms() {
    let shape =
        |d: &str| sink(&format!("kind = \"png\"\ndownsample = {d}\n")).map(|s| s.plan.shape());
    assert_eq!(shape("2").unwrap(), [120000, 32, 24]);
    assert_eq!(shape("[4, 3]").unwrap(), [120000, 16, 16]);
    assert_eq!(
        shape("{ factors = [2, 2], mode = \"stride\" }").unwrap(),
        [120000, 32, 24]
    );
    assert_eq!(shape("{ factor = 8 }").unwrap(), [120000, 8, 6]);
    let s = sink("kind = \"png\"\ndownsample = { factors = [2, 2], mode = \"mean\" }\n").unwrap();
    assert_eq!(s.plan.selection().mean_factors(), Some([2, 2]));
    for bad in [
        "0",
        "[1, 2, 3]",
        "{ mode = \"mean\" }",
        "{ factors = [2, 2], mode = \"max\" }",
        "\"x\"",
    ] {
        let e = shape(bad).unwrap_err();
        assert!(e.span.is_some(), "{bad}: {e:?}");
    }
}

#[test]
fn animation_options() {
    let s = sink("kind = \"animation\"\npath = \"a.apng\"\nloop = 3\ndelay_ms = 40\n").unwrap();
    match s.kind {
        SinkKind::Frames(FrameKind::Animation { format, options }) => {
            assert_eq!(format, AnimationFormat::Apng);
            assert_eq!(options.playback, Playback::Times(3));
            assert_eq!(options.frame_delay_ms, 40);
            assert_eq!(
                options.colouring,
                Colouring::Counts {
                    colormap: Colormap::Gray,
                    scaling: Scaling::PerFrame
                }
            );
        }
        other => panic!("{other:?}"),
    }
    let s = sink("kind = \"animation\"\npath = \"movie\"\nformat = \"gif\"\nloop = \"forever\"\n")
        .unwrap();
    assert!(matches!(
        s.kind,
        SinkKind::Frames(FrameKind::Animation { format: AnimationFormat::Gif, options }) if options.playback == Playback::Forever
    ));
    assert!(sink("kind = \"animation\"\nloop = \"twice\"\n").is_err());
    assert!(sink("kind = \"animation\"\nscaling = \"per-frame\"\nscaling_max = 9\n").is_err());
}

#[test]
fn overrides_merge_into_the_document() {
    let text = "[stack]\nlevels = 100\n[[sink]]\nkind = \"png\"\n[[sink]]\nkind = \"zarr\"\n";
    let src = Source::new(
        "t",
        text,
        &[
            "stack.levels = 10".to_string(),
            "stack.height=32".to_string(),
            "sink.1.select=\"[::2]\"".to_string(),
            "sink.1.shards=[4, 32, 512]".to_string(),
        ],
    );
    let spec = parse(&src).unwrap();
    assert_eq!(spec.stack.levels, 10);
    assert_eq!(spec.sinks[0].plan.shape(), [10, 32, 512]);
    assert_eq!(spec.sinks[1].plan.shape(), [5, 32, 512]);
    match &spec.sinks[1].kind {
        SinkKind::Zarr(z) => assert_eq!(z.shards, Some([4, 32, 512])),
        other @ SinkKind::Frames(_) => panic!("{other:?}"),
    }
    // An override error points into the override.
    let src = Source::new("t", text, &["stack.width=0".to_string()]);
    let e = parse(&src).unwrap_err();
    let at = e.span.clone().unwrap();
    assert_eq!(&src.text()[at], "0");
    assert!(e.located(&src).rendered.contains("--set stack.width=0"));
}

#[test]
fn unknown_keys_suggest_the_closest() {
    let e = sink("kind = \"png\"\ncolmap = \"gray\"\n").unwrap_err();
    assert!(
        e.message.contains("did you mean `colormap`?"),
        "{}",
        e.message
    );
    let e = parse_str("t", "[stack]\nmaxiter = 3\n").unwrap_err();
    assert!(
        e.message.contains("did you mean `max_iter`?"),
        "{}",
        e.message
    );
    let e = sink("kind = \"png\"\nzzzzzzzz = 1\n").unwrap_err();
    assert!(!e.message.contains("did you mean"), "{}", e.message);
    assert_eq!(strsim::levenshtein("kitten", "sitting"), 3);
}

#[test]
fn select_errors_point_inside_the_string() {
    let e = sink("kind = \"png\"\nselect = \"[1:2:0]\"\n").unwrap_err();
    let src = Source::new("t", "", &[]);
    let _ = e.clone().located(&src);
    let text = "[stack]\nheight = 64\nwidth = 48\n[[sink]]\nkind = \"png\"\nselect = \"[1:2:0]\"\n";
    let at = e.span.unwrap();
    assert_eq!(&text[at], "0");
    // With escapes the whole string is underlined.
    let e = sink("kind = \"png\"\nselect = \"[1:2:\\u0030]\"\n").unwrap_err();
    let text =
        "[stack]\nheight = 64\nwidth = 48\n[[sink]]\nkind = \"png\"\nselect = \"[1:2:\\u0030]\"\n";
    assert_eq!(&text[e.span.unwrap()], "\"[1:2:\\u0030]\"");
}

#[test]
fn center_takes_exactly_two_numbers() {
    for bad in [
        "[1.0]",
        "[1.0, 2.0, 3.0]",
        "[1.0, 2.0, 3.0, \"junk\"]",
        "[]",
    ] {
        let e = parse_str("t.toml", &format!("[stack]\ncenter = {bad}\n")).unwrap_err();
        assert!(
            e.message.contains("center") || e.message.contains("invalid type"),
            "{bad}: {e:?}"
        );
        assert!(e.span.is_some(), "{bad}");
    }
    let ok = parse_str("t.toml", "[stack]\ncenter = [-0.5, 0.25]\n").unwrap();
    assert_eq!(
        (ok.stack.params.center_re, ok.stack.params.center_im),
        (-0.5, 0.25)
    );
}
