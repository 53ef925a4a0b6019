//! Backend choice: which lane width runs, and what instruction set it compiled to.

use crate::KernelError;
use crate::escape::{PixelSource, escape_counts};
use crate::lanes::FUSED;
use std::fmt;
use std::str::FromStr;
use wide::{f64x4, f64x8};

/// Vectors in flight per backend and iterations between escape tests (tuned by `benches/`).
const SCALAR_V: usize = 4;
const X4_V: usize = 6;
const X8_V: usize = 4;
const BLOCK: u32 = 16;

/// A lane width of the escape loop. All backends give identical counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Backend {
    /// One f64 per lane (several chains interleaved).
    Scalar,
    /// `wide::f64x4` lanes.
    F64x4,
    /// `wide::f64x8` lanes.
    F64x8,
}

impl Backend {
    /// Every backend, slowest first.
    pub const ALL: [Backend; 3] = [Backend::Scalar, Backend::F64x4, Backend::F64x8];

    /// The fastest backend for this build: `F64x8` when AVX-512F is compiled in, else `F64x4`.
    pub fn fastest() -> Backend {
        if cfg!(target_feature = "avx512f") {
            Backend::F64x8
        } else {
            Backend::F64x4
        }
    }

    /// The backend named by `ZOOMSTACK_KERNEL` (`auto`, `scalar`, `f64x4`, `f64x8`), or
    /// [`Backend::fastest`] when it is unset.
    ///
    /// # Errors
    ///
    /// [`KernelError::UnknownBackend`] when the variable names no backend.
    pub fn from_env() -> Result<Backend, KernelError> {
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

    /// What this backend compiled to in this build, e.g. `"f64x8 on AVX-512F (1 x 512-bit), fused FMA"`.
    pub fn describe(self) -> String {
        let width = match self {
            Backend::Scalar => "scalar f64".to_string(),
            Backend::F64x4 => format!("f64x4 on {}", lanes_isa(4)),
            Backend::F64x8 => format!("f64x8 on {}", lanes_isa(8)),
        };
        let fma = if FUSED {
            "fused FMA"
        } else {
            "no FMA compiled in: fused multiply-add emulated per lane (exact but slow; build with -C target-cpu=native)"
        };
        format!("{width}, {fma}")
    }

    /// Runs the escape loop of this backend over `src`.
    pub(crate) fn run(self, src: &impl PixelSource, max_iter: u32, out: &mut [u16]) {
        match self {
            Backend::Scalar => escape_counts::<f64, SCALAR_V, BLOCK>(src, max_iter, true, out),
            Backend::F64x4 => escape_counts::<f64x4, X4_V, BLOCK>(src, max_iter, true, out),
            Backend::F64x8 => escape_counts::<f64x8, X8_V, BLOCK>(src, max_iter, true, out),
        }
    }
}

fn lanes_isa(lanes: usize) -> &'static str {
    let avx512 = cfg!(target_feature = "avx512f");
    let avx = cfg!(target_feature = "avx");
    match (lanes, avx512, avx) {
        (8, true, _) => "AVX-512F (1 x 512-bit)",
        (8, false, true) => "AVX (2 x 256-bit)",
        (4, _, true) => "AVX (1 x 256-bit)",
        (8, _, false) => "SSE2 (4 x 128-bit)",
        _ => "SSE2 (2 x 128-bit)",
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
