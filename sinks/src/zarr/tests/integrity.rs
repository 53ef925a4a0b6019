//! Integrity: chunk order and checksums, marker records, damage found by `verify` and on
//! resume, and the one-writer lock.

use std::path::{Path, PathBuf};

use super::*;

/// A shard's chunks are stored in C order whatever order zarrs' threads finish them in, so the
/// same parameters give the same bytes (the CLI and Python writers are compared file for file).
#[test]
fn shard_chunks_are_stored_in_c_order() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("order.zarr");
    let desc = full_desc(8, params(64, 64), [1, 16, 16]);
    let sink = ZarrSink::open(&store, sharded(&desc, [8, 64, 64]), ZarrOptions::default()).unwrap();
    write_all(&sink, [8, 64, 64]);
    assert!(sink.finish().unwrap().complete);
    let shard = fs::read(arr(&store).join("c/0/0/0")).unwrap();
    // Index at the end: (offset, size) u64 pairs per chunk, then a crc32c.
    let n = 8 * 4 * 4;
    let index = &shard[shard.len() - 4 - 16 * n..shard.len() - 4];
    let offsets: Vec<u64> = index
        .chunks(16)
        .map(|e| u64::from_le_bytes(e[..8].try_into().unwrap()))
        .collect();
    assert_eq!(offsets[0], 0);
    assert!(offsets.windows(2).all(|w| w[0] < w[1]), "{offsets:?}");
}

/// A complete sharded store of 4 shards (and one unsharded), for damage tests.
fn written_store(dir: &Path, name: &str, shard: Option<[usize; 3]>) -> (PathBuf, ArrayDescription) {
    let base = full_desc(8, params(16, 16), [1, 8, 8]);
    let desc = match shard {
        Some(s) => sharded(&base, s),
        None => base,
    };
    let store = dir.join(name);
    let sink = ZarrSink::open(&store, desc.clone(), ZarrOptions::default()).unwrap();
    write_all(&sink, [1, 16, 16]);
    assert!(sink.finish().unwrap().complete);
    (store, desc)
}

fn flip_bytes(path: &Path, at: usize) {
    let mut b = fs::read(path).unwrap();
    for k in 0..3 {
        b[at + k] ^= 0x5a;
    }
    fs::write(path, b).unwrap();
}

#[test]
fn chunks_carry_a_crc32c_and_markers_record_each_file() {
    let dir = tempfile::tempdir().unwrap();
    let (store, _) = written_store(dir.path(), "s.zarr", Some([2, 16, 16]));
    let v = zarr_json(&arr(&store));
    let inner = &v["codecs"][0]["configuration"]["codecs"];
    assert_eq!(inner[1]["name"], "zstd");
    assert_eq!(inner[2]["name"], "crc32c");
    let (unsharded, _) = written_store(dir.path(), "u.zarr", None);
    assert_eq!(zarr_json(&arr(&unsharded))["codecs"][2]["name"], "crc32c");
    for s in 0..4 {
        let file = fs::read(arr(&store).join(format!("c/{s}/0/0"))).unwrap();
        let marker: Value = serde_json::from_slice(
            &fs::read(arr(&store).join(format!("zoomstack.done/{s}.0.0"))).unwrap(),
        )
        .unwrap();
        assert_eq!(marker["bytes"], file.len() as u64);
        assert_eq!(marker["crc32c"], crc32c::crc32c(&file));
    }
    let r = &verify_store(&store, "", 2).unwrap()[0];
    assert!(r.is_intact(), "{r:?}");
    assert_eq!(
        (r.units_total, r.units_intact, r.units_checksummed),
        (4, 4, 4)
    );
    assert_eq!(r.raw_bytes, 8 * 16 * 16 * 2);
}

