//! Stores as Zarr groups: the counts beside their coordinate arrays, consolidated metadata,
//! stores written before groups, the fill value, and coordinates that are never replaced.

use super::*;

/// Reads a 1-D coordinate array of a store's root group.
fn coordinate<T: zarrs::array::ElementOwned>(store: &Path, name: &str) -> Vec<T> {
    let s = Arc::new(FilesystemStore::new(store).unwrap());
    let a = Array::open(s, &format!("/{name}")).unwrap();
    a.retrieve_array_subset(&a.subset_all()).unwrap()
}

#[test]
fn a_store_is_a_group_of_counts_and_coordinates() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("g.zarr");
    let p = params(8, 12);
    let desc = strided(
        1000,
        p,
        [
            IndexRange::new(0, 250, 4),
            IndexRange::new(1, 3, 3),
            IndexRange::full(12),
        ],
        [1, 8, 8],
    );
    let sink = ZarrSink::open(&store, desc.clone(), ZarrOptions::default()).unwrap();
    write_all(&sink, [1, 8, 8]);
    assert!(sink.finish().unwrap().complete);

    let root = zarr_json(&store);
    assert_eq!(root["node_type"], "group");
    // Consolidated (xarray reads it in one go): every node, the counts as they are now.
    let nodes = &root["consolidated_metadata"]["metadata"];
    assert_eq!(nodes["counts"], zarr_json(&arr(&store)));
    assert_eq!(nodes["counts"]["attributes"]["zoomstack"]["complete"], true);
    for name in COORDINATE_NAMES {
        assert_eq!(nodes[name], zarr_json(&store.join(name)), "{name}");
    }
    let counts = zarr_json(&arr(&store));
    assert_eq!(counts["attributes"]["coordinates"], "scale log10_scale");
    assert_eq!(counts["attributes"]["long_name"], "escape count");
    assert_eq!(coordinate::<i64>(&store, "level"), vec![0, 250, 500, 750]);
    let scale: Vec<f64> = coordinate(&store, "scale");
    let want: Vec<f64> = [0, 250, 500, 750].map(|l| p.scale(l)).to_vec();
    assert_eq!(scale, want, "the notebook's f64 scale of each stored level");
    let log10: Vec<f64> = coordinate(&store, "log10_scale");
    assert!(
        log10
            .iter()
            .zip(&want)
            .all(|(l, s)| (l - s.log10()).abs() < 1e-12)
    );
    // Rows 1, 4, 7 of 8: r / 7 - 1/2 = (2r - 7) / 14; columns j / 11 - 1/2, times 12 / 8.
    let y: Vec<f64> = coordinate(&store, "y");
    assert_eq!(y, vec![-5.0 / 14.0, 1.0 / 14.0, 0.5]);
    let x: Vec<f64> = coordinate(&store, "x");
    assert_eq!(x.len(), 12);
    assert_eq!((x[0], x[11]), (-0.75, 0.75));
    for name in COORDINATE_NAMES {
        let v = zarr_json(&store.join(name));
        assert_eq!(v["attributes"]["units"], "1", "{name}");
        assert!(v["attributes"]["long_name"].is_string(), "{name}");
    }
    assert_eq!(
        zarr_json(&store.join("scale"))["dimension_names"],
        serde_json::json!(["level"])
    );
    // Readers find the store's own array from the store path.
    let st = store_status(&store, "").unwrap();
    assert_eq!((st.array_path.as_str(), st.complete), ("counts", true));
}

#[test]
fn a_store_written_before_groups_still_resumes_at_its_root() {
    let dir = tempfile::tempdir().unwrap();
    let new = dir.path().join("new.zarr");
    let desc = full_desc(3, params(8, 8), [1, 8, 8]);
    let sink = ZarrSink::open(&new, desc.clone(), ZarrOptions::default()).unwrap();
    sink.write_tile([0, 0, 0], [1, 8, 8], &[1; 64]).unwrap();
    sink.finish().unwrap();
    // The old layout: the array itself at the store root.
    let old = dir.path().join("old.zarr");
    fs::rename(arr(&new), &old).unwrap();
    let sink = ZarrSink::open(&old, desc.clone(), ZarrOptions::default()).unwrap();
    assert_eq!(sink.array_dir(), old.as_path());
    assert_eq!(sink.progress().units_done, 1);
    write_all(&sink, [1, 8, 8]);
    assert!(sink.finish().unwrap().complete);
    assert!(
        !old.join(DEFAULT_ARRAY).exists(),
        "no group created inside an array"
    );
    let st = store_status(&old, "").unwrap();
    assert_eq!((st.array_path.as_str(), st.complete), ("", true));
}

#[test]
fn unwritten_units_read_as_the_fill_value_which_is_never_a_count() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("f.zarr");
    let desc = full_desc(2, params(8, 8), [1, 8, 8]);
    let sink = ZarrSink::open(&store, desc, ZarrOptions::default()).unwrap();
    sink.write_tile([0, 0, 0], [1, 8, 8], &[0; 64]).unwrap();
    assert!(!sink.finish().unwrap().complete);
    let back = read_back(&store, "");
    assert!(
        back[..64].iter().all(|&v| v == 0),
        "zeros are stored counts"
    );
    assert!(back[64..].iter().all(|&v| v == FILL_VALUE), "unwritten");
    assert!(u32::from(FILL_VALUE) > StackParams::default().max_iter);
}

#[test]
fn coordinates_of_another_array_or_a_foreign_array_are_never_replaced() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("c.zarr");
    let desc = full_desc(2, params(8, 8), [1, 8, 8]);
    let named = |p: &str| ZarrOptions {
        array_path: p.to_string(),
        ..ZarrOptions::default()
    };
    ZarrSink::open(&store, desc.clone(), named("a")).unwrap();
    // A second array in the same group would need the group's coordinates.
    let e = ZarrSink::open(&store, desc.clone(), named("b")).unwrap_err();
    assert!(
        e.to_string()
            .contains("the coordinates of the zoomstack array"),
        "{e}"
    );
    assert!(!store.join("b").exists(), "nothing created");
    // Its own group works; replacing `a` rewrites its own coordinates.
    ZarrSink::open(&store, desc.clone(), named("b/counts")).unwrap();
    let replace = ZarrOptions {
        if_exists: IfExists::Replace,
        ..named("a")
    };
    ZarrSink::open(&store, desc.clone(), replace).unwrap();
    // A foreign array named like a coordinate is refused, and kept.
    let other = dir.path().join("o.zarr");
    fs::create_dir_all(other.join("level")).unwrap();
    fs::write(
        other.join("zarr.json"),
        r#"{"zarr_format": 3, "node_type": "group", "attributes": {}}"#,
    )
    .unwrap();
    fs::write(
        other.join("level/zarr.json"),
        r#"{"zarr_format": 3, "node_type": "array", "attributes": {}}"#,
    )
    .unwrap();
    let e = ZarrSink::open(&other, desc, ZarrOptions::default()).unwrap_err();
    assert!(e.to_string().contains("zoomstack did not write"), "{e}");
    assert!(other.join("level/zarr.json").exists());
}
