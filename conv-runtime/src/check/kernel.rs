//! `check`: a generated kernel against the reference interpreter and finite differences.

use super::{finite_difference, inner, max_error};
use crate::{DoubleGrads, Element, Grads, Interpreter, Kernel, ShapeError, Tangent, Wrt};
use ndarray::{ArrayD, ArrayViewD, IxDyn, Zip};
use std::fmt;

/// How far one result of a kernel is from its references, relative to its magnitude.
#[derive(Clone, Debug, PartialEq)]
pub struct KernelCheck {
    /// `forward`, `grad_<operand>`, `grad_bias`, `jvp` or `double_backward`.
    pub name: String,
    /// Largest difference to the interpreter (which accumulates in f64); for `jvp` and
    /// `double_backward` the largest over every result they return.
    pub vs_interpreter: f64,
    /// Largest difference to central finite differences (all but `forward`): of the
    /// kernel's own forward for the gradients and `jvp`, of its own gradients for
    /// `double_backward` (see [`check`]).
    pub vs_finite_differences: Option<f64>,
}

/// What [`check`] found: one entry for the forward result, one per gradient, one for
/// forward mode and one for the double backward. `Display` prints one line per entry.
#[derive(Clone, Debug, PartialEq)]
pub struct KernelReport {
    /// `forward` first, then every operand's gradient in order, then the bias's, then
    /// `jvp` and `double_backward`.
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
/// Two more entries cover what is composed from those passes:
///
/// - `jvp`: [`Kernel::jvp_dyn`] along random tangents (of every operand and the bias)
///   against [`Interpreter::jvp`], and its tangent `dy` against central differences of
///   the kernel's own forward along the tangents, `(f(v + h t) - f(v - h t)) / 2h`. That
///   is exact up to rounding for one or two operands (`f` is then at most quadratic in
///   `h`); with more, differences at `h`, `h/2`, ... are extrapolated to a step of 0
///   (Richardson), which is exact too, as `f(v + h t)` is a polynomial in `h`.
/// - `double_backward`: [`Kernel::double_backward_dyn`] for random cotangents `c`
///   against [`Interpreter::double_backward`], and each result against a directional
///   derivative of `s(v, grad_y) = sum_i <grad_i(v, grad_y), c_i> + <grad_bias, c_b>`,
///   computed with the kernel's own gradients: along a random direction `u` of one
///   operand (or of `grad_y`), `<dd, u>` against `(s(v + h u) - s(v - h u)) / 2h`, which
///   is exact up to rounding as `s` is linear in each. The error of a directional
///   derivative is relative to `|dd|·|u|/√N`, the typical magnitude of `<dd, u>` for a
///   random `u` of `N` entries (so about `|error of dd| / |dd|`).
///
/// Errors are relative to the magnitude of the compared tensors; for f32 kernels expect
/// about 1e-6 against the interpreter and 1e-3 against finite differences (whose steps
/// are rounded to f32), for f64 about 1e-12 and 1e-9.
///
/// The interpreter shares the derivation with the kernel but none of its code; finite
/// differences share nothing with either. A bias, if the kernel has one, is random too,
/// as are the tangents and cotangents. The error is a [`ShapeError`] when the shapes do
/// not fit the kernel.
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
/// assert_eq!(
///     names,
///     ["forward", "grad_x", "grad_weight", "grad_bias", "jvp", "double_backward"]
/// );
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
    let jvp = |primals: &[ArrayD<f64>],
               bias: Option<&ArrayD<f64>>,
               tangents: &[ArrayD<f64>],
               tangent_bias: Option<&ArrayD<f64>>| {
        let primals: Vec<ArrayD<K::Elem>> = primals.iter().map(narrow).collect();
        let tangents: Vec<ArrayD<K::Elem>> = tangents.iter().map(narrow).collect();
        let (bias, tangent_bias) = (bias.map(narrow), tangent_bias.map(narrow));
        let (y, dy) = kernel.jvp_dyn(
            &primals.iter().map(|a| a.view()).collect::<Vec<_>>(),
            bias.as_ref().map(|b| b.view()),
            &tangents.iter().map(|a| a.view()).collect::<Vec<_>>(),
            tangent_bias.as_ref().map(|b| b.view()),
        )?;
        Ok((y.mapv(Element::to_f64), dy.mapv(Element::to_f64)))
    };
    let double_backward = |operands: &[ArrayD<f64>],
                           grad_y: &ArrayD<f64>,
                           cotangents: &Grads<f64>| {
        let operands: Vec<ArrayD<K::Elem>> = operands.iter().map(narrow).collect();
        let views: Vec<ArrayViewD<K::Elem>> = operands.iter().map(|a| a.view()).collect();
        let cotangents = Grads {
            operands: cotangents.operands.iter().map(narrow).collect(),
            bias: cotangents.bias.as_ref().map(narrow),
        };
        let dd =
            kernel.double_backward_dyn(&views, narrow::<K::Elem>(grad_y).view(), &cotangents)?;
        Ok(DoubleGrads {
            operands: dd
                .operands
                .iter()
                .map(|a| a.mapv(Element::to_f64))
                .collect(),
            bias: dd.bias.map(|b| b.mapv(Element::to_f64)),
            grad_y: dd.grad_y.mapv(Element::to_f64),
        })
    };
    let elem = Elem {
        name: K::Elem::NAME,
        round: |v| K::Elem::from_f64(v).to_f64(),
    };
    let passes = Passes {
        forward: &forward,
        gradient: &gradient,
        jvp: &jvp,
        double_backward: &double_backward,
    };
    check_f64(kernel.facts(), elem, &passes, shapes, seed)
}

