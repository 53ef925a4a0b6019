//! [`ReferenceOrbit`]: the centre's orbit in big precision, stored as f64; and [`OrbitCache`],
//! which computes each orbit once per process and shares it.

use super::bla::{BlaTable, BlaTables};
use super::bound;
use super::real::{Big, ExactReal, Prec};
use super::stack::{ExactStack, MAX_PRECISION_BITS};
use crate::escape::in_cardioid_or_bulb;
use crate::{KernelError, validate_max_iter};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock, PoisonError};

/// The reference orbit `Z_0 = 0, Z_{n+1} = Z_n^2 + C` of the reference point `C` (the centre
/// rounded to `precision` bits), iterated in `precision`-bit arithmetic and stored as f64 pairs,
/// up to `Z_max_iter` or the first `Z_n` with `|Z_n| > 2`, whichever comes first.
///
/// It depends on the centre, the precision and `max_iter` only, not on the level: one orbit
/// serves every level whose [`ExactStack::orbit_precision`] is its precision, and every
/// `max_iter` up to its own (the counts are the same as with an orbit of exactly that
/// `max_iter`). Share it with `Arc` ([`OrbitCache`] does).
///
/// ```
/// use zoomstack_kernel::exact::{ExactStack, ReferenceOrbit};
/// let stack = ExactStack::default();
/// let orbit = ReferenceOrbit::for_level(&stack, 120000).unwrap();
/// // The notebook's centre escapes on its 251st update: count 250.
/// assert_eq!(orbit.escape_count(), Some(250));
/// assert_eq!(orbit.points().len(), 252); // Z_0 ..= Z_251
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct ReferenceOrbit {
    center_re: ExactReal,
    center_im: ExactReal,
    precision: usize,
    max_iter: u32,
    z: Vec<[f64; 2]>,
    /// What the delta loop's update at orbit index `m` reads ([`bound::entry`]).
    steps: Vec<bound::Entry>,
    escaped: bool,
    /// The reference point (the centre at `precision` bits) rounded to f64.
    point: [f64; 2],
    /// Its BLA tables, built on demand ([`ReferenceOrbit::bla_table`]).
    bla: BlaTables,
}

impl ReferenceOrbit {
    /// Computes the orbit of the centre at `precision` bits, up to `max_iter` updates.
    ///
    /// # Errors
    ///
    /// [`KernelError::BadMaxIter`]; [`KernelError::BadExact`] for a precision outside
    /// `64..=`[`MAX_PRECISION_BITS`].
    pub fn compute(
        center_re: &ExactReal,
        center_im: &ExactReal,
        max_iter: u32,
        precision: usize,
    ) -> Result<Self, KernelError> {
        check_args(max_iter, precision)?;
        let ctx = Prec::new(precision);
        let (cr, ci) = (center_re.to_big(precision), center_im.to_big(precision));
        let four = Big::from(4u8);
        let (mut zr, mut zi) = (Big::ZERO, Big::ZERO);
        // The rounded squares of `zr` and `zi`: the escape test's and the next update's.
        let (mut zr2, mut zi2) = (Big::ZERO, Big::ZERO);
        let mut z = Vec::with_capacity(max_iter as usize + 1);
        z.push([0.0, 0.0]);
        let mut escaped = false;
        for _ in 0..max_iter {
            // Z <- Z^2 + C: re = (zr^2 - zi^2) + cr, im = 2 zr zi + ci, each op rounded once.
            let re = ctx.add(&ctx.sub(&zr2, &zi2), &cr);
            let im = ctx.add(&(ctx.mul(&zr, &zi) << 1), &ci);
            (zr, zi) = (re, im);
            (zr2, zi2) = (ctx.sqr(&zr), ctx.sqr(&zi));
            let f = [zr.to_f64().value(), zi.to_f64().value()];
            z.push(f);
            // `f` is within 2^-52 (relative) of `Z`: below 3.99 its rounded `|Z|^2` is below 4
            // too, and the big test is not needed.
            if f[0] * f[0] + f[1] * f[1] >= 3.99 && ctx.add(&zr2, &zi2) > four {
                escaped = true;
                break;
            }
        }
        let steps = z.windows(2).map(|w| bound::entry(w[0], w[1])).collect();
        let point = [cr.to_f64().value(), ci.to_f64().value()];
        Ok(ReferenceOrbit {
            center_re: center_re.clone(),
            center_im: center_im.clone(),
            precision,
            max_iter,
            z,
            steps,
            escaped,
            point,
            bla: BlaTables::default(),
        })
    }

