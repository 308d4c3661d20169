//! Kernels with windows on their output (transposed convolutions) run as the passes of
//! their adjoint unfold kernel, which the macro derived (`Facts::adjoint`): the forward
//! pass is the adjoint's gradient of its windowed operand, the gradient of the image
//! operand is the adjoint's forward pass, and the gradient of the other operand is the
//! adjoint's gradient of its other operand. Each then takes whatever path the table
//! chooses for the adjoint at these extents.

use super::{Call, Tensor};
use crate::shapes::{resolve, Extents};
use conv_model::facts::Facts;

/// The adjoint kernel at this call's extents.
pub(crate) struct AdjointCall<'a> {
    pub facts: &'a Facts,
    pub extents: Extents,
    /// The output's shape: the adjoint's first operand's.
    pub y_shape: Vec<usize>,
}

impl<'a> AdjointCall<'a> {
    /// `None` without an adjoint, or when the adjoint's output would not have the image
    /// operand's shape (an `output_padding` of a stride or more: the positions past the
    /// last window's reach are not read, which the loop nest handles).
    pub fn new(call: Call<'a>) -> Option<Self> {
        let adjoint = call.facts.adjoint.as_ref()?;
        let y_shape = call.output_shape();
        let other_shape = call.operand_shape(adjoint.other);
        let extents = resolve(adjoint.facts.kernel(), &[&y_shape, &other_shape]).ok()?;
        let image_shape = call.operand_shape(adjoint.image);
        if extents.output_shape(adjoint.facts.kernel()) != image_shape {
            return None;
        }
        Some(AdjointCall {
            facts: &adjoint.facts,
            extents,
            y_shape,
        })
    }

    pub fn call(&self) -> Call<'_> {
        Call::new(self.facts, &self.extents)
    }

    /// `grad_y` (or the output) as the adjoint's first operand.
    pub fn g<'t, T>(&'t self, data: &'t [T]) -> Tensor<'t, T> {
        Tensor {
            data,
            shape: &self.y_shape,
        }
    }
}