/// The forward result of a kernel from its operands and bias, all in f64.
type Forward<'a> =
    dyn Fn(&[ArrayD<f64>], Option<&ArrayD<f64>>) -> Result<ArrayD<f64>, ShapeError> + 'a;
/// A gradient of a kernel from its operands and `grad_y`, all in f64.
type Gradient<'a> =
    dyn Fn(Wrt, &[ArrayD<f64>], &ArrayD<f64>) -> Result<ArrayD<f64>, ShapeError> + 'a;
/// A kernel's `jvp_dyn` from primals, bias, tangents and the bias's tangent, all in f64.
type Jvp<'a> = dyn Fn(
        &[ArrayD<f64>],
        Option<&ArrayD<f64>>,
        &[ArrayD<f64>],
        Option<&ArrayD<f64>>,
    ) -> Result<Tangent<f64>, ShapeError>
    + 'a;
/// A kernel's `double_backward_dyn` from operands, `grad_y` and cotangents, all in f64.
type DoubleBackward<'a> =
    dyn Fn(&[ArrayD<f64>], &ArrayD<f64>, &Grads<f64>) -> Result<DoubleGrads<f64>, ShapeError> + 'a;

/// A kernel's passes, seen through f64 arrays.
struct Passes<'a> {
    forward: &'a Forward<'a>,
    gradient: &'a Gradient<'a>,
    jvp: &'a Jvp<'a>,
    double_backward: &'a DoubleBackward<'a>,
}

/// A kernel's element type: its name and the rounding of an f64 to it.
struct Elem {
    name: &'static str,
    round: fn(f64) -> f64,
}

/// [`check`] of a kernel seen through f64 arrays.
fn check_f64(
    facts: &conv_model::facts::Facts,
    elem: Elem,
    kernel: &Passes<'_>,
    shapes: &[&[usize]],
    seed: u64,
) -> Result<KernelReport, ShapeError> {
    let (kernel_forward, kernel_gradient) = (kernel.forward, kernel.gradient);
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
    // Drawn after everything above, which therefore sees the same values as before
    // these two entries existed.
    let mut direction: Vec<ArrayD<f64>> =
        shapes.iter().map(|s| random.array(s, elem.round)).collect();
    direction.extend(bias.as_ref().map(|b| random.array(b.shape(), elem.round)));
    entries.push(check_jvp(&interpreter, kernel, n, &all, &direction, step)?);
    let cotangents = Grads {
        operands: shapes.iter().map(|s| random.array(s, elem.round)).collect(),
        bias: bias.as_ref().map(|b| random.array(b.shape(), elem.round)),
    };
    let directions: Vec<ArrayD<f64>> = shapes
        .iter()
        .copied()
        .chain([grad_y.shape()])
        .map(|s| random.array(s, elem.round))
        .collect();
    entries.push(check_double_backward(
        &interpreter,
        kernel,
        (&inputs, &grad_y),
        &cotangents,
        &directions,
        step,
    )?);
    Ok(KernelReport { entries })
}

/// The `jvp` entry. `values` are the `n` operands followed by the bias if any,
/// `direction` their tangents in the same order.
fn check_jvp(
    interpreter: &Interpreter,
    kernel: &Passes<'_>,
    n: usize,
    values: &[ArrayD<f64>],
    direction: &[ArrayD<f64>],
    step: f64,
) -> Result<KernelCheck, ShapeError> {
    let (primals, bias) = (&values[..n], values.get(n));
    let (tangents, tangent_bias) = (&direction[..n], direction.get(n));
    let (y, dy) = (kernel.jvp)(primals, bias, tangents, tangent_bias)?;
    fn views(a: &[ArrayD<f64>]) -> Vec<ArrayViewD<'_, f64>> {
        a.iter().map(|a| a.view()).collect()
    }
    let (y_ref, dy_ref) = interpreter.jvp(
        &views(primals),
        bias.map(|b| b.view()),
        &views(tangents),
        tangent_bias.map(|b| b.view()),
    )?;
    // Every value and its tangent, moved together by `h`.
    let forward = |h: f64| -> Result<ArrayD<f64>, ShapeError> {
        let moved: Vec<ArrayD<f64>> = values
            .iter()
            .zip(direction)
            .map(|(v, t)| v + &(t * h))
            .collect();
        (kernel.forward)(&moved[..n], moved.get(n))
    };
    // `f(v + h t)` is a polynomial of degree n in h: its central difference is one of
    // degree (n - 1) / 2 in h², extrapolated to 0 from that many more steps.
    let steps: Vec<f64> = (0..=(n.max(1) - 1) / 2)
        .map(|j| step / f64::from(1u32 << j))
        .collect();
    let mut differences = Vec::with_capacity(steps.len());
    for &h in &steps {
        differences.push((forward(h)? - forward(-h)?) / (2.0 * h));
    }
    let numeric = extrapolate_to_zero(&steps, &differences);
    Ok(KernelCheck {
        name: "jvp".into(),
        vs_interpreter: worse(max_error(&y, &y_ref).1, max_error(&dy, &dy_ref).1),
        vs_finite_differences: Some(max_error(&dy, &numeric).1),
    })
}

