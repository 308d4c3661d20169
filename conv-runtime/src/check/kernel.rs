//! `check`: a generated kernel against the reference interpreter and finite differences.

use super::{finite_difference, max_error};
use crate::{Element, Interpreter, Kernel, ShapeError, Wrt};
use ndarray::{ArrayD, ArrayViewD, IxDyn};
use std::fmt;

/// How far one result of a kernel is from its references, relative to its magnitude.
#[derive(Clone, Debug, PartialEq)]
pub struct KernelCheck {
    /// `forward`, `grad_<operand>` or `grad_bias`.
    pub name: String,
    /// Largest difference to the interpreter (which accumulates in f64).
    pub vs_interpreter: f64,
    /// Largest difference to central finite differences of the kernel's own forward
    /// (gradients only).
    pub vs_finite_differences: Option<f64>,
}

/// What [`check`] found: one entry for the forward result and one per gradient.
/// `Display` prints one line per entry.
#[derive(Clone, Debug, PartialEq)]
pub struct KernelReport {
    /// `forward` first, then every operand's gradient in order, then the bias's.
    pub entries: Vec<KernelCheck>,
}

impl KernelReport {
    /// The largest relative error of any entry (NaN if any result was NaN).
    pub fn worst(&self) -> f64 {
        self.entries
            .iter()
            .flat_map(|e| [Some(e.vs_interpreter), e.vs_finite_differences])
            .flatten()
            .fold(
                0.0,
                |worst, e| if e.is_nan() { f64::NAN } else { worst.max(e) },
            )
    }
}

impl fmt::Display for KernelReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for e in &self.entries {
            write!(f, "{:<16} interpreter {:.2e}", e.name, e.vs_interpreter)?;
            if let Some(fd) = e.vs_finite_differences {
                write!(f, "  finite differences {fd:.2e}")?;
            }
            writeln!(f)?;
        }
        Ok(())
    }
}

/// Runs a generated kernel on random inputs of these operand shapes (values in [-1, 1)
/// from `seed`) and compares its forward result and every gradient with the reference
/// interpreter, and every gradient with central finite differences of its own forward.
///
/// Errors are relative to the magnitude of the compared tensors; for f32 kernels expect
/// about 1e-6 against the interpreter and 1e-3 against finite differences (whose steps
/// are rounded to f32), for f64 about 1e-12 and 1e-9.
///
/// The interpreter shares the derivation with the kernel but none of its code; finite
/// differences share nothing with either. A bias, if the kernel has one, is random too.
/// The error is a [`ShapeError`] when the shapes do not fit the kernel.
///
/// # Example
///
/// ```
/// use conv_runtime::conv_kernel;
///
/// conv_kernel! {
///     conv2d(x, weight) = "nchwkj,dckj->ndhw" {
///         unfold x.h by k, stride = 2, pad = 1;
///         unfold x.w by j, stride = 2, pad = 1;
///         bias d;
///     }
/// }
///
/// let report = conv_runtime::check::check(&conv2d::Kernel, &[&[2, 3, 7, 6], &[4, 3, 3, 3]], 1)?;
/// let names: Vec<&str> = report.entries.iter().map(|e| e.name.as_str()).collect();
/// assert_eq!(names, ["forward", "grad_x", "grad_weight", "grad_bias"]);
/// assert!(report.worst() < 1e-3, "{report}");
/// # Ok::<(), conv_runtime::ShapeError>(())
/// ```
pub fn check<K: Kernel>(
    kernel: &K,
    shapes: &[&[usize]],
    seed: u64,
) -> Result<KernelReport, ShapeError> {
    // Only the kernel's two calls depend on `K`; everything else is in `check_f64`,
    // compiled once in this crate rather than in every crate that checks a kernel (where
    // it was half of the time to compile an example in release).
    let forward = |operands: &[ArrayD<f64>], bias: Option<&ArrayD<f64>>| {
        let operands: Vec<ArrayD<K::Elem>> = operands.iter().map(narrow).collect();
        let views: Vec<ArrayViewD<K::Elem>> = operands.iter().map(|a| a.view()).collect();
        let bias = bias.map(narrow::<K::Elem>);
        let y = kernel.forward_dyn(&views, bias.as_ref().map(|b| b.view()))?;
        Ok(y.mapv(Element::to_f64))
    };
    let gradient = |wrt: Wrt, operands: &[ArrayD<f64>], grad_y: &ArrayD<f64>| {
        let operands: Vec<ArrayD<K::Elem>> = operands.iter().map(narrow).collect();
        let views: Vec<ArrayViewD<K::Elem>> = operands.iter().map(|a| a.view()).collect();
        let grad = kernel.gradient_dyn(wrt, &views, narrow::<K::Elem>(grad_y).view())?;
        Ok(grad.mapv(Element::to_f64))
    };
    let elem = Elem {
        name: K::Elem::NAME,
        round: |v| K::Elem::from_f64(v).to_f64(),
    };
    check_f64(kernel.facts(), elem, &forward, &gradient, shapes, seed)
}

