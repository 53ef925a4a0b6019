//! Backend choice: which lane width runs, on which instruction set ([`Isa`], chosen at run
//! time), and what that compiled to.

use crate::KernelError;
use crate::escape::{PixelSource, escape_counts, smooth_values};
use crate::isa::Isa;
use std::fmt;
use std::str::FromStr;

/// Vectors in flight per backend and iterations between escape tests (tuned by `benches/`).
const SCALAR_V: usize = 4;
const X4_V: usize = 6;
const X8_V: usize = 4;
const BLOCK: u32 = 16;
/// Lane-blocks finished lanes may idle, gathering, before they are replayed and refilled
/// together (see `escape::escape_counts`; tuned by `kernel/examples/tuning.rs`).
const SCALAR_G: usize = 4;
const X4_G: usize = 48;
const X8_G: usize = 128;

/// A lane width of the escape loop. All backends give identical counts, on every [`Isa`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Backend {
    /// One f64 per lane (several chains interleaved).
    Scalar,
    /// Four f64 lanes (one 256-bit vector on AVX2).
    F64x4,
    /// Eight f64 lanes (one 512-bit vector on AVX-512, two 256-bit halves on AVX2).
    F64x8,
}

/// `$body` with the type `$L` set to the lane type that runs backend `$backend` on
/// instruction set `$isa`, and the const `$W` to the backend (for per-width constants, see
/// [`per_width`]). The one table of which lane type runs what.
macro_rules! with_lanes {
    ($backend:expr, $isa:expr, |$L:ident, $W:ident| $body:expr) => {{
        #[cfg(target_arch = "x86_64")]
        #[allow(unused_imports)]
        use $crate::lanes::{Avx2Fma, Avx512, X4, X8};
        #[allow(unused_imports)]
        use $crate::lanes::{Baseline, Pair, Plain};
        use $crate::{Backend, Isa};
        match ($backend, $isa) {
            (Backend::Scalar, Isa::Baseline) => {
                type $L = Plain<1, Baseline>;
                const $W: Backend = Backend::Scalar;
                $body
            }
            (Backend::F64x4, Isa::Baseline) => {
                type $L = Plain<4, Baseline>;
                const $W: Backend = Backend::F64x4;
                $body
            }
            (Backend::F64x8, Isa::Baseline) => {
                type $L = Plain<8, Baseline>;
                const $W: Backend = Backend::F64x8;
                $body
            }
            #[cfg(target_arch = "x86_64")]
            (Backend::Scalar, Isa::Avx2Fma) => {
                type $L = Plain<1, Avx2Fma>;
                const $W: Backend = Backend::Scalar;
                $body
            }
            #[cfg(target_arch = "x86_64")]
            (Backend::Scalar, Isa::Avx512) => {
                type $L = Plain<1, Avx512>;
                const $W: Backend = Backend::Scalar;
                $body
            }
            #[cfg(target_arch = "x86_64")]
            (Backend::F64x4, Isa::Avx2Fma) => {
                type $L = X4<Avx2Fma>;
                const $W: Backend = Backend::F64x4;
                $body
            }
            #[cfg(target_arch = "x86_64")]
            (Backend::F64x4, Isa::Avx512) => {
                type $L = X4<Avx512>;
                const $W: Backend = Backend::F64x4;
                $body
            }
            #[cfg(target_arch = "x86_64")]
            (Backend::F64x8, Isa::Avx2Fma) => {
                type $L = Pair<X4<Avx2Fma>>;
                const $W: Backend = Backend::F64x8;
                $body
            }
            #[cfg(target_arch = "x86_64")]
            (Backend::F64x8, Isa::Avx512) => {
                type $L = X8;
                const $W: Backend = Backend::F64x8;
                $body
            }
            // `Isa::detected` is `Baseline` on other architectures.
            #[cfg(not(target_arch = "x86_64"))]
            (_, Isa::Avx2Fma | Isa::Avx512) => unreachable!("no x86-64 instruction sets here"),
        }
    }};
}
pub(crate) use with_lanes;

/// The constant of backend `b` among per-backend constants (for [`with_lanes`]).
pub(crate) const fn per_width(b: Backend, scalar: usize, x4: usize, x8: usize) -> usize {
    match b {
        Backend::Scalar => scalar,
        Backend::F64x4 => x4,
        Backend::F64x8 => x8,
    }
}

impl Backend {
    /// Every backend, slowest first.
    pub const ALL: [Backend; 3] = [Backend::Scalar, Backend::F64x4, Backend::F64x8];

    /// The fastest backend on the instruction set that runs ([`Isa::current`]): `F64x8` on
    /// AVX-512, else `F64x4`.
    pub fn fastest() -> Backend {
        if Isa::current() >= Isa::Avx512 {
            Backend::F64x8
        } else {
            Backend::F64x4
        }
    }

    /// The backend named by `ZOOMSTACK_KERNEL` (`auto`, `scalar`, `f64x4`, `f64x8`), or
    /// [`Backend::fastest`] when it is unset. Also checks `ZOOMSTACK_ISA` ([`Isa::from_env`]).
    ///
    /// # Errors
    ///
    /// [`KernelError::UnknownBackend`] when `ZOOMSTACK_KERNEL` names no backend,
    /// [`KernelError::UnknownIsa`] when `ZOOMSTACK_ISA` names no instruction set.
    pub fn from_env() -> Result<Backend, KernelError> {
        Isa::from_env()?;
        match std::env::var("ZOOMSTACK_KERNEL") {
            Ok(name) => name.parse(),
            Err(_) => Ok(Backend::fastest()),
        }
    }

