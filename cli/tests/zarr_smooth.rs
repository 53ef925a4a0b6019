//! Zarr stores of smooth values (`values = "smooth"`): a `float32` array `smooth` equal bit for
//! bit to the engine's `f32` render, NaN where units are missing, resumable and verifiable like
//! counts, and refused where it would mix with counts or has no smooth values (exact).

mod common;

use std::path::Path;
use std::sync::Arc;

use common::*;
use ndarray::{Array3, ArrayD, Ix3};
use zarrs::array::Array;
use zarrs::filesystem::FilesystemStore;
use zoomstack_engine::{Executor, ZoomStack};
use zoomstack_kernel::StackParams;

/// The stack of the tests: 32 x 48, 256 iterations, the notebook's centre and zoom.
fn stack(levels: u64) -> ZoomStack {
    let params = StackParams {
        height: 32,
        width: 48,
        ..StackParams::default()
    };
    ZoomStack::new(levels, params).unwrap()
}

/// The engine's smooth values of `select`.
fn smooth(select: &str) -> Array3<f32> {
    let plan = stack(120_000)
        .array()
        .select(select)
        .unwrap()
        .optimize()
        .unwrap();
    Executor::new(2).compute_values::<f32>(&plan).unwrap()
}

/// Reads the `float32` array `smooth` of `store` with zarrs.
fn read_smooth(store: &Path) -> Array3<f32> {
    let s = Arc::new(FilesystemStore::new(store).unwrap());
    let a = Array::open(s, "/smooth").unwrap();
    let d: ArrayD<f32> = a.retrieve_array_subset(&a.subset_all()).unwrap();
    d.into_dimensionality::<Ix3>().unwrap()
}

fn bits(a: &Array3<f32>) -> Vec<u32> {
    a.iter().map(|v| v.to_bits()).collect()
}

