//! The `colour` and `cycle` options every colouring sink shares (`png`, `animation`,
//! `contact-sheet`, `video`): from counts or from smooth values, checked once here.

use toml::Spanned;
use zoomstack_engine::{Excerpt, ZoomStack};
use zoomstack_sinks::{Colormap, Colouring, Scaling, SmoothColours};

use super::raw::RawSink;
use super::video::positive;
use crate::diag::SpecError;

/// The `colour` option (`"counts"` or `"smooth"`) with the sink's colormap and scaling, and
/// `cycle` (smooth only). `smooth_default` is the kind's default.
pub(super) fn colouring(
    r: &RawSink,
    colormap: Colormap,
    scaling: Scaling,
    smooth_default: bool,
    stack: &ZoomStack,
    label: &str,
) -> Result<Colouring, SpecError> {
    let smooth = match &r.colour {
        None => smooth_default,
        Some(c) => match c.get_ref().as_str() {
            "counts" => false,
            "smooth" => true,
            other => {
                return Err(SpecError::at(
                    c.span(),
                    format!(
                        "unknown colour {}: expected \"counts\" (colours from the integer escape counts) or \"smooth\" (from continuous escape values, no bands)",
                        Excerpt::around(other, 0)
                    ),
                ));
            }
        },
    };
    let cycle = match &r.cycle {
        Some(c) if !smooth => {
            return Err(SpecError::at(
                c.span(),
                format!("{label}: `cycle` only applies to colour = \"smooth\""),
            ));
        }
        Some(c) => Some(positive(c, "cycle (iterations per colour cycle)", 1e9)? as f32),
        None => None,
    };
    if !smooth {
        return Ok(Colouring::Counts { colormap, scaling });
    }
    if let Err(e) = stack.check_smooth() {
        let at = r.colour.as_ref().map_or(0..0, Spanned::span);
        return Err(SpecError::at(at, format!("{label}: {e}")));
    }
    let colours = SmoothColours {
        colormap,
        scaling,
        cycle,
    };
    colours
        .validate()
        .map_err(|e| SpecError::at(0..0, format!("{label}: {e}")))?;
    Ok(Colouring::Smooth(colours))
}

#[cfg(test)]
mod tests {
    use super::super::{AnimationFormat, FrameKind, SinkKind, parse_str};
    use zoomstack_sinks::{Colormap, Colouring, Scaling, SmoothColours};

    fn frame_kind(stack: &str, body: &str) -> Result<FrameKind, String> {
        let text =
            format!("[stack]\nlevels = 1000\nheight = 16\nwidth = 16\n{stack}\n[[sink]]\n{body}");
        let spec = parse_str("t.toml", &text).map_err(|e| e.to_string())?;
        match spec.sinks.into_iter().next().expect("one sink").kind {
            SinkKind::Frames(f) => Ok(f),
            other @ SinkKind::Zarr(_) => panic!("{other:?}"),
        }
    }

    fn colouring(body: &str) -> Colouring {
        match frame_kind("", body).unwrap() {
            FrameKind::Png { colouring, .. } => colouring,
            FrameKind::Animation { options, .. } => options.colouring,
            FrameKind::ContactSheet(o) => o.colouring,
            FrameKind::Video(v) => v.colouring,
            FrameKind::Png16 { .. } => panic!("png16 has no colouring"),
        }
    }