    /// The orbit `level` of `stack` needs: its centre, `max_iter` and
    /// [`ExactStack::orbit_precision`].
    ///
    /// # Errors
    ///
    /// Those of [`ExactStack::validate`], [`ExactStack::orbit_precision`].
    pub fn for_level(stack: &ExactStack, level: u64) -> Result<Self, KernelError> {
        stack.validate()?;
        let p = stack.orbit_precision(level)?;
        Self::compute(&stack.center_re, &stack.center_im, stack.max_iter, p)
    }

    /// True when the pixel at offset `dc` from the reference point provably never escapes, so
    /// that its true count is `max_iter` without iterating: `reference + dc`, in f64, is safely
    /// inside the main cardioid or the period-2 bulb ([`in_cardioid_or_bulb`]).
    ///
    /// Sound in the exact contract: with the reference point and `dc` within 4 of the origin
    /// (checked), `reference + dc` in f64 is within `3 * 2^-53 * 8 < 3e-15` of the pixel's exact
    /// point (the roundings of the reference point, of `dc` and of the sum), while the test's
    /// margins are 0.005 in the bulb's radius and 1e-4 in the cardioid's quartic, whose
    /// gradient is below 20 wherever the test holds.
    #[inline]
    pub fn never_escapes(&self, dcr: f64, dci: f64) -> bool {
        let [pr, pi] = self.point;
        let near = |v: f64| v.abs() <= 4.0;
        near(pr) && near(pi) && near(dcr) && near(dci) && in_cardioid_or_bulb(pr + dcr, pi + dci)
    }

    /// The BLA table for offsets `|dc| <= dc_max` ([`BlaTable::build`] at the next power of two
    /// above `dc_max`), built once per band and kept with the orbit.
    pub fn bla_table(&self, dc_max: f64) -> Arc<BlaTable> {
        self.bla.get(self, dc_max)
    }

    /// `Z_0, Z_1, ...` as `[re, im]` (each the nearest f64 of the big value); the last one has
    /// `|Z| > 2` when the reference escaped.
    pub fn points(&self) -> &[[f64; 2]] {
        &self.z
    }

    /// Per orbit index `m < points().len() - 1`: [`bound::entry`] of `Z_m`, `Z_(m+1)`.
    pub(crate) fn steps(&self) -> &[bound::Entry] {
        &self.steps
    }

    /// The big-float precision it was iterated with.
    pub fn precision(&self) -> usize {
        self.precision
    }

    /// The iteration limit it was computed for.
    pub fn max_iter(&self) -> u32 {
        self.max_iter
    }

    /// Real part of the centre.
    pub fn center_re(&self) -> &ExactReal {
        &self.center_re
    }

    /// Imaginary part of the centre.
    pub fn center_im(&self) -> &ExactReal {
        &self.center_im
    }

    /// The centre's own count in the notebook's convention (`n - 1` for the first `|Z_n| > 2`),
    /// or `None` when it did not escape within `max_iter`.
    pub fn escape_count(&self) -> Option<u16> {
        self.escaped.then(|| (self.z.len() - 2) as u16)
    }

