//! [`Sample`]: what a plan's pixels hold. The same plan renders escape counts (`u16`, the
//! stack's contract) or smooth escape values (`f32`, the kernel's smooth reference); the
//! executor and the render path are generic over it, so selects, means and tiling are one code.

use crate::error::Result;
use crate::stack::ZoomStack;
use zoomstack_kernel::exact::{self, ExactStack};
use zoomstack_kernel::{Backend, IndexRange};

mod sealed {
    pub trait Sealed {}
    impl Sealed for u16 {}
    impl Sealed for f32 {}
}

/// A pixel value the engine renders: `u16` escape counts or `f32` smooth values.
pub trait Sample:
    Copy + Default + Send + Sync + PartialEq + std::fmt::Debug + 'static + sealed::Sealed
{
    /// Bytes per value (memory limits and size estimates).
    const BYTES: u64;

    /// The value type's numpy/Zarr name (`uint16`, `float32`), for summaries.
    const DTYPE: &'static str;

    /// Renders the strided sub-grid `rows x cols` of `level` of `stack` into `out`.
    ///
    /// # Errors
    ///
    /// The kernel's errors for the level and sub-grid, and (smooth values) a stack whose
    /// contract has no smooth values.
    fn render_block(
        stack: &ZoomStack,
        level: u64,
        rows: IndexRange,
        cols: IndexRange,
        backend: Backend,
        out: &mut [Self],
    ) -> Result<()>;

    /// Renders the points `re[i] + i im[i]` (numpy contract) into `out`.
    ///
    /// # Errors
    ///
    /// The kernel's errors.
    fn render_points(
        re: &[f64],
        im: &[f64],
        max_iter: u32,
        backend: Backend,
        out: &mut [Self],
    ) -> Result<()>;

    /// Renders rows `rows` x columns `cols` (grid indices) of `level` of an exact-contract stack.
    ///
    /// # Errors
    ///
    /// The kernel's errors, and (smooth values) always: the exact contract has no smooth values.
    fn render_exact_indices(
        stack: &ExactStack,
        level: u64,
        rows: &[u64],
        cols: &[u64],
        backend: Backend,
        out: &mut [Self],
    ) -> Result<()>;

    /// The mean of `values` (`n >= 1` of them), deterministic in the order given.
    fn mean(values: impl Iterator<Item = Self>, n: u64) -> Self;
}

impl Sample for u16 {
    const BYTES: u64 = 2;
    const DTYPE: &'static str = "uint16";

    fn render_block(
        stack: &ZoomStack,
        level: u64,
        rows: IndexRange,
        cols: IndexRange,
        backend: Backend,
        out: &mut [u16],
    ) -> Result<()> {
        Ok(stack.render_block(level, rows, cols, backend, out)?)
    }

    fn render_points(
        re: &[f64],
        im: &[f64],
        max_iter: u32,
        backend: Backend,
        out: &mut [u16],
    ) -> Result<()> {
        Ok(zoomstack_kernel::render_points(
            re, im, max_iter, backend, out,
        )?)
    }

    fn render_exact_indices(
        stack: &ExactStack,
        level: u64,
        rows: &[u64],
        cols: &[u64],
        backend: Backend,
        out: &mut [u16],
    ) -> Result<()> {
        Ok(exact::render_level_indices(
            stack, level, rows, cols, backend, out,
        )?)
    }

    /// Rounded half to even (the sum is exact in `u64`).
    fn mean(values: impl Iterator<Item = u16>, n: u64) -> u16 {
        mean_half_even(values.map(u64::from).sum(), n)
    }
}

impl Sample for f32 {
    const BYTES: u64 = 4;
    const DTYPE: &'static str = "float32";

    fn render_block(
        stack: &ZoomStack,
        level: u64,
        rows: IndexRange,
        cols: IndexRange,
        backend: Backend,
        out: &mut [f32],
    ) -> Result<()> {
        stack.render_block_smooth(level, rows, cols, backend, out)
    }

    fn render_points(
        re: &[f64],
        im: &[f64],
        max_iter: u32,
        backend: Backend,
        out: &mut [f32],
    ) -> Result<()> {
        Ok(zoomstack_kernel::render_points_smooth(
            re, im, max_iter, backend, out,
        )?)
    }

    fn render_exact_indices(
        _stack: &ExactStack,
        _level: u64,
        _rows: &[u64],
        _cols: &[u64],
        _backend: Backend,
        _out: &mut [f32],
    ) -> Result<()> {
        Err(crate::stack::no_exact_smooth())
    }

    /// The `f64` sum in the order given, divided by `n`, rounded to `f32`.
    fn mean(values: impl Iterator<Item = f32>, n: u64) -> f32 {
        (values.map(f64::from).sum::<f64>() / n as f64) as f32
    }
}

/// The mean of `n` values summing to `sum`, rounded half to even.
#[inline]
pub(crate) fn mean_half_even(sum: u64, n: u64) -> u16 {
    let (q, r) = (sum / n, sum % n);
    let up = 2 * r > n || (2 * r == n && q % 2 == 1);
    (q + u64::from(up)) as u16
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn half_even() {
        assert_eq!(mean_half_even(5, 2), 2); // 2.5 -> 2
        assert_eq!(mean_half_even(7, 2), 4); // 3.5 -> 4
        assert_eq!(mean_half_even(10, 4), 2); // 2.5 -> 2
        assert_eq!(mean_half_even(11, 4), 3); // 2.75 -> 3
        assert_eq!(mean_half_even(9, 4), 2); // 2.25 -> 2
        assert_eq!(mean_half_even(65535 * 9, 9), 65535);
        for sum in 0..200u64 {
            for n in 1..20u64 {
                let want = (sum as f64 / n as f64).round_ties_even() as u16;
                assert_eq!(mean_half_even(sum, n), want, "{sum}/{n}");
            }
        }
    }
}
