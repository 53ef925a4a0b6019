//! [`ArrayDescription`]: what a store holds (selection of the stack) and how it is cut (layout).

use zoomstack_engine::{Arithmetic, RenderPlan, Selection, StoreLayout};
use zoomstack_kernel::StackParams;

use super::StoreValues;
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
    /// What the array's elements are: counts (`uint16`) or smooth values (`float32`).
    pub values: StoreValues,
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
            values: StoreValues::Counts,
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

    /// The same description with elements `values`.
    #[must_use]
    pub fn with_values(self, values: StoreValues) -> ArrayDescription {
        ArrayDescription { values, ..self }
    }

    /// The Zarr data type of the array: `"uint16"` or `"float32"`.
    #[must_use]
    pub fn data_type(&self) -> &'static str {
        self.values.data_type()
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

    /// Bytes of the raw output (2 per count, 4 per smooth value), saturating.
    pub fn bytes(&self) -> u64 {
        let per_value = self.values.bytes();
        self.shape()
            .iter()
            .fold(per_value, |a, &b| a.saturating_mul(b))
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
