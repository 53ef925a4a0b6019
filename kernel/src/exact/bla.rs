//! Bivariate linear approximation (BLA): skipping many delta updates at once.
//!
//! Where a pixel's delta `d` is small against the reference, one update
//! `d <- (2 Z_m + d) d + dc` is close to the linear map `d <- A d + B dc` with `A = 2 Z_m`,
//! `B = 1`: the dropped `d^2` is at most `eps |A d|` while `|d| <= eps |Z_m|` (its validity
//! radius `R`). Two consecutive linear steps `x` then `y` compose to one,
//! `A = A_y A_x`, `B = A_y B_x + B_y`, valid while `x` is and `x` lands inside `y`'s radius:
//! with `|dc| <= dc_max` (the frame's largest offset), `R = min(R_x, (R_y - |B_x| dc_max) / |A_x|)`.
//! [`BlaTable`] holds these merges in levels (steps of `2^k` updates, `k >= 1`, from orbit
//! indices `1 + i 2^k`), built once per orbit and `dc_max` band, and [`BlaTable::lookup`] finds
//! the longest valid step at a pixel's `m`.
//!
//! What a skip must not hide, and how the radius excludes it:
//!
//! * an escape at a skipped point (the count is the first update with `|z| > 2`): at each
//!   junction `y` of a merge the radius also keeps `|d| <= (2 - |Z|) / 2` there, so
//!   `|Z + d| < 2` with a wide margin over the linearisation's error;
//! * a rebase at a skipped point (`|Z + d| < |d|`): `|d| <= eps |Z|` rules it out;
//! * `max_iter` and the orbit's end: a step never passes either.
//!
//! After every step the pixel's point is tested exactly as after a plain update ([`super::perturb`]),
//! so escapes and rebases are decided where they happen.

use super::delta::Parked;
use super::orbit::ReferenceOrbit;
use super::perturb::{PerturbCount, Pixel, Results};
use crate::escape::PixelSource;
use crate::lanes::{Inside, enter};
use std::sync::{Arc, Mutex, PoisonError};

/// The linearisation's tolerance: the dropped `d^2` is at most this fraction of `|A d|`, about
/// one f64 rounding of the plain update itself.
pub const BLA_EPSILON: f64 = 1.0 / (1u64 << 53) as f64;

/// One linear step of `len` updates: `d <- A d + B dc`, valid while `|d|^2 < r2`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Step {
    pub a: [f64; 2],
    pub b: [f64; 2],
    pub r2: f64,
    pub len: u32,
}

/// The merged linear steps along one reference orbit for offsets up to `dc_max`.
#[derive(Debug, Clone, PartialEq)]
pub struct BlaTable {
    /// `levels[j][i]`: `2^(j+1)` updates from orbit index `1 + i 2^(j+1)` (single updates are
    /// not kept: one update is done exactly).
    levels: Vec<Vec<Step>>,
    dc_max: f64,
}

fn abs(v: [f64; 2]) -> f64 {
    v[0].hypot(v[1])
}

fn mul(x: [f64; 2], y: [f64; 2]) -> [f64; 2] {
    [x[0] * y[0] - x[1] * y[1], x[0] * y[1] + x[1] * y[0]]
}