    /// Lowercase name, as accepted by `FromStr`.
    pub fn name(self) -> &'static str {
        match self {
            Backend::Scalar => "scalar",
            Backend::F64x4 => "f64x4",
            Backend::F64x8 => "f64x8",
        }
    }

    /// What this backend runs as on this thread now ([`Isa::current`]), e.g.
    /// `"f64x8 on AVX-512F (1 x 512-bit), fused FMA; instruction set avx512 chosen at run time
    /// (the CPU's best)"`.
    pub fn describe(self) -> String {
        let isa = Isa::current();
        let x86 = cfg!(target_arch = "x86_64");
        let width = match (self, isa) {
            (Backend::Scalar, _) => "scalar f64".to_string(),
            (Backend::F64x4, Isa::Avx512) => "f64x4 on AVX2 (1 x 256-bit, AVX-512VL)".into(),
            (Backend::F64x4, Isa::Avx2Fma) => "f64x4 on AVX2 (1 x 256-bit)".into(),
            (Backend::F64x8, Isa::Avx512) => "f64x8 on AVX-512F (1 x 512-bit)".into(),
            (Backend::F64x8, Isa::Avx2Fma) => "f64x8 on AVX2 (2 x 256-bit)".into(),
            (b, Isa::Baseline) if x86 => format!(
                "{b} on the build's baseline ({} plain lanes{})",
                per_width(b, 1, 4, 8),
                if cfg!(target_feature = "avx") {
                    ""
                } else {
                    ", SSE2"
                }
            ),
            (b, Isa::Baseline) => format!("{b} as {} plain lanes", per_width(b, 1, 4, 8)),
        };
        let fma = if isa.hardware_fma() {
            "fused FMA"
        } else {
            "no FMA instructions: fused multiply-adds are libm fma calls per lane (exact but slow)"
        };
        let detected = Isa::detected();
        let why = if isa == detected {
            "the CPU's best".to_string()
        } else {
            format!("capped: the CPU has {detected}; see ZOOMSTACK_ISA")
        };
        format!("{width}, {fma}; instruction set {isa} chosen at run time ({why})")
    }

    /// Runs the escape loop of this backend over `src`, on [`Isa::current`].
    pub(crate) fn run(self, src: &impl PixelSource, max_iter: u32, out: &mut [u16]) {
        with_lanes!(self, Isa::current(), |L, W| escape_counts::<
            L,
            { per_width(W, SCALAR_V, X4_V, X8_V) },
            BLOCK,
            { per_width(W, SCALAR_G, X4_G, X8_G) as u32 },
        >(
            src, max_iter, true, out
        ));
    }

    /// Runs the escape loop of this backend over `src` with the escapes' `z_k` captured, on
    /// [`Isa::current`]: counts into `counts`, smooth values ([`crate::spec::smooth_scalar`])
    /// into `out`.
    pub(crate) fn run_smooth(
        self,
        src: &impl PixelSource,
        max_iter: u32,
        counts: &mut [u16],
        out: &mut [f32],
    ) {
        with_lanes!(self, Isa::current(), |L, W| smooth_values::<
            L,
            { per_width(W, SCALAR_V, X4_V, X8_V) },
            BLOCK,
            { per_width(W, SCALAR_G, X4_G, X8_G) as u32 },
        >(
            src, max_iter, counts, out
        ));
    }
}

impl fmt::Display for Backend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Backend {
    type Err = KernelError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "auto" | "" => Ok(Backend::fastest()),
            "scalar" => Ok(Backend::Scalar),
            "f64x4" => Ok(Backend::F64x4),
            "f64x8" => Ok(Backend::F64x8),
            _ => Err(KernelError::UnknownBackend {
                name: s.to_string(),
            }),
        }
    }
}

/// [`Backend::run`] with the escape loop's tuning constants given (`V` vectors in flight,
/// escape tests every `K` updates, `G` lane-blocks finished lanes may idle before a refill),
/// for `kernel/examples/tuning.rs`, which compares strategies in one run, and the test that
/// no choice changes a count.
pub(crate) fn run_tuned<const V: usize, const K: u32, const G: u32>(
    backend: Backend,
    src: &impl PixelSource,
    max_iter: u32,
    out: &mut [u16],
) {
    with_lanes!(backend, Isa::current(), |L, W| {
        let _ = W;
        escape_counts::<L, V, K, G>(src, max_iter, true, out);
    });
}

/// The update's throughput limit with `V` independent vectors of this backend's lanes (see
/// `escape::update_limit`), for the benchmarks' "% of the limit".
#[doc(hidden)]
pub fn update_limit<const V: usize>(backend: Backend, iters: u64, test: bool) -> (u64, f64) {
    with_lanes!(backend, Isa::current(), |L, W| {
        let _ = W;
        crate::escape::update_limit::<L, V>(iters, test)
    })
}
