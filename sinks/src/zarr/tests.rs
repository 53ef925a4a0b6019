use std::fs;
use std::sync::Arc;

use ndarray::ArrayD;
use serde_json::Value;
use zarrs::array::Array;
use zarrs::filesystem::FilesystemStore;

use super::*;

mod groups;
mod integrity;
mod ome;
mod smooth;
use zoomstack_engine::{IndexRange, Selection, StoreLayout};
use zoomstack_kernel::StackParams;

fn layout(shape: [u64; 3], chunks: [usize; 3], shard: Option<[usize; 3]>) -> StoreLayout {
    StoreLayout::new(shape, chunks, shard).unwrap()
}

/// The whole stack of `levels` levels in `chunks`, unsharded.
fn full_desc(levels: u64, p: StackParams, chunks: [usize; 3]) -> ArrayDescription {
    let shape = [levels, p.height as u64, p.width as u64];
    ArrayDescription::full_stack(levels, p, layout(shape, chunks, None))
}

/// The same description in shards of `shard`.
fn sharded(d: &ArrayDescription, shard: [usize; 3]) -> ArrayDescription {
    ArrayDescription {
        layout: layout(d.shape(), d.chunks(), Some(shard)),
        ..d.clone()
    }
}

/// A strided selection of a stack (no mean), unsharded.
fn strided(
    levels: u64,
    p: StackParams,
    r: [IndexRange; 3],
    chunks: [usize; 3],
) -> ArrayDescription {
    let sel = Selection::strided(r);
    ArrayDescription::new(levels, p, sel, layout(sel.shape(), chunks, None))
}

fn params(h: usize, w: usize) -> StackParams {
    StackParams {
        height: h,
        width: w,
        ..StackParams::default()
    }
}

/// Deterministic test content with some all-zero regions.
fn value(l: u64, y: u64, x: u64) -> u16 {
    if l % 3 == 2 && y < 8 {
        return 0;
    }
    ((l * 7919 + y * 131 + x * 17) % 257) as u16
}

fn full(shape: [u64; 3]) -> Vec<u16> {
    let mut v = Vec::new();
    for l in 0..shape[0] {
        for y in 0..shape[1] {
            for x in 0..shape[2] {
                v.push(value(l, y, x));
            }
        }
    }
    v
}

/// Tiles of `tile` shape covering `shape`, in C order.
fn tiles(shape: [u64; 3], tile: [usize; 3]) -> Vec<([u64; 3], [usize; 3], Vec<u16>)> {
    let mut out = Vec::new();
    let t = tile.map(|t| t as u64);
    for l in (0..shape[0]).step_by(tile[0]) {
        for y in (0..shape[1]).step_by(tile[1]) {
            for x in (0..shape[2]).step_by(tile[2]) {
                let o = [l, y, x];
                let s = [0, 1, 2].map(|k| (t[k].min(shape[k] - o[k])) as usize);
                let mut d = Vec::new();
                for a in 0..s[0] as u64 {
                    for b in 0..s[1] as u64 {
                        for c in 0..s[2] as u64 {
                            d.push(value(o[0] + a, o[1] + b, o[2] + c));
                        }
                    }
                }
                out.push((o, s, d));
            }
        }
    }
    out
}

/// The directory of a store's own array (`counts` in its root group).
fn arr(store: &Path) -> PathBuf {
    store.join(DEFAULT_ARRAY)
}

/// The array at `array_path` (`""`: the store's own array, as the sinks resolve it).
fn read_back(store: &Path, array_path: &str) -> Vec<u16> {
    let array_path = if array_path.is_empty() && arr(store).exists() {
        DEFAULT_ARRAY
    } else {
        array_path
    };
    let s = Arc::new(FilesystemStore::new(store).unwrap());
    let a = Array::open(s, &format!("/{}", array_path.trim_matches('/'))).unwrap();
    let d: ArrayD<u16> = a.retrieve_array_subset(&a.subset_all()).unwrap();
    d.iter().copied().collect()
}

