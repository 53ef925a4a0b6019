//! The grid of write units (shards, or chunks when unsharded) of an array.

/// Grid geometry of the write units.
#[derive(Clone, Copy, Debug)]
pub(super) struct UnitGrid {
    pub(super) shape: [u64; 3],
    pub(super) unit: [usize; 3],
    pub(super) grid: [u64; 3],
}

impl UnitGrid {
    pub(super) fn new(shape: [u64; 3], unit: [usize; 3]) -> UnitGrid {
        let grid = [0, 1, 2].map(|k| shape[k].div_ceil(unit[k] as u64));
        UnitGrid { shape, unit, grid }
    }

    pub(super) fn total(&self) -> u64 {
        self.grid.iter().fold(1u64, |a, &b| a.saturating_mul(b))
    }

    pub(super) fn linear(&self, u: [u64; 3]) -> u64 {
        (u[0] * self.grid[1] + u[1]) * self.grid[2] + u[2]
    }

    /// The unit of linear (C order) index `lin`.
    pub(super) fn unit_at(&self, lin: u64) -> [u64; 3] {
        let k = lin % self.grid[2];
        let rest = lin / self.grid[2];
        [rest / self.grid[1], rest % self.grid[1], k]
    }

    /// In-bounds box of unit `u`: `(origin, extent)`.
    pub(super) fn bounds(&self, u: [u64; 3]) -> ([u64; 3], [u64; 3]) {
        let lo = [0, 1, 2].map(|k| u[k] * self.unit[k] as u64);
        let ext = [0, 1, 2].map(|k| (self.unit[k] as u64).min(self.shape[k] - lo[k]));
        (lo, ext)
    }

    pub(super) fn unit_len(&self) -> usize {
        self.unit.iter().product()
    }

    /// Units intersecting the box `origin .. origin + shape` (inclusive index ranges per axis).
    pub(super) fn range(&self, origin: [u64; 3], shape: [usize; 3]) -> [(u64, u64); 3] {
        [0, 1, 2].map(|k| {
            let u = self.unit[k] as u64;
            (origin[k] / u, (origin[k] + shape[k] as u64 - 1) / u)
        })
    }
}
