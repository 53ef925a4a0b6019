//! The OME-Zarr pyramid: its group, datasets and resume.

use super::*;

#[test]
fn ome_pyramid() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("p.ome.zarr");
    let p = params(32, 32);
    let lv = IndexRange::new(2, 3, 4);
    let descs: Vec<_> = (0..3u32)
        .map(|k| {
            let s = 1u64 << k;
            strided(
                20,
                p,
                [
                    lv,
                    IndexRange::new(0, s as i64, 32 / s),
                    IndexRange::new(0, s as i64, 32 / s),
                ],
                [1, 16, 16],
            )
        })
        .collect();
    let pyr = ZarrPyramid::open(&store, descs.clone(), ZarrOptions::default()).unwrap();
    let replace = ZarrOptions {
        if_exists: IfExists::Replace,
        ..ZarrOptions::default()
    };
    assert!(
        matches!(
            ZarrPyramid::open(&store, descs.clone(), replace),
            Err(SinkError::StoreBusy { .. })
        ),
        "a second writer of the group is refused before it changes anything"
    );
    for (k, sink) in pyr.levels().iter().enumerate() {
        let s = 1u64 << k;
        let shape = sink.description().shape();
        for (o, sh, _) in tiles(shape, [1, 16, 16]) {
            let mut d = Vec::new();
            for a in 0..sh[0] as u64 {
                for b in 0..sh[1] as u64 {
                    for c in 0..sh[2] as u64 {
                        d.push(value(lv.at(o[0] + a), (o[1] + b) * s, (o[2] + c) * s));
                    }
                }
            }
            sink.write_tile(o, sh, &d).unwrap();
        }
    }
    let reports = pyr.finish().unwrap();
    assert!(reports.iter().all(|r| r.complete));
    let g = zarr_json(&store);
    assert_eq!(g["node_type"], "group");
    let ms = &g["attributes"]["ome"]["multiscales"][0];
    assert_eq!(g["attributes"]["ome"]["version"], "0.5");
    assert_eq!(ms["axes"][0]["name"], "level");
    assert_eq!(ms["datasets"][2]["path"], "2");
    assert_eq!(
        ms["datasets"][2]["coordinateTransformations"][0]["scale"],
        serde_json::json!([3.0, 4.0, 4.0])
    );
    assert_eq!(
        ms["datasets"][1]["coordinateTransformations"][1]["translation"],
        serde_json::json!([2.0, 0.0, 0.0])
    );
    let a2 = zarr_json(&store.join("2"));
    assert_eq!(a2["shape"], serde_json::json!([4, 8, 8]));
    assert_eq!(
        a2["dimension_names"],
        serde_json::json!(["level", "y", "x"])
    );
    let back = read_back(&store, "2");
    assert_eq!(back[8 + 1], value(2, 4, 4));
    // Resume with the same levels works; a different pyramid is refused.
    ZarrPyramid::open(&store, descs.clone(), ZarrOptions::default()).unwrap();
    let err = ZarrPyramid::open(&store, descs[..2].to_vec(), ZarrOptions::default()).unwrap_err();
    assert!(err.to_string().contains("ome.multiscales"), "{err}");
    // Replace with fewer levels removes the extra dataset.
    let replace = ZarrOptions {
        if_exists: IfExists::Replace,
        ..ZarrOptions::default()
    };
    let pyr = ZarrPyramid::open(&store, descs[..2].to_vec(), replace).unwrap();
    assert_eq!(pyr.levels().len(), 2);
    assert!(!store.join("2").exists());
    assert!(!pyr.finish().unwrap()[0].complete);
    // Inconsistent level axes are refused.
    let mut bad = descs.clone();
    bad[1] = strided(
        20,
        p,
        [
            IndexRange::new(0, 1, 4),
            IndexRange::new(0, 2, 16),
            IndexRange::new(0, 2, 16),
        ],
        [1, 16, 16],
    );
    let err = ZarrPyramid::open(dir.path().join("q"), bad, ZarrOptions::default()).unwrap_err();
    assert!(err.to_string().contains("same levels"), "{err}");
}