fn write_all(sink: &ZarrSink, tile: [usize; 3]) {
    for (o, s, d) in tiles(sink.desc.shape(), tile) {
        if sink.needs_tile(o, s) {
            sink.write_tile(o, s, &d).unwrap();
        }
    }
}

fn zarr_json(dir: &Path) -> Value {
    serde_json::from_str(&fs::read_to_string(dir.join("zarr.json")).unwrap()).unwrap()
}

#[test]
fn unsharded_round_trip_and_metadata() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("s.zarr");
    let desc = full_desc(6, params(40, 24), [1, 16, 16]);
    let sink = ZarrSink::open(&store, desc.clone(), ZarrOptions::default()).unwrap();
    assert_eq!(sink.write_unit(), [1, 16, 16]);
    write_all(&sink, [1, 16, 16]);
    let report = sink.finish().unwrap();
    assert!(report.complete, "{report:?}");
    assert_eq!(report.units_total, 6 * 3 * 2);
    assert_eq!(report.units_written, 36);
    assert_eq!(read_back(&store, ""), full(desc.shape()));

    let v = zarr_json(&arr(&store));
    assert_eq!(v["dimension_names"], serde_json::json!(["level", "y", "x"]));
    assert_eq!(v["data_type"], "uint16");
    assert_eq!(v["fill_value"], 65535);
    assert!(
        v["attributes"].get("_zarrs").is_none(),
        "no _zarrs attribute"
    );
    let zs = &v["attributes"]["zoomstack"];
    assert_eq!(zs["format"], "zoomstack-stack");
    assert_eq!(zs["complete"], true);
    assert_eq!(zs["select"], "[0:6:1, 0:40:1, 0:24:1]");
    assert_eq!(zs["downsample"], Value::Null);
    assert_eq!(zs["write_unit"], serde_json::json!([1, 16, 16]));
    assert_eq!(zs["stack"]["center"][0], -0.743645857047151);
    assert_eq!(zs["stack"]["levels"], 6);
    assert_eq!(v["codecs"][1]["name"], "zstd");
    assert_eq!(
        fs::read_dir(arr(&store).join(MARKER_DIR)).unwrap().count(),
        36,
        "one marker per chunk"
    );
    let st = store_status(&store, "").unwrap();
    assert_eq!((st.units_done, st.units_total, st.complete), (36, 36, true));
}

#[test]
fn fill_value_units_are_marked_without_files() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("z.zarr");
    let desc = full_desc(2, params(8, 8), [1, 8, 8]);
    let sink = ZarrSink::open(&store, desc, ZarrOptions::default()).unwrap();
    sink.write_tile([0, 0, 0], [1, 8, 8], &[FILL_VALUE; 64])
        .unwrap();
    sink.write_tile([1, 0, 0], [1, 8, 8], &[0; 64]).unwrap();
    assert!(sink.finish().unwrap().complete);
    assert!(
        !arr(&store).join("c/0/0/0").exists(),
        "zarrs skips fill-value chunks"
    );
    assert!(arr(&store).join("c/1/0/0").exists());
    assert!(arr(&store).join(MARKER_DIR).join("0.0.0").exists());
    let back = read_back(&store, "");
    assert!(back[..64].iter().all(|&v| v == FILL_VALUE) && back[64..].iter().all(|&v| v == 0));
}

