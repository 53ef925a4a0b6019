//! Every error path exits with code 2 (or 1 for failures that are not the user's) and a message
//! that names the problem; spec errors point at the line and column with a caret. Never a panic.

mod common;

use common::*;

/// Runs `zoomstack run spec.toml` on `spec` and returns stderr (asserting exit code 2).
fn spec_error(spec: &str) -> String {
    let dir = tempfile::tempdir().unwrap();
    let p = write(dir.path(), "spec.toml", spec);
    let o = run(dir.path(), &["run", p.to_str().unwrap(), "--quiet"]);
    let e = fails(&o, 2);
    // Nothing was written.
    let entries: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(entries.len(), 1, "{entries:?}\n{e}");
    e
}

/// The `--> file:line:col` location and the caret under `what`.
fn assert_points(err: &str, line: usize, col: usize, caret: &str) {
    assert!(
        err.contains(&format!("spec.toml:{line}:{col}")),
        "expected location {line}:{col}:\n{err}"
    );
    assert!(err.contains(caret), "expected caret {caret:?}:\n{err}");
    assert!(err.starts_with("error: "), "{err}");
}

#[test]
fn bad_toml() {
    let e = spec_error("[stack]\nlevels = = 3\n");
    assert_points(&e, 2, 10, "^");
    let e = spec_error("[stack\n");
    assert!(e.contains("spec.toml:1:"), "{e}");
    let e = spec_error("[[sink]]\nkind = \"png\"\npath = \"a\n");
    assert!(e.contains("spec.toml:3:"), "{e}");
}

#[test]
fn unknown_keys_with_line_and_column() {
    let e = spec_error("[stack]\nlevels = 10\n  levles = 3\n");
    assert!(e.contains("unknown field `levles`"), "{e}");
    assert_points(&e, 3, 3, "  ^^^^^^");
    let e = spec_error("[[sink]]\nkind = \"png\"\ncolourmap = \"gray\"\n");
    assert!(e.contains("unknown key `colourmap` in a `png` sink"), "{e}");
    assert!(e.contains("did you mean `colormap`?"), "{e}");
    assert_points(&e, 3, 1, "^^^^^^^^^");
    let e = spec_error("[stacks]\nlevels = 3\n");
    assert!(e.contains("unknown field `stacks`"), "{e}");
    // A key of another sink kind.
    let e = spec_error("[[sink]]\nkind = \"zarr\"\ndelay_ms = 40\n");
    assert!(
        e.contains("`delay_ms` is not an option of a `zarr` sink"),
        "{e}"
    );
    assert_points(&e, 3, 1, "^^^^^^^^");
    let e = spec_error("[[sink]]\nkind = \"movie\"\n");
    assert!(e.contains("unknown sink kind \"movie\""), "{e}");
    assert_points(&e, 2, 8, "^^^^^^^");
}

#[test]
fn bad_select_and_zero_step() {
    let e = spec_error("[[sink]]\nkind = \"png\"\nselect = \"[0:10:x]\"\n");
    assert!(e.contains("cannot parse select"), "{e}");
    // The caret points at the `x` inside the string.
    assert_points(&e, 3, 17, "\n  |                 ^\n");
    let e = spec_error("[[sink]]\nkind = \"png\"\nselect = \"[::0, :, :]\"\n");
    assert!(e.contains("step cannot be zero"), "{e}");
    assert_points(&e, 3, 14, "^");
    let e = spec_error("[[sink]]\nkind = \"png\"\nselect = \"[1, 2, 3, 4]\"\n");
    assert!(e.contains("3 axes"), "{e}");
    let e = spec_error("[[sink]]\nkind = \"png\"\nselect = \"[200000]\"\n");
    assert!(e.contains("out of bounds"), "{e}");
    let e = spec_error("[[sink]]\nkind = \"png\"\ndownsample = 0\n");
    assert!(e.contains("at least 1"), "{e}");
    let e = spec_error("[[sink]]\nkind = \"png\"\nchunks = [1, 0, 256]\n");
    assert!(e.contains("chunks[1]"), "{e}");
}

