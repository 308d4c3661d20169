//! Every gradient of the interpreter against finite differences and the adjoint identity.

use super::{adjoint_gap, finite_difference, max_error};
use crate::{Interpreter, ShapeError};
use ndarray::{ArrayD, ArrayViewD};
use std::fmt;

/// The largest errors of one gradient.
#[derive(Clone, Debug, PartialEq)]
pub struct ReportEntry {
    /// `grad_<operand>` or `grad_bias`.
    pub name: String,
    /// Largest difference to finite differences, relative to the gradient's magnitude.
    pub finite_difference: f64,
    /// The adjoint identity's relative gap (for an operand; the bias's is exact by construction).
    pub adjoint: f64,
}

/// The result of [`check_interpreter`].
#[derive(Clone, Debug, PartialEq)]
pub struct GradientReport {
    pub entries: Vec<ReportEntry>,
}

impl GradientReport {
    /// The largest relative error of any gradient by either check.
    pub fn worst(&self) -> f64 {
        self.entries
            .iter()
            .map(|e| e.finite_difference.max(e.adjoint))
            .fold(0.0, |a, b| if b.is_nan() { f64::NAN } else { a.max(b) })
    }
}

impl fmt::Display for GradientReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for e in &self.entries {
            writeln!(
                f,
                "{:<16} finite differences {:.2e}  adjoint {:.2e}",
                e.name, e.finite_difference, e.adjoint
            )?;
        }
        Ok(())
    }
}

/// Checks every gradient the interpreter derives for these f64 inputs and upstream
/// gradient: against central finite differences of `<forward(x, b), grad_y>` and, for
/// each operand, the adjoint identity `<y, grad_y> = <x_i, grad_x_i>` (the kernel is
/// linear in each operand; without bias).
pub fn check_interpreter(
    interpreter: &Interpreter,
    operands: &[ArrayD<f64>],
    bias: Option<&ArrayD<f64>>,
    grad_y: &ArrayD<f64>,
) -> Result<GradientReport, ShapeError> {
    let kernel = interpreter.kernel();
    let views: Vec<ArrayViewD<f64>> = operands.iter().map(|o| o.view()).collect();
    let grads = interpreter.backward(&views, grad_y.view())?;
    let y = interpreter.forward(&views, None)?;
    let mut inputs = operands.to_vec();
    inputs.extend(bias.cloned());
    let n = operands.len();
    let forward = |inputs: &[ArrayD<f64>]| -> ArrayD<f64> {
        let views: Vec<ArrayViewD<f64>> = inputs[..n].iter().map(|o| o.view()).collect();
        let bias = inputs.get(n).map(|b| b.view());
        interpreter
            .forward(&views, bias)
            .unwrap_or_else(|_| ArrayD::zeros(y.raw_dim()))
    };
    let mut entries = Vec::new();
    for (i, grad) in grads.operands.iter().enumerate() {
        let numeric = finite_difference(forward, &inputs, grad_y, i, 1e-3);
        entries.push(ReportEntry {
            name: format!("grad_{}", kernel.operands[i].name),
            finite_difference: max_error(grad, &numeric).1,
            adjoint: adjoint_gap(&y, grad_y, &operands[i], grad),
        });
    }
    if let (Some(grad), Some(_)) = (&grads.bias, bias) {
        let numeric = finite_difference(forward, &inputs, grad_y, n, 1e-3);
        entries.push(ReportEntry {
            name: "grad_bias".into(),
            finite_difference: max_error(grad, &numeric).1,
            adjoint: 0.0,
        });
    }
    Ok(GradientReport { entries })
}
