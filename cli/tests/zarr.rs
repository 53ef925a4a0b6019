//! Zarr end to end: the examples at reduced size, job-array shares, interruption and resume.
//! Stores are read back with zarrs and compared with the engine's in-memory result.

mod common;

use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use common::*;
use zoomstack_engine::ZoomStack;
use zoomstack_kernel::StackParams;

fn stack(levels: u64, height: usize, width: usize, max_iter: u32) -> ZoomStack {
    ZoomStack::new(
        levels,
        StackParams {
            height,
            width,
            max_iter,
            ..StackParams::default()
        },
    )
    .unwrap()
}

fn sets(pairs: &[&str]) -> Vec<String> {
    pairs
        .iter()
        .flat_map(|p| ["--set".to_string(), p.to_string()])
        .collect()
}

#[test]
fn full_stack_example_shrunk() {
    let dir = tempfile::tempdir().unwrap();
    let spec = examples().join("full-stack.toml");
    let mut args = vec![
        "run".to_string(),
        spec.to_str().unwrap().into(),
        "--out".into(),
        "o".into(),
    ];
    args.extend(sets(&[
        "stack.levels=20",
        "stack.height=64",
        "stack.width=96",
    ]));
    let out = ok(&zoomstack(dir.path()).args(&args).output().unwrap());
    assert!(
        out.contains("3 write units done of 3 (3 written now), complete"),
        "{out}"
    );
    let store = dir.path().join("o/zoomstack.zarr");
    let got = read_store(&store, "");
    assert_eq!(got, compute(&stack(20, 64, 96, 256), "[:, :, :]"));
    let a = attrs(&store, "");
    assert_eq!(a["complete"], true);
    assert_eq!(a["select"], "[0:20:1, 0:64:1, 0:96:1]");
    assert_eq!(a["stack"]["levels"], 20);
    assert_eq!(a["write_unit"], serde_json::json!([8, 64, 96]));
    assert_eq!(markers(&store, ""), 3);
    // Re-running a finished store does nothing.
    let out = ok(&zoomstack(dir.path()).args(&args).output().unwrap());
    assert!(out.contains("(0 written now), complete"), "{out}");
    // describe at full size renders nothing and shows the dask numbers.
    let d = ok(&run(dir.path(), &["describe", spec.to_str().unwrap()]));
    assert!(
        d.contains("58.59 GiB") && d.contains("480000 chunks"),
        "{d}"
    );
    assert!(d.contains("15000 write units"), "{d}");
}

#[test]
fn pyramid_example_shrunk() {
    let dir = tempfile::tempdir().unwrap();
    let spec = examples().join("pyramid.toml");
    let mut args = vec![
        "run".to_string(),
        spec.to_str().unwrap().into(),
        "--out".into(),
        "o".into(),
        "-q".into(),
    ];
    args.extend(sets(&[
        "stack.height=96",
        "stack.width=80",
        "sink.0.select=\"[0:24]\"",
        "sink.1.select=\"[0:24:6]\"",
    ]));
    ok(&zoomstack(dir.path()).args(&args).output().unwrap());
    let store = dir.path().join("o/zoomstack-pyramid.zarr");
    let group: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(store.join("zarr.json")).unwrap()).unwrap();
    let datasets = &group["attributes"]["ome"]["multiscales"][0]["datasets"];
    assert_eq!(datasets.as_array().unwrap().len(), 4);
    let s = stack(120000, 96, 80, 256);
    for k in 0..4u32 {
        let f = 1 << k;
        let got = read_store(&store, &k.to_string());
        let want = compute(&s, &format!("[0:24, ::{f}, ::{f}]"));
        assert_eq!(got, want, "pyramid level {k}");
        assert_eq!(attrs(&store, &k.to_string())["complete"], true);
        assert_eq!(
            datasets[k as usize]["coordinateTransformations"][0]["scale"],
            serde_json::json!([1.0, f64::from(f), f64::from(f)])
        );
    }
    // The APNG beside it: 4 frames of 24 x 20 (mean 4 x 4 of 96 x 80).
    let dec = png::Decoder::new(std::io::BufReader::new(
        std::fs::File::open(dir.path().join("o/zoom-2000.png")).unwrap(),
    ));
    let r = dec.read_info().unwrap();
    let info = r.info();
    assert_eq!((info.width, info.height), (20, 24));
    assert_eq!(info.animation_control.map(|a| a.num_frames), Some(4));
}

#[test]
fn render_flags_write_the_same_store_as_a_spec() {
    let dir = tempfile::tempdir().unwrap();
    let flags = [
        "render",
        "--levels",
        "100:160:3",
        "--height",
        "48",
        "--width",
        "40",
        "--chunks",
        "2,16,16",
        "--zarr",
        "flags.zarr",
        "--shards",
        "4,32,32",
        "-q",
    ];
    ok(&run(dir.path(), &flags));
    let printed = ok(&run(
        dir.path(),
        &[&flags[..flags.len() - 1], &["--print-spec"]].concat(),
    ));
    assert!(
        printed.contains("kind = \"zarr\"") && printed.contains("shards = [4, 32, 32]"),
        "{printed}"
    );
    let spec = write(
        dir.path(),
        "same.toml",
        &printed.replace("flags.zarr", "spec.zarr"),
    );
    ok(&run(dir.path(), &["run", spec.to_str().unwrap(), "-q"]));
    let a = read_store(&dir.path().join("flags.zarr"), "");
    let b = read_store(&dir.path().join("spec.zarr"), "");
    assert_eq!(a, b);
    assert_eq!(a, compute(&stack(120000, 48, 40, 256), "[100:160:3]"));
}

