//! Arbitrary bytes as a select string: parsing never panics; when it parses, applying each item
//! to an axis of fuzzer-chosen length equals a naive walk of numpy's index list, and printing
//! the items back parses to the same items.
#![no_main]

use libfuzzer_sys::fuzz_target;
use zoomstack_engine::{Excerpt, SliceSpec, parse_select};

/// numpy's index list for one item, one index at a time (`None`: index out of bounds).
fn naive(spec: SliceSpec, len: u64) -> Option<Vec<u64>> {
    let len = len as i128;
    let norm = |v: i64| {
        let v = v as i128;
        if v < 0 { v + len } else { v }
    };
    match spec {
        SliceSpec::Index(i) => {
            let j = norm(i);
            (0..len).contains(&j).then(|| vec![j as u64])
        }
        SliceSpec::Slice { start, stop, step } => {
            let step = step.unwrap_or(1) as i128;
            let mut out = vec![];
            if step > 0 {
                let mut i = start.map(norm).unwrap_or(0).max(0);
                let e = stop.map(norm).unwrap_or(len).min(len);
                while i < e {
                    out.push(i as u64);
                    i += step;
                }
            } else {
                let mut i = start.map(norm).unwrap_or(len - 1).min(len - 1);
                let e = stop.map(norm).unwrap_or(-1).max(-1);
                while i > e {
                    out.push(i as u64);
                    i += step;
                }
            }
            Some(out)
        }
    }
}

fuzz_target!(|data: &[u8]| {
    if data.len() < 2 {
        return;
    }
    let len = u16::from_le_bytes([data[0], data[1]]) as u64 % 2048;
    let text = String::from_utf8_lossy(&data[2..]);
    let specs = match parse_select(&text) {
        Ok(specs) => specs,
        Err(e) => {
            // Errors name the text: whole when short, else a window of it and its length.
            let msg = e.to_string();
            if text.len() <= Excerpt::MAX {
                assert!(msg.contains(&format!("{:?}", text.as_ref())), "{msg}");
            } else {
                assert!(msg.contains(&format!("({} bytes)", text.len())), "{msg}");
                // Debug escapes take up to 6 characters a byte; the window and the found part.
                assert!(msg.len() < 16 * Excerpt::MAX + 200, "a short message: {msg}");
            }
            return;
        }
    };
    for spec in specs {
        let got = spec.indices(len, "x").ok().map(|r| r.to_vec());
        let want = match spec {
            SliceSpec::Slice { step: Some(0), .. } => None,
            _ => naive(spec, len),
        };
        assert_eq!(
            got, want,
            "{spec} on an axis of length {len} (from {text:?})"
        );
    }
    let printed = format!("[{}, {}, {}]", specs[0], specs[1], specs[2]);
    assert_eq!(parse_select(&printed).ok(), Some(specs), "{printed}");
});
