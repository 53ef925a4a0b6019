//! File-system failures: a full disk and missing permissions give clear errors naming the
//! path, and never leave a store that looks complete.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;

use zoomstack_engine::StoreLayout;
use zoomstack_engine::kernel::StackParams;
use zoomstack_sinks::{
    ArrayDescription, DEFAULT_ARRAY, MARKER_DIR, SinkError, ZarrOptions, ZarrSink, store_status,
};

fn desc() -> ArrayDescription {
    let params = StackParams {
        height: 16,
        width: 16,
        ..StackParams::default()
    };
    let layout = StoreLayout::new([4, 16, 16], [1, 16, 16], None).unwrap();
    ArrayDescription::full_stack(4, params, layout)
}

/// Make the chunk file of unit (0, 0, 0) a symlink to `/dev/full`: writing it fails with
/// `ENOSPC`, exactly like a full disk.
fn full_disk_at_first_chunk(store: &Path) {
    let c = store.join(DEFAULT_ARRAY).join("c/0/0");
    std::fs::create_dir_all(&c).unwrap();
    std::os::unix::fs::symlink("/dev/full", c.join("0")).unwrap();
}

#[test]
fn disk_full_is_a_clear_error_and_the_store_stays_incomplete() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("full.zarr");
    let sink = ZarrSink::open(&store, desc(), ZarrOptions::default()).unwrap();
    full_disk_at_first_chunk(&store);
    let err = sink
        .write_tile([0, 0, 0], [1, 16, 16], &[7; 256])
        .unwrap_err();
    assert!(matches!(err, SinkError::DiskFull { .. }), "{err:?}");
    let msg = err.to_string();
    assert!(msg.contains("no space left"), "{msg}");
    assert!(msg.contains("full.zarr"), "{msg}");
    sink.write_tile([1, 0, 0], [1, 16, 16], &[7; 256]).unwrap();
    let report = sink.finish().unwrap();
    assert!(!report.complete);
    let st = store_status(&store, "").unwrap();
    assert!(!st.complete);
    assert!(
        !store
            .join(DEFAULT_ARRAY)
            .join(MARKER_DIR)
            .join("0.0.0")
            .exists()
    );
    assert!(
        store
            .join(DEFAULT_ARRAY)
            .join(MARKER_DIR)
            .join("1.0.0")
            .exists()
    );

    // Space freed: resuming writes the missing unit only.
    std::fs::remove_file(store.join(DEFAULT_ARRAY).join("c/0/0/0")).unwrap();
    let sink = ZarrSink::open(&store, desc(), ZarrOptions::default()).unwrap();
    assert!(sink.needs_tile([0, 0, 0], [1, 16, 16]));
    assert!(!sink.needs_tile([1, 0, 0], [1, 16, 16]));
}

/// The effective user id, from `/proc/self/status`.
fn euid() -> u32 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status.lines().find(|l| l.starts_with("Uid:")).unwrap();
    line.split_whitespace().nth(2).unwrap().parse().unwrap()
}

mod common;
use common::writer;

/// Run the writer as an unprivileged user when we are root (root ignores permission bits);
/// returns (success, stderr).
fn write_as_unprivileged(store: &Path) -> (bool, String) {
    let bin = writer();
    let mut cmd = if euid() == 0 {
        let mut c = Command::new("setpriv");
        c.args(["--reuid=65534", "--regid=65534", "--clear-groups"])
            .arg(&bin);
        c
    } else {
        Command::new(&bin)
    };
    let out = cmd
        .arg(store)
        .args(["--levels", "100", "--height", "16", "--width", "16"])
        .args(["--chunks", "1,16,16"])
        .output()
        .expect("run the writer (as nobody via setpriv when root)");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn permission_denied_names_the_path() {
    let dir = tempfile::tempdir().unwrap();
    let ro = dir.path().join("readonly");
    std::fs::create_dir(&ro).unwrap();
    // Traversable by everyone, writable by nobody but root.
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::set_permissions(&ro, std::fs::Permissions::from_mode(0o555)).unwrap();

    // A new store in a directory we may not write.
    let store = ro.join("new.zarr");
    let (ok, stderr) = write_as_unprivileged(&store);
    assert!(!ok);
    assert!(stderr.contains("permission denied"), "{stderr}");
    assert!(stderr.contains("new.zarr"), "{stderr}");
    assert!(!store.exists());

    // Resuming a store we may read but not write: fails, and the store stays incomplete.
    std::fs::set_permissions(&ro, std::fs::Permissions::from_mode(0o755)).unwrap();
    let store = ro.join("old.zarr");
    let params = StackParams {
        height: 16,
        width: 16,
        ..StackParams::default()
    };
    let layout = StoreLayout::new([100, 16, 16], [1, 16, 16], None).unwrap();
    let plan_desc = ArrayDescription::full_stack(100, params, layout);
    drop(ZarrSink::open(&store, plan_desc, ZarrOptions::default()).unwrap());
    for p in [
        &store,
        &store.join(DEFAULT_ARRAY),
        &store.join(DEFAULT_ARRAY).join(MARKER_DIR),
    ] {
        std::fs::set_permissions(p, std::fs::Permissions::from_mode(0o555)).unwrap();
    }
    let (ok, stderr) = write_as_unprivileged(&store);
    assert!(!ok);
    assert!(stderr.contains("permission denied"), "{stderr}");
    assert!(stderr.contains("old.zarr"), "{stderr}");
    let st = store_status(&store, "").unwrap();
    assert!(!st.complete);
    assert_eq!(st.units_done, 0);
    for p in [
        &store,
        &store.join(DEFAULT_ARRAY),
        &store.join(DEFAULT_ARRAY).join(MARKER_DIR),
    ] {
        std::fs::set_permissions(p, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
}
