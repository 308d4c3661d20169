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

/// The result of [`check_interpreter`]; `Display` prints one line per gradient.
#[derive(Clone, Debug, PartialEq)]
pub struct GradientReport {
    /// One entry per gradient: every operand's in order, then the bias's.
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
///
/// The bias's gradient is checked only when `bias` is given. Errors are relative to the
/// gradients' magnitudes; in f64 they are about 1e-10 or less for a right gradient.
///
/// # Example
///
/// ```
/// use conv_runtime::check::check_interpreter;
/// use conv_runtime::Interpreter;
/// use ndarray::{ArrayD, IxDyn};
///
/// let conv = Interpreter::new(
///     r#"conv(x, w) = "nclk,dck->ndl" { unfold x.l by k, stride = 2, pad = 1, mode = reflect; bias d; }"#,
/// )?;
/// // Deterministic values in [-1, 1].
/// let filled = |shape: &[usize], seed: f64| {
///     let mut t = seed;
///     ArrayD::from_shape_simple_fn(IxDyn(shape), move || {
///         t += 0.37;
///         t.sin()
///     })
/// };
/// let (x, w, bias) = (filled(&[2, 3, 9], 0.7), filled(&[4, 3, 3], 1.3), filled(&[4], 0.4));
/// let grad_y = filled(&conv.output_shape(&[x.shape(), w.shape()])?, 2.1);
/// let report = check_interpreter(&conv, &[x, w], Some(&bias), &grad_y)?;
/// let names: Vec<&str> = report.entries.iter().map(|e| e.name.as_str()).collect();
/// assert_eq!(names, ["grad_x", "grad_w", "grad_bias"]);
/// assert!(report.worst() < 1e-8, "{report}");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
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