#[test]
fn sharded_from_inner_chunk_tiles_and_whole_shards() {
    let desc = full_desc(7, params(40, 36), [2, 16, 16]);
    let want = full(desc.shape());
    for tile in [
        [2, 16, 16],
        [4, 32, 32],
        [1, 40, 36],
        [7, 40, 36],
        [3, 5, 7],
    ] {
        let dir = tempfile::tempdir().unwrap();
        let store = dir.path().join("sh.zarr");
        let opts = ZarrOptions {
            compression: Compression::Zstd { level: 1 },
            ..ZarrOptions::default()
        };
        let sink = ZarrSink::open(&store, sharded(&desc, [4, 32, 32]), opts).unwrap();
        assert_eq!(sink.write_unit(), [4, 32, 32]);
        write_all(&sink, tile);
        assert!(sink.pending.lock().unwrap().is_empty(), "tile {tile:?}");
        let report = sink.finish().unwrap();
        assert!(report.complete, "tile {tile:?}: {report:?}");
        assert_eq!(report.units_written, 2 * 2 * 2, "each shard written once");
        assert_eq!(read_back(&store, ""), want, "tile {tile:?}");
        let v = zarr_json(&arr(&store));
        assert_eq!(v["codecs"][0]["name"], "sharding_indexed");
        assert_eq!(
            v["codecs"][0]["configuration"]["chunk_shape"],
            serde_json::json!([2, 16, 16])
        );
        assert_eq!(
            v["attributes"]["zoomstack"]["write_unit"],
            serde_json::json!([4, 32, 32])
        );
    }
}

#[test]
fn parallel_writers_one_per_shard() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("par.zarr");
    let desc = full_desc(16, params(32, 32), [1, 16, 16]);
    let sink = ZarrSink::open(&store, sharded(&desc, [4, 32, 32]), ZarrOptions::default()).unwrap();
    let all = tiles(desc.shape(), [1, 16, 16]);
    std::thread::scope(|s| {
        for part in all.chunks(all.len().div_ceil(4)) {
            let sink = &sink;
            s.spawn(move || {
                for (o, sh, d) in part.iter().rev() {
                    sink.write_tile(*o, *sh, d).unwrap();
                }
            });
        }
    });
    assert!(sink.finish().unwrap().complete);
    assert_eq!(read_back(&store, ""), full(desc.shape()));
}

#[test]
fn resume_skips_marked_units_and_matches_a_fresh_write() {
    let dir = tempfile::tempdir().unwrap();
    let desc = full_desc(5, params(32, 32), [1, 16, 16]);
    let a = dir.path().join("a.zarr");
    let sink = ZarrSink::open(&a, desc.clone(), ZarrOptions::default()).unwrap();
    let all = tiles(desc.shape(), [1, 16, 16]);
    for (o, s, d) in &all[..7] {
        sink.write_tile(*o, *s, d).unwrap();
    }
    drop(sink); // as if killed: no finish
    assert_eq!(
        zarr_json(&arr(&a))["attributes"]["zoomstack"]["complete"],
        false
    );
    let st = store_status(&a, "").unwrap();
    assert_eq!((st.units_done, st.complete), (7, false));

    let sink = ZarrSink::open(&a, desc.clone(), ZarrOptions::default()).unwrap();
    let needed: Vec<_> = all
        .iter()
        .filter(|(o, s, _)| sink.needs_tile(*o, *s))
        .collect();
    assert_eq!(needed.len(), all.len() - 7);
    for (o, s, d) in needed {
        sink.write_tile(*o, *s, d).unwrap();
    }
    let report = sink.finish().unwrap();
    assert_eq!((report.units_skipped, report.units_written), (7, 13));
    assert!(report.complete);

    let b = dir.path().join("b.zarr");
    let sink = ZarrSink::open(&b, desc.clone(), ZarrOptions::default()).unwrap();
    write_all(&sink, [1, 16, 16]);
    sink.finish().unwrap();
    assert_eq!(read_back(&a, ""), read_back(&b, ""));
    assert_eq!(read_back(&a, ""), full(desc.shape()));

    // Resuming a complete store renders nothing.
    let sink = ZarrSink::open(&a, desc, ZarrOptions::default()).unwrap();
    assert!(all.iter().all(|(o, s, _)| !sink.needs_tile(*o, *s)));
    let report = sink.finish().unwrap();
    assert!(report.complete && report.units_written == 0);
}