/// The value at a step of 0 of an even polynomial in the step through
/// `(steps[j], values[j])` (Lagrange in `h²`); `values[0]` for one step.
fn extrapolate_to_zero(steps: &[f64], values: &[ArrayD<f64>]) -> ArrayD<f64> {
    let squares: Vec<f64> = steps.iter().map(|h| h * h).collect();
    let mut sum = ArrayD::zeros(values[0].raw_dim());
    for (j, value) in values.iter().enumerate() {
        let weight: f64 = (0..squares.len())
            .filter(|&i| i != j)
            .map(|i| squares[i] / (squares[i] - squares[j]))
            .product();
        Zip::from(&mut sum)
            .and(value)
            .for_each(|s, &v| *s += weight * v);
    }
    sum
}

/// The `double_backward` entry: `directions` holds one per operand, then one for
/// `grad_y`.
fn check_double_backward(
    interpreter: &Interpreter,
    kernel: &Passes<'_>,
    (operands, grad_y): (&[ArrayD<f64>], &ArrayD<f64>),
    cotangents: &Grads<f64>,
    directions: &[ArrayD<f64>],
    step: f64,
) -> Result<KernelCheck, ShapeError> {
    let n = operands.len();
    let dd = (kernel.double_backward)(operands, grad_y, cotangents)?;
    let views: Vec<ArrayViewD<f64>> = operands.iter().map(|a| a.view()).collect();
    let reference = interpreter.double_backward(&views, grad_y.view(), cotangents)?;
    let mut vs_interpreter = max_error(&dd.grad_y, &reference.grad_y).1;
    for (got, expected) in dd.operands.iter().zip(&reference.operands) {
        vs_interpreter = worse(vs_interpreter, max_error(got, expected).1);
    }
    match (&dd.bias, &reference.bias) {
        (Some(got), Some(expected)) => {
            vs_interpreter = worse(vs_interpreter, max_error(got, expected).1);
        }
        (None, None) => {}
        _ => vs_interpreter = f64::INFINITY,
    }
    // s(v, grad_y) from the kernel's own first-order gradients.
    let s = |operands: &[ArrayD<f64>], grad_y: &ArrayD<f64>| -> Result<f64, ShapeError> {
        let mut sum = 0.0;
        for (i, c) in cotangents.operands.iter().enumerate() {
            sum += inner(&(kernel.gradient)(Wrt::Operand(i), operands, grad_y)?, c);
        }
        if let Some(c) = &cotangents.bias {
            sum += inner(&(kernel.gradient)(Wrt::Bias, operands, grad_y)?, c);
        }
        Ok(sum)
    };
    let norm = |a: &ArrayD<f64>| inner(a, a).sqrt();
    // `<dd, u>` against `(s(+h u) - s(-h u)) / 2h`, relative to |dd|·|u|/√N, the
    // typical magnitude of `<dd, u>` for a random `u` of N entries: an error `e` in `dd`
    // moves `<dd, u>` by about |e|·|u|/√N, so this is about |e| / |dd|.
    let directional = |dd: &ArrayD<f64>, u: &ArrayD<f64>, up: f64, down: f64| {
        let gap = (inner(dd, u) - (up - down) / (2.0 * step)).abs();
        let scale = norm(dd) * norm(u) / (u.len().max(1) as f64).sqrt();
        if dd.shape() != u.shape() {
            f64::INFINITY
        } else if scale == 0.0 {
            gap
        } else {
            gap / scale
        }
    };
    let mut vs_finite_differences = 0.0f64;
    for (i, u) in directions[..n].iter().enumerate() {
        let mut moved = operands.to_vec();
        moved[i] = &operands[i] + &(u * step);
        let up = s(&moved, grad_y)?;
        moved[i] = &operands[i] - &(u * step);
        let down = s(&moved, grad_y)?;
        vs_finite_differences = worse(
            vs_finite_differences,
            directional(&dd.operands[i], u, up, down),
        );
    }
    let u = &directions[n];
    let up = s(operands, &(grad_y + &(u * step)))?;
    let down = s(operands, &(grad_y - &(u * step)))?;
    vs_finite_differences = worse(vs_finite_differences, directional(&dd.grad_y, u, up, down));
    Ok(KernelCheck {
        name: "double_backward".into(),
        vs_interpreter,
        vs_finite_differences: Some(vs_finite_differences),
    })
}

/// The larger of two errors, NaN if either is.
fn worse(a: f64, b: f64) -> f64 {
    if a.is_nan() || b.is_nan() {
        f64::NAN
    } else {
        a.max(b)
    }
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