impl BlaTable {
    /// The table for `orbit` and offsets `|dc| <= dc_max`.
    pub fn build(orbit: &ReferenceOrbit, dc_max: f64) -> Self {
        let z = orbit.points();
        let last = z.len() - 1;
        // Single updates m -> m + 1 for m in 1..last (Z_0 = 0 has no valid radius).
        let single: Vec<Step> = (1..last)
            .map(|m| {
                let zm = z[m];
                Step {
                    a: [zm[0] + zm[0], zm[1] + zm[1]],
                    b: [1.0, 0.0],
                    r2: (BLA_EPSILON * abs(zm)).powi(2),
                    len: 1,
                }
            })
            .collect();
        // The escape margin at the start of each single step: |d| <= (2 - |Z_m|) / 2.
        let escape_r = |m: usize| ((2.0 - abs(z[m])) * 0.5).max(0.0);
        let mut levels: Vec<Vec<Step>> = Vec::new();
        let mut span = 1usize;
        loop {
            let below = levels.last().unwrap_or(&single);
            if below.len() < 2 {
                break;
            }
            let merged: Vec<Step> = below
                .chunks_exact(2)
                .enumerate()
                .map(|(i, p)| {
                    let (x, y) = (p[0], p[1]);
                    // y starts at orbit index 1 + (2 i + 1) span.
                    let y_start = 1 + (2 * i + 1) * span;
                    let ry = y.r2.sqrt().min(escape_r(y_start));
                    let ax = abs(x.a);
                    let reach = ((ry - abs(x.b) * dc_max) / ax).max(0.0);
                    let r = x.r2.sqrt().min(if ax > 0.0 { reach } else { 0.0 });
                    Step {
                        a: mul(y.a, x.a),
                        b: {
                            let ab = mul(y.a, x.b);
                            [ab[0] + y.b[0], ab[1] + y.b[1]]
                        },
                        r2: r * r,
                        len: x.len + y.len,
                    }
                })
                .collect();
            levels.push(merged);
            span *= 2;
        }
        BlaTable { levels, dc_max }
    }

    /// The offsets this table covers: `|dc| <= dc_max`.
    pub fn dc_max(&self) -> f64 {
        self.dc_max
    }

    /// Steps of every level (for reports: the table's memory is this times 48 bytes).
    pub fn steps(&self) -> usize {
        self.levels.iter().map(Vec::len).sum()
    }

    /// The longest step at orbit index `m` valid for `|d|^2 = dd` and at most `room` updates.
    #[allow(clippy::inline_always)] // compiled into the BLA loop's trampoline
    #[inline(always)]
    pub(crate) fn lookup(&self, m: usize, dd: f64, room: u32) -> Option<&Step> {
        let i = m.checked_sub(1)?;
        // The highest level whose steps start at m: the trailing zeros of i (any, for i = 0).
        let top = if i == 0 {
            self.levels.len()
        } else {
            (i.trailing_zeros() as usize).min(self.levels.len())
        };
        for j in (0..top).rev() {
            let Some(s) = self.levels[j].get(i >> (j + 1)) else {
                continue;
            };
            if dd < s.r2 && s.len <= room {
                return Some(s);
            }
        }
        None
    }
}

/// Past this `|d|^2` no step of any table is valid (every radius is at most `eps |Z| <= 2 eps`):
/// the pixel leaves the BLA phase and continues with the plain delta loop to its end.
const HANDOFF_D2: f64 = 4.0 * BLA_EPSILON * BLA_EPSILON;

/// The BLA phase of one pixel: steps with `table` while `|d|^2 <= HANDOFF_D2`. Returns the
/// result if decided, else leaves `p` where the plain loop takes over.
#[allow(clippy::inline_always)] // compiled into the BLA loop's trampoline
#[inline(always)]
pub(super) fn bla_phase(
    p: &mut Pixel,
    z: &[[f64; 2]],
    table: &BlaTable,
    max_iter: u32,
) -> Option<PerturbCount> {
    loop {
        if let Some(v) = p.advance(z, Some(table), max_iter) {
            return Some(v);
        }
        if p.dr * p.dr + p.di * p.di > HANDOFF_D2 {
            return None;
        }
    }
}

/// The scalar reference of the BLA method. Per pixel, two phases:
///
/// 1. while `|d| <= 2 eps` (where BLA can apply), each step is the longest valid step of
///    `table` at `m` (two updates or more), else one plain update; after each, the plain
///    loop's tests ([`super::perturb`]);
/// 2. from the first `|d| > 2 eps` on (no table step is valid there), the plain delta loop to
///    the end (also after a rebase that makes `d` small again).
///
/// Every BLA render equals it bit for bit (phase 2 runs in the vector delta loop).
///
/// # Panics
///
/// If `max_iter` is 0 or exceeds `orbit.max_iter()`.
pub fn perturb_bla_detail(
    orbit: &ReferenceOrbit,
    table: &BlaTable,
    dcr: f64,
    dci: f64,
    max_iter: u32,
) -> PerturbCount {
    super::perturb::reference(orbit, Some(table), dcr, dci, max_iter)
}