#[test]
fn resume_refuses_different_parameters_naming_the_field() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("m.zarr");
    let desc = full_desc(4, params(16, 16), [1, 8, 8]);
    ZarrSink::open(&store, desc.clone(), ZarrOptions::default()).unwrap();
    let before = fs::read(arr(&store).join("zarr.json")).unwrap();

    let field = |d: ArrayDescription, o: ZarrOptions| match ZarrSink::open(&store, d, o) {
        Err(SinkError::ParameterMismatch { field, .. }) => field,
        other => panic!("expected a mismatch, got {other:?}"),
    };
    let mut d = desc.clone();
    d.params.max_iter = 100;
    assert_eq!(field(d, ZarrOptions::default()), "stack.max_iter");
    let mut d = desc.clone();
    d.params.center_re = -0.5;
    assert_eq!(field(d, ZarrOptions::default()), "stack.center");
    let mut d = desc.clone();
    d.levels = 5;
    assert_eq!(field(d, ZarrOptions::default()), "stack.levels");
    let mut d = desc.clone();
    d.layout = layout(d.shape(), [2, 8, 8], None);
    assert_eq!(field(d, ZarrOptions::default()), "chunks");
    assert_eq!(
        field(sharded(&desc, [2, 16, 16]), ZarrOptions::default()),
        "shard"
    );
    let d = strided(
        4,
        params(16, 16),
        [
            IndexRange::full(4),
            IndexRange::new(0, 2, 8),
            IndexRange::full(16),
        ],
        [1, 8, 8],
    );
    assert_eq!(field(d, ZarrOptions::default()), "select");
    let mut d = desc.clone();
    d.selection.rows = d.selection.rows.mean(2);
    d.selection.cols = d.selection.cols.mean(2);
    assert_eq!(field(d, ZarrOptions::default()), "downsample");

    let err = ZarrSink::open(
        &store,
        {
            let mut d = desc.clone();
            d.params.max_iter = 100;
            d
        },
        ZarrOptions::default(),
    )
    .unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.contains("stack.max_iter") && msg.contains("256") && msg.contains("100"),
        "{msg}"
    );
    assert_eq!(
        fs::read(arr(&store).join("zarr.json")).unwrap(),
        before,
        "store untouched"
    );

    // Fail / Replace.
    let fail = ZarrOptions {
        if_exists: IfExists::Fail,
        ..ZarrOptions::default()
    };
    assert!(matches!(
        ZarrSink::open(&store, desc.clone(), fail),
        Err(SinkError::AlreadyExists { .. })
    ));
    let replace = ZarrOptions {
        if_exists: IfExists::Replace,
        ..ZarrOptions::default()
    };
    let sink = ZarrSink::open(&store, sharded(&desc, [2, 16, 16]), replace).unwrap();
    assert_eq!(sink.write_unit(), [2, 16, 16]);
}

