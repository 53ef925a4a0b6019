//! File outputs never replace what they should not (devices, FIFOs, sockets, symlinks), `-` is
//! standard output, a refused run leaves nothing, the guard on huge outputs, and messages that
//! stay short and name no internal function.

mod common;

use std::os::unix::fs::FileTypeExt;
use std::path::{Path, PathBuf};

use common::*;

const SMALL: &[&str] = &[
    "render", "--levels", "0:4", "--height", "16", "--width", "16",
];

fn render(dir: &Path, outputs: &[&str]) -> std::process::Output {
    zoomstack(dir).args(SMALL).args(outputs).output().unwrap()
}

/// Directory entries of `dir`, sorted.
fn names(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

/// A FIFO and, when `mknod` works (root), a character device `c 1 3` in `dir`, with what the
/// error should call them.
fn special_nodes(dir: &Path) -> Vec<(PathBuf, &'static str)> {
    let fifo = dir.join("fifo");
    let made = std::process::Command::new("mkfifo").arg(&fifo).status();
    assert!(made.is_ok_and(|s| s.success()), "mkfifo failed");
    let mut nodes = vec![(fifo, "is a FIFO (named pipe)")];
    let dev = dir.join("dev");
    let made = std::process::Command::new("mknod")
        .arg(&dev)
        .args(["c", "1", "3"])
        .stderr(std::process::Stdio::null())
        .status();
    if made.is_ok_and(|s| s.success()) {
        nodes.push((dev, "is a character device"));
    } else {
        println!("skipping the character device: mknod failed (not root?)");
    }
    nodes
}

fn is_special(p: &Path) -> bool {
    let ft = std::fs::symlink_metadata(p).unwrap().file_type();
    ft.is_fifo() || ft.is_char_device()
}

#[test]
fn devices_and_fifos_are_refused_left_intact_and_nothing_else_is_created() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    for (node, what) in special_nodes(d) {
        let name = node.file_name().unwrap().to_str().unwrap().to_string();
        let link = format!("link-to-{name}");
        std::os::unix::fs::symlink(&node, d.join(&link)).unwrap();
        for flag in ["--gif", "--apng", "--sheet", "--png", "--png16", "--zarr"] {
            for target in [name.as_str(), link.as_str()] {
                // Another output first: it must not be created either (the run is refused
                // before anything exists).
                let other = if flag == "--png16" {
                    "--png"
                } else {
                    "--png16"
                };
                let o = render(d, &[other, "other", flag, target]);
                let e = fails(&o, 2);
                assert!(e.contains(target), "{flag} {target}: {e}");
                assert!(
                    e.contains(what) || e.contains(&what.replace("is ", "a symlink to ")),
                    "{flag} {target}: {e}"
                );
                assert!(is_special(&node), "{} was replaced", node.display());
                assert!(
                    !d.join("other").exists(),
                    "{flag} {target}: created another output"
                );
            }
        }
    }
    let left: Vec<String> = names(d)
        .into_iter()
        .filter(|n| n.contains(".tmp-"))
        .collect();
    assert!(left.is_empty(), "{left:?}");
}

#[test]
fn a_frame_file_that_is_a_fifo_is_refused_and_kept() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::create_dir(d.join("frames")).unwrap();
    let fifo = d.join("frames/level-2.png");
    assert!(
        std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap()
            .success()
    );
    // A stack of 4 levels: names level-0.png .. level-3.png.
    let o = zoomstack(d)
        .args(SMALL)
        .args(["--stack-levels", "4", "--png", "frames"])
        .output()
        .unwrap();
    let e = fails(&o, 2);
    assert!(e.contains("level-2.png is a FIFO"), "{e}");
    assert!(is_special(&fifo));
}

