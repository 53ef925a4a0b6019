//! # zoomstack-cli
//!
//! The library half of the `zoomstack` binary: the kernel benchmark ([`bench`]). Specs and the
//! run path live in `zoomstack-pipeline`; the binary maps flags to a spec, runs it, draws
//! progress bars, prints reports and sets exit codes.

pub mod bench;
