//! The oracle: direct iteration `z <- z^2 + c` of single pixels in big precision, no f64 at all,
//! and a verdict that only stands when twice the precision gives the same count.
//!
//! This is how the committed truth sets (`kernel/tests/data/exact_truth.json`, written by
//! `cargo run --release -p zoomstack-kernel --example exact_truth`) are made, and what exact
//! mode is tested against. It is slow (microseconds per update) and meant for samples.
//!
//! ```
//! use zoomstack_kernel::exact::{ExactStack, oracle};
//! let stack = ExactStack::default();
//! // The centre pixel of level 150000 (every pixel there has count 250).
//! let v = oracle::confirmed_count(&stack, 150000, 256, 256).unwrap();
//! assert_eq!(v.decided().unwrap().count, 250);
//! ```

use super::real::{Big, Prec};
use super::stack::ExactStack;
use crate::{IndexRange, KernelError};

/// The oracle's count of one pixel at one precision.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct OracleCount {
    /// The escape count (notebook convention: first `k` with `|z_(k+1)| > 2`, else `max_iter`).
    pub count: u16,
    /// `|z|^2` (rounded to f64) at the deciding update: the escaping one, or update `max_iter`.
    pub norm: f64,
    /// Bits the iteration used.
    pub precision: usize,
}

/// The oracle's verdict on a pixel.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Verdict {
    /// Both precisions agree: this is the pixel's true count.
    Decided(OracleCount),
    /// The two precisions disagree: the pixel sits too close to an escape decision.
    Undecided {
        /// The count at the oracle precision.
        low: OracleCount,
        /// The count at twice that.
        high: OracleCount,
    },
}

impl Verdict {
    /// The decided count (at the higher precision), if any.
    pub fn decided(&self) -> Option<OracleCount> {
        match self {
            Verdict::Decided(c) => Some(*c),
            Verdict::Undecided { .. } => None,
        }
    }
}

/// The oracle's precision for `level`: the orbit precision plus 64, i.e. at least
/// `log2(1/spacing) + 128` bits.
///
/// # Errors
///
/// Those of [`ExactStack::orbit_precision`].
pub fn oracle_precision(stack: &ExactStack, level: u64) -> Result<usize, KernelError> {
    Ok(stack.orbit_precision(level)? + 64)
}

/// Iterates pixel `(r, j)` of `level` directly at `bits` bits: `c` is the exact pixel rounded to
/// `bits` bits, each operation of `z <- z^2 + c` and of `|z|^2 > 4` is rounded to `bits` bits.
///
/// # Errors
///
/// [`ExactStack::validate`] errors; [`KernelError::SliceOutOfBounds`] for a pixel outside the
/// level; [`KernelError::BadExact`] for fewer than 64 bits.
pub fn direct_count(
    stack: &ExactStack,
    level: u64,
    r: u64,
    j: u64,
    bits: usize,
) -> Result<OracleCount, KernelError> {
    stack.validate()?;
    IndexRange::new(r, 1, 1).check("rows", stack.height as u64)?;
    IndexRange::new(j, 1, 1).check("cols", stack.width as u64)?;
    if bits < 64 {
        return Err(KernelError::BadExact {
            what: "oracle precision (bits)",
            value: bits.to_string(),
            expected: "at least 64",
        });
    }
    let (cr, ci) = stack.pixel_big(level, r, j, bits);
    let ctx = Prec::new(bits);
    let four = Big::from(4u8);
    let (mut zr, mut zi) = (Big::ZERO, Big::ZERO);
    let mut norm = Big::ZERO;
    for k in 0..stack.max_iter {
        let re = ctx.add(&ctx.sub(&ctx.sqr(&zr), &ctx.sqr(&zi)), &cr);
        let im = ctx.add(&(ctx.mul(&zr, &zi) << 1), &ci);
        (zr, zi) = (re, im);
        norm = ctx.add(&ctx.sqr(&zr), &ctx.sqr(&zi));
        if norm > four {
            return Ok(OracleCount {
                count: k as u16,
                norm: norm.to_f64().value(),
                precision: bits,
            });
        }
    }
    Ok(OracleCount {
        count: stack.max_iter as u16,
        norm: norm.to_f64().value(),
        precision: bits,
    })
}

/// The pixel's count at [`oracle_precision`] and at twice it: [`Verdict::Decided`] when they
/// agree.
///
/// # Errors
///
/// Those of [`oracle_precision`] and [`direct_count`].
pub fn confirmed_count(
    stack: &ExactStack,
    level: u64,
    r: u64,
    j: u64,
) -> Result<Verdict, KernelError> {
    let q = oracle_precision(stack, level)?;
    let low = direct_count(stack, level, r, j, q)?;
    let high = direct_count(stack, level, r, j, 2 * q)?;
    Ok(if low.count == high.count {
        Verdict::Decided(high)
    } else {
        Verdict::Undecided { low, high }
    })
}