#[test]
fn symlinks_to_regular_files_are_followed_and_kept() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("real.gif"), b"old").unwrap();
    std::os::unix::fs::symlink("real.gif", d.join("link.gif")).unwrap();
    ok(&render(d, &["--gif", "link.gif"]));
    assert!(
        std::fs::symlink_metadata(d.join("link.gif"))
            .unwrap()
            .file_type()
            .is_symlink()
    );
    let (w, h, frames) = decode_gif(&d.join("real.gif"));
    assert_eq!((w, h, frames.len()), (16, 16, 4));
    assert_eq!(names(d), ["link.gif", "real.gif"]);
    // A symlink to nothing is refused (it is not replaced by a file).
    std::os::unix::fs::symlink("nowhere.gif", d.join("dangling.gif")).unwrap();
    let e = fails(&render(d, &["--gif", "dangling.gif"]), 2);
    assert!(
        e.contains("dangling.gif is a symlink to nowhere.gif, which does not exist"),
        "{e}"
    );
    assert!(!d.join("nowhere.gif").exists());
    // A symlink to a directory is fine for a directory of frames.
    std::fs::create_dir(d.join("real-frames")).unwrap();
    std::os::unix::fs::symlink("real-frames", d.join("frames")).unwrap();
    ok(&render(d, &["--png", "frames"]));
    assert_eq!(std::fs::read_dir(d.join("real-frames")).unwrap().count(), 4);
}

#[test]
fn dash_writes_single_file_outputs_to_stdout() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let o = render(d, &["--gif", "-"]);
    assert!(o.status.success(), "{}", text(&o));
    std::fs::write(d.join("copy.gif"), &o.stdout).unwrap();
    let (w, h, frames) = decode_gif(&d.join("copy.gif"));
    assert_eq!((w, h, frames.len()), (16, 16, 4));
    // The summary went to stderr, nothing but the GIF to stdout.
    let e = String::from_utf8_lossy(&o.stderr);
    assert!(e.contains("wrote standard output"), "{e}");
    assert!(e.contains("rendered"), "{e}");
    // The same through a spec, with an APNG; a file named `-` is `./-`.
    let spec = write(
        d,
        "s.toml",
        "[stack]\nlevels = 4\nheight = 8\nwidth = 8\n[[sink]]\nkind = \"animation\"\nformat = \"apng\"\npath = \"-\"\n[[sink]]\nkind = \"contact-sheet\"\npath = \"./-\"\n",
    );
    let o = zoomstack(d)
        .args(["run", spec.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(&o.stdout[..8], b"\x89PNG\r\n\x1a\n");
    assert!(d.join("-").is_file());
    assert_eq!(names(d), ["-", "copy.gif", "s.toml"]);
    // `-` is refused where it cannot mean one file, and when the format is unknown.
    for (flags, want) in [
        (&["--png", "-"][..], "only for single-file sinks"),
        (&["--zarr", "-"][..], "only for single-file sinks"),
        (&["--gif", "-", "--sheet", "-"][..], "overlaps"),
    ] {
        let e = fails(&render(d, flags), 2);
        assert!(e.contains(want), "{flags:?}: {e}");
    }
    let spec = write(
        d,
        "t.toml",
        "[stack]\nlevels = 4\n[[sink]]\nkind = \"animation\"\npath = \"-\"\n",
    );
    let e = fails(&run(d, &["run", spec.to_str().unwrap()]), 2);
    assert!(e.contains("set format = \"gif\" | \"apng\""), "{e}");
}

#[test]
fn a_run_refused_for_memory_leaves_nothing_and_the_corrected_rerun_works() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // 40000 x 40000 frames: the Zarr sink (tiles of 512 x 512) fits, the PNG frames do not.
    let big = [
        "render", "--levels", "0:1", "--height", "40000", "--width", "40000", "--zarr", "s.zarr",
        "--png", "frames",
    ];
    let e = fails(&run(d, &big), 2);
    assert!(e.contains("above the memory limit"), "{e}");
    assert!(!e.contains("for_each") && !e.contains("Executor"), "{e}");
    assert_eq!(
        names(d),
        Vec::<String>::new(),
        "a refused run created files"
    );
    // `init` of the same spec creates no store either.
    let text = ok(&run(d, &[&big[..], &["--print-spec"]].concat()));
    let spec_dir = tempfile::tempdir().unwrap();
    let spec = write(spec_dir.path(), "big.toml", &text);
    let e = fails(&run(d, &["init", spec.to_str().unwrap()]), 2);
    assert!(e.contains("above the memory limit"), "{e}");
    assert_eq!(
        names(d),
        Vec::<String>::new(),
        "a refused init created files"
    );
    let fixed = [
        "render", "--levels", "0:1", "--height", "64", "--width", "64", "--zarr", "s.zarr",
        "--png", "frames",
    ];
    let out = ok(&run(d, &fixed));
    assert!(out.contains("complete"), "{out}");
    assert_eq!(read_store(&d.join("s.zarr"), "").dim(), (1, 64, 64));
}