    #[test]
    fn animations_and_sheets_take_smooth_colours_with_a_cycle() {
        let want = |scaling| {
            Colouring::Smooth(SmoothColours {
                colormap: Colormap::Twilight,
                scaling,
                cycle: Some(64.0),
            })
        };
        let smooth = "colour = \"smooth\"\ncolormap = \"twilight\"\ncycle = 64";
        for (body, scaling) in [
            (format!("kind = \"animation\"\n{smooth}"), Scaling::PerFrame),
            (
                format!("kind = \"animation\"\npath = \"z.png\"\n{smooth}"),
                Scaling::PerFrame,
            ),
            (
                format!("kind = \"contact-sheet\"\n{smooth}"),
                Scaling::notebook(256),
            ),
            (format!("kind = \"png\"\n{smooth}"), Scaling::notebook(256)),
        ] {
            assert_eq!(colouring(&body), want(scaling), "{body}");
            assert!(frame_kind("", &body).unwrap().smooth(), "{body}");
        }
        let k = frame_kind(
            "",
            "kind = \"animation\"\npath = \"z.apng\"\ncolour = \"smooth\"",
        )
        .unwrap();
        assert!(matches!(
            k,
            FrameKind::Animation {
                format: AnimationFormat::Apng,
                ..
            }
        ));
        // Scaling keys apply to the smooth values' positions as to counts.
        assert_eq!(
            colouring("kind = \"contact-sheet\"\ncolour = \"smooth\"\nscaling_max = 64"),
            Colouring::Smooth(SmoothColours {
                colormap: Colormap::Gray,
                scaling: Scaling::Fixed { max: 64 },
                cycle: None,
            })
        );
    }

    #[test]
    fn counts_stay_the_default_of_animations_and_sheets() {
        for (body, scaling) in [
            ("kind = \"animation\"", Scaling::PerFrame),
            ("kind = \"contact-sheet\"", Scaling::notebook(256)),
            (
                "kind = \"animation\"\ncolour = \"counts\"",
                Scaling::PerFrame,
            ),
            ("kind = \"png\"", Scaling::notebook(256)),
        ] {
            assert_eq!(
                colouring(body),
                Colouring::Counts {
                    colormap: Colormap::Gray,
                    scaling
                },
                "{body}"
            );
            assert!(!frame_kind("", body).unwrap().smooth());
        }
    }

    #[test]
    fn bad_colour_and_cycle_values_are_named() {
        for kind in ["animation", "contact-sheet"] {
            for (body, want) in [
                (
                    "colour = \"smooth\"\ncycle = 0",
                    "cycle (iterations per colour cycle) must be a number above 0 and at most 1000000000, got 0",
                ),
                (
                    "colour = \"smooth\"\ncycle = -8",
                    "cycle (iterations per colour cycle) must be a number above 0 and at most 1000000000, got -8",
                ),
                ("colour = \"smooth\"\ncycle = nan", "got NaN"),
                ("colour = \"smooth\"\ncycle = inf", "got inf"),
                ("colour = \"smooth\"\ncycle = 1e10", "got 10000000000"),
                (
                    "colour = \"smooth\"\ncycle = \"64\"",
                    "invalid type: string \"64\", expected a number",
                ),
                ("cycle = 16", "`cycle` only applies to colour = \"smooth\""),
                (
                    "colour = \"counts\"\ncycle = 16",
                    "`cycle` only applies to colour = \"smooth\"",
                ),
                (
                    "colour = \"bands\"",
                    "unknown colour \"bands\": expected \"counts\"",
                ),
                ("colour = 1", "invalid type: integer `1`, expected a string"),
            ] {
                let e = frame_kind("", &format!("kind = \"{kind}\"\n{body}")).unwrap_err();
                assert!(e.contains(want), "{kind}: {body:?}: {e}");
            }
        }
    }

    #[test]
    fn smooth_colours_are_refused_under_the_exact_contract() {
        for kind in ["animation", "contact-sheet", "png"] {
            let e = frame_kind(
                "arithmetic = \"exact\"",
                &format!("kind = \"{kind}\"\ncolour = \"smooth\""),
            )
            .unwrap_err();
            assert!(
                e.contains(&format!("({kind}): smooth values")),
                "{kind}: {e}"
            );
            // Counts (the default) are fine there.
            assert!(
                !frame_kind("arithmetic = \"exact\"", &format!("kind = \"{kind}\""))
                    .unwrap()
                    .smooth()
            );
        }
    }
}
