//! Byte sizes on the command line: `--max-bytes` and `--memory-limit`.

use zoomstack_engine::Excerpt;

/// `--memory-limit`: a size ([`parse_size`]) above 0 and at most the physical memory (where the
/// system says how much there is).
pub(crate) fn parse_memory_limit(text: &str) -> std::result::Result<u64, String> {
    let bytes = parse_size(text)?;
    if bytes == 0 {
        return Err(
            "expected more than 0 bytes (a limit of 0 refuses every run), e.g. 8GiB".to_string(),
        );
    }
    if let Some(physical) = physical_memory()
        && bytes > physical
    {
        return Err(format!(
            "{} is above this machine's physical memory ({}): expected at most that",
            zoomstack_engine::format_bytes(bytes),
            zoomstack_engine::format_bytes(physical)
        ));
    }
    Ok(bytes)
}

/// The machine's physical memory in bytes (`MemTotal` of `/proc/meminfo`), where known.
fn physical_memory() -> Option<u64> {
    let info = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = info.lines().find(|l| l.starts_with("MemTotal:"))?;
    let kib: u64 = line
        .trim_start_matches("MemTotal:")
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()?;
    kib.checked_mul(1024)
}

/// A byte count: digits with an optional unit (B, kB/MB/GB/TB decimal, KiB/MiB/GiB/TiB or
/// K/M/G/T binary).
pub(crate) fn parse_size(text: &str) -> std::result::Result<u64, String> {
    let t = text.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (digits, unit) = t.split_at(split);
    let unit = unit.trim();
    let whole = || {
        "expected a whole number of bytes with an optional unit, e.g. 20GiB or 500MB".to_string()
    };
    if digits.is_empty() {
        return Err(whole());
    }
    let factor: u64 = match unit {
        "" | "B" => 1,
        "kB" | "KB" => 1_000,
        "MB" => 1_000_000,
        "GB" => 1_000_000_000,
        "TB" => 1_000_000_000_000,
        "K" | "k" | "KiB" => 1 << 10,
        "M" | "MiB" => 1 << 20,
        "G" | "GiB" => 1 << 30,
        "T" | "TiB" => 1 << 40,
        _ => {
            return Err(format!(
                "unknown unit {}: expected B, kB, MB, GB, TB, KiB, MiB, GiB, TiB or K, M, G, T",
                Excerpt::around(unit, 0)
            ));
        }
    };
    let n: u64 = digits.parse().map_err(|_| whole())?;
    n.checked_mul(factor)
        .ok_or_else(|| "too large: expected at most 2^64 - 1 bytes".to_string())
}
