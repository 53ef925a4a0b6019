//! The logical plan: the operations a [`crate::LazyArray`] recorded, as the user wrote them
//! ([`PlanNode`]). The optimizer (`optimizer.rs`) rewrites it into a [`crate::RenderPlan`].

use crate::describe::format_real;
use crate::slice::{IndexRange, SliceSpec, format_range};
use crate::stack::ZoomStack;
use std::fmt;
use std::sync::Arc;

/// How [`LazyArray::downsample`] reduces a `fy x fx` block of pixels to one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DownsampleMode {
    /// Keep the block's first pixel: exactly numpy's `[:, ::fy, ::fx]`. Output length
    /// `ceil(n / f)`.
    Stride,
    /// The mean of the block, rounded half to even (`q = sum / n`; round up when the remainder
    /// is above `n / 2`, or equal to it and `q` is odd). This is numpy's
    /// `np.round(block.mean())` for every block of fewer than 2^32 pixels. Output length
    /// `ceil(n / f)`, like `Stride`: a partial block at the bottom or right edge averages the
    /// pixels it has (xarray's `coarsen(boundary="pad").mean()`), so no pixel is dropped.
    Mean,
}

impl DownsampleMode {
    /// `stride` or `mean`.
    pub fn name(self) -> &'static str {
        match self {
            DownsampleMode::Stride => "stride",
            DownsampleMode::Mean => "mean",
        }
    }
}

impl fmt::Display for DownsampleMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for DownsampleMode {
    type Err = String;
    /// `stride` or `mean` (case-insensitive).
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        match s.to_ascii_lowercase().as_str() {
            "stride" => Ok(DownsampleMode::Stride),
            "mean" => Ok(DownsampleMode::Mean),
            _ => Err(format!(
                "unknown downsample mode {s:?}: expected \"stride\" or \"mean\""
            )),
        }
    }
}

/// One node of the logical plan, as the user wrote it. Every node knows its input.
#[derive(Debug, Clone, PartialEq)]
pub enum PlanNode {
    /// The whole stack.
    Source {
        /// The stack.
        stack: ZoomStack,
    },
    /// numpy basic slicing on the three axes.
    Select {
        /// The input plan.
        input: Arc<PlanNode>,
        /// The slices as given.
        specs: [SliceSpec; 3],
        /// The same, normalized against the input's shape.
        ranges: [IndexRange; 3],
    },
    /// A new chunk shape (becomes the executor's tiling).
    Rechunk {
        /// The input plan.
        input: Arc<PlanNode>,
        /// Chunk shape requested.
        chunks: [usize; 3],
    },
    /// Downsampling of the two spatial axes.
    Downsample {
        /// The input plan.
        input: Arc<PlanNode>,
        /// Factors `[fy, fx]`.
        factors: [u64; 2],
        /// How a block becomes a pixel.
        mode: DownsampleMode,
    },
}

impl PlanNode {
    /// The node's input, if it has one.
    pub fn input(&self) -> Option<&PlanNode> {
        match self {
            PlanNode::Source { .. } => None,
            PlanNode::Select { input, .. }
            | PlanNode::Rechunk { input, .. }
            | PlanNode::Downsample { input, .. } => Some(input),
        }
    }

    /// The stack at the root of the plan.
    pub fn stack(&self) -> &ZoomStack {
        let mut node = self;
        loop {
            match node {
                PlanNode::Source { stack } => return stack,
                PlanNode::Select { input, .. }
                | PlanNode::Rechunk { input, .. }
                | PlanNode::Downsample { input, .. } => node = input,
            }
        }
    }

    /// The nodes from the source to this one.
    pub fn chain(&self) -> Vec<&PlanNode> {
        let mut v = vec![self];
        let mut node = self;
        while let Some(i) = node.input() {
            v.push(i);
            node = i;
        }
        v.reverse();
        v
    }

    /// One line describing this node alone.
    pub fn label(&self) -> String {
        match self {
            PlanNode::Source { stack } => format!(
                "ZoomStack levels={} frame={}x{} max_iter={} center=({}, {}) scale0={} zoom_per_level={}",
                stack.levels,
                stack.params.height,
                stack.params.width,
                stack.params.max_iter,
                format_real(stack.params.center_re),
                format_real(stack.params.center_im),
                format_real(stack.params.scale0),
                format_real(stack.params.zoom_per_level)
            ),
            PlanNode::Select { specs, ranges, .. } => format!(
                "Select [{}, {}, {}] = [{}, {}, {}]",
                specs[0],
                specs[1],
                specs[2],
                format_range(&ranges[0]),
                format_range(&ranges[1]),
                format_range(&ranges[2])
            ),
            PlanNode::Rechunk { chunks, .. } => {
                format!("Rechunk ({}, {}, {})", chunks[0], chunks[1], chunks[2])
            }
            PlanNode::Downsample { factors, mode, .. } => {
                format!("Downsample {mode} {}x{}", factors[0], factors[1])
            }
        }
    }
}