#[test]
fn out_of_range_values() {
    for (spec, needle, line) in [
        (
            "[stack]\nmax_iter = 0\n",
            "stack.max_iter must be in 1..=65535, got 0",
            2,
        ),
        ("[stack]\nmax_iter = 70000\n", "stack.max_iter", 2),
        ("[stack]\nheight = 0\n", "stack.height must be in 1..", 2),
        ("[stack]\nlevels = -5\n", "invalid value", 2),
        (
            "[stack]\nscale0 = -1.0\n",
            "stack.scale0 must be a finite number > 0",
            2,
        ),
        ("[stack]\nzoom_per_level = nan\n", "stack.zoom_per_level", 2),
        (
            "[stack]\ncenter = [1.0]\n",
            "exactly two numbers [re, im], got 1",
            2,
        ),
        ("[stack]\nlevels = \"many\"\n", "invalid type", 2),
        (
            "[[sink]]\nkind = \"zarr\"\ncompression_level = 99\n",
            "compression_level must be in -7..=22",
            3,
        ),
        (
            "[[sink]]\nkind = \"zarr\"\nchunks = [1, 256, 256]\nshards = [8, 500, 512]\n",
            "shards must be a multiple of chunks",
            4,
        ),
        (
            "[[sink]]\nkind = \"zarr\"\npyramid_levels = 2\n",
            "needs ome = true",
            3,
        ),
        (
            "[[sink]]\nkind = \"png\"\ncolormap = \"jet\"\n",
            "unknown colormap \"jet\"",
            3,
        ),
        (
            "[[sink]]\nkind = \"animation\"\nloop = 0\n",
            "number of plays",
            3,
        ),
        (
            "[[sink]]\nkind = \"animation\"\npath = \"movie.mp4\"\n",
            "cannot tell the animation format",
            3,
        ),
        (
            "[[sink]]\nkind = \"png\"\npath = \"a\"\n[[sink]]\nkind = \"png16\"\npath = \"a\"\n",
            "overlaps the output of sink 1",
            6,
        ),
        (
            "[[sink]]\nkind = \"png\"\nselect = \"[5:5]\"\n",
            "the selection is empty",
            3,
        ),
        (
            "[[sink]]\nkind = \"contact-sheet\"\nselect = \"[:1000]\"\n",
            "more than a contact sheet holds",
            3,
        ),
        (
            "[stack]\nlevels = 200000\nzoom_per_level = 1.01\n[[sink]]\nkind = \"png\"\nselect = \"[-1]\"\n",
            "level scale",
            6,
        ),
    ] {
        let e = spec_error(spec);
        assert!(e.contains(needle), "expected {needle:?}:\n{e}");
        assert!(
            e.contains(&format!("spec.toml:{line}:")),
            "line {line}:\n{e}"
        );
    }
}

#[test]
fn bad_overrides() {
    let dir = tempfile::tempdir().unwrap();
    let spec = examples().join("full-stack.toml");
    let o = run(
        dir.path(),
        &[
            "describe",
            spec.to_str().unwrap(),
            "--set",
            "stack.max_iter=0",
        ],
    );
    let e = fails(&o, 2);
    assert!(e.contains("--> --set stack.max_iter=0"), "{e}");
    assert!(e.contains("max_iter must be in"), "{e}");
    let o = run(
        dir.path(),
        &["describe", spec.to_str().unwrap(), "--set", "stack.levels"],
    );
    assert!(fails(&o, 2).contains("expected KEY=VALUE"));
    let o = run(
        dir.path(),
        &[
            "describe",
            spec.to_str().unwrap(),
            "--set",
            "sink.3.select=\"[:1]\"",
        ],
    );
    assert!(fails(&o, 2).contains("expected an index into the 1 `sink` entries"));
}

