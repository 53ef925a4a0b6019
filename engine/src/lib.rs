//! # zoomstack-engine
//!
//! Lazy zoom-stack arrays: a [`ZoomStack`] describes the whole virtual array `(level, y, x)` of
//! `u16` escape counts in O(1); a [`LazyArray`] records numpy-style selects, rechunks and
//! downsampling as a small plan tree; [`LazyArray::optimize`] folds the selects and pushes them
//! into the render source so only needed pixels are rendered ([`RenderPlan`]); an [`Executor`]
//! renders the plan's tiles in parallel with the kernel and streams them to a consumer with
//! bounded memory, or collects them into an [`ndarray::Array3`].
//!
//! ```
//! use zoomstack_engine::{DownsampleMode, Executor, ZoomStack};
//!
//! // The notebook's stack: 120000 levels of 512 x 512, defined in O(1).
//! let stack = ZoomStack::default();
//! let a = stack.array();
//! assert_eq!(a.describe().bytes, 62_914_560_000); // 58.59 GiB, never allocated
//!
//! // The notebook's preview, then a mean-downsampled thumbnail of it.
//! let preview = a.select("[0:20000:500, ::2, ::2]").unwrap();
//! assert_eq!(preview.shape(), [40, 256, 256]);
//! let thumb = preview
//!     .select("[:2]").unwrap()
//!     .downsample(8, 8, DownsampleMode::Mean).unwrap();
//! println!("{}", thumb.explain());
//! println!("{}", thumb.describe());
//!
//! // Only the 2 levels x 256 x 256 grid pixels of the thumbnail are rendered.
//! let plan = thumb.optimize().unwrap();
//! assert_eq!(plan.rendered_pixels(), 2 * 256 * 256);
//! let counts = Executor::new(2).compute(&plan).unwrap();
//! assert_eq!(counts.shape(), &[2, 32, 32]);
//! ```
//!
//! Results are bit-identical to rendering every pixel of every level with the kernel's scalar
//! reference and applying each operation literally (the crate's property tests check this),
//! whatever the thread count.

mod array;
mod describe;
mod error;
mod executor;
mod layout;
mod logical;
mod optimizer;
mod plan;
mod render;
mod sample;
mod selection;
mod slice;
mod stack;

pub use array::LazyArray;
pub use describe::{Describe, format_bytes, format_real};
pub use error::{EngineError, Excerpt, ExecError, Result};
pub use executor::{DEFAULT_MEMORY_LIMIT, Executor, Progress, ProgressFn, Tile};
pub use layout::StoreLayout;
pub use logical::{DownsampleMode, PlanNode};
pub use optimizer::RulesFired;
pub use plan::{ConstantTiles, RenderPlan, TileSpec};
pub use sample::Sample;
pub use selection::{AxisMap, Selection};
pub use slice::{AXES, IndexRange, SliceSpec, format_range, parse_select};
pub use stack::{Arithmetic, DEFAULT_CHUNKS, NOTEBOOK_LEVELS, Timeline, ZoomStack};

/// The kernel this engine renders with (re-exported for `StackParams`, `Backend`).
pub use zoomstack_kernel as kernel;
