//! The reference interpreter: executes the forward contraction and every derived
//! gradient of any kernel, on arrays of any rank and strides, in f64 accumulation.
//!
//! It shares the IR and the derivation with the generated kernels but none of their
//! code, and loops over every point of every contraction: slow, simple, and the
//! reference the generated kernels are held to.

mod contract;
mod dense;

pub(crate) use dense::for_each_point;
mod fold;

#[cfg(feature = "text")]
use crate::kernel_text::{compile_text, TextDiagnostic, TextErrors};
use crate::shapes::{check_output, check_tensor, resolve, Extents};
use crate::{Element, ShapeError};
use conv_model::ir::{Program, Wrt};
use conv_model::kernel::{Kernel, Operand};
use dense::Dense;
use ndarray::{ArrayD, ArrayViewD};

/// The gradient of every operand (in operand order) and of the bias, if declared: what
/// [`Interpreter::backward`] returns.
#[derive(Clone, Debug, PartialEq)]
pub struct Grads<T> {
    /// `grad_<operand>` for every operand, in the order of the kernel's operand list,
    /// each shaped like its operand.
    pub operands: Vec<ArrayD<T>>,
    /// `grad_bias`, for a kernel that declares a bias.
    pub bias: Option<ArrayD<T>>,
}

/// Runs one kernel, given as text or as a lowered [`Program`].
///
/// The reference the generated kernels are held to: it executes the same derived
/// contractions on arrays of dynamic rank, any layout and strides, f32 or f64, summing in
/// f64, with a plain loop over every point of every contraction. Nothing is generated or
/// compiled, so it runs kernels that exist only as text (`examples/interpret.rs` runs
/// one given on the command line).
///
/// # Example
///
/// ```
/// use conv_runtime::{Interpreter, Wrt};
/// use ndarray::{array, ArrayD};
///
/// let conv = Interpreter::new(
///     r#"conv(x, w) = "nclk,dck->ndl" { unfold x.l by k, stride = 2; bias d; }"#,
/// )?;
/// let x: ArrayD<f64> = array![[[1.0, 2.0, 3.0, 4.0, 5.0]]].into_dyn();
/// let w: ArrayD<f64> = array![[[1.0, 0.0, -1.0]]].into_dyn();
/// let bias: ArrayD<f64> = array![10.0].into_dyn();
/// assert_eq!(conv.output_shape(&[x.shape(), w.shape()])?, [1, 1, 2]);
///
/// // Windows [1, 2, 3] and [3, 4, 5], each x[l] - x[l + 2], plus the bias.
/// let y = conv.forward(&[x.view(), w.view()], Some(bias.view()))?;
/// assert_eq!(y, array![[[8.0, 8.0]]].into_dyn());
///
/// // For grad_y = [1, 1], x[2] is read by both windows (with +1 and -1).
/// let grad_y: ArrayD<f64> = array![[[1.0, 1.0]]].into_dyn();
/// let grads = conv.backward(&[x.view(), w.view()], grad_y.view())?;
/// assert_eq!(grads.operands[0], array![[[1.0, 0.0, 0.0, 0.0, -1.0]]].into_dyn());
/// assert_eq!(grads.operands[1], array![[[4.0, 6.0, 8.0]]].into_dyn());
/// assert_eq!(grads.bias, Some(array![2.0].into_dyn()));
/// // One gradient alone.
/// let grad_w = conv.gradient(Wrt::Operand(1), &[x.view(), w.view()], grad_y.view())?;
/// assert_eq!(grad_w, grads.operands[1]);
/// assert!(conv.derivation().contains("grad_x = fold_l(\"ndl,dck->nclk\")"));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug)]
pub struct Interpreter {
    program: Program,
}

impl Interpreter {
    /// Compiles kernel text holding exactly one kernel, e.g.
    /// `k(x, weight) = "nchwkj,dckj->ndhw" { unfold x.h by k, stride = 2; unfold x.w by j; }`.
    /// The errors are those [`compile_text`] reports, and one for a text of several
    /// kernels. Needs the `text` feature (on by default).
    #[cfg(feature = "text")]
    pub fn new(text: &str) -> Result<Self, TextErrors> {
        let mut programs = compile_text(text)?;
        if programs.len() != 1 {
            return Err(TextErrors(vec![TextDiagnostic {
                line: 1,
                column: 0,
                end_line: 1,
                end_column: 0,
                message: format!("expected one kernel, found {}", programs.len()),
            }]));
        }
        Ok(Interpreter::from_program(programs.remove(0)))
    }

