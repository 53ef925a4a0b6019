//! Stores that are never silently wrong: one writer per store, damaged units found by
//! `zoomstack verify` and rewritten by `--verify`, markers that keep up with finished units.

mod common;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use common::*;

/// A render of `levels` levels of 64 x 64 into `store`, as CLI arguments.
fn render_args(store: &str, levels: u64, extra: &[&str]) -> Vec<String> {
    let mut a: Vec<String> = [
        "render",
        "--levels",
        &format!("0:{levels}"),
        "--set",
        "stack.height=64",
        "--set",
        "stack.width=64",
        "--zarr",
        store,
    ]
    .iter()
    .map(ToString::to_string)
    .collect();
    a.extend(extra.iter().map(ToString::to_string));
    a
}

/// Every file of a store (relative path -> bytes), markers and metadata included.
fn files(store: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    fn walk(base: &Path, dir: &Path, out: &mut Vec<(PathBuf, Vec<u8>)>) {
        for e in fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                walk(base, &p, out);
            } else {
                out.push((
                    p.strip_prefix(base).unwrap().to_path_buf(),
                    fs::read(&p).unwrap(),
                ));
            }
        }
    }
    let mut out = Vec::new();
    walk(store, store, &mut out);
    out.sort();
    out
}

/// Starts a slow writer of `store` (deep levels, a high `max_iter`, one thread) and waits until the
/// store's metadata exists.
fn slow_writer(dir: &Path, store: &str) -> Child {
    let child = zoomstack(dir)
        .args(["--threads", "1", "render", "--levels", "119000:119400"])
        .args(["--set", "stack.height=128", "--set", "stack.width=128"])
        .args(["--set", "stack.max_iter=5000", "--chunks", "1,128,128"])
        .args(["--zarr", store, "--quiet"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let t0 = Instant::now();
    while !dir.join(store).join("counts/zarr.json").exists() {
        assert!(
            t0.elapsed() < Duration::from_mins(1),
            "the writer never created its store"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    child
}

#[test]
fn a_second_writer_is_refused_and_the_store_stays_consistent() {
    let dir = tempfile::tempdir().unwrap();
    let mut first = slow_writer(dir.path(), "same.zarr");
    let same = |extra: &[&str]| {
        let mut c = zoomstack(dir.path());
        c.args(["--threads", "1", "render", "--levels", "119000:119400"])
            .args(["--set", "stack.height=128", "--set", "stack.width=128"])
            .args(["--chunks", "1,128,128", "--zarr", "same.zarr", "--quiet"])
            .args(extra);
        c.output().unwrap()
    };
    // Other parameters: refused, naming the field.
    let e = fails(&same(&["--set", "stack.max_iter=300"]), 2);
    assert!(
        e.contains("stack.max_iter") && e.contains("5000") && e.contains("300"),
        "{e}"
    );
    // The same parameters: refused while the first one writes.
    let e = fails(&same(&["--set", "stack.max_iter=5000"]), 2);
    assert!(e.contains("being written by another process"), "{e}");
    // A share of a job array is refused too.
    let e = fails(
        &same(&[
            "--set",
            "stack.max_iter=5000",
            "--index",
            "1",
            "--count",
            "2",
        ]),
        2,
    );
    assert!(e.contains("being written by another process"), "{e}");
    // And verify reads only: it may run alongside (units in flight may lack markers).
    first.kill().unwrap();
    first.wait().unwrap();
    // Resumed by the same parameters, the store is complete and intact, all 5000-iteration.
    ok(&same(&["--set", "stack.max_iter=5000", "--threads", "2"]));
    assert_eq!(attrs(&dir.path().join("same.zarr"), "")["complete"], true);
    assert_eq!(
        attrs(&dir.path().join("same.zarr"), "")["stack"]["max_iter"],
        5000
    );
    let v = ok(&run(dir.path(), &["verify", "same.zarr"]));
    assert!(v.contains("all 400 write units intact"), "{v}");
}

#[test]
fn verify_finds_damage_and_a_verify_run_repairs_it() {
    let dir = tempfile::tempdir().unwrap();
    for (name, layout) in [
        (
            "sharded.zarr",
            &["--chunks", "1,32,32", "--shards", "4,64,64"][..],
        ),
        ("unsharded.zarr", &["--chunks", "4,64,64"][..]),
    ] {
        let reference = format!("ref-{name}");
        let reference_args = render_args(&reference, 32, layout);
        let reference_args: Vec<&str> = reference_args.iter().map(String::as_str).collect();
        ok(&run(dir.path(), &reference_args));
        let args = render_args(name, 32, layout);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        ok(&run(dir.path(), &args));
        let store = dir.path().join(name);
        assert_eq!(
            files(&store),
            files(&dir.path().join(&reference)),
            "{name}: deterministic"
        );
        let v = ok(&run(dir.path(), &["verify", name]));
        assert!(v.contains("all 8 write units intact"), "{v}");

        // Truncate unit 1, flip 3 bytes of unit 2 (same length), delete unit 3, drop a marker.
        let unit = |k: u32| store.join(format!("counts/c/{k}/0/0"));
        let b = fs::read(unit(1)).unwrap();
        fs::write(unit(1), &b[..b.len() / 2]).unwrap();
        let mut b = fs::read(unit(2)).unwrap();
        for byte in &mut b[40..43] {
            *byte ^= 0xa5;
        }
        fs::write(unit(2), b).unwrap();
        fs::remove_file(unit(3)).unwrap();
        fs::remove_file(store.join("counts/zoomstack.done/5.0.0")).unwrap();

        let o = run(dir.path(), &["verify", name]);
        fails(&o, 1);
        let v = String::from_utf8_lossy(&o.stdout).into_owned();
        assert!(v.contains("3 of 8 write units damaged, 1 missing"), "{v}");
        assert!(
            v.contains("damaged 1.0.0") && v.contains("its marker records"),
            "{v}"
        );
        assert!(v.contains("damaged 2.0.0") && v.contains("CRC-32C"), "{v}");
        assert!(
            v.contains("damaged 3.0.0") && v.contains("the file is missing"),
            "{v}"
        );
        assert!(v.contains("missing 5.0.0"), "{v}");

        // A plain resume finds what lengths show (units 1 and 3) and writes unit 5.
        let out = ok(&run(dir.path(), &args));
        assert!(
            out.contains("(3 written now, 2 of them found damaged), complete"),
            "{out}"
        );
        fails(&run(dir.path(), &["verify", name]), 1);
        // --verify finds the rest.
        let mut with_verify = args.clone();
        with_verify.push("--verify");
        let out = ok(&run(dir.path(), &with_verify));
        assert!(
            out.contains("(1 written now, 1 of them found damaged), complete"),
            "{out}"
        );
        ok(&run(dir.path(), &["verify", name]));
        assert_eq!(
            files(&store),
            files(&dir.path().join(&reference)),
            "{name}: repaired"
        );
    }
}

#[test]
fn verify_refuses_what_is_not_a_store() {
    let dir = tempfile::tempdir().unwrap();
    fs::create_dir(dir.path().join("empty")).unwrap();
    let e = fails(&run(dir.path(), &["verify", "empty"]), 2);
    assert!(e.contains("not a zoomstack store"), "{e}");
    let e = fails(&run(dir.path(), &["verify", "nothing-here"]), 2);
    assert!(e.contains("nothing-here"), "{e}");
}

/// Issue: markers lagged far behind finished units (1227 chunk files, 696 markers after a kill
/// on 2 threads). Now each unit is marked by the thread that stored it, right after: after a
/// SIGKILL at most the units in flight (one per thread) have a file but no marker.
#[test]
fn after_a_kill_markers_trail_finished_units_by_at_most_the_units_in_flight() {
    let dir = tempfile::tempdir().unwrap();
    let threads = 2;
    let mut child = zoomstack(dir.path())
        .args([
            "--threads",
            &threads.to_string(),
            "render",
            "--levels",
            "0:4000",
        ])
        .args(["--set", "stack.height=64", "--set", "stack.width=64"])
        .args([
            "--chunks", "1,32,32", "--zarr", "lag.zarr", "--quiet", "--yes",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let store = dir.path().join("lag.zarr");
    let t0 = Instant::now();
    while markers(&store, "") < 2000 {
        assert!(t0.elapsed() < Duration::from_mins(2), "too slow");
        assert!(
            child.try_wait().unwrap().is_none(),
            "finished before the kill"
        );
        std::thread::sleep(Duration::from_millis(2));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let mut unmarked = 0;
    for l in fs::read_dir(store.join("counts/c")).unwrap() {
        let l = l.unwrap();
        for y in fs::read_dir(l.path()).unwrap() {
            let y = y.unwrap();
            for x in fs::read_dir(y.path()).unwrap() {
                let x = x.unwrap();
                let name = format!(
                    "{}.{}.{}",
                    l.file_name().to_string_lossy(),
                    y.file_name().to_string_lossy(),
                    x.file_name().to_string_lossy()
                );
                if !store.join("counts/zoomstack.done").join(name).exists() {
                    unmarked += 1;
                }
            }
        }
    }
    assert!(
        unmarked <= threads,
        "{unmarked} unit files without a marker"
    );
    assert!(
        markers(&store, "") < 16000,
        "the run finished before the kill"
    );
}

#[test]
fn verify_checks_every_level_of_a_pyramid() {
    let dir = tempfile::tempdir().unwrap();
    let spec = examples().join("pyramid.toml");
    let spec = spec.to_str().unwrap();
    let sets = [
        "--set",
        "stack.height=96",
        "--set",
        "stack.width=80",
        "--set",
        "sink.0.select=\"[0:24]\"",
        "--set",
        "sink.1.select=\"[0:24:6]\"",
    ];
    let mut args = vec!["run", spec, "--out", "o", "-q"];
    args.extend(sets);
    ok(&run(dir.path(), &args));
    let v = ok(&run(dir.path(), &["verify", "o/zoomstack-pyramid.zarr"]));
    assert_eq!(v.matches("write units intact").count(), 4, "{v}");
    // Damage level 2: verify names it; a --verify run repairs it.
    let shard = dir.path().join("o/zoomstack-pyramid.zarr/2/c/0/0/0");
    let b = fs::read(&shard).unwrap();
    fs::write(&shard, &b[..b.len() - 1]).unwrap();
    let o = run(dir.path(), &["verify", "o/zoomstack-pyramid.zarr"]);
    fails(&o, 1);
    let v = String::from_utf8_lossy(&o.stdout).into_owned();
    assert!(v.contains("zoomstack-pyramid.zarr/2: 1 of"), "{v}");
    args.push("--verify");
    ok(&run(dir.path(), &args));
    ok(&run(dir.path(), &["verify", "o/zoomstack-pyramid.zarr"]));
}

/// A store the run could not open (other parameters, or another writer) is refused in the
/// preflight, before the sinks ahead of it in the spec write anything.
#[test]
fn a_store_that_would_be_refused_stops_the_run_before_anything_is_written() {
    let dir = tempfile::tempdir().unwrap();
    ok(&run(
        dir.path(),
        &render_args("s.zarr", 8, &["--quiet"])
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>(),
    ));
    let spec = write(
        dir.path(),
        "two.toml",
        r#"
[stack]
height = 64
width = 64
max_iter = 300

[[sink]]
kind = "png"
path = "frames"
select = "[0:8]"

[[sink]]
kind = "zarr"
path = "s.zarr"
select = "[0:8]"
"#,
    );
    let e = fails(&run(dir.path(), &["run", spec.to_str().unwrap()]), 2);
    assert!(
        e.contains("stack.max_iter") && e.contains("256") && e.contains("300"),
        "{e}"
    );
    assert!(
        !dir.path().join("frames").exists(),
        "frames written before the refusal"
    );
}

/// `describe` names where f64 stops resolving the stack; a run past it warns (on stderr) and
/// still writes the notebook's counts.
#[test]
fn describe_and_run_name_where_f64_stops_resolving_the_stack() {
    let dir = tempfile::tempdir().unwrap();
    let d = ok(&run(
        dir.path(),
        &[
            "describe",
            examples().join("full-stack.toml").to_str().unwrap(),
        ],
    ));
    assert!(
        d.contains(
            "f64 (numpy) arithmetic: pixel spacing below 16 ulp of the centre from level 11"
        ),
        "{d}"
    );
    assert!(
        d.contains("share one f64 coordinate beyond this stack's 120000 levels"),
        "{d}"
    );
    let deep = run(
        dir.path(),
        &[
            "render",
            "--levels",
            "126400:126430:10",
            "--set",
            "stack.levels=130000",
            "--png",
            "f",
        ],
    );
    ok(&deep);
    let e = String::from_utf8_lossy(&deep.stderr);
    assert!(
        e.contains("warning: ") && e.contains("from level 126412 neighbouring columns"),
        "{e}"
    );
    let shallow = run(dir.path(), &["render", "--levels", "0:2", "--png", "g"]);
    assert!(
        !String::from_utf8_lossy(&shallow.stderr).contains("warning"),
        "{}",
        text(&shallow)
    );
}
