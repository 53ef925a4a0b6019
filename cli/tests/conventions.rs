//! Command-line conventions: the stack's parameters as flags (`--center`, `--scale0`,
//! `--zoom-per-level`), errors in flags that name the flag, `[stack] chunks`, shell completions,
//! the man page, `--color` and grouped `render --help`.

mod common;

use common::*;

const SMALL: &[&str] = &["render", "--levels", "0:2", "--height", "8", "--width", "8"];

fn render(dir: &std::path::Path, extra: &[&str]) -> std::process::Output {
    let args: Vec<&str> = SMALL.iter().chain(extra).copied().collect();
    run(dir, &args)
}

#[test]
fn stack_parameters_as_flags() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let flags = [
        "--center=-0.7436438870371587,0.131825904205312",
        "--scale0",
        "0.5",
        "--zoom-per-level",
        "1.5",
        "--zarr",
        "z.zarr",
    ];
    let spec = ok(&render(d, &[&flags[..], &["--print-spec"]].concat()));
    assert!(
        spec.contains("center = [\"-0.7436438870371587\", \"0.131825904205312\"]"),
        "{spec}"
    );
    assert!(spec.contains("scale0 = \"0.5\"") && spec.contains("zoom_per_level = \"1.5\""));
    ok(&render(d, &[&flags[..], &["--quiet"]].concat()));
    // The store holds exactly the stack those parameters define.
    let stack = zoomstack_engine::ZoomStack {
        params: zoomstack_kernel::StackParams {
            height: 8,
            width: 8,
            center_re: -0.7436438870371587,
            center_im: 0.131825904205312,
            scale0: 0.5,
            zoom_per_level: 1.5,
            ..zoomstack_kernel::StackParams::default()
        },
        ..zoomstack_engine::ZoomStack::default()
    };
    assert_eq!(read_store(&d.join("z.zarr"), ""), compute(&stack, "[0:2]"));
    let a = attrs(&d.join("z.zarr"), "");
    assert_eq!(a["stack"]["scale0"], 0.5, "{a}");
}

#[test]
fn errors_in_flags_name_the_flag() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    for (flags, words) in [
        (
            &["--center", "1", "--png", "p"][..],
            &["--center \"1\"", "2 comma-separated"][..],
        ),
        (
            &["--center", "1,2,3", "--png", "p"],
            &["--center \"1,2,3\""],
        ),
        (
            &["--center", "x,0", "--png", "p"],
            &["--> --center x,0", "\"x\""],
        ),
        (
            &["--scale0", "-1", "--png", "p"],
            &["--> --scale0 -1", "scale0", "-1"],
        ),
        (
            &["--zoom-per-level", "abc", "--png", "p"],
            &["--> --zoom-per-level abc"],
        ),
        (
            &["--max-iter", "70000", "--png", "p"],
            &["--> --max-iter 70000", "70000"],
        ),
        (
            &["--arithmetic", "exakt", "--png", "p"],
            &["--> --arithmetic exakt", "exakt"],
        ),
        (
            &["--png", "p", "--colormap", "jet"],
            &["--> --colormap jet", "jet"],
        ),
        (
            &["--zarr", "z", "--compression", "lz4"],
            &["--> --compression lz4", "lz4"],
        ),
    ] {
        let e = fails(&render(d, flags), 2);
        for w in words {
            assert!(e.contains(w), "{flags:?}: expected {w:?} in\n{e}");
        }
        assert!(
            !e.contains("<render flags>:"),
            "{flags:?}: a line of a spec:\n{e}"
        );
    }
    // Nothing was written.
    assert_eq!(std::fs::read_dir(d).unwrap().count(), 0);
}

#[test]
fn stack_chunks_are_every_sinks_default() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let spec = write(
        d,
        "s.toml",
        "[stack]\nlevels = 4\nheight = 16\nwidth = 16\nchunks = [2, 8, 16]\n\
         [[sink]]\nkind = \"zarr\"\npath = \"a.zarr\"\n\
         [[sink]]\nkind = \"zarr\"\npath = \"b.zarr\"\nchunks = [1, 16, 16]\n",
    );
    ok(&run(d, &["run", spec.to_str().unwrap(), "--quiet"]));
    let chunks = |store: &str| {
        let meta: serde_json::Value =
            serde_json::from_slice(&std::fs::read(d.join(store).join("counts/zarr.json")).unwrap())
                .unwrap();
        meta["chunk_grid"]["configuration"]["chunk_shape"].clone()
    };
    assert_eq!(chunks("a.zarr"), serde_json::json!([2, 8, 16]));
    assert_eq!(chunks("b.zarr"), serde_json::json!([1, 16, 16]));
    let bad = write(
        d,
        "bad.toml",
        "[stack]\nchunks = [1, 0, 256]\n[[sink]]\nkind = \"png\"\npath = \"p\"\n",
    );
    let e = fails(&run(d, &["run", bad.to_str().unwrap()]), 2);
    assert!(
        e.contains("stack.chunks[1]") && e.contains("bad.toml:2:"),
        "{e}"
    );
}