    /// Runs a kernel already compiled: one of those `compile_text` returns, or a
    /// generated kernel's `facts().program`.
    pub fn from_program(program: Program) -> Self {
        Interpreter { program }
    }

    /// The lowered kernel: the checked declaration, the forward contraction and every
    /// derived gradient.
    pub fn program(&self) -> &Program {
        &self.program
    }

    /// The canonical text of the kernel and every derived contraction.
    pub fn derivation(&self) -> String {
        conv_model::text::derivation(&self.program)
    }

    /// The checked declaration: operands, unfolds, sizes, bias and element type.
    pub fn kernel(&self) -> &Kernel {
        &self.program.kernel
    }

    /// The extent of every axis for operands of these shapes.
    pub fn extents(&self, shapes: &[&[usize]]) -> Result<Extents, ShapeError> {
        resolve(self.kernel(), shapes)
    }

    /// The shape of the forward result for operands of these shapes.
    pub fn output_shape(&self, shapes: &[&[usize]]) -> Result<Vec<usize>, ShapeError> {
        Ok(self.extents(shapes)?.output_shape(self.kernel()))
    }

    /// `y = contract(views of the operands) [+ bias]`. A kernel with a declared bias may
    /// be run without one (a zero bias); a bias for a kernel without is an error.
    pub fn forward<T: Element>(
        &self,
        operands: &[ArrayViewD<T>],
        bias: Option<ArrayViewD<T>>,
    ) -> Result<ArrayD<T>, ShapeError> {
        let kernel = self.kernel();
        let extents = self.resolve(operands)?;
        let bias = match (kernel.bias, bias) {
            (Some(axis), Some(b)) => {
                check_tensor(&extents, "bias", &[axis], b.shape())?;
                Some((axis, Dense::from_view(&b, "bias")?))
            }
            (_, None) => None,
            (None, Some(_)) => {
                return Err(ShapeError::OperandCount {
                    expected: kernel.operands.len(),
                    actual: operands.len() + 1,
                })
            }
        };
        let dense = self.copies(operands)?;
        let y_name = kernel.output_name.as_str();
        let mut y = contract::contract(
            &self.program.forward,
            kernel,
            &extents,
            &dense,
            None,
            y_name,
        )?;
        if !self.program.folds.is_empty() {
            let output = Operand {
                name: kernel.output_name.clone(),
                view: kernel.output_view.clone(),
                physical: kernel.output.clone(),
            };
            let shape = extents.output_shape(kernel);
            let folds = &self.program.folds;
            y = fold::fold(&y, &output, shape, folds, kernel, &extents, y_name)?;
        }
        if let Some((axis, bias)) = bias {
            let d = kernel.output.iter().position(|&a| a == axis).unwrap_or(0);
            let shape = y.shape.clone();
            let strides = y.strides.clone();
            dense::for_each_point(&shape, |point| {
                let at: usize = point.iter().zip(&strides).map(|(p, s)| p * s).sum();
                y.data[at] += bias.data[point[d] * bias.strides[0]];
            });
        }
        y.into_array(y_name)
    }

    /// The gradient of `<y, grad_y>` with respect to one operand or the bias. The
    /// operand's values are not read, only its shape; `grad_y` has the output's shape.
    pub fn gradient<T: Element>(
        &self,
        wrt: Wrt,
        operands: &[ArrayViewD<T>],
        grad_y: ArrayViewD<T>,
    ) -> Result<ArrayD<T>, ShapeError> {
        let extents = self.resolve(operands)?;
        check_output(&extents, self.kernel(), grad_y.shape())?;
        let dense = self.copies(operands)?;
        let grad_y = Dense::from_view(&grad_y, "grad_y")?;
        self.gradient_dense(wrt, &extents, operands, &dense, &grad_y)
    }

    /// The gradients of every operand and of the bias, for the upstream gradient
    /// `grad_y` (shaped like the output).
    pub fn backward<T: Element>(
        &self,
        operands: &[ArrayViewD<T>],
        grad_y: ArrayViewD<T>,
    ) -> Result<Grads<T>, ShapeError> {
        let extents = self.resolve(operands)?;
        check_output(&extents, self.kernel(), grad_y.shape())?;
        let dense = self.copies(operands)?;
        let grad_y = Dense::from_view(&grad_y, "grad_y")?;
        let mut grads = Grads {
            operands: Vec::new(),
            bias: None,
        };
        for gradient in &self.program.gradients {
            let g = self.gradient_dense(gradient.wrt, &extents, operands, &dense, &grad_y)?;
            match gradient.wrt {
                Wrt::Operand(_) => grads.operands.push(g),
                Wrt::Bias => grads.bias = Some(g),
            }
        }
        Ok(grads)
    }

