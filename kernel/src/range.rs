//! [`IndexRange`]: the one strided range type of the workspace (kernel sub-grids, engine
//! selections, store descriptions, the Python package).

use crate::KernelError;

/// A strided run of indices along one axis: `start, start + step, ...` (`count` indices; `step`
/// may be negative). Canonical: an empty range is `{0, 1, 0}`, a single index has step 1, so two
/// ranges selecting the same indices are equal.
///
/// Text (numpy's `start:stop:step`) is the engine's job: `zoomstack_engine::format_range` and
/// `zoomstack_engine::parse_select`.
///
/// ```
/// use zoomstack_kernel::IndexRange;
/// let r = IndexRange::new(10, -3, 4);
/// assert_eq!(r.to_vec(), vec![10, 7, 4, 1]);
/// assert_eq!(r.bounds(), Some((1, 10)));
/// assert_eq!(IndexRange::new(5, 7, 1), IndexRange::new(5, 1, 1));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct IndexRange {
    /// First index.
    pub start: u64,
    /// Distance between consecutive indices (never 0 when `count >= 2`).
    pub step: i64,
    /// Number of indices.
    pub count: u64,
}

impl IndexRange {
    /// No index.
    pub const EMPTY: IndexRange = IndexRange {
        start: 0,
        step: 1,
        count: 0,
    };

    /// `start, start + step, ...`, canonicalized (step 1 when `count <= 1`, start 0 when empty).
    /// [`IndexRange::check`] verifies a range against an axis.
    #[must_use]
    pub const fn new(start: u64, step: i64, count: u64) -> Self {
        match count {
            0 => IndexRange::EMPTY,
            1 => IndexRange {
                start,
                step: 1,
                count,
            },
            _ => IndexRange { start, step, count },
        }
    }

    /// Every index of an axis of length `len`.
    #[must_use]
    pub const fn full(len: u64) -> Self {
        IndexRange::new(0, 1, len)
    }

    /// Number of indices.
    #[must_use]
    pub const fn len(&self) -> u64 {
        self.count
    }

    /// True when no index is selected.
    #[must_use]
    pub const fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Index number `k` (`k < count`).
    #[inline]
    #[must_use]
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)] // in range by construction
    pub fn at(&self, k: u64) -> u64 {
        (i128::from(self.start) + i128::from(k) * i128::from(self.step)) as u64
    }

    /// The last index, if any.
    #[must_use]
    pub fn last(&self) -> Option<u64> {
        (self.count > 0).then(|| self.at(self.count - 1))
    }

    /// Smallest and largest index, if any.
    #[must_use]
    pub fn bounds(&self) -> Option<(u64, u64)> {
        let last = self.last()?;
        Some((self.start.min(last), self.start.max(last)))
    }

    /// True when this is exactly `0, 1, ..., len - 1`.
    #[must_use]
    pub fn is_full(&self, len: u64) -> bool {
        self.count == len && (len == 0 || (self.start == 0 && self.step == 1))
    }

    /// The indices `inner` picks out of this range: `self.at(inner.at(k))`.
    /// `inner` must index into `0..self.count`.
    #[must_use]
    #[allow(clippy::cast_possible_truncation)] // clamped to the i64 range first
    pub fn compose(&self, inner: &IndexRange) -> IndexRange {
        if inner.count == 0 {
            return IndexRange::EMPTY;
        }
        let start = self.at(inner.start);
        let step = (i128::from(self.step) * i128::from(inner.step))
            .clamp(i128::from(i64::MIN) + 1, i128::from(i64::MAX)) as i64;
        IndexRange::new(start, step, inner.count)
    }

    /// The sub-range `k0 .. k0 + n` of this range (`k0 + n <= count`).
    #[must_use]
    pub fn sub(&self, k0: u64, n: u64) -> IndexRange {
        if n == 0 {
            return IndexRange::EMPTY;
        }
        IndexRange::new(self.at(k0), self.step, n)
    }

    /// All indices (for tests and small axes).
    #[must_use]
    pub fn to_vec(&self) -> Vec<u64> {
        (0..self.count).map(|k| self.at(k)).collect()
    }

    /// Checks that every index lies in `0..len` (and that the step is not 0 when it matters).
    ///
    /// # Errors
    ///
    /// [`KernelError::ZeroStep`] for a step of 0 with two or more indices,
    /// [`KernelError::SliceOutOfBounds`] when an index falls outside `0..len`.
    ///
    /// ```
    /// use zoomstack_kernel::IndexRange;
    /// assert!(IndexRange::new(1, 2, 256).check("rows", 512).is_ok());
    /// assert!(IndexRange::new(2, 2, 256).check("rows", 512).is_err());
    /// assert!(IndexRange::new(3, -2, 3).check("rows", 512).is_err()); // reaches -1
    /// ```
    #[allow(clippy::cast_possible_truncation)] // clamped to the i64 range first
    pub fn check(&self, axis: &'static str, len: u64) -> Result<(), KernelError> {
        if self.count >= 2 && self.step == 0 {
            return Err(KernelError::ZeroStep { axis });
        }
        if self.count == 0 {
            return Ok(());
        }
        let last = i128::from(self.start) + (i128::from(self.count) - 1) * i128::from(self.step);
        if self.start >= len || last < 0 || last >= i128::from(len) {
            return Err(KernelError::SliceOutOfBounds {
                axis,
                start: self.start,
                step: self.step,
                count: self.count,
                last: last.clamp(i128::from(i64::MIN), i128::from(i64::MAX)) as i64,
                len,
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounds_are_checked() {
        assert!(IndexRange::new(0, 2, 256).check("rows", 512).is_ok());
        assert!(IndexRange::new(1, 2, 256).check("rows", 512).is_ok());
        assert!(IndexRange::new(2, 2, 256).check("rows", 512).is_err());
        assert!(
            IndexRange {
                start: 0,
                step: 0,
                count: 2
            }
            .check("rows", 512)
            .is_err()
        );
        assert!(IndexRange::new(600, 1, 0).check("rows", 512).is_ok());
        assert!(IndexRange::new(0, i64::MAX, 3).check("rows", 512).is_err());
        assert!(IndexRange::new(511, -1, 512).check("rows", 512).is_ok());
        assert!(IndexRange::new(511, -1, 513).check("rows", 512).is_err());
    }

    #[test]
    fn compose_picks_inner_of_outer() {
        let outer = IndexRange::new(100, -3, 50);
        let inner = IndexRange::new(5, 2, 4);
        let want: Vec<u64> = inner.to_vec().iter().map(|&k| outer.at(k)).collect();
        assert_eq!(outer.compose(&inner).to_vec(), want);
    }
}