#[test]
fn verify_finds_truncated_flipped_and_deleted_units_and_a_resume_repairs_them() {
    let dir = tempfile::tempdir().unwrap();
    for shard in [Some([1, 16, 16]), None] {
        let name = if shard.is_some() {
            "sh.zarr"
        } else {
            "un.zarr"
        };
        let (store, desc) = written_store(dir.path(), name, shard);
        let file = |k: u64| arr(&store).join(format!("c/{k}/0/0"));
        // Unit 0 truncated, unit 1: three bytes flipped (same length), unit 4 deleted (unit 2
        // of the unsharded store equals the fill value: it has no file).
        let b = fs::read(file(0)).unwrap();
        fs::write(file(0), &b[..b.len() - 10]).unwrap();
        flip_bytes(&file(1), 20);
        fs::remove_file(file(4)).unwrap();
        fs::remove_file(arr(&store).join("zoomstack.done/3.0.0")).unwrap();

        let r = &verify_store(&store, "", 2).unwrap()[0];
        assert!(!r.is_intact());
        assert_eq!(r.missing, [[3, 0, 0]], "{name}");
        let damaged: Vec<[u64; 3]> = r.damaged.iter().map(|d| d.unit).collect();
        assert_eq!(damaged, [[0, 0, 0], [1, 0, 0], [4, 0, 0]], "{name}: {r:?}");
        assert!(
            r.damaged[0].reason.contains("bytes; its marker records"),
            "{:?}",
            r.damaged
        );
        assert!(r.damaged[1].reason.contains("CRC-32C"), "{:?}", r.damaged);
        assert!(r.damaged[2].reason.contains("missing"), "{:?}", r.damaged);
        if shard.is_some() {
            // The only unit with three flipped bytes: without a record, the crc32c codec
            // still finds it (as zarr-python would).
            fs::write(arr(&store).join("zoomstack.done/1.0.0"), b"").unwrap();
            let r = &verify_store(&store, "", 1).unwrap()[0];
            let d1 = r.damaged.iter().find(|d| d.unit == [1, 0, 0]).unwrap();
            assert!(d1.reason.contains("cannot be decoded"), "{d1:?}");
        }

        // A plain resume sees lengths only: units 0 and 4 (and 3) are rewritten, 1 is not.
        let sink = ZarrSink::open(&store, desc.clone(), ZarrOptions::default()).unwrap();
        let found: Vec<[u64; 3]> = sink.damaged_units().iter().map(|d| d.unit).collect();
        assert_eq!(found, [[0, 0, 0], [4, 0, 0]], "{name}");
        write_all(&sink, [1, 16, 16]);
        let report = sink.finish().unwrap();
        assert_eq!(
            (report.units_damaged, report.units_written),
            (2, 3),
            "{name}"
        );
        assert!(report.complete);
        assert!(!verify_store(&store, "", 2).unwrap()[0].is_intact());

        // With verify, every byte is checked: unit 1 is rewritten too.
        let opts = ZarrOptions {
            verify: true,
            ..ZarrOptions::default()
        };
        let sink = ZarrSink::open(&store, desc.clone(), opts).unwrap();
        assert_eq!(sink.damaged_units().len(), 1, "{name}");
        assert!(
            !arr(&store).join("zoomstack.done/1.0.0").exists(),
            "marker removed until rewritten"
        );
        assert_eq!(
            zarr_json(&arr(&store))["attributes"]["zoomstack"]["complete"],
            false
        );
        write_all(&sink, [1, 16, 16]);
        assert!(sink.finish().unwrap().complete);
        assert!(verify_store(&store, "", 2).unwrap()[0].is_intact());
        assert_eq!(read_back(&store, ""), full(desc.shape()), "{name}");
    }
}

#[test]
fn one_sole_writer_per_store_shared_writers_need_a_store() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("l.zarr");
    let desc = full_desc(4, params(16, 16), [1, 8, 8]);
    let shared = ZarrOptions {
        writers: Writers::Shared,
        ..ZarrOptions::default()
    };
    assert!(matches!(
        ZarrSink::open(&store, desc.clone(), shared.clone()),
        Err(SinkError::NoStore { .. })
    ));
    assert!(!store.exists(), "a refused shared writer creates nothing");

    let first = ZarrSink::open(&store, desc.clone(), ZarrOptions::default()).unwrap();
    let err = ZarrSink::open(&store, desc.clone(), ZarrOptions::default()).unwrap_err();
    assert!(matches!(err, SinkError::StoreBusy { .. }), "{err}");
    assert!(
        err.to_string().contains("being written by another process"),
        "{err}"
    );
    // A writer of other parameters is told which field differs.
    let mut other = desc.clone();
    other.params.max_iter = 300;
    let err = ZarrSink::open(&store, other, ZarrOptions::default()).unwrap_err();
    assert!(err.to_string().contains("stack.max_iter"), "{err}");
    assert!(matches!(
        ZarrSink::open(&store, desc.clone(), shared.clone()),
        Err(SinkError::StoreBusy { .. })
    ));
    drop(first);

    let a = ZarrSink::open(&store, desc.clone(), shared.clone()).unwrap();
    let b = ZarrSink::open(&store, desc.clone(), shared.clone()).unwrap();
    assert!(matches!(
        ZarrSink::open(&store, desc.clone(), ZarrOptions::default()),
        Err(SinkError::StoreBusy { .. })
    ));
    let verify_shared = ZarrOptions {
        verify: true,
        ..shared
    };
    assert!(matches!(
        ZarrSink::open(&store, desc.clone(), verify_shared),
        Err(SinkError::InvalidParameter { .. })
    ));
    for (o, s, d) in tiles(desc.shape(), [1, 16, 16]) {
        let w = if o[0] % 2 == 0 { &a } else { &b };
        w.write_tile(o, s, &d).unwrap();
    }
    a.close().unwrap();
    assert!(b.finish().unwrap().complete);
    assert_eq!(read_back(&store, ""), full(desc.shape()));
}