    /// Checks that this orbit is the one `level` of `stack` needs.
    ///
    /// # Errors
    ///
    /// [`KernelError::OrbitMismatch`] naming what differs (centre, precision, or a `max_iter`
    /// below the stack's), and the errors of [`ExactStack::orbit_precision`].
    pub fn check_for(&self, stack: &ExactStack, level: u64) -> Result<(), KernelError> {
        if self.center_re != stack.center_re || self.center_im != stack.center_im {
            return Err(KernelError::OrbitMismatch {
                what: "center",
                got: format!("({}, {})", self.center_re, self.center_im),
                expected: format!("({}, {})", stack.center_re, stack.center_im),
            });
        }
        let p = stack.orbit_precision(level)?;
        if self.precision != p {
            return Err(KernelError::OrbitMismatch {
                what: "precision",
                got: format!("{} bits", self.precision),
                expected: format!("{p} bits (ExactStack::orbit_precision({level}))"),
            });
        }
        if self.max_iter < stack.max_iter {
            return Err(KernelError::OrbitMismatch {
                what: "max_iter",
                got: self.max_iter.to_string(),
                expected: format!("at least {}", stack.max_iter),
            });
        }
        Ok(())
    }
}

fn check_args(max_iter: u32, precision: usize) -> Result<(), KernelError> {
    validate_max_iter(u64::from(max_iter))?;
    if !(64..=MAX_PRECISION_BITS as usize).contains(&precision) {
        return Err(KernelError::BadExact {
            what: "reference orbit precision (bits)",
            value: precision.to_string(),
            expected: "in 64..=65536 (exact::MAX_PRECISION_BITS)",
        });
    }
    Ok(())
}

/// What identifies an orbit.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct OrbitKey {
    center_re: ExactReal,
    center_im: ExactReal,
    max_iter: u32,
    precision: usize,
}

type Slot = Arc<Mutex<Option<Arc<ReferenceOrbit>>>>;

/// Reference orbits by (centre, `max_iter`, precision), each computed once and shared.
///
/// Concurrent requests for one orbit wait for a single computation; requests for different
/// orbits run in parallel. Orbits are small (80 bytes per iteration) and never evicted: call
/// [`OrbitCache::clear`] to drop them.
///
/// ```
/// use std::sync::Arc;
/// use zoomstack_kernel::exact::{ExactStack, OrbitCache};
/// let cache = OrbitCache::new();
/// let stack = ExactStack::default();
/// let a = cache.for_level(&stack, 100000).unwrap();
/// let b = cache.for_level(&stack, 140000).unwrap(); // same 128-bit band: same orbit
/// assert!(Arc::ptr_eq(&a, &b));
/// assert_eq!(cache.len(), 1);
/// ```
#[derive(Debug, Default)]
pub struct OrbitCache {
    slots: Mutex<HashMap<OrbitKey, Slot>>,
}

impl OrbitCache {
    /// An empty cache.
    pub fn new() -> Self {
        Self::default()
    }

