//! Forward mode and second order, composed from a kernel's own derived passes.
//!
//! A kernel is linear in each operand and in the bias. So, with `f(v_1, .., v_n)` its
//! contraction and `G_i(v, grad_y)` the gradient of operand `i` (both derived):
//!
//! - the tangent of `y = f(v) + b` is `dy = sum_i f(v with v_i := dv_i) + db`;
//! - for cotangents `c_i` of the first-order gradients `g_i = G_i(v, grad_y)` and `c_b`
//!   of `g_b = sum(grad_y)`, the gradient of `s = sum_i <g_i, c_i> + <g_b, c_b>` is
//!   - with respect to operand `i`: `sum over j != i of G_i(v with v_j := c_j, grad_y)`,
//!     because `<G_j(v, grad_y), c_j> = <f(v with v_j := c_j), grad_y>`;
//!   - with respect to `grad_y`: `sum_j f(v with v_j := c_j) + c_b`, the tangent of `y`
//!     along the cotangents;
//!   - with respect to the bias: zero, as no gradient depends on it.
//!
//! No rule here is specific to a kernel: both run whatever the derivation gave.

use crate::interp::Grads;
use crate::{Element, ShapeError, Wrt};
use conv_model::kernel::Kernel;
use ndarray::{ArrayD, ArrayViewD, IxDyn, Zip};

/// What [`Interpreter::double_backward`](crate::Interpreter::double_backward) and
/// [`Kernel::double_backward_dyn`](crate::Kernel::double_backward_dyn) return: the
/// gradient of `s = sum_i <grad_i, cotangent_i> + <grad_bias, cotangent_bias>` with
/// respect to every operand, the bias and `grad_y`.
#[derive(Clone, Debug, PartialEq)]
pub struct DoubleGrads<T> {
    /// With respect to every operand, in operand order, each shaped like it.
    pub operands: Vec<ArrayD<T>>,
    /// With respect to the bias, for a kernel that declares one: always zero, as the
    /// first-order gradients do not depend on it.
    pub bias: Option<ArrayD<T>>,
    /// With respect to the upstream gradient, shaped like the output.
    pub grad_y: ArrayD<T>,
}