/// Phase 1 of every pixel of `src` (offsets from the orbit's reference point): results of the
/// pixels it decides go to `out`; the others are returned, to be continued by the vector delta
/// loop (`delta::perturb_counts`, as handed-over pixels). Runs compiled for the machine's
/// instruction set ([`enter`]: there `mul_add` is one FMA instruction, not a call; the result
/// is the same).
pub(crate) fn bla_phase_all(
    src: &impl PixelSource,
    orbit: &ReferenceOrbit,
    table: &BlaTable,
    max_iter: u32,
    out: &mut (impl Results + ?Sized),
) -> Vec<Parked> {
    crate::backend::with_lanes!(crate::Backend::Scalar, crate::Isa::current(), |L, W| {
        let _ = W;
        enter::<L, _>(BlaRun {
            src,
            orbit,
            table,
            max_iter,
            out,
        })
    })
}

/// [`bla_phase_all`]'s work, compiled into [`enter`]'s trampoline.
struct BlaRun<'a, S: PixelSource, O: Results + ?Sized> {
    src: &'a S,
    orbit: &'a ReferenceOrbit,
    table: &'a BlaTable,
    max_iter: u32,
    out: &'a mut O,
}

impl<S: PixelSource, O: Results + ?Sized> Inside for BlaRun<'_, S, O> {
    type Output = Vec<Parked>;
    #[allow(clippy::inline_always)] // it is the trampoline's body
    #[inline(always)]
    fn run(self) -> Vec<Parked> {
        let BlaRun {
            src,
            orbit,
            table,
            max_iter,
            out,
        } = self;
        let z = orbit.points();
        let row = src.row_len();
        let mut handed = Vec::new();
        // One pixel at a time: interleaving 4-16 pixels was slower (26-34% at 5e113), the
        // branches of different pixels' steps mispredicting each other.
        for pix in 0..src.len() {
            let (dcr, dci) = src.point(pix / row, pix % row);
            if orbit.never_escapes(dcr, dci) {
                out.put(pix, max_iter as u16, f64::NAN);
                continue;
            }
            let mut p = Pixel::new(dcr, dci);
            match bla_phase(&mut p, z, table, max_iter) {
                Some(v) => out.put(pix, v.count, v.norm),
                None => handed.push(Parked {
                    pix,
                    n: p.n,
                    m: p.m,
                    d: [p.dr, p.di],
                    dc: [p.dcr, p.dci],
                }),
            }
        }
        handed
    }
}

/// The BLA tables an orbit has built, by `dc_max` band (`2^e`: a table for a larger `dc_max` is
/// valid for smaller offsets, so the levels of one octave share one). Kept with the orbit;
/// not part of its value (equality, clones).
#[derive(Default)]
pub(crate) struct BlaTables(Mutex<Vec<(i32, Arc<BlaTable>)>>);

/// Tables kept per orbit (a zoom's levels move through the bands one way).
const KEPT_TABLES: usize = 4;

impl BlaTables {
    /// The table of `orbit` covering `|dc| <= dc_max`, built on first use of its band.
    pub(crate) fn get(&self, orbit: &ReferenceOrbit, dc_max: f64) -> Arc<BlaTable> {
        let e = dc_max.max(f64::MIN_POSITIVE).log2().ceil() as i32 + 1;
        let mut tables = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some((_, t)) = tables.iter().find(|(k, _)| *k == e) {
            return Arc::clone(t);
        }
        let t = Arc::new(BlaTable::build(orbit, 2f64.powi(e)));
        if tables.len() == KEPT_TABLES {
            tables.remove(0);
        }
        tables.push((e, Arc::clone(&t)));
        t
    }
}

impl Clone for BlaTables {
    fn clone(&self) -> Self {
        Self::default()
    }
}