/// The machine's physical memory (`MemTotal`), where `/proc/meminfo` says.
fn physical_memory() -> Option<u64> {
    let info = std::fs::read_to_string("/proc/meminfo").ok()?;
    let kib = info.lines().find_map(|l| l.strip_prefix("MemTotal:"))?;
    kib.trim()
        .trim_end_matches("kB")
        .trim()
        .parse::<u64>()
        .ok()
        .map(|k| k * 1024)
}

#[test]
fn the_memory_limit_is_a_checked_flag_that_the_executor_obeys() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // One thread, tiles of 4 x 32 x 32 counts: 8 KiB of tile and 2 KiB of grid in flight.
    let small = [
        "render",
        "--levels",
        "0:4",
        "--height",
        "32",
        "--width",
        "32",
        "--chunks",
        "4,32,32",
        "--zarr",
        "s.zarr",
        "--threads",
        "1",
    ];
    let e = fails(
        &run(d, &[&small[..], &["--memory-limit", "10239B"]].concat()),
        2,
    );
    assert!(e.contains("would need 10240 bytes"), "{e}");
    assert!(e.contains("above the memory limit of 10239 bytes"), "{e}");
    assert!(
        e.contains("--memory-limit 1MiB"),
        "the flag that raises it: {e}"
    );
    assert_eq!(
        names(d),
        Vec::<String>::new(),
        "a refused run created files"
    );
    let out = ok(&run(
        d,
        &[&small[..], &["--memory-limit", "10KiB"]].concat(),
    ));
    assert!(out.contains("complete"), "{out}");
    // Bad values name themselves and what is expected.
    for (value, want) in [
        ("0", "expected more than 0 bytes"),
        ("0GiB", "expected more than 0 bytes"),
        ("12XB", "unknown unit \"XB\""),
        ("lots", "expected a whole number of bytes"),
        ("99999999999999999999", "expected a whole number of bytes"),
    ] {
        let e = fails(
            &run(d, &[&small[..], &["--memory-limit", value]].concat()),
            2,
        );
        assert!(
            e.contains(&format!(
                "invalid value '{value}' for '--memory-limit <SIZE>'"
            )),
            "{value}: {e}"
        );
        assert!(e.contains(want), "{value}: {e}");
    }
    let Some(physical) = physical_memory() else {
        eprintln!("no /proc/meminfo: the physical-memory bound is not checked here");
        return;
    };
    let e = fails(
        &run(d, &[&small[..], &["--memory-limit", "1024TiB"]].concat()),
        2,
    );
    assert!(e.contains("above this machine's physical memory"), "{e}");
    // The case: shards of 4096 levels of 512 x 512 with 2 threads need 2 x 2 GiB and
    // the grids in flight, just above the default 4 GiB. These levels are proven constant, so
    // the raised limit lets the run through without rendering (or allocating) anything.
    if physical < 5 << 30 {
        eprintln!("less than 5 GiB of memory: the raised limit is not tried here");
        return;
    }
    let deep = [
        "render",
        "--arithmetic",
        "exact",
        "--stack-levels",
        "120000000",
        "--levels",
        "200000:204096",
        "--chunks",
        "1,512,512",
        "--shards",
        "4096,512,512",
        "--zarr",
        "deep.zarr",
        "--threads",
        "2",
    ];
    let e = fails(&run(d, &deep), 2);
    assert!(
        e.contains("above the memory limit of 4294967296 bytes"),
        "{e}"
    );
    assert!(e.contains("--memory-limit 5GiB"), "{e}");
    assert!(!d.join("deep.zarr").exists());
    // `init` takes the flag too (a job array creates its store with it).
    let text = ok(&run(d, &[&deep[..], &["--print-spec"]].concat()));
    let spec = write(d, "deep.toml", &text);
    let e = fails(&run(d, &["init", spec.to_str().unwrap()]), 2);
    assert!(e.contains("--memory-limit"), "{e}");
    ok(&run(
        d,
        &["init", spec.to_str().unwrap(), "--memory-limit", "5GiB"],
    ));
    let out = ok(&run(d, &[&deep[..], &["--memory-limit", "5GiB"]].concat()));
    assert!(out.contains("complete"), "{out}");
    assert!(out.contains("rendered 0 pixels"), "{out}");
}

