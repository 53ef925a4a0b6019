//! [`ExactReal`]: a parameter taken exactly as given (an f64's binary value or a decimal string),
//! and the fixed-precision big-float arithmetic ([`Prec`]) the exact mode computes with.

use crate::KernelError;
use dashu_float::round::mode::HalfEven;
use dashu_float::{Context, FBig};
use dashu_int::ops::BitTest;
use dashu_int::{IBig, UBig};
use std::fmt;
use std::str::FromStr;

/// The big-float type of the exact mode: binary, ties-to-even.
pub(crate) type Big = FBig<HalfEven, 2>;

/// Most significant digits a decimal string may have.
pub const MAX_DECIMAL_DIGITS: usize = 100_000;
/// Largest magnitude of `e` when a decimal string is read as `digits * 10^e` (digits without the point).
pub const MAX_DECIMAL_EXPONENT: i64 = 100_000;

const DECIMAL_EXPECTED: &str = "a decimal number such as -0.743645857047151, 1.00025 or 3e-5 \
     ([sign] digits [. digits] [e [sign] digits], at most 100000 digits, exponent within +-100000)";

/// An exact real number `num * 2^pow2 * 5^pow5`: every f64 and every decimal string is one.
///
/// The form is canonical (`num` has no factor 2 or 5; zero is `0 * 2^0 * 5^0`), so equal values
/// are equal (`==`, `Hash`) however they were written: `ExactReal::from_f64(0.5)` equals
/// `"0.5".parse()`, and `"1.00025"` equals `"1.000250"`.
///
/// ```
/// use zoomstack_kernel::exact::ExactReal;
/// let a: ExactReal = "0.13182592380533".parse().unwrap();
/// let b = ExactReal::from_f64(0.13182592380533).unwrap();
/// assert_ne!(a, b); // the f64 is the nearest binary value, not the decimal itself
/// assert_eq!(b.to_string(), "0.1318259238053300086424002302010194398462772369384765625");
/// assert_eq!(a.to_f64(), 0.13182592380533);
/// assert_eq!("0.5".parse::<ExactReal>().unwrap(), ExactReal::from_f64(0.5).unwrap());
/// assert!("0.1.2".parse::<ExactReal>().unwrap_err().to_string().contains("\"0.1.2\""));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ExactReal {
    num: IBig,
    pow2: i64,
    pow5: i64,
}

fn strip(num: &mut UBig, p: u64) -> i64 {
    let mut k = 0;
    let pb = UBig::from(p);
    loop {
        let q = &*num / &pb;
        if &q * &pb != *num {
            return k;
        }
        *num = q;
        k += 1;
    }
}

impl ExactReal {
    /// Zero.
    pub fn zero() -> Self {
        ExactReal {
            num: IBig::ZERO,
            pow2: 0,
            pow5: 0,
        }
    }

    fn normalised(negative: bool, mut mag: UBig, mut pow2: i64, mut pow5: i64) -> Self {
        if mag.is_zero() {
            return Self::zero();
        }
        let tz = mag.trailing_zeros().unwrap_or(0);
        mag >>= tz;
        pow2 += tz as i64;
        pow5 += strip(&mut mag, 5);
        let num = IBig::from(mag);
        ExactReal {
            num: if negative { -num } else { num },
            pow2,
            pow5,
        }
    }

    /// The exact binary value of a finite f64 (what a Python float or a TOML float means).
    ///
    /// # Errors
    ///
    /// [`KernelError::BadFloat`] for NaN or an infinity.
    pub fn from_f64(value: f64) -> Result<Self, KernelError> {
        if !value.is_finite() {
            return Err(KernelError::BadFloat {
                what: "exact parameter",
                value,
                expected: "a finite number",
            });
        }
        let bits = value.to_bits();
        let exp = ((bits >> 52) & 0x7ff) as i64;
        let frac = bits & ((1u64 << 52) - 1);
        let (mant, e) = if exp == 0 {
            (frac, -1074)
        } else {
            (frac | (1u64 << 52), exp - 1075)
        };
        Ok(Self::normalised(
            value.is_sign_negative(),
            UBig::from(mant),
            e,
            0,
        ))
    }

