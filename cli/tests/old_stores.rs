//! Stores written by zoomstack before the one-run-path refactor (commit 85df4f5, committed under
//! `tests/fixtures/v0-stores/`, interrupted by removing units and markers) resume with today's
//! binary: only the missing units are written, and the result equals a fresh write.

mod common;

use std::path::Path;

use common::*;

/// Copies `tests/fixtures/v0-stores/<name>` into `dir`.
fn fixture(dir: &Path, name: &str) {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/v0-stores");
    let status = std::process::Command::new("cp")
        .arg("-r")
        .arg(src.join(name))
        .arg(dir)
        .status()
        .expect("cp");
    assert!(status.success());
}

/// The same `render` command on the old store and on a fresh one; returns the resume output.
fn resume_equals_fresh(name: &str, args: &[&str], datasets: &[&str]) -> String {
    let dir = tempfile::tempdir().unwrap();
    fixture(dir.path(), name);
    let mut resume = vec!["render"];
    resume.extend_from_slice(args);
    resume.extend_from_slice(&["--zarr", name]);
    let out = ok(&run(dir.path(), &resume));
    let fresh_name = format!("fresh-{name}");
    let mut fresh = vec!["render"];
    fresh.extend_from_slice(args);
    fresh.extend_from_slice(&["--zarr", &fresh_name]);
    ok(&run(dir.path(), &fresh));
    for d in datasets {
        let (old, new) = (dir.path().join(name), dir.path().join(&fresh_name));
        assert_eq!(
            read_store(&old, d),
            read_store(&new, d),
            "{name} dataset {d:?}"
        );
        assert_eq!(attrs(&old, d)["complete"], true, "{name} {d:?}");
        assert_eq!(attrs(&old, d)["select"], attrs(&new, d)["select"]);
        assert_eq!(markers(&old, d), markers(&new, d));
    }
    out
}

#[test]
fn an_interrupted_sharded_store_of_the_old_version_resumes() {
    let out = resume_equals_fresh(
        "sharded.zarr",
        &[
            "--select",
            "[100000:100016, ::8, ::8]",
            "--chunks",
            "1,32,32",
            "--shards",
            "4,64,64",
        ],
        &[""],
    );
    // Shard 1 of 4 was lost.
    assert!(
        out.contains("4 write units done of 4 (1 written now), complete"),
        "{out}"
    );
}

#[test]
fn an_interrupted_unsharded_store_of_the_old_version_resumes() {
    let out = resume_equals_fresh(
        "plain.zarr",
        &[
            "--select",
            "[3000:3040:5, 100:164, 200:296]",
            "--chunks",
            "2,32,48",
        ],
        &[""],
    );
    // Chunk (3,1,0) was lost, chunk (0,0,1) lost only its marker: both are rewritten.
    assert!(
        out.contains("16 write units done of 16 (2 written now), complete"),
        "{out}"
    );
}

#[test]
fn a_complete_pyramid_of_the_old_version_is_left_as_it_is() {
    let out = resume_equals_fresh(
        "pyramid.zarr",
        &[
            "--select",
            "[0:8, ::4, ::4]",
            "--chunks",
            "2,64,64",
            "--pyramid-levels",
            "2",
        ],
        &["0", "1", "2"],
    );
    assert!(out.contains("(0 written now), complete"), "{out}");
}
