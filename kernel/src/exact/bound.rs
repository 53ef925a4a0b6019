//! When the delta loop may skip a step's tests: a rigorous bound on `|d|` that proves neither
//! test can fire, so both are known to be false without computing `z`, `|z|^2` or `|d|^2`.
//!
//! Skipping a test whose outcome is proven changes no arithmetic on `d` and no decision: the
//! contract of [`super::perturb`] holds as written. The proof, with `u = 2^-53`:
//!
//! * **Growth.** For finite `d` (every busy lane's `d` is finite: a non-finite one makes `|z|^2`
//!   infinite or NaN, which escapes), one update's computed result satisfies
//!   `|d'| <= ((|2 Z_m| + |d|) |d| + |dc|) (1 + 6u) + 5 * 2^-1075` (each of the five rounded
//!   operations errs by at most `u` relatively plus `2^-1075` absolutely; Cauchy-Schwarz bounds
//!   the components' cross terms by `|2 Z_m + d| |d|`). While `B >= |d|` and `B <= CAP`,
//!   `B' = B G_m + C` bounds `|d'|` for `G_m = (2 |Z_m|_hi + CAP)(1 + 2^-40)` and
//!   `C = max |dc| (1 + 2^-40) + 2^-1000`: the margins exceed every rounding of `B'` itself.
//! * **No escape.** `zr = fl(Zr + dr)` gives `|z| <= (|Z| + |d|)(1 + u)` and the computed
//!   `|z|^2 <= |z|^2 (1 + 2u)`: with `|d| <= 2 (1 - 2^-40) - |Z|_hi`, `|z|^2 < 4`.
//! * **No rebase.** With `|d| <= 0.4 |Z|_lo`, `|z| >= (|Z| - |d|)(1 - u)` is at least
//!   `1.49 |d|` and `0.59 |Z|`; the computed `|z|^2` and `|d|^2` are within `2u` relatively and
//!   `2^-1074` absolutely of their values, so the first exceeds the second by at least
//!   `0.19 |Z|^2 - 2^-1073`, which is positive for `|Z| >= 2^-480` (below that, underflow could
//!   decide: never skipped).
//!
//! `|Z|_hi` and `|Z|_lo` bracket `|Z|` (the computed `hypot` inflated by `2^-50` relatively, and
//! `2^-500` absolutely on the high side). A bound that is NaN or above `CAP` never skips.

/// Largest `|d|` the linear growth bound is used for.
pub(crate) const CAP: f64 = 0.0625;
/// `1 + 2^-40`: the growth bound's relative margin.
const GROW: f64 = 1.0 + 1.0 / (1u64 << 40) as f64;
/// `2^-1000`: the growth bound's absolute margin (covers underflow).
const TINY: f64 = 9.332636185032189e-302;

/// One [`entry`], aligned to its own cache line.
#[derive(Debug, Clone, Copy, PartialEq)]
#[repr(C, align(64))]
pub(crate) struct Entry(pub(crate) [f64; 8]);

/// The delta loop's entry for orbit index `m`: `[2 Zr_m, 2 Zi_m, Zr_(m+1), Zi_(m+1), G_m,
/// S_(m+1), 0, 0]`, where `G_m` is the growth factor of the bound and `S_(m+1)` the largest
/// bound on `|d'|` that proves the update at `m` neither escapes nor rebases (negative: never).
/// Padded to 64 bytes: one cache line per update, and a cheaper index (measured: +1..4%).
pub(crate) fn entry(z: [f64; 2], next: [f64; 2]) -> Entry {
    let hypot = |p: [f64; 2]| (p[0] * p[0] + p[1] * p[1]).sqrt();
    let hi = |p| hypot(p) * (1.0 + 2f64.powi(-50)) + 2f64.powi(-500);
    let lo = hypot(next) * (1.0 - 2f64.powi(-50));
    let grow = (2.0 * hi(z) + CAP) * GROW;
    let no_escape = (2.0 * (1.0 - 2f64.powi(-40)) - hi(next)) * (1.0 - 2f64.powi(-40));
    let no_rebase = if lo >= 2f64.powi(-480) {
        0.4 * lo
    } else {
        -1.0
    };
    let safe = no_escape.min(no_rebase).min(CAP);
    // Doubling is exact: an update reads Z_m only for m < last, where |Z_m| <= 2.
    Entry([
        z[0] + z[0],
        z[1] + z[1],
        next[0],
        next[1],
        grow,
        safe,
        0.0,
        0.0,
    ])
}

/// The constant term `C` of the growth bound for lanes whose largest `|dcr| + |dci|` is `dc`.
pub(crate) fn constant(dc: f64) -> f64 {
    dc * GROW + TINY
}

/// A bound for lanes whose largest `|dr| + |di|` is `d`, or infinity when it is above [`CAP`]
/// (or NaN): then no step is skipped.
pub(crate) fn start(d: f64) -> f64 {
    let b = d * GROW + TINY;
    if b <= CAP { b } else { f64::INFINITY }
}

/// [`start`] for lanes whose largest computed `dr*dr + di*di` is `nd` (`2^-1022` covers its
/// underflow).
pub(crate) fn restart(nd: f64) -> f64 {
    start((nd + f64::MIN_POSITIVE).sqrt())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constants() {
        assert_eq!(TINY.to_bits(), 2f64.powi(-1000).to_bits());
        assert_eq!(GROW.to_bits(), (1.0 + 2f64.powi(-40)).to_bits());
        assert!(start(CAP).is_infinite());
        assert!(start(f64::NAN).is_infinite());
        assert!(restart(0.0) >= 2f64.powi(-511));
        // Z = 0 (a centre on the real axis can pass through it): never skipped.
        assert!(entry([0.5, 0.0], [0.0, 0.0]).0[5] < 0.0);
        // |Z| close to 2: never skipped.
        assert!(entry([0.5, 0.0], [2.0, 0.0]).0[5] < 0.0);
    }
}