/// A kernel's forward pass and gradients, as the compositions call them.
pub trait Passes<T> {
    fn kernel(&self) -> &Kernel;
    fn forward(
        &self,
        operands: &[ArrayViewD<'_, T>],
        bias: Option<ArrayViewD<'_, T>>,
    ) -> Result<ArrayD<T>, ShapeError>;
    fn gradient(
        &self,
        wrt: Wrt,
        operands: &[ArrayViewD<'_, T>],
        grad_y: ArrayViewD<'_, T>,
    ) -> Result<ArrayD<T>, ShapeError>;
}

/// `(y, dy)`: the forward result and its tangent.
pub fn jvp<T: Element>(
    passes: &impl Passes<T>,
    primals: &[ArrayViewD<'_, T>],
    bias: Option<ArrayViewD<'_, T>>,
    tangents: &[ArrayViewD<'_, T>],
    tangent_bias: Option<ArrayViewD<'_, T>>,
) -> Result<crate::kernel::Tangent<T>, ShapeError> {
    let kernel = passes.kernel();
    same_shapes(kernel, "tangent_", primals, tangents)?;
    let y = passes.forward(primals, bias)?;
    let mut dy = None;
    for (i, tangent) in tangents.iter().enumerate() {
        let mut args = primals.to_vec();
        args[i] = tangent.view();
        // The bias's tangent rides on the first term.
        let db = if i == 0 { tangent_bias.clone() } else { None };
        add(&mut dy, passes.forward(&args, db)?);
    }
    let dy = dy.unwrap_or_else(|| ArrayD::zeros(y.raw_dim()));
    Ok((y, dy))
}

/// The cotangents of the first-order gradients, as views.
pub struct Cotangents<'a, T> {
    /// One per first-order gradient of an operand, shaped like the operand.
    pub operands: Vec<ArrayViewD<'a, T>>,
    /// For the gradient of the bias; `None` counts as zero.
    pub bias: Option<ArrayViewD<'a, T>>,
}

impl<'a, T> From<&'a Grads<T>> for Cotangents<'a, T> {
    fn from(grads: &'a Grads<T>) -> Self {
        Cotangents {
            operands: grads.operands.iter().map(|c| c.view()).collect(),
            bias: grads.bias.as_ref().map(|b| b.view()),
        }
    }
}

/// Every gradient of `s = sum_i <grad_i, cotangents_i> + <grad_bias, cotangents.bias>`.
pub fn double_backward<T: Element>(
    passes: &impl Passes<T>,
    operands: &[ArrayViewD<'_, T>],
    grad_y: ArrayViewD<'_, T>,
    cotangents: Cotangents<'_, T>,
) -> Result<DoubleGrads<T>, ShapeError> {
    let kernel = passes.kernel();
    let cot = &cotangents.operands;
    same_shapes(kernel, "cotangent_", operands, cot)?;
    if kernel.bias.is_none() && cotangents.bias.is_some() {
        return Err(ShapeError::OperandCount {
            expected: operands.len(),
            actual: operands.len() + 1,
        });
    }
    let replaced = |j: usize| {
        let mut args = operands.to_vec();
        args[j] = cot[j].view();
        args
    };
    let mut dd_operands = Vec::with_capacity(operands.len());
    for (i, operand) in operands.iter().enumerate() {
        let mut sum = None;
        for j in (0..operands.len()).filter(|&j| j != i) {
            add(
                &mut sum,
                passes.gradient(Wrt::Operand(i), &replaced(j), grad_y.view())?,
            );
        }
        dd_operands.push(sum.unwrap_or_else(|| ArrayD::zeros(IxDyn(operand.shape()))));
    }
    let mut dd_grad_y = None;
    for j in 0..operands.len() {
        let cb = if j == 0 {
            cotangents.bias.as_ref().map(|b| b.view())
        } else {
            None
        };
        add(&mut dd_grad_y, passes.forward(&replaced(j), cb)?);
    }
    let grad_y_shape = grad_y.shape().to_vec();
    let bias = kernel.bias.map(|axis| {
        let at = kernel.output.iter().position(|&a| a == axis).unwrap_or(0);
        ArrayD::zeros(IxDyn(&[grad_y_shape[at]]))
    });
    Ok(DoubleGrads {
        operands: dd_operands,
        bias,
        grad_y: dd_grad_y.unwrap_or_else(|| ArrayD::zeros(IxDyn(&grad_y_shape))),
    })
}

fn add<T: Element>(sum: &mut Option<ArrayD<T>>, term: ArrayD<T>) {
    match sum {
        None => *sum = Some(term),
        Some(sum) => Zip::from(sum).and(&term).for_each(|s, &t| *s = *s + t),
    }
}

/// One companion per operand (`tangent_x`, `cotangent_weight`), each shaped like it.
fn same_shapes<T>(
    kernel: &Kernel,
    prefix: &str,
    operands: &[ArrayViewD<'_, T>],
    companions: &[ArrayViewD<'_, T>],
) -> Result<(), ShapeError> {
    if operands.len() != kernel.operands.len() || companions.len() != operands.len() {
        return Err(ShapeError::OperandCount {
            expected: kernel.operands.len(),
            actual: operands.len().max(companions.len()),
        });
    }
    for ((operand, companion), declared) in operands.iter().zip(companions).zip(&kernel.operands) {
        let name = format!("{prefix}{}", declared.name);
        if companion.ndim() != operand.ndim() {
            return Err(ShapeError::Rank {
                operand: name,
                expected: operand.ndim(),
                actual: companion.ndim(),
            });
        }
        let axes = declared.physical.iter();
        for ((&axis, &expected), &actual) in axes.zip(operand.shape()).zip(companion.shape()) {
            if expected != actual {
                return Err(ShapeError::Extent {
                    operand: name,
                    axis,
                    expected,
                    actual,
                    because: format!("as {}.{axis}", declared.name),
                });
            }
        }
    }
    Ok(())
}
