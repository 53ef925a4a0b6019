//! [`ArrayDescription`]: what a store holds (selection of the stack) and how it is cut (layout).

use zoomstack_engine::{Arithmetic, RenderPlan, Selection, StoreLayout};
use zoomstack_kernel::StackParams;

use crate::SinkError;

/// What is written: the array's selection of the stack, its layout (chunks, shards) and
/// everything the `zoomstack` attribute records. Build it from an engine plan
/// ([`ArrayDescription::of_plan`]) or from a typed [`Selection`].
#[derive(Clone, Debug, PartialEq)]
pub struct ArrayDescription {
    /// Levels of the whole stack.
    pub levels: u64,
    /// The stack's parameters.
    pub params: StackParams,
    /// The stack's arithmetic contract (recorded, with the exact parameters, in `stack`).
    pub arithmetic: Arithmetic,
    /// What the array holds, in the full stack's index space (written as the attributes
    /// `select`, `downsample` and `post_select`).
    pub selection: Selection,
    /// Chunks, shards and the write unit.
    pub layout: StoreLayout,
}

impl ArrayDescription {
    /// The description of `selection` of a stack (numpy arithmetic) stored with `layout`.
    #[must_use]
    pub fn new(
        levels: u64,
        params: StackParams,
        selection: Selection,
        layout: StoreLayout,
    ) -> ArrayDescription {
        ArrayDescription {
            levels,
            params,
            arithmetic: Arithmetic::Numpy,
            selection,
            layout,
        }
    }

    /// The description of an optimized plan stored with `layout`.
    #[must_use]
    pub fn of_plan(plan: &RenderPlan, layout: StoreLayout) -> ArrayDescription {
        let stack = plan.stack();
        ArrayDescription {
            arithmetic: stack.arithmetic.clone(),
            ..ArrayDescription::new(stack.levels, stack.params, *plan.selection(), layout)
        }
    }

    /// The whole stack of `levels` levels with `layout`.
    #[must_use]
    pub fn full_stack(levels: u64, params: StackParams, layout: StoreLayout) -> ArrayDescription {
        let shape = [levels, params.height as u64, params.width as u64];
        ArrayDescription::new(levels, params, Selection::full(shape), layout)
    }

    /// Output shape `[level, y, x]`.
    #[must_use]
    pub fn shape(&self) -> [u64; 3] {
        self.selection.shape()
    }

    /// Chunk shape (the inner chunk when sharded).
    #[must_use]
    pub fn chunks(&self) -> [usize; 3] {
        self.layout.chunks()
    }

    /// The stack's shape `[levels, height, width]`.
    #[must_use]
    pub fn stack_shape(&self) -> [u64; 3] {
        [
            self.levels,
            self.params.height as u64,
            self.params.width as u64,
        ]
    }

    /// Bytes of the raw output (`u16`), saturating.
    pub fn bytes(&self) -> u64 {
        self.shape().iter().fold(2u64, |a, &b| a.saturating_mul(b))
    }

    pub(super) fn validate(&self) -> Result<(), SinkError> {
        self.params
            .validate()
            .map_err(|e| SinkError::invalid("stack parameters", format!("{:?}", self.params), e))?;
        self.selection
            .validate(self.stack_shape())
            .map_err(|e| SinkError::invalid("selection", self.selection.select_text(), e))
    }
}
