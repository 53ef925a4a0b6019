//! SIGTERM and SIGHUP stop a run like Ctrl-C: a clean stop, no temp file left, a resumable
//! store, a message saying what each sink keeps, and exit 128 + the signal (143, 129, 130).

mod common;

use std::path::Path;
use std::process::{Child, Output, Stdio};
use std::time::{Duration, Instant};

use common::*;

/// Sends `signal` (`-TERM`, `-HUP`, `-INT`) to the child with the `kill` command.
fn kill(child: &Child, signal: &str) {
    let status = std::process::Command::new("kill")
        .args([signal, &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success(), "kill {signal} failed");
}

/// Waits until `ready()` holds (or the child ended), at most a minute.
fn wait_for(child: &mut Child, what: &str, ready: impl Fn() -> bool) {
    let t0 = Instant::now();
    while !ready() {
        assert!(t0.elapsed() < Duration::from_mins(1), "never saw {what}");
        if child.try_wait().unwrap().is_some() {
            return;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Names in `dir` (recursively) that look like temporary files (`.NAME.tmp-PID`).
fn temp_files(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let e = e.unwrap();
        let name = e.file_name().to_string_lossy().into_owned();
        if e.file_type().unwrap().is_dir() {
            out.extend(temp_files(&e.path()));
        } else if name.contains(".tmp-") {
            out.push(name);
        }
    }
    out
}

/// Deep levels with many iterations on one thread: slow enough to interrupt.
const SLOW: &[&str] = &[
    "--threads",
    "1",
    "render",
    "--select",
    "[119000:119960:10]",
    "--height",
    "128",
    "--width",
    "128",
    "--max-iter",
    "5000",
];

/// The slow render with `outputs`, stopped by `signal` once `ready` holds in `dir`.
fn interrupted(dir: &Path, outputs: &[&str], signal: &str, ready: impl Fn() -> bool) -> Output {
    let mut child = zoomstack(dir)
        .args(SLOW)
        .args(outputs)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    wait_for(&mut child, "the run start writing", ready);
    kill(&child, signal);
    child.wait_with_output().unwrap()
}

fn stop_an_animation_run(signal: &str, code: i32, name: &str) {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let o = interrupted(
        d,
        &["--gif", "a.gif", "--apng", "a.png", "--png", "frames"],
        signal,
        || {
            // The GIF's temp file exists and a frame is on disk: mid-write.
            temp_files(d).iter().any(|n| n.starts_with(".a.gif.tmp-"))
                && std::fs::read_dir(d.join("frames")).is_ok_and(|mut r| r.next().is_some())
        },
    );
    let e = fails(&o, code);
    assert!(
        !d.join("a.gif").exists(),
        "the run finished before the signal"
    );
    assert!(e.contains(name), "{e}");
    assert!(e.contains("interrupted after"), "{e}");
    // What each sink keeps, said plainly.
    assert!(
        e.contains("a.gif was not written: nothing of it is kept"),
        "{e}"
    );
    assert!(
        e.contains("a.png was not written: nothing of it is kept"),
        "{e}"
    );
    assert!(
        e.contains("kept but not resumed: a rerun renders and writes every frame again"),
        "{e}"
    );
    assert!(!e.contains("run the same command again"), "{e}");
    assert_eq!(temp_files(d), Vec::<String>::new(), "temp files left");
    assert!(!d.join("a.png").exists());
}

#[test]
fn sigterm_mid_animation_leaves_no_temp_file() {
    stop_an_animation_run("-TERM", 143, "SIGTERM");
}

#[test]
fn sighup_mid_animation_leaves_no_temp_file() {
    stop_an_animation_run("-HUP", 129, "SIGHUP");
}

#[test]
fn sigint_mid_apng_exits_130() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let o = interrupted(d, &["--apng", "b.png"], "-INT", || {
        temp_files(d).iter().any(|n| n.starts_with(".b.png.tmp-"))
    });
    let e = fails(&o, 130);
    assert!(e.contains("SIGINT"), "{e}");
    assert!(e.contains("b.png was not written"), "{e}");
    assert_eq!(temp_files(d), Vec::<String>::new());
}

#[test]
fn sigterm_mid_zarr_write_then_resume_gives_the_same_store() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let store = d.join("a/slow.zarr");
    let zarr = [
        "--zarr",
        "a/slow.zarr",
        "--chunks",
        "1,64,64",
        "--shards",
        "1,128,64",
    ];
    let o = interrupted(d, &zarr, "-TERM", || markers(&store, "") > 0);
    let done = markers(&store, "");
    assert!(done < 192, "the run finished before the signal");
    let e = fails(&o, 143);
    assert!(e.contains("SIGTERM"), "{e}");
    assert!(
        e.contains("every finished write unit is kept; run the same command again to resume"),
        "{e}"
    );
    assert_eq!(attrs(&store, "")["complete"], false);
    assert_eq!(temp_files(d), Vec::<String>::new(), "temp files left");
    // Resume: only the missing units are rendered.
    let out = ok(&zoomstack(d).args(SLOW).args(zarr).output().unwrap());
    assert!(
        out.contains(&format!("({} written now), complete", 192 - done)),
        "{done} done before:\n{out}"
    );
    // Uninterrupted reference.
    let reference = [
        "--zarr",
        "b/slow.zarr",
        "--chunks",
        "1,64,64",
        "--shards",
        "1,128,64",
    ];
    ok(&zoomstack(d).args(SLOW).args(reference).output().unwrap());
    assert_eq!(
        read_store(&store, ""),
        read_store(&d.join("b/slow.zarr"), "")
    );
}
