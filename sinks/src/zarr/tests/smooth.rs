//! Arrays of smooth values (`f32`): float32 with a NaN fill, the `values` attribute, refused
//! where they would mix with counts.

use super::*;

fn read_f32(store: &Path, name: &str) -> Vec<f32> {
    let s = Arc::new(FilesystemStore::new(store).unwrap());
    let a = Array::open(s, &format!("/{name}")).unwrap();
    a.retrieve_array_subset(&a.subset_all()).unwrap()
}

#[test]
fn a_smooth_array_is_float32_with_nan_where_units_are_missing() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("s.zarr");
    let desc =
        sharded(&full_desc(4, params(8, 8), [1, 8, 8]), [2, 8, 8]).with_values(StoreValues::Smooth);
    assert_eq!(desc.data_type(), "float32");
    assert_eq!(desc.bytes(), 4 * 4 * 8 * 8);
    let sink = ZarrSink::<f32>::open_of(&store, desc.clone(), ZarrOptions::default()).unwrap();
    let tile: Vec<f32> = (0..2 * 64).map(|i| i as f32 * 0.25).collect();
    sink.write_tile([0, 0, 0], [2, 8, 8], &tile).unwrap();
    let report = sink.finish().unwrap();
    assert_eq!((report.units_done, report.complete), (1, false));
    assert_eq!(report.raw_bytes_written, 2 * 64 * 4);
    let got = read_f32(&store, "smooth");
    assert_eq!(got[..128], tile[..]);
    assert!(got[128..].iter().all(|v| v.is_nan()));
    let st = store_status(&store, "").unwrap();
    assert_eq!(
        (st.array_path.as_str(), st.data_type.as_str()),
        ("smooth", "float32")
    );
    assert_eq!(st.attributes["values"], "smooth");
    let v = verify_store(&store, "", 1).unwrap();
    assert_eq!((v[0].units_intact, v[0].missing.len()), (1, 1));
    assert_eq!(v[0].raw_bytes, 2 * 64 * 4);

    // Resume writes the rest; counts cannot resume it (nor be opened with f32 elements).
    let sink = ZarrSink::<f32>::open_of(&store, desc.clone(), ZarrOptions::default()).unwrap();
    sink.write_tile([2, 0, 0], [2, 8, 8], &tile).unwrap();
    assert!(sink.finish().unwrap().complete);
    let counts = sharded(&full_desc(4, params(8, 8), [1, 8, 8]), [2, 8, 8]);
    match ZarrSink::open(&store, counts.clone(), ZarrOptions::default()) {
        Err(SinkError::ParameterMismatch {
            field,
            existing,
            requested,
            ..
        }) => assert_eq!(
            (field.as_str(), existing.as_str(), requested.as_str()),
            ("values", "\"smooth\"", "\"counts\"")
        ),
        other => panic!("expected a values mismatch, got {other:?}"),
    }
    let e = ZarrSink::<f32>::open_of(dir.path().join("t.zarr"), counts, ZarrOptions::default())
        .unwrap_err();
    assert!(matches!(e, SinkError::InvalidParameter { .. }), "{e}");
}

#[test]
fn counts_stores_carry_no_values_key() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("c.zarr");
    let sink = ZarrSink::open(
        &store,
        full_desc(1, params(8, 8), [1, 8, 8]),
        ZarrOptions::default(),
    )
    .unwrap();
    sink.write_tile([0, 0, 0], [1, 8, 8], &[3u16; 64]).unwrap();
    assert!(sink.finish().unwrap().complete);
    let st = store_status(&store, "").unwrap();
    assert_eq!(st.data_type, "uint16");
    assert!(st.attributes.get("values").is_none());
    assert!(st.attributes.get("smooth").is_none());
}