#[test]
fn refuses_paths_that_are_not_zoomstack_stores() {
    let dir = tempfile::tempdir().unwrap();
    let desc = full_desc(2, params(8, 8), [1, 8, 8]);

    let file = dir.path().join("file.zarr");
    fs::write(&file, b"hello").unwrap();
    let err = ZarrSink::open(&file, desc.clone(), ZarrOptions::default()).unwrap_err();
    assert!(matches!(err, SinkError::NotAZoomstackStore { .. }), "{err}");
    assert_eq!(fs::read(&file).unwrap(), b"hello");

    let full_dir = dir.path().join("photos");
    fs::create_dir(&full_dir).unwrap();
    fs::write(full_dir.join("cat.jpg"), b"meow").unwrap();
    let err = ZarrSink::open(&full_dir, desc.clone(), ZarrOptions::default()).unwrap_err();
    assert!(err.to_string().contains("not a zoomstack store"), "{err}");
    assert!(err.to_string().contains("photos"), "{err}");
    assert_eq!(fs::read_dir(&full_dir).unwrap().count(), 1);
    // Even with Replace: only zoomstack arrays are ever deleted.
    let replace = ZarrOptions {
        if_exists: IfExists::Replace,
        ..ZarrOptions::default()
    };
    assert!(ZarrSink::open(&full_dir, desc.clone(), replace).is_err());
    assert!(full_dir.join("cat.jpg").exists());

    // A foreign Zarr array.
    let foreign = dir.path().join("foreign.zarr");
    fs::create_dir(&foreign).unwrap();
    let s = Arc::new(FilesystemStore::new(&foreign).unwrap());
    zarrs::array::ArrayBuilder::new(
        vec![4, 4],
        vec![2, 2],
        zarrs::array::data_type::uint16(),
        0u16,
    )
    .build(s, "/")
    .unwrap()
    .store_metadata()
    .unwrap();
    let err = ZarrSink::open(&foreign, desc.clone(), ZarrOptions::default()).unwrap_err();
    assert!(
        err.to_string().contains("without a zoomstack attribute"),
        "{err}"
    );

    // An empty directory is fine; so is a group as parent of a nested array.
    let empty = dir.path().join("empty");
    fs::create_dir(&empty).unwrap();
    ZarrSink::open(&empty, desc.clone(), ZarrOptions::default()).unwrap();
    let nested = ZarrOptions {
        array_path: "runs/stack".to_string(),
        ..ZarrOptions::default()
    };
    let g = dir.path().join("g.zarr");
    let sink = ZarrSink::open(&g, desc.clone(), nested.clone()).unwrap();
    write_all(&sink, [1, 8, 8]);
    assert!(sink.finish().unwrap().complete);
    assert_eq!(zarr_json(&g)["node_type"], "group");
    assert_eq!(zarr_json(&g.join("runs"))["node_type"], "group");
    assert_eq!(read_back(&g, "runs/stack"), full(desc.shape()));
    // A nested array under a zoomstack array is refused.
    let inside = ZarrOptions {
        array_path: "x".to_string(),
        ..ZarrOptions::default()
    };
    assert!(ZarrSink::open(&empty, desc.clone(), inside).is_err());
    // Bad array paths.
    for bad in ["../up", "a//b", "__x", "zoomstack.done", "a b"] {
        let o = ZarrOptions {
            array_path: bad.to_string(),
            ..ZarrOptions::default()
        };
        let err = ZarrSink::open(&g, desc.clone(), o).unwrap_err();
        assert!(
            matches!(err, SinkError::InvalidParameter { .. }),
            "{bad}: {err}"
        );
    }
}

#[test]
fn invalid_tiles_and_options_are_errors() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("t.zarr");
    let desc = full_desc(2, params(8, 8), [1, 4, 4]);
    // A shard that does not hold whole chunks cannot even be described (the engine's rule).
    let err = StoreLayout::new(desc.shape(), desc.chunks(), Some([1, 6, 4])).unwrap_err();
    assert!(
        err.to_string().contains("multiple of the chunk shape"),
        "{err}"
    );
    let bad_zstd = ZarrOptions {
        compression: Compression::Zstd { level: 99 },
        ..ZarrOptions::default()
    };
    assert!(ZarrSink::open(&store, desc.clone(), bad_zstd).is_err());
    assert!(StoreLayout::new(desc.shape(), [0, 4, 4], None).is_err());

    let sink = ZarrSink::open(&store, desc, ZarrOptions::default()).unwrap();
    let e = sink.write_tile([0, 0, 0], [1, 4, 4], &[1; 15]).unwrap_err();
    assert!(e.to_string().contains("15 elements, expected 16"), "{e}");
    let e = sink.write_tile([1, 6, 0], [1, 4, 4], &[1; 16]).unwrap_err();
    assert!(e.to_string().contains("beyond the array shape"), "{e}");
    let e = sink.write_tile([0, 0, 0], [0, 4, 4], &[]).unwrap_err();
    assert!(e.to_string().contains("empty tile"), "{e}");
    // Overlapping partial tiles.
    sink.write_tile([0, 0, 0], [1, 2, 4], &[1; 8]).unwrap();
    let e = sink.write_tile([0, 1, 0], [1, 3, 4], &[1; 12]).unwrap_err();
    assert!(e.to_string().contains("overlaps"), "{e}");
    let report = sink.finish().unwrap();
    assert!(!report.complete);
    assert_eq!(
        zarr_json(&arr(&store))["attributes"]["zoomstack"]["complete"],
        false
    );
}

