//! What one pass of a kernel is given: the facts the macro derived and the extents of
//! this call, and the operands as row-major slices.

use crate::shapes::Extents;
use conv_model::facts::Facts;
use conv_model::gemm_plan::GemmPlan;
use conv_model::kernel::Kernel;

/// One call of a kernel: what the macro derived about it, and every extent of this
/// call's operands.
#[derive(Clone, Copy)]
pub struct Call<'a> {
    pub facts: &'a Facts,
    pub extents: &'a Extents,
}

impl<'a> Call<'a> {
    pub fn new(facts: &'a Facts, extents: &'a Extents) -> Self {
        Call { facts, extents }
    }

    pub fn kernel(&self) -> &'a Kernel {
        self.facts.kernel()
    }

    /// The kernel as a batch of matrix products, if it is one.
    pub fn plan(&self) -> Option<&'a GemmPlan> {
        self.facts.plan.as_ref()
    }

    /// The shape of operand `operand`.
    pub fn operand_shape(&self, operand: usize) -> Vec<usize> {
        self.extents.operand_shape(self.kernel(), operand)
    }

    /// The shape of the forward result (and of `grad_y`).
    pub fn output_shape(&self) -> Vec<usize> {
        self.extents.output_shape(self.kernel())
    }
}

/// A tensor in row-major order.
pub struct Tensor<'a, T> {
    pub data: &'a [T],
    pub shape: &'a [usize],
}