#[test]
fn the_guard_refuses_huge_outputs_unless_confirmed() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // The 120000 PNG files.
    let e = fails(
        &run(d, &["render", "--levels", "0:120000", "--png", "dir"]),
        2,
    );
    assert!(e.contains("this run would write 120000 files"), "{e}");
    assert!(e.contains("raw uncompressed size, an upper bound"), "{e}");
    assert!(e.contains("--yes"), "{e}");
    assert!(
        e.contains("sink 1 (png -> dir): 120000 files, 29.30 GiB"),
        "{e}"
    );
    assert_eq!(names(d), Vec::<String>::new());
    // A GIF of 120000 frames is one file but 29 GiB of frames.
    let e = fails(
        &run(d, &["render", "--levels", "0:120000", "--gif", "a.gif"]),
        2,
    );
    assert!(
        e.contains("above the limit of 10000 files and 20.00 GiB"),
        "{e}"
    );
    // Limits are configurable; --yes writes anyway.
    let small = [
        "render", "--levels", "0:4", "--height", "8", "--width", "8", "--png", "p",
    ];
    let e = fails(&run(d, &[&small[..], &["--max-files", "3"]].concat()), 2);
    assert!(e.contains("4 files"), "{e}");
    let e = fails(&run(d, &[&small[..], &["--max-bytes", "100B"]].concat()), 2);
    assert!(
        e.contains("above the limit of 10000 files and 100 B"),
        "{e}"
    );
    assert!(!d.join("p").exists());
    ok(&run(
        d,
        &[&small[..], &["--max-files", "3", "--yes"]].concat(),
    ));
    assert_eq!(std::fs::read_dir(d.join("p")).unwrap().count(), 4);
    ok(&run(d, &[&small[..], &["--max-bytes", "1KiB"]].concat()));
    let e = fails(&run(d, &[&small[..], &["--max-bytes", "12XB"]].concat()), 2);
    assert!(e.contains("unknown unit \"XB\""), "{e}");
    // Zarr: two files per write unit (the unit and its marker); shares count their own units.
    let zarr = [
        "render", "--levels", "0:6000", "--height", "8", "--width", "8", "--zarr", "z",
    ];
    let e = fails(&run(d, &zarr), 2);
    assert!(e.contains("12000 files"), "{e}");
    assert!(!d.join("z").exists());
}

#[test]
fn describe_shows_the_estimate_and_the_preview_is_under_the_guard() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let out = ok(&run(
        d,
        &[
            "render",
            "--levels",
            "0:120000",
            "--png",
            "dir",
            "--describe",
        ],
    ));
    assert!(
        out.contains("Writes: 120000 files, at most 29.30 GiB"),
        "{out}"
    );
    assert!(out.contains("Above the guard of 10000 files"), "{out}");
    let preview = examples().join("preview.toml");
    let out = ok(&run(d, &["describe", preview.to_str().unwrap()]));
    assert!(out.contains("Writes: 42 files"), "{out}");
    assert!(!out.contains("Above the guard"), "{out}");
    assert_eq!(names(d), Vec::<String>::new(), "describe wrote something");
}

#[test]
fn messages_stay_short_for_huge_input() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // Linux caps one argument at 128 KiB; the spec below holds a whole MiB.
    let huge = format!("[0:4, {}]", "::2, ".repeat(20_000));
    let e = fails(&run(d, &["render", "--select", &huge, "--png", "p"]), 2);
    assert!(
        e.len() < 2000,
        "{} bytes of error:\n{}",
        e.len(),
        &e[..2000]
    );
    assert!(e.contains("bytes)"), "{e}");
    let spec = write(
        d,
        "s.toml",
        &format!(
            "[stack]\nlevels = 4\n[[sink]]\nkind = \"png\"\nselect = \"[{}x]\"\n",
            "1".repeat(1 << 20)
        ),
    );
    let e = fails(&run(d, &["run", spec.to_str().unwrap()]), 2);
    assert!(
        e.len() < 2000,
        "{} bytes of error:\n{}",
        e.len(),
        &e[..2000]
    );
    assert!(e.contains("s.toml:5:"), "{e}");
    let e = fails(
        &run(
            d,
            &[
                "render",
                "--levels",
                "0:4",
                "--png",
                "p",
                "--colormap",
                &"v".repeat(100_000),
            ],
        ),
        2,
    );
    assert!(e.len() < 2000, "{} bytes of error", e.len());
    assert!(e.contains("unknown colormap"), "{e}");
    assert!(!d.join("p").exists());
}