    /// Forward mode: `(y, dy)`, `dy` the tangent of `y` along `tangents` (one per
    /// operand, shaped like it) and `tangent_bias`; see [`Kernel::jvp_dyn`](crate::Kernel::jvp_dyn).
    pub fn jvp<T: Element>(
        &self,
        primals: &[ArrayViewD<T>],
        bias: Option<ArrayViewD<T>>,
        tangents: &[ArrayViewD<T>],
        tangent_bias: Option<ArrayViewD<T>>,
    ) -> Result<crate::kernel::Tangent<T>, ShapeError> {
        crate::second_order::jvp(self, primals, bias, tangents, tangent_bias)
    }

    /// The double backward: the gradient of `sum_i <grad_i, cotangents.operands[i]> +
    /// <grad_bias, cotangents.bias>` with respect to every operand, the bias and
    /// `grad_y`; see [`Kernel::double_backward_dyn`](crate::Kernel::double_backward_dyn).
    pub fn double_backward<T: Element>(
        &self,
        operands: &[ArrayViewD<T>],
        grad_y: ArrayViewD<T>,
        cotangents: &Grads<T>,
    ) -> Result<crate::DoubleGrads<T>, ShapeError> {
        crate::second_order::double_backward(self, operands, grad_y, cotangents.into())
    }

    fn resolve<T>(&self, operands: &[ArrayViewD<T>]) -> Result<Extents, ShapeError> {
        let shapes: Vec<&[usize]> = operands.iter().map(|o| o.shape()).collect();
        resolve(self.kernel(), &shapes)
    }

    /// The operands in f64 (after `resolve`, so there is one per operand of the kernel).
    fn copies<T: Element>(&self, operands: &[ArrayViewD<T>]) -> Result<Vec<Dense>, ShapeError> {
        let names = self.kernel().operands.iter().map(|o| o.name.as_str());
        operands
            .iter()
            .zip(names)
            .map(|(view, name)| Dense::from_view(view, name))
            .collect()
    }

    fn gradient_dense<T: Element>(
        &self,
        wrt: Wrt,
        extents: &Extents,
        operands: &[ArrayViewD<T>],
        dense: &[Dense],
        grad_y: &Dense,
    ) -> Result<ArrayD<T>, ShapeError> {
        let kernel = self.kernel();
        let Some(gradient) = self.program.gradient(wrt) else {
            return Err(ShapeError::OperandCount {
                expected: kernel.operands.len(),
                actual: operands.len(),
            });
        };
        let name = match wrt {
            Wrt::Bias => "grad_bias".to_string(),
            Wrt::Operand(i) => format!("grad_{}", kernel.operands[i].name),
        };
        // The bias's sum runs over the output tensor's axes, which along a window on the
        // output have the output's length rather than the view's.
        let output_extents;
        let extents = match wrt {
            Wrt::Bias if kernel.folds_output() => {
                let shape = extents.output_shape(kernel);
                output_extents = Extents {
                    axes: kernel.output.iter().copied().zip(shape).collect(),
                    windows: Vec::new(),
                };
                &output_extents
            }
            _ => extents,
        };
        let view_grad = contract::contract(
            &gradient.contraction,
            kernel,
            extents,
            dense,
            Some(grad_y),
            &name,
        )?;
        match wrt {
            Wrt::Bias => view_grad.into_array(&name),
            Wrt::Operand(i) => {
                let operand = &kernel.operands[i];
                if gradient.folds.is_empty() {
                    return view_grad.into_array(&name);
                }
                let shape = operands[i].shape().to_vec();
                fold::fold(
                    &view_grad,
                    operand,
                    shape,
                    &gradient.folds,
                    kernel,
                    extents,
                    &name,
                )?
                .into_array(&name)
            }
        }
    }
}

impl<T: Element> crate::second_order::Passes<T> for Interpreter {
    fn kernel(&self) -> &Kernel {
        &self.program.kernel
    }

    fn forward(
        &self,
        operands: &[ArrayViewD<'_, T>],
        bias: Option<ArrayViewD<'_, T>>,
    ) -> Result<ArrayD<T>, ShapeError> {
        Interpreter::forward(self, operands, bias)
    }

    fn gradient(
        &self,
        wrt: Wrt,
        operands: &[ArrayViewD<'_, T>],
        grad_y: ArrayViewD<'_, T>,
    ) -> Result<ArrayD<T>, ShapeError> {
        Interpreter::gradient(self, wrt, operands, grad_y)
    }
}