/// The forward result of a kernel from its operands and bias, all in f64.
type Forward<'a> =
    dyn Fn(&[ArrayD<f64>], Option<&ArrayD<f64>>) -> Result<ArrayD<f64>, ShapeError> + 'a;
/// A gradient of a kernel from its operands and `grad_y`, all in f64.
type Gradient<'a> =
    dyn Fn(Wrt, &[ArrayD<f64>], &ArrayD<f64>) -> Result<ArrayD<f64>, ShapeError> + 'a;

/// A kernel's element type: its name and the rounding of an f64 to it.
struct Elem {
    name: &'static str,
    round: fn(f64) -> f64,
}

/// [`check`] of a kernel seen through f64 arrays.
fn check_f64(
    facts: &conv_model::facts::Facts,
    elem: Elem,
    kernel_forward: &Forward<'_>,
    kernel_gradient: &Gradient<'_>,
    shapes: &[&[usize]],
    seed: u64,
) -> Result<KernelReport, ShapeError> {
    // The interpreter runs the contractions the macro derived, with none of the
    // generated code.
    let interpreter = Interpreter::from_program(facts.program.clone());
    let mut random = Random(seed.wrapping_mul(2).wrapping_add(1));
    let inputs: Vec<ArrayD<f64>> = shapes.iter().map(|s| random.array(s, elem.round)).collect();
    let bias = match interpreter.kernel().bias {
        Some(axis) => Some(random.array(&[interpreter.extents(shapes)?.of(axis)], elem.round)),
        None => None,
    };
    let n = inputs.len();
    let run = |all: &[ArrayD<f64>]| kernel_forward(&all[..n], all.get(n));
    let mut all = inputs.clone();
    all.extend(bias.clone());
    let y = run(&all)?;
    let views: Vec<ArrayViewD<f64>> = inputs.iter().map(|a| a.view()).collect();
    let y_ref = interpreter.forward(&views, bias.as_ref().map(|b| b.view()))?;
    let mut entries = vec![KernelCheck {
        name: "forward".into(),
        vs_interpreter: max_error(&y, &y_ref).1,
        vs_finite_differences: None,
    }];
    let grad_y = random.array(y.shape(), elem.round);
    // A kernel is linear in each input, so finite differences have no truncation error and
    // a large step only shrinks the rounding error of the kernel's own forward.
    let step = if elem.name == "f32" { 0.25 } else { 1e-3 };
    let forward = |all: &[ArrayD<f64>]| run(all).unwrap_or_else(|_| ArrayD::zeros(y.raw_dim()));
    for gradient in &interpreter.program().gradients {
        let (name, slot) = match gradient.wrt {
            Wrt::Operand(i) => (format!("grad_{}", interpreter.kernel().operands[i].name), i),
            Wrt::Bias => ("grad_bias".to_string(), n),
        };
        let got = kernel_gradient(gradient.wrt, &inputs, &grad_y)?;
        let reference = interpreter.gradient(gradient.wrt, &views, grad_y.view())?;
        let numeric = finite_difference(forward, &all, &grad_y, slot, step);
        entries.push(KernelCheck {
            name,
            vs_interpreter: max_error(&got, &reference).1,
            vs_finite_differences: Some(max_error(&got, &numeric).1),
        });
    }
    Ok(KernelReport { entries })
}

fn narrow<T: Element>(a: &ArrayD<f64>) -> ArrayD<T> {
    a.mapv(T::from_f64)
}

/// xorshift64*: reproducible inputs without a dependency.
struct Random(u64);

impl Random {
    fn next(&mut self) -> f64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        let bits = self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 11;
        bits as f64 / (1u64 << 53) as f64 * 2.0 - 1.0
    }

    /// Values in [-1, 1), exactly representable in the element type that `round` rounds
    /// to.
    fn array(&mut self, shape: &[usize], round: fn(f64) -> f64) -> ArrayD<f64> {
        ArrayD::from_shape_simple_fn(IxDyn(shape), || round(self.next()))
    }
}