    /// Parses a decimal string exactly as written (any number of digits, up to
    /// [`MAX_DECIMAL_DIGITS`]); `what` names the parameter in errors.
    ///
    /// # Errors
    ///
    /// [`KernelError::BadDecimal`], naming `what`, the text and the accepted form.
    pub fn parse(what: &'static str, text: &str) -> Result<Self, KernelError> {
        let bad = || KernelError::BadDecimal {
            what,
            text: text.to_string(),
            expected: DECIMAL_EXPECTED,
        };
        let s = text.trim();
        let (negative, s) = match s.as_bytes().first() {
            Some(b'-') => (true, &s[1..]),
            Some(b'+') => (false, &s[1..]),
            _ => (false, s),
        };
        let (mantissa, exponent) = match s.find(['e', 'E']) {
            Some(i) => (&s[..i], Some(&s[i + 1..])),
            None => (s, None),
        };
        let (int, frac) = match mantissa.find('.') {
            Some(i) => (&mantissa[..i], &mantissa[i + 1..]),
            None => (mantissa, ""),
        };
        let digits_ok = |d: &str| d.bytes().all(|b| b.is_ascii_digit());
        if int.len() + frac.len() == 0 || !digits_ok(int) || !digits_ok(frac) {
            return Err(bad());
        }
        let exp10: i64 = match exponent {
            None => 0,
            Some(e) => {
                let digits = e.strip_prefix(['+', '-']).unwrap_or(e);
                if digits.is_empty() || !digits_ok(digits) || digits.len() > 12 {
                    return Err(bad());
                }
                e.parse().map_err(|_| bad())?
            }
        };
        let all = format!("{int}{frac}");
        let all = all.trim_start_matches('0');
        if all.len() > MAX_DECIMAL_DIGITS {
            return Err(bad());
        }
        if all.is_empty() {
            return Ok(Self::zero());
        }
        // The value is `digits * 10^e`.
        let e = exp10 - frac.len() as i64;
        if e.abs() > MAX_DECIMAL_EXPONENT {
            return Err(bad());
        }
        let mag = UBig::from_str_radix(all, 10).map_err(|_| bad())?;
        Ok(Self::normalised(negative, mag, e, e))
    }

    /// True for zero.
    pub fn is_zero(&self) -> bool {
        self.num.is_zero()
    }

    /// True for a value above zero.
    pub fn is_positive(&self) -> bool {
        self.num > IBig::ZERO
    }

    /// The nearest f64 (ties to even; a value beyond the f64 range gives an infinity or zero).
    pub fn to_f64(&self) -> f64 {
        self.to_big(53).to_f64().value()
    }

    /// About `log2 |self|` (good to ~1e-15 relative), `-inf` for zero. Never overflows.
    pub fn log2_abs(&self) -> f64 {
        if self.is_zero() {
            return f64::NEG_INFINITY;
        }
        let mag = self.num.clone().into_parts().1;
        let bits = mag.bit_len();
        let top = if bits > 60 {
            (&mag >> (bits - 60)).to_f64().value().log2() + (bits - 60) as f64
        } else {
            mag.to_f64().value().log2()
        };
        top + self.pow2 as f64 + self.pow5 as f64 * 5f64.log2()
    }

    /// This value rounded to `bits` bits (ties to even): one rounding of the exact value.
    pub(crate) fn to_big(&self, bits: usize) -> Big {
        let ctx = Prec::new(bits);
        if self.is_zero() {
            return Big::ZERO;
        }
        let pow2 = self.pow2 as isize;
        if self.pow5 >= 0 {
            let n = &self.num * IBig::from(5u8).pow(self.pow5 as usize);
            ctx.round(Big::from_parts(n, pow2))
        } else {
            let n = Big::from_parts(self.num.clone(), pow2);
            let d = Big::from_parts(IBig::from(5u8).pow(self.pow5.unsigned_abs() as usize), 0);
            ctx.div(&n, &d)
        }
    }
}

impl FromStr for ExactReal {
    type Err = KernelError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        ExactReal::parse("exact number", s)
    }
}

impl fmt::Display for ExactReal {
    /// The exact decimal expansion (finite for every such number).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let e10 = self.pow2.min(self.pow5);
        let mut m = self.num.clone().into_parts().1;
        m <<= (self.pow2 - e10) as usize;
        m *= UBig::from(5u8).pow((self.pow5 - e10) as usize);
        let digits = m.to_string();
        let sign = if self.num < IBig::ZERO { "-" } else { "" };
        if e10 >= 0 {
            write!(f, "{sign}{digits}{}", "0".repeat(e10 as usize))
        } else {
            let point = e10.unsigned_abs() as usize;
            if digits.len() > point {
                let (a, b) = digits.split_at(digits.len() - point);
                write!(f, "{sign}{a}.{b}")
            } else {
                write!(f, "{sign}0.{}{digits}", "0".repeat(point - digits.len()))
            }
        }
    }
}

