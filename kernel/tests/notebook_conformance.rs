//! The kernel reproduces the notebook's counts bit for bit.
//!
//! Fixtures come from `tools/notebook_reference.py`, which runs the notebook's own numpy code
//! (see `tests/fixtures/README.md` for how to regenerate them).

use flate2::read::GzDecoder;
use serde_json::Value;
use std::io::Read;
use std::path::PathBuf;
use zoomstack_kernel::spec::escape_scalar;
use zoomstack_kernel::{Backend, IndexRange, Isa, StackParams, render_block};

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

fn cases() -> Vec<Value> {
    let text = std::fs::read_to_string(fixtures().join("cases.json")).expect("cases.json");
    let doc: Value = serde_json::from_str(&text).expect("valid JSON");
    doc["cases"].as_array().expect("cases").clone()
}

fn load_counts(case: &Value) -> Vec<u16> {
    let file = fixtures().join(case["file"].as_str().unwrap());
    let mut bytes = Vec::new();
    GzDecoder::new(std::fs::File::open(&file).unwrap())
        .read_to_end(&mut bytes)
        .unwrap();
    bytes
        .chunks_exact(2)
        .map(|b| u16::from_le_bytes([b[0], b[1]]))
        .collect()
}

fn params(case: &Value) -> StackParams {
    StackParams {
        height: case["height"].as_u64().unwrap() as usize,
        width: case["width"].as_u64().unwrap() as usize,
        center_re: case["center"][0].as_f64().unwrap(),
        center_im: case["center"][1].as_f64().unwrap(),
        scale0: case["scale0"].as_f64().unwrap(),
        zoom_per_level: case["zoom_per_level"].as_f64().unwrap(),
        max_iter: case["max_iter"].as_u64().unwrap() as u32,
    }
}

fn assert_same(what: &str, got: &[u16], want: &[u16]) {
    assert_eq!(got.len(), want.len(), "{what}: length");
    let diffs = got.iter().zip(want).filter(|(a, b)| a != b).count();
    if let Some(i) = (0..want.len()).find(|&i| got[i] != want[i]) {
        panic!(
            "{what}: {diffs} pixels differ; first at {i}: got {} want {}",
            got[i], want[i]
        );
    }
}

#[test]
fn every_single_level_fixture_matches_every_backend_and_the_reference() {
    let mut checked = 0;
    for case in cases().iter().filter(|c| c["level"].is_u64()) {
        let p = params(case);
        let level = case["level"].as_u64().unwrap();
        let want = load_counts(case);
        let name = case["name"].as_str().unwrap();
        let (rows, cols) = (
            IndexRange::full(p.height as u64),
            IndexRange::full(p.width as u64),
        );
        for isa in Isa::supported() {
            for backend in Backend::ALL {
                let mut got = vec![0u16; want.len()];
                isa.scoped(|| render_block(&p, level, rows, cols, backend, &mut got))
                    .unwrap()
                    .unwrap();
                assert_same(&format!("{name} {backend} on {isa}"), &got, &want);
            }
        }
        // The plain reference too (skip the 512 x 512 ones: slow without optimization).
        if p.height * p.width <= 64 * 64 {
            let g = p.level_grid(level).unwrap();
            let reference: Vec<u16> = (0..p.height)
                .flat_map(|r| (0..p.width).map(move |c| (r, c)))
                .map(|(r, c)| escape_scalar(g.cols.at(c), g.rows.at(r), p.max_iter))
                .collect();
            assert_same(&format!("{name} reference"), &reference, &want);
        }
        checked += 1;
    }
    assert!(checked >= 30, "only {checked} fixtures found");
}

#[test]
fn notebook_preview_frames_match_strided_rendering() {
    let case = cases()
        .into_iter()
        .find(|c| c["name"].as_str().unwrap().starts_with("preview"))
        .unwrap();
    let p = params(&case);
    let want = load_counts(&case);
    let levels: Vec<u64> = case["levels"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l.as_u64().unwrap())
        .collect();
    assert_eq!(levels.len(), 40);
    let frame = 256 * 256;
    let mut got = vec![0u16; frame];
    for (k, &level) in levels.iter().enumerate() {
        render_block(
            &p,
            level,
            IndexRange::new(0, 2, 256),
            IndexRange::new(0, 2, 256),
            Backend::fastest(),
            &mut got,
        )
        .unwrap();
        assert_same(
            &format!("preview level {level}"),
            &got,
            &want[k * frame..(k + 1) * frame],
        );
    }
}