    /// The process-wide cache.
    pub fn global() -> &'static OrbitCache {
        static GLOBAL: OnceLock<OrbitCache> = OnceLock::new();
        GLOBAL.get_or_init(OrbitCache::new)
    }

    /// The orbit of the centre for `max_iter` at `precision` bits, computed on first use.
    ///
    /// # Errors
    ///
    /// Those of [`ReferenceOrbit::compute`] (checked before anything is cached).
    pub fn get(
        &self,
        center_re: &ExactReal,
        center_im: &ExactReal,
        max_iter: u32,
        precision: usize,
    ) -> Result<Arc<ReferenceOrbit>, KernelError> {
        check_args(max_iter, precision)?;
        let key = OrbitKey {
            center_re: center_re.clone(),
            center_im: center_im.clone(),
            max_iter,
            precision,
        };
        let slot = {
            let mut slots = self.slots.lock().unwrap_or_else(PoisonError::into_inner);
            Arc::clone(slots.entry(key).or_default())
        };
        let mut orbit = slot.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(o) = &*orbit {
            return Ok(Arc::clone(o));
        }
        let computed = Arc::new(ReferenceOrbit::compute(
            center_re, center_im, max_iter, precision,
        )?);
        *orbit = Some(Arc::clone(&computed));
        Ok(computed)
    }

    /// The orbit `level` of `stack` needs ([`ReferenceOrbit::for_level`]), cached.
    ///
    /// # Errors
    ///
    /// Those of [`ReferenceOrbit::for_level`].
    pub fn for_level(
        &self,
        stack: &ExactStack,
        level: u64,
    ) -> Result<Arc<ReferenceOrbit>, KernelError> {
        stack.validate()?;
        let p = stack.orbit_precision(level)?;
        self.get(&stack.center_re, &stack.center_im, stack.max_iter, p)
    }

    /// Number of orbits held (including ones being computed).
    pub fn len(&self) -> usize {
        self.slots
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }

    /// True when no orbit is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Drops every orbit (orbits still shared elsewhere live on there).
    pub fn clear(&self) {
        self.slots
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The orbit the plain way: every square computed where it is used, the big `|Z|^2 > 4`
    /// test after every update.
    fn plain(cr: &ExactReal, ci: &ExactReal, max_iter: u32, bits: usize) -> Vec<[f64; 2]> {
        let ctx = Prec::new(bits);
        let (cr, ci) = (cr.to_big(bits), ci.to_big(bits));
        let (mut zr, mut zi) = (Big::ZERO, Big::ZERO);
        let mut z = vec![[0.0, 0.0]];
        for _ in 0..max_iter {
            let re = ctx.add(&ctx.sub(&ctx.sqr(&zr), &ctx.sqr(&zi)), &cr);
            let im = ctx.add(&(ctx.mul(&zr, &zi) << 1), &ci);
            (zr, zi) = (re, im);
            z.push([zr.to_f64().value(), zi.to_f64().value()]);
            if ctx.add(&ctx.sqr(&zr), &ctx.sqr(&zi)) > Big::from(4u8) {
                break;
            }
        }
        z
    }

    #[test]
    fn squares_reused_and_the_f64_pretest_change_nothing() {
        let kf2: serde_json::Value =
            serde_json::from_str(include_str!("../../tests/data/locations/kf2-5e113.json"))
                .expect("location JSON");
        let field = |key: &str| {
            let digits = kf2[key].as_str().expect("a decimal string");
            ExactReal::parse("centre", digits).expect("decimal")
        };
        let num = |t: &str| ExactReal::parse("c", t).expect("decimal");
        let centres = [
            // The notebook's centre (escapes at 250), a deep location (escapes early only at
            // too low a precision), a point escaping fast, one just outside the tip -2 and the
            // tip itself (|Z|^2 = 4 exactly, forever: not an escape), one near the cusp.
            (
                ExactReal::from_f64(-0.743645857047151).unwrap(),
                ExactReal::from_f64(0.13182592380533).unwrap(),
            ),
            (field("center_re"), field("center_im")),
            (num("0.5"), num("0.5")),
            (num("-2.0000000001"), num("0")),
            (num("-2"), num("0")),
            (num("0.25000001"), num("0")),
        ];
        let mut escapes = Vec::new();
        for (cr, ci) in &centres {
            for bits in [64, 200, 1100] {
                let orbit = ReferenceOrbit::compute(cr, ci, 3000, bits).unwrap();
                escapes.push(orbit.escape_count());
                let want = plain(cr, ci, 3000, bits);
                let same = orbit.points().len() == want.len()
                    && orbit.points().iter().zip(&want).all(|(a, b)| {
                        a[0].to_bits() == b[0].to_bits() && a[1].to_bits() == b[1].to_bits()
                    });
                assert!(same, "{cr:?} {ci:?} at {bits} bits");
            }
        }
        // Both ends are covered: orbits that escape (the test decides) and ones that do not.
        let escaped = escapes.iter().filter(|e| e.is_some()).count();
        assert_eq!((escaped, escapes.len() - escaped), (10, 8), "{escapes:?}");
    }
}