/// Arithmetic at one binary precision: every result is the exact result rounded once to `bits`
/// bits, ties to even (dashu's `Context` operations are correctly rounded).
#[derive(Clone, Copy)]
pub(crate) struct Prec(Context<HalfEven>);

impl Prec {
    pub(crate) fn new(bits: usize) -> Self {
        Prec(Context::new(bits))
    }
    pub(crate) fn round(self, a: Big) -> Big {
        a.with_precision(self.0.precision()).value()
    }
    pub(crate) fn add(self, a: &Big, b: &Big) -> Big {
        self.0.unwrap_fp(self.0.add(a.repr(), b.repr()))
    }
    pub(crate) fn sub(self, a: &Big, b: &Big) -> Big {
        self.0.unwrap_fp(self.0.sub(a.repr(), b.repr()))
    }
    pub(crate) fn mul(self, a: &Big, b: &Big) -> Big {
        self.0.unwrap_fp(self.0.mul(a.repr(), b.repr()))
    }
    pub(crate) fn sqr(self, a: &Big) -> Big {
        self.0.unwrap_fp(self.0.sqr(a.repr()))
    }
    pub(crate) fn div(self, a: &Big, b: &Big) -> Big {
        self.0.unwrap_fp(self.0.div(a.repr(), b.repr()))
    }
    /// `a^n` by binary powering; relative error below `2 n 2^-bits`.
    pub(crate) fn powu(self, a: &Big, mut n: u64) -> Big {
        let mut result = Big::ONE;
        let mut base = a.clone();
        while n > 0 {
            if n & 1 == 1 {
                result = self.mul(&result, &base);
            }
            n >>= 1;
            if n > 0 {
                base = self.sqr(&base);
            }
        }
        result
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_prints_exactly() {
        for (text, shown) in [
            ("1.00025", "1.00025"),
            ("-0.743645857047151", "-0.743645857047151"),
            ("3", "3"),
            ("3e-5", "0.00003"),
            ("+12.5E2", "1250"),
            ("0.000", "0"),
            (".5", "0.5"),
            ("5.", "5"),
            ("-0", "0"),
            ("1e3", "1000"),
        ] {
            assert_eq!(ExactReal::parse("x", text).unwrap().to_string(), shown);
        }
        assert_eq!(
            ExactReal::from_f64(-1.5).unwrap(),
            "-1.5".parse::<ExactReal>().unwrap()
        );
        assert_eq!(
            ExactReal::from_f64(5e-324).unwrap().to_f64().to_bits(),
            5e-324f64.to_bits()
        );
    }

    #[test]
    fn parse_errors_name_the_text() {
        for text in [
            "",
            "-",
            ".",
            "1.2.3",
            "abc",
            "1e",
            "1e+",
            "0x10",
            "nan",
            "inf",
            "1_000",
            "1e5000000",
        ] {
            let e = ExactReal::parse("center_re", text).unwrap_err().to_string();
            assert!(
                e.contains("center_re") && e.contains(&format!("{text:?}")),
                "{e}"
            );
            assert!(e.contains("expected"), "{e}");
        }
        assert!(ExactReal::from_f64(f64::NAN).is_err());
    }

    #[test]
    #[allow(clippy::float_cmp)] // exactness test: conversions must round correctly
    fn rounds_to_binary_correctly() {
        let tenth: ExactReal = "0.1".parse().unwrap();
        assert_eq!(tenth.to_f64(), 0.1);
        assert_eq!(tenth.to_big(200).to_f64().value(), 0.1);
        let x = ExactReal::from_f64(0.13182592380533).unwrap();
        assert_eq!(x.to_big(53).to_f64().value(), 0.13182592380533);
        assert!((ExactReal::from_f64(1024.0).unwrap().log2_abs() - 10.0).abs() < 1e-12);
        let big: ExactReal = "1e400".parse().unwrap();
        assert!((big.log2_abs() - 400.0 * 10f64.log2()).abs() < 1e-9);
        assert_eq!(big.to_f64(), f64::INFINITY);
    }
}
