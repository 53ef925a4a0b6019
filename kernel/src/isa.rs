//! Which instruction set the kernel runs on, chosen at run time.
//!
//! The escape loop and the exact-mode delta loop are each written once, generic over the lane
//! type; every lane type names a [`Target`](crate::lanes::Target) whose entry function is
//! compiled with that instruction set's target features. So one binary, built for the x86-64
//! baseline, carries an AVX-512 path, an AVX2+FMA path and a baseline path of every backend,
//! and runs the best one the CPU has ([`Isa::detected`]). Every path gives the same counts, bit
//! for bit: the fused operations round once on all of them (hardware FMA, or libm's `fma`).

use crate::KernelError;
use std::cell::Cell;
use std::fmt;
use std::str::FromStr;
use std::sync::OnceLock;

/// An instruction-set level of the kernel's compiled paths, lowest first.
///
/// ```
/// use zoomstack_kernel::Isa;
/// // The CPU always supports the baseline; `current` is what kernel calls use now.
/// assert!(Isa::Baseline.is_supported());
/// assert!(Isa::current() <= Isa::detected());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Isa {
    /// What the build was compiled for (on x86-64 without flags: SSE2). Fused operations are
    /// libm's `fma` per lane unless the build has `fma` compiled in.
    Baseline,
    /// AVX2 and FMA (x86-64-v3 CPUs: Haswell, Zen 1 and later).
    Avx2Fma,
    /// AVX-512F and AVX-512VL, with AVX2 and FMA (Skylake-SP, Ice Lake, Zen 4 and later).
    Avx512,
}

impl Isa {
    /// Every level, lowest first.
    pub const ALL: [Isa; 3] = [Isa::Baseline, Isa::Avx2Fma, Isa::Avx512];

    /// Lowercase name, as accepted by `FromStr` and `ZOOMSTACK_ISA`.
    pub fn name(self) -> &'static str {
        match self {
            Isa::Baseline => "baseline",
            Isa::Avx2Fma => "avx2",
            Isa::Avx512 => "avx512",
        }
    }

    /// The best level this CPU supports (detected once, then cached).
    pub fn detected() -> Isa {
        static DETECTED: OnceLock<Isa> = OnceLock::new();
        *DETECTED.get_or_init(detect)
    }

    /// Whether this CPU can run this level.
    pub fn is_supported(self) -> bool {
        self <= Isa::detected()
    }

    /// The supported levels, lowest first.
    pub fn supported() -> impl Iterator<Item = Isa> {
        Isa::ALL.into_iter().filter(|i| i.is_supported())
    }

    /// The level kernel calls on this thread use: the one set by [`Isa::scoped`], else
    /// [`Isa::detected`] capped by `ZOOMSTACK_ISA` (`auto`, `avx512`, `avx2`, `baseline`; read
    /// once; an unknown name is ignored here and reported by [`Isa::from_env`]).
    pub fn current() -> Isa {
        static CHOSEN: OnceLock<Isa> = OnceLock::new();
        FORCED.get().unwrap_or_else(|| {
            *CHOSEN.get_or_init(|| Isa::from_env().unwrap_or_else(|_| Isa::detected()))
        })
    }

    /// [`Isa::detected`] capped by the level `ZOOMSTACK_ISA` names (unset or `auto`: no cap).
    /// A level above the CPU's is capped to the CPU's: it cannot run.
    ///
    /// # Errors
    ///
    /// [`KernelError::UnknownIsa`] when the variable names no level.
    pub fn from_env() -> Result<Isa, KernelError> {
        let cap = match std::env::var("ZOOMSTACK_ISA") {
            Ok(name) => name.parse()?,
            Err(_) => Isa::Avx512,
        };
        Ok(cap.min(Isa::detected()))
    }

    /// Runs `f` with every kernel call on this thread using this level (for tests and
    /// benchmarks; other threads, e.g. a rayon pool's, keep [`Isa::current`]'s choice).
    ///
    /// # Errors
    ///
    /// [`KernelError::UnsupportedIsa`] when this CPU cannot run this level.
    pub fn scoped<R>(self, f: impl FnOnce() -> R) -> Result<R, KernelError> {
        struct Restore(Option<Isa>);
        impl Drop for Restore {
            fn drop(&mut self) {
                FORCED.set(self.0);
            }
        }
        if !self.is_supported() {
            return Err(KernelError::UnsupportedIsa {
                requested: self.name(),
                detected: Isa::detected().name(),
            });
        }
        let _restore = Restore(FORCED.replace(Some(self)));
        Ok(f())
    }

    /// Whether the fused multiply-adds of this level are hardware FMA instructions (else
    /// they are calls to libm's `fma`: exact, but slow).
    pub fn hardware_fma(self) -> bool {
        self >= Isa::Avx2Fma
            || cfg!(any(
                target_feature = "fma",
                all(target_arch = "aarch64", target_feature = "neon")
            ))
    }
}

thread_local! {
    static FORCED: Cell<Option<Isa>> = const { Cell::new(None) };
}

#[cfg(target_arch = "x86_64")]
fn detect() -> Isa {
    let avx2_fma = std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma");
    if avx2_fma
        && std::is_x86_feature_detected!("avx512f")
        && std::is_x86_feature_detected!("avx512vl")
    {
        Isa::Avx512
    } else if avx2_fma {
        Isa::Avx2Fma
    } else {
        Isa::Baseline
    }
}

#[cfg(not(target_arch = "x86_64"))]
fn detect() -> Isa {
    Isa::Baseline
}

impl fmt::Display for Isa {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Isa {
    type Err = KernelError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "auto" | "" => Ok(Isa::detected()),
            "baseline" => Ok(Isa::Baseline),
            "avx2" => Ok(Isa::Avx2Fma),
            "avx512" => Ok(Isa::Avx512),
            _ => Err(KernelError::UnknownIsa {
                name: s.to_string(),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scoped_sets_and_restores_the_level() {
        let before = Isa::current();
        Isa::Baseline
            .scoped(|| assert_eq!(Isa::current(), Isa::Baseline))
            .unwrap();
        assert_eq!(Isa::current(), before);
        for isa in Isa::ALL {
            assert_eq!(isa.scoped(|| ()).is_ok(), isa.is_supported());
        }
    }

    #[test]
    fn names_round_trip() {
        for isa in Isa::ALL {
            assert_eq!(isa.name().parse::<Isa>().unwrap(), isa);
        }
        assert!(matches!(
            "sse9".parse::<Isa>(),
            Err(KernelError::UnknownIsa { .. })
        ));
    }
}