#[test]
fn empty_array_is_complete_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("e.zarr");
    let desc = strided(
        10,
        params(8, 8),
        [
            IndexRange::new(0, 1, 0),
            IndexRange::full(8),
            IndexRange::full(8),
        ],
        [1, 8, 8],
    );
    assert_eq!(desc.selection.select_text(), "[0:0:1, 0:8:1, 0:8:1]");
    let sink = ZarrSink::open(&store, desc, ZarrOptions::default()).unwrap();
    assert_eq!(sink.progress().units_total, 0);
    assert!(sink.finish().unwrap().complete);
}

#[cfg(feature = "blosc")]
#[test]
fn blosc_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("b.zarr");
    let desc = full_desc(3, params(32, 32), [1, 16, 16]);
    let opts = ZarrOptions {
        compression: Compression::BloscZstd { level: 5 },
        ..ZarrOptions::default()
    };
    let sink = ZarrSink::open(&store, desc.clone(), opts).unwrap();
    write_all(&sink, [1, 16, 16]);
    assert!(sink.finish().unwrap().complete);
    assert_eq!(zarr_json(&arr(&store))["codecs"][1]["name"], "blosc");
    assert_eq!(read_back(&store, ""), full(desc.shape()));
}

#[test]
fn constant_unit_bytes_are_what_constant_units_take_on_disk() {
    let dir = tempfile::tempdir().unwrap();
    let base = full_desc(10, params(16, 16), [1, 16, 16]);
    let shards = sharded(&base, [4, 16, 16]);
    // Raw chunks: 16 x 16 counts and a crc32c; a shard adds 16 bytes per chunk and a crc32c.
    let cases = [
        ("sharded", &shards, Compression::default(), None),
        (
            "sharded-raw",
            &shards,
            Compression::None,
            Some(512 + 4 + 4 * 16 + 4),
        ),
        ("plain", &base, Compression::default(), None),
        ("plain-raw", &base, Compression::None, Some(512 + 4)),
    ];
    for (name, desc, compression, exact) in cases {
        let want = ZarrSink::constant_unit_bytes(desc, compression, 250u16).unwrap();
        if let Some(exact) = exact {
            assert_eq!(want, exact, "{name}");
        }
        let options = ZarrOptions {
            compression,
            ..ZarrOptions::default()
        };
        let store = dir.path().join(name);
        let sink = ZarrSink::open(&store, desc.clone(), options).unwrap();
        // A whole unit, and the last (partial) one of the level axis.
        let unit = desc.layout.unit();
        sink.write_constant_tile([0, 0, 0], unit, 250).unwrap();
        let last = (desc.shape()[0] - 1) / unit[0] as u64;
        let rest = desc.shape()[0] - last * unit[0] as u64;
        sink.write_constant_tile([last * unit[0] as u64, 0, 0], [rest as usize, 16, 16], 250)
            .unwrap();
        sink.finish().unwrap();
        for u in [0, last] {
            let file = store.join(format!("counts/c/{u}/0/0"));
            assert_eq!(fs::metadata(&file).unwrap().len(), want, "{name} unit {u}");
        }
    }
}