/// Runs `zoomstack run` on a small job-array spec; returns the store path.
fn job_spec(dir: &Path) -> std::path::PathBuf {
    write(
        dir,
        "job.toml",
        r#"
[stack]
levels = 120000
height = 64
width = 64
max_iter = 512

[[sink]]
kind = "zarr"
path = "job.zarr"
select = "[100000:100048]"
chunks = [1, 32, 32]
shards = [2, 64, 32]
"#,
    )
}

#[test]
fn two_concurrent_shares_equal_one_process() {
    let dir = tempfile::tempdir().unwrap();
    let spec = job_spec(dir.path());
    let spec = spec.to_str().unwrap();
    // Reference: one process.
    ok(&run(dir.path(), &["run", spec, "--out", "single", "-q"]));
    // Two shares into one store, created once by init.
    ok(&run(dir.path(), &["init", spec, "--out", "shared"]));
    let store = dir.path().join("shared/job.zarr");
    assert_eq!(attrs(&store, "")["complete"], false);
    let children: Vec<_> = (0..2)
        .map(|i| {
            zoomstack(dir.path())
                .args([
                    "run",
                    spec,
                    "--out",
                    "shared",
                    "--index",
                    &i.to_string(),
                    "--count",
                    "2",
                ])
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    let outputs: Vec<_> = children
        .into_iter()
        .map(|c| c.wait_with_output().unwrap())
        .collect();
    let mut written = 0;
    for o in &outputs {
        let out = ok(o);
        assert!(out.contains("share"), "{out}");
        // 48 shards in all ([48, 64, 64] in shards of [2, 64, 32]), 24 per share.
        assert!(out.contains("(24 written now)"), "{out}");
        written += 24;
    }
    assert_eq!(written, 48);
    assert_eq!(markers(&store, ""), 48);
    assert_eq!(attrs(&store, "")["complete"], true);
    let single = read_store(&dir.path().join("single/job.zarr"), "");
    assert_eq!(read_store(&store, ""), single);
    assert_eq!(
        single,
        compute(&stack(120000, 64, 64, 512), "[100000:100048]")
    );
    // A finished share re-run does nothing; env variables select the share too.
    let o = zoomstack(dir.path())
        .args(["run", spec, "--out", "shared"])
        .env("SLURM_ARRAY_TASK_ID", "1")
        .env("SLURM_ARRAY_TASK_COUNT", "2")
        .output()
        .unwrap();
    let out = ok(&o);
    assert!(
        out.contains("share 1 of 2 (index from SLURM_ARRAY_TASK_ID)"),
        "{out}"
    );
    assert!(out.contains("(0 written now), complete"), "{out}");
    let o = zoomstack(dir.path())
        .args(["run", spec, "--out", "shared"])
        .env("JOB_COMPLETION_INDEX", "0")
        .env("ZOOMSTACK_COUNT", "3")
        .output()
        .unwrap();
    let out = ok(&o);
    assert!(
        out.contains("share 0 of 3 (index from JOB_COMPLETION_INDEX)"),
        "{out}"
    );
    assert!(out.contains("(0 written now)"), "{out}");
}

/// A job long enough to interrupt: deep levels with many iterations, one thread.
fn slow_spec(dir: &Path) -> std::path::PathBuf {
    write(
        dir,
        "slow.toml",
        r#"
[stack]
levels = 120000
height = 128
width = 128
max_iter = 5000

[[sink]]
kind = "zarr"
path = "slow.zarr"
select = "[119000:119960:10]"
chunks = [1, 64, 64]
shards = [1, 128, 64]
"#,
    )
}

/// Starts the slow job, waits for its first completed unit, stops it with `signal`, resumes
/// it, and compares with an uninterrupted run.
fn interrupt_and_resume(signal: &str) {
    let dir = tempfile::tempdir().unwrap();
    let spec = slow_spec(dir.path());
    let spec = spec.to_str().unwrap();
    let store = dir.path().join("a/slow.zarr");
    let mut child = zoomstack(dir.path())
        .args(["--threads", "1", "run", spec, "--out", "a"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let t0 = Instant::now();
    while markers(&store, "") == 0 {
        assert!(t0.elapsed() < Duration::from_mins(2), "no unit finished");
        if child.try_wait().unwrap().is_some() {
            break;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    let status = std::process::Command::new("kill")
        .args([signal, &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let o = child.wait_with_output().unwrap();
    let done = markers(&store, "");
    assert!(
        done < 192,
        "the run finished before the signal; make the job slower"
    );
    match signal {
        "-INT" => {
            let e = fails(&o, 130);
            assert!(e.contains("interrupted"), "{e}");
            assert!(e.contains("resume"), "{e}");
        }
        _ => assert_eq!(o.status.code(), None, "killed by a signal"),
    }
    assert_eq!(attrs(&store, "")["complete"], false);
    // Resume: only the missing units are rendered.
    let out = ok(&run(dir.path(), &["run", spec, "--out", "a"]));
    assert!(
        out.contains(&format!("({} written now), complete", 192 - done)),
        "{done} done before:\n{out}"
    );
    assert_eq!(markers(&store, ""), 192);
    // Uninterrupted reference.
    ok(&run(dir.path(), &["run", spec, "--out", "b", "-q"]));
    let resumed = read_store(&store, "");
    assert_eq!(resumed, read_store(&dir.path().join("b/slow.zarr"), ""));
    assert_eq!(
        resumed,
        compute(&stack(120000, 128, 128, 5000), "[119000:119960:10]")
    );
}

#[test]
fn ctrl_c_then_resume_gives_the_same_store() {
    interrupt_and_resume("-INT");
}

#[test]
fn sigkill_then_resume_gives_the_same_store() {
    interrupt_and_resume("-KILL");
}