fn zarr_json(store: &Path, array: &str) -> serde_json::Value {
    let text = std::fs::read_to_string(store.join(array).join("zarr.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

const RENDER: [&str; 9] = [
    "render",
    "--set",
    "stack.height=32",
    "--set",
    "stack.width=48",
    "--chunks",
    "1,16,16",
    "--shards",
    "2,32,48",
];

#[test]
fn smooth_store_is_the_engines_f32_render_with_its_attribute() {
    let dir = tempfile::tempdir().unwrap();
    let mut args = RENDER.to_vec();
    args.extend([
        "--levels", "100:106", "--zarr", "s.zarr", "--values", "smooth",
    ]);
    ok(&run(dir.path(), &args));
    let store = dir.path().join("s.zarr");
    assert!(!store.join("counts").exists(), "the array is named smooth");
    let got = read_smooth(&store);
    let want = smooth("[100:106, :, :]");
    assert_eq!(got.shape(), &[6, 32, 48]);
    assert_eq!(bits(&got), bits(&want), "bit for bit");
    assert!(got.iter().any(|v| v.fract() != 0.0), "not integer counts");

    let meta = zarr_json(&store, "smooth");
    assert_eq!(meta["data_type"], "float32");
    assert_eq!(meta["fill_value"], "NaN");
    assert_eq!(meta["attributes"]["long_name"], "smooth escape value");
    assert_eq!(meta["attributes"]["units"], "iterations");
    let zs = &meta["attributes"]["zoomstack"];
    assert_eq!(zs["values"], "smooth");
    assert_eq!(zs["smooth"]["bailout"], 1024.0);
    assert!(
        zs["smooth"]["formula"]
            .as_str()
            .unwrap()
            .contains("nu = n + 1 - log2(log2(|z_n|))"),
        "{zs}"
    );
    assert_eq!(zs["complete"], true);
    // The coordinates belong to the smooth array.
    assert_eq!(
        zarr_json(&store, "level")["attributes"]["zoomstack_coordinate"],
        "smooth"
    );

    let v = ok(&run(dir.path(), &["verify", "s.zarr"]));
    assert!(v.contains("all 3 write units intact (float32, "), "{v}");
    let mut describe = args.clone();
    describe.push("--describe");
    let d = ok(&run(dir.path(), &describe));
    assert!(
        d.contains("array: float32 smooth values, shape (6, 32, 48)"),
        "{d}"
    );
}

#[test]
fn a_partial_smooth_store_shows_nan_and_resumes() {
    let dir = tempfile::tempdir().unwrap();
    let spec = write(
        dir.path(),
        "smooth.toml",
        "[stack]\nheight = 32\nwidth = 48\n\n[[sink]]\nkind = \"zarr\"\npath = \"s.zarr\"\n\
         values = \"smooth\"\nselect = \"[200:208, :, :]\"\nchunks = [1, 16, 16]\n\
         shards = [2, 32, 48]\n",
    );
    let spec = spec.to_str().unwrap();
    ok(&run(dir.path(), &["init", spec]));
    let store = dir.path().join("s.zarr");
    let empty = read_smooth(&store);
    assert!(
        empty.iter().all(|v| v.is_nan()),
        "nothing written: all fill"
    );
    // Share 0 of 2 writes units 0 and 2 (levels 0..2 and 4..6 of the 4 shards of 2 levels).
    ok(&run(
        dir.path(),
        &["run", spec, "--index", "0", "--count", "2"],
    ));
    let part = read_smooth(&store);
    let want = smooth("[200:208, :, :]");
    for l in 0..8 {
        let level = part.index_axis(ndarray::Axis(0), l);
        if (l / 2) % 2 == 0 {
            let expected = want.index_axis(ndarray::Axis(0), l);
            assert!(
                level
                    .iter()
                    .zip(expected)
                    .all(|(a, b)| a.to_bits() == b.to_bits())
            );
        } else {
            assert!(
                level.iter().all(|v| v.is_nan()),
                "level {l} is not written yet"
            );
        }
    }
    assert_eq!(markers(&store, "smooth"), 2);
    let v = run(dir.path(), &["verify", "s.zarr"]);
    assert!(text(&v).contains("2 missing"), "{}", text(&v));
    // The rest, by a resume.
    let out = ok(&run(dir.path(), &["run", spec]));
    assert!(
        out.contains("4 write units done of 4 (2 written now), complete"),
        "{out}"
    );
    assert_eq!(bits(&read_smooth(&store)), bits(&want));
    ok(&run(dir.path(), &["verify", "s.zarr"]));
}

#[test]
fn counts_and_smooth_stores_do_not_resume_as_each_other() {
    let dir = tempfile::tempdir().unwrap();
    for (first, second) in [("smooth", "counts"), ("counts", "smooth")] {
        let name = format!("{first}.zarr");
        let mut args = RENDER.to_vec();
        args.extend(["--levels", "0:2", "--zarr", &name, "--values", first]);
        ok(&run(dir.path(), &args));
        let before = std::fs::read(dir.path().join(&name).join(first).join("zarr.json")).unwrap();
        let mut again = RENDER.to_vec();
        again.extend(["--levels", "0:2", "--zarr", &name, "--values", second]);
        let o = run(dir.path(), &again);
        assert!(!o.status.success(), "{}", text(&o));
        assert_no_panic(&o);
        let e = String::from_utf8_lossy(&o.stderr);
        assert!(e.contains("values"), "{e}");
        assert!(
            e.contains(&format!("\"{first}\"")) && e.contains(&format!("\"{second}\"")),
            "{e}"
        );
        assert!(
            !dir.path().join(&name).join(second).exists(),
            "nothing created"
        );
        let after = std::fs::read(dir.path().join(&name).join(first).join("zarr.json")).unwrap();
        assert_eq!(before, after, "the store is untouched");
    }
}

#[test]
fn smooth_values_need_the_numpy_contract() {
    let dir = tempfile::tempdir().unwrap();
    let mut args = RENDER.to_vec();
    args.extend([
        "--levels",
        "0:2",
        "--arithmetic",
        "exact",
        "--zarr",
        "e.zarr",
        "--values",
        "smooth",
    ]);
    let o = run(dir.path(), &args);
    assert!(!o.status.success(), "{}", text(&o));
    assert_no_panic(&o);
    let e = String::from_utf8_lossy(&o.stderr);
    assert!(e.contains("values = \"smooth\""), "{e}");
    assert!(
        e.contains("exact contract computes integer counts only"),
        "{e}"
    );
    assert!(!dir.path().join("e.zarr").exists());
    let mut bad = RENDER.to_vec();
    bad.extend(["--levels", "0:2", "--zarr", "b.zarr", "--values", "bands"]);
    let e = fails(&run(dir.path(), &bad), 2);
    assert!(e.contains("unknown values \"bands\""), "{e}");
}