#[test]
fn completions_and_man_page() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    for (shell, marker) in [
        ("bash", "complete -F"),
        ("zsh", "#compdef zoomstack"),
        ("fish", "complete -c zoomstack"),
    ] {
        let script = ok(&run(d, &["completions", shell]));
        assert!(script.contains(marker), "{shell}:\n{script}");
        for word in ["render", "zoom-per-level", "arithmetic"] {
            assert!(script.contains(word), "{shell} completes {word}");
        }
    }
    let e = fails(&run(d, &["completions", "tcsh"]), 2);
    assert!(e.contains("tcsh") && e.contains("bash"), "{e}");
    let man = ok(&run(d, &["man"]));
    for page in [
        "zoomstack",
        "zoomstack-render",
        "zoomstack-view",
        "zoomstack-completions",
    ] {
        assert!(man.contains(&format!(".TH {page} 1")), "no page {page}");
    }
    // It renders: groff (Debian's groff-base, which man uses) formats it without warnings.
    if let Ok(mut groff) = std::process::Command::new("groff")
        // -P-cbou: plain text (no overstrike or SGR bold and underline).
        .args(["-man", "-Tutf8", "-ww", "-P-cbou"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
    {
        use std::io::Write;
        groff
            .stdin
            .take()
            .unwrap()
            .write_all(man.as_bytes())
            .unwrap();
        let out = groff.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let page = String::from_utf8_lossy(&out.stdout);
        assert!(page.contains("--zoom-per-level"), "{page}");
    }
}

#[test]
fn color_follows_the_flag_the_terminal_and_no_color() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let logged = |color: Option<&str>, no_color: bool| -> String {
        let mut c = zoomstack(d);
        c.env("RUST_LOG", "info");
        if no_color {
            c.env("NO_COLOR", "1");
        }
        if let Some(w) = color {
            c.args(["--color", w]);
        }
        c.args(SMALL).args(["--png", "p", "--quiet"]);
        let o = c.output().unwrap();
        assert!(o.status.success(), "{}", text(&o));
        String::from_utf8_lossy(&o.stderr).into_owned()
    };
    // stderr is a pipe here: no colour unless asked for.
    for (color, no_color) in [(None, false), (Some("never"), false), (Some("auto"), true)] {
        let e = logged(color, no_color);
        assert!(e.contains("INFO"), "{e}");
        assert!(!e.contains('\x1b'), "{color:?}: escape codes in\n{e}");
    }
    assert!(logged(Some("always"), false).contains("\x1b["));
    let e = fails(&run(d, &["--color", "sometimes", "bench"]), 2);
    assert!(e.contains("sometimes") && e.contains("always"), "{e}");
    // clap's own help and errors follow it too.
    let help = ok(&run(d, &["--color", "always", "render", "--help"]));
    assert!(help.contains('\x1b'));
    let help = ok(&run(d, &["render", "--help"]));
    assert!(!help.contains('\x1b'));
    for heading in [
        "Selection:",
        "Zarr output:",
        "Image outputs:",
        "Stack:",
        "Run:",
        "Guard:",
    ] {
        assert!(
            help.contains(heading),
            "render --help lacks {heading}\n{help}"
        );
    }
}

#[test]
fn plain_progress_lines_when_stderr_is_not_a_terminal() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let args = [
        "render", "--levels", "0:40", "--height", "128", "--width", "128", "--zarr", "z.zarr",
    ];
    let with = |extra: &[&str], store: &str| {
        let mut a: Vec<&str> = args.to_vec();
        a[8] = store;
        a.extend_from_slice(extra);
        run(d, &a)
    };
    // Tests' stderr is a pipe, as in a batch job's log.
    let o = with(&["--progress-every", "0.001"], "a.zarr");
    ok(&o);
    let err = String::from_utf8_lossy(&o.stderr);
    let line = err
        .lines()
        .find(|l| l.starts_with("progress: "))
        .unwrap_or_else(|| panic!("no progress line:\n{}", text(&o)));
    for part in [
        "% (",
        " of 6.554e5 pixels), ",
        " Mpx/s, ETA ",
        " elapsed - zarr",
    ] {
        assert!(line.contains(part), "{part:?} in {line:?}");
    }
    for (extra, store) in [
        (&["--progress-every", "0"][..], "b.zarr"),
        (&["--progress-every", "0.001", "--quiet"][..], "c.zarr"),
        // The default (30 s) writes nothing in a run shorter than that.
        (&[][..], "d.zarr"),
    ] {
        let o = with(extra, store);
        ok(&o);
        assert!(
            !String::from_utf8_lossy(&o.stderr).contains("progress:"),
            "{extra:?}:\n{}",
            text(&o)
        );
    }
    let o = with(&["--progress-every=-1"], "e.zarr");
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("\"-1\" is not a number of seconds") && err.contains(">= 0"),
        "{err}"
    );
    assert!(!d.join("e.zarr").exists());
}
