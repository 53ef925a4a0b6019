//! `zoomstack verify STORE`: re-read every write unit of a Zarr store and report.

use std::fmt::Write as _;
use std::path::Path;

use crate::emit;
use zoomstack_sinks::{VerifyReport, verify_store};

/// Units listed per kind before "... and N more".
const LISTED: usize = 20;

/// The report of one array, as printed (`Ok`: intact; `Err`: the list of problems).
fn render(r: &VerifyReport) -> Result<String, String> {
    let mb = |b: u64| b as f64 / 1e6;
    let rate = mb(r.raw_bytes) / r.seconds.max(1e-9);
    let dir = r.array_dir.display();
    if r.is_intact() {
        return Ok(format!(
            "{dir}: all {} write units intact ({}, {:.1} MB raw, {:.1} MB stored, {} checked \
             against the checksums their markers record) in {:.2} s, {rate:.0} MB/s raw",
            r.units_total,
            r.data_type,
            mb(r.raw_bytes),
            mb(r.stored_bytes),
            r.units_checksummed,
            r.seconds
        ));
    }
    let name = |u: [u64; 3]| format!("{}.{}.{}", u[0], u[1], u[2]);
    let missing = match r.missing.len() {
        0 => String::new(),
        n => format!(", {n} missing (no completion marker: not written yet)"),
    };
    let mut t = format!(
        "{dir}: {} of {} write units damaged{missing}; {} intact:\n",
        r.damaged.len(),
        r.units_total,
        r.units_intact
    );
    for d in r.damaged.iter().take(LISTED) {
        let u = d.unit;
        let _ = writeln!(
            t,
            "  damaged {} (file c/{}/{}/{}): {}",
            name(u),
            u[0],
            u[1],
            u[2],
            d.reason
        );
    }
    if r.damaged.len() > LISTED {
        let _ = writeln!(t, "  ... and {} more damaged", r.damaged.len() - LISTED);
    }
    for &u in r.missing.iter().take(LISTED) {
        let _ = writeln!(t, "  missing {}", name(u));
    }
    if r.missing.len() > LISTED {
        let _ = writeln!(t, "  ... and {} more missing", r.missing.len() - LISTED);
    }
    Err(t)
}

/// Verifies the store; prints one line per intact array, the problems otherwise. Returns the
/// number of arrays with problems.
pub(crate) fn verify(store: &Path, array: &str, threads: usize) -> anyhow::Result<usize> {
    let reports = verify_store(store, array, threads)?;
    let mut bad = 0;
    for r in &reports {
        match render(r) {
            Ok(line) => outln!("{line}"),
            Err(text) => {
                bad += 1;
                out!("{text}");
            }
        }
    }
    if bad > 0 {
        outln!(
            "to repair: run the command that wrote the store again with --verify (damaged units are \
             rendered again; missing ones are what a resume writes anyway)"
        );
    }
    Ok(bad)
}