impl PartialEq for BlaTables {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

impl std::fmt::Debug for BlaTables {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let n = self.0.lock().map_or(0, |t| t.len());
        write!(f, "BlaTables({n} built)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exact::{ExactStack, OrbitCache, perturb_scalar_detail, render_block_exact};
    use crate::{Backend, IndexRange};

    /// Kalles Fraktaler 2's 5e113 location at `size` x `size`.
    fn kf2_5e113(size: usize, max_iter: u32) -> ExactStack {
        let loc: serde_json::Value =
            serde_json::from_str(include_str!("../../tests/data/locations/kf2-5e113.json"))
                .unwrap();
        let text = |k: &str| loc[k].as_str().unwrap().parse().unwrap();
        ExactStack {
            height: size,
            width: size,
            center_re: text("center_re"),
            center_im: text("center_im"),
            scale0: text("scale"),
            zoom_per_level: "2".parse().unwrap(),
            max_iter,
            bla: true,
        }
    }

    /// The rendered frame in every backend (the BLA phase, then the vector delta loop) against
    /// the scalar reference per pixel, and the plain delta loop's counts beside it.
    fn frame_vs_reference(stack: &ExactStack, level: u64) -> (usize, usize) {
        let orbit = OrbitCache::global().for_level(stack, level).unwrap();
        let full = |n: usize| IndexRange::full(n as u64);
        let (rows, cols) = (full(stack.height), full(stack.width));
        let frames = Backend::ALL.map(|b| {
            let mut got = vec![0u16; stack.height * stack.width];
            render_block_exact(stack, &orbit, level, rows, cols, b, &mut got).unwrap();
            (b, got)
        });
        let table = orbit.bla_table(stack.frame_dc_max(level).unwrap());
        let o = stack.offsets(level, rows, cols).unwrap();
        let mut differ_from_plain = 0;
        for (r, &y) in o.rows.iter().enumerate() {
            for (j, &x) in o.cols.iter().enumerate() {
                let want = perturb_bla_detail(&orbit, &table, x, y, stack.max_iter).count;
                for (b, got) in &frames {
                    assert_eq!(
                        got[r * stack.width + j],
                        want,
                        "{b} level {level} ({r}, {j})"
                    );
                }
                let plain = perturb_scalar_detail(&orbit, x, y, stack.max_iter).count;
                differ_from_plain += usize::from(plain != want);
            }
        }
        (frames[0].1.len(), differ_from_plain)
    }

    #[test]
    fn render_equals_the_scalar_reference_and_the_plain_loop_here() {
        // The deep location (BLA skips most updates), with max_iter cutting orbits short, and
        // the notebook's stack at shallow and deep levels (rebasing often, and rarely).
        let mut cases = vec![(kf2_5e113(48, 35494), 0), (kf2_5e113(16, 3000), 0)];
        for level in [0, 20000, 120000] {
            let s = ExactStack {
                height: 40,
                width: 56,
                bla: true,
                ..ExactStack::default()
            };
            cases.push((s, level));
        }
        for (stack, level) in cases {
            let (n, differ) = frame_vs_reference(&stack, level);
            // Away from escape decisions within rounding, BLA and the plain loop agree.
            assert_eq!(
                differ, 0,
                "{n} pixels of level {level}, max_iter {}",
                stack.max_iter
            );
        }
    }

    #[test]
    fn steps_are_long_and_within_their_room() {
        let stack = kf2_5e113(8, 35494);
        let orbit = OrbitCache::global().for_level(&stack, 0).unwrap();
        let table = orbit.bla_table(stack.frame_dc_max(0).unwrap());
        assert!(table.dc_max() >= stack.frame_dc_max(0).unwrap());
        // From index 1 with d = dc (about 1e-113), a step of thousands of updates is valid.
        let s = table.lookup(1, 1e-226, u32::MAX).unwrap();
        assert!(s.len >= 4096, "{}", s.len);
        // ... but never more than the room left, and none at index 0 (Z_0 = 0).
        assert!(table.lookup(1, 1e-226, 100).unwrap().len <= 100);
        assert!(table.lookup(1, 1e-226, 1).is_none());
        assert!(table.lookup(0, 0.0, u32::MAX).is_none());
        // Nor for a delta as large as the reference.
        assert!(table.lookup(1, 1.0, u32::MAX).is_none());
        // Steps start where their length divides the index (less one).
        for m in [2usize, 3, 5, 9, 17, 1000, 4097] {
            if let Some(s) = table.lookup(m, 1e-226, u32::MAX) {
                assert_eq!((m - 1) % s.len as usize, 0, "m {m} len {}", s.len);
            }
        }
    }
}
