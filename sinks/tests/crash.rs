//! Crash safety: a write killed with SIGKILL and then resumed gives the same array as an
//! uninterrupted write, re-rendering only the units without a marker.
//!
//! The writer is the `write_store` example, run as a child process.

use std::io::{BufRead, BufReader};
use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;

use ndarray::ArrayD;
use zarrs::array::Array;
use zarrs::filesystem::FilesystemStore;
use zoomstack_sinks::{DEFAULT_ARRAY, MARKER_DIR, store_status};

mod common;
use common::writer;

/// Markers (`i.j.k`; not the `.i.j.k.tmp-PID` a writer killed while creating one leaves).
fn markers(store: &Path) -> usize {
    std::fs::read_dir(store.join(DEFAULT_ARRAY).join(MARKER_DIR)).map_or(0, |d| {
        d.filter_map(Result::ok)
            .filter(|e| !e.file_name().to_string_lossy().starts_with('.'))
            .count()
    })
}

fn read(store: &Path) -> ArrayD<u16> {
    let s = Arc::new(FilesystemStore::new(store).unwrap());
    let a = Array::open(s, &format!("/{DEFAULT_ARRAY}")).unwrap();
    a.retrieve_array_subset(&a.subset_all()).unwrap()
}

/// Run the writer to completion; returns its one-line JSON report.
fn run_to_end(bin: &Path, store: &Path, args: &[&str]) -> serde_json::Value {
    let out = Command::new(bin).arg(store).args(args).output().unwrap();
    assert!(
        out.status.success(),
        "writer failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    serde_json::from_str(text.lines().last().unwrap()).unwrap()
}

/// Overwrite the stored object of a unit that has no marker with garbage, as a writer killed
/// in the middle of writing it could leave it.
fn tear_an_unmarked_unit(store: &Path, grid: [u64; 3]) -> bool {
    for i in 0..grid[0] {
        for j in 0..grid[1] {
            for k in 0..grid[2] {
                if !store
                    .join(DEFAULT_ARRAY)
                    .join(MARKER_DIR)
                    .join(format!("{i}.{j}.{k}"))
                    .exists()
                {
                    let p = store.join(DEFAULT_ARRAY).join(format!("c/{i}/{j}/{k}"));
                    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
                    std::fs::write(&p, b"\x28\xb5\x2f\xfd torn").unwrap();
                    return true;
                }
            }
        }
    }
    false
}

fn check_resume(bin: &Path, store: &Path, args: &[&str], killed_markers: usize) {
    let st = store_status(store, "").unwrap();
    assert!(!st.complete, "a killed store must not look complete");
    assert!(st.units_done < st.units_total);
    let grid = {
        let u = &st.write_unit;
        [0, 1, 2].map(|k| st.shape[k].div_ceil(u[k]))
    };
    assert!(tear_an_unmarked_unit(store, grid));

    let report = run_to_end(bin, store, args);
    assert_eq!(report["complete"], true);
    let skipped = report["units_skipped"].as_u64().unwrap() as usize;
    assert!(skipped >= killed_markers, "{report}");
    assert_eq!(
        skipped as u64 + report["units_written"].as_u64().unwrap(),
        st.units_total,
        "only the missing units are rendered: {report}"
    );
    assert!(store_status(store, "").unwrap().complete);

    let fresh = store.with_extension("fresh");
    let r = run_to_end(bin, &fresh, args);
    assert_eq!(r["units_written"], r["units_total"]);
    assert_eq!(
        read(store),
        read(&fresh),
        "resumed store equals an uninterrupted write"
    );
}

#[test]
fn sigkill_at_a_known_point_then_resume() {
    let bin = writer();
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("a.zarr");
    let args = [
        "--levels",
        "120000",
        "--select",
        "[0:90000:300]",
        "--chunks",
        "1,32,32",
        "--threads",
        "2",
    ];
    let mut child = Command::new(&bin)
        .arg(&store)
        .args(args)
        .args(["--pause-after", "150"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut lines = BufReader::new(stdout).lines();
    let first = lines.next().expect("writer output").unwrap();
    assert_eq!(first, "PAUSED", "the writer paused before finishing");
    // The 150 written units have their markers (created by the threads that stored them).
    while markers(&store) < 150 {
        assert!(
            child.try_wait().unwrap().is_none(),
            "the paused writer exited"
        );
        std::thread::sleep(std::time::Duration::from_millis(2));
    }
    child.kill().unwrap(); // SIGKILL
    let status = child.wait().unwrap();
    assert_eq!(status.signal(), Some(9));
    let m = markers(&store);
    assert!((150..1200).contains(&m), "{m} markers");
    check_resume(&bin, &store, &args, m);
}

#[test]
fn sigkill_mid_stream_sharded_then_resume() {
    let bin = writer();
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("s.zarr");
    let args = [
        "--levels",
        "120000",
        "--select",
        "[1000:97000:1000]",
        "--chunks",
        "1,32,32",
        "--shard",
        "8,64,64",
        "--threads",
        "2",
    ];
    let mut child = Command::new(&bin)
        .arg(&store)
        .args(args)
        .args(["--delay-ms", "40"])
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    // Kill as soon as a few shards are done: other workers are then mid-render or mid-write.
    loop {
        if markers(&store) >= 3 {
            break;
        }
        assert!(
            child.try_wait().unwrap().is_none(),
            "the writer finished before it could be killed"
        );
        std::thread::sleep(std::time::Duration::from_millis(2));
    }
    child.kill().unwrap();
    let status = child.wait().unwrap();
    assert_eq!(status.signal(), Some(9), "killed, not finished");
    let m = markers(&store);
    assert!((3..12).contains(&m), "{m} of 12 shards marked");
    check_resume(&bin, &store, &args, m);
}