#[test]
fn unwritable_output() {
    let dir = tempfile::tempdir().unwrap();
    // A file where the output directory should be (root ignores permission bits, this does not).
    write(dir.path(), "blocker", "not a directory");
    let o = run(dir.path(), &["preview", "--out", "blocker/out", "--quiet"]);
    let e = fails(&o, 2);
    assert!(e.contains("blocker"), "{e}");
    // A Zarr sink onto a directory that is not a zoomstack store: refused, nothing touched.
    std::fs::create_dir(dir.path().join("data")).unwrap();
    write(&dir.path().join("data"), "precious.txt", "keep me");
    let o = run(
        dir.path(),
        &[
            "render", "--levels", "0:2", "--height", "16", "--width", "16", "--zarr", "data",
        ],
    );
    let e = fails(&o, 2);
    assert!(e.contains("not a zoomstack store"), "{e}");
    assert_eq!(
        std::fs::read_to_string(dir.path().join("data/precious.txt")).unwrap(),
        "keep me"
    );
}

#[test]
fn usage_errors() {
    let dir = tempfile::tempdir().unwrap();
    let o = run(dir.path(), &["run", "does-not-exist.toml"]);
    assert!(fails(&o, 2).contains("cannot read spec file does-not-exist.toml"));
    let o = run(dir.path(), &["--bogus-flag"]);
    fails(&o, 2);
    let o = run(dir.path(), &["--threads", "0", "preview"]);
    assert!(fails(&o, 2).contains("--threads must be at least 1"));
    let o = run(dir.path(), &["--kernel", "avx9000", "preview"]);
    assert!(fails(&o, 2).contains("unknown kernel backend"));
    let o = zoomstack(dir.path())
        .env("ZOOMSTACK_KERNEL", "nope")
        .args(["preview"])
        .output()
        .unwrap();
    assert!(fails(&o, 2).contains("unknown kernel backend"));
    let o = run(dir.path(), &["render", "--levels", "0:3"]);
    assert!(fails(&o, 2).contains("at least one output"));
    let o = run(
        dir.path(),
        &["render", "--levels", "0:3", "--png", "x", "--chunks", "1,2"],
    );
    assert!(fails(&o, 2).contains("--chunks"));
    let spec = write(dir.path(), "empty.toml", "[stack]\nlevels = 3\n");
    let o = run(dir.path(), &["run", spec.to_str().unwrap()]);
    assert!(fails(&o, 2).contains("no [[sink]]"));
    let spec = write(dir.path(), "bin.toml", "");
    std::fs::write(&spec, [0xff, 0xfe, 0x00]).unwrap();
    let o = run(dir.path(), &["run", spec.to_str().unwrap()]);
    assert!(fails(&o, 2).contains("not UTF-8"));
    let spec = examples().join("full-stack.toml");
    let o = run(
        dir.path(),
        &[
            "run",
            spec.to_str().unwrap(),
            "--index",
            "2",
            "--count",
            "2",
        ],
    );
    assert!(fails(&o, 2).contains("must be below the number of shares"));
    let o = run(dir.path(), &["run", spec.to_str().unwrap(), "--index", "1"]);
    assert!(fails(&o, 2).contains("--count"));
    let o = zoomstack(dir.path())
        .env("SLURM_ARRAY_TASK_ID", "x")
        .args(["run", spec.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(fails(&o, 2).contains("SLURM_ARRAY_TASK_ID"));
    // With several shares the store must exist (zoomstack init).
    let o = run(
        dir.path(),
        &[
            "run",
            spec.to_str().unwrap(),
            "--index",
            "0",
            "--count",
            "2",
            "--set",
            "stack.levels=4",
        ],
    );
    assert!(fails(&o, 2).contains("zoomstack init"));
    // A store written with other parameters is not resumed.
    let args = |levels: &str| {
        vec![
            "run".to_string(),
            spec.to_str().unwrap().to_string(),
            "--quiet".into(),
            "--set".into(),
            format!("stack.levels={levels}"),
            "--set".into(),
            "stack.height=16".into(),
            "--set".into(),
            "stack.width=16".into(),
        ]
    };
    ok(&zoomstack(dir.path()).args(args("4")).output().unwrap());
    let o = zoomstack(dir.path()).args(args("5")).output().unwrap();
    let e = fails(&o, 2);
    assert!(e.contains("stack.levels") || e.contains("levels"), "{e}");
}
