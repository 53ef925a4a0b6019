//! # zoomstack-cli
//!
//! The library half of the `zoomstack` binary: pipeline spec files ([`spec`]), their
//! diagnostics ([`diag`]), render jobs and their execution ([`pipeline`]), and the kernel
//! benchmark ([`bench`]). The binary adds argument parsing, progress bars and exit codes.
//!
//! ```
//! use zoomstack_cli::spec::parse_str;
//!
//! let spec = parse_str("preview.toml", r#"
//!     [stack]
//!     levels = 1000
//!
//!     [[sink]]
//!     kind = "png"
//!     select = "[::100, ::2, ::2]"
//! "#).unwrap();
//! assert_eq!(spec.sinks[0].plan.shape(), [10, 256, 256]);
//!
//! let err = parse_str("bad.toml", "[stack]\nlevls = 3\n").unwrap_err();
//! assert_eq!(err.span, Some(8..13)); // points at `levls`
//! ```

pub mod bench;
pub mod diag;
pub mod pipeline;
pub mod spec;

/// The built-in preview spec (`examples/preview.toml`): the notebook's
/// `stack[0:20000:500, ::2, ::2]` to PNG frames, an animated GIF and a contact sheet.
pub const PREVIEW_SPEC: &str = include_str!("../../examples/preview.toml");
