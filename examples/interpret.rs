//! The reference interpreter on a kernel given on the command line: no macro, no
//! recompiling. Parses the kernel text, fills operands of the given shapes with small
//! integers (the same on every run), and prints the derivation, the operands, the forward
//! result and, for grad_y = 1, the gradient of every operand and of the bias. A kernel
//! with errors prints each error under the text and exits with status 1.
//!
//! What it prints is asserted against what shares no code with the interpreter's
//! contractions: the forward result against the sum over every index that the spec and
//! the unfolds define, written out below, and every gradient against central finite
//! differences of the forward result. With small integers both are exact, so they are
//! compared exactly. (Both loop over every point, as the interpreter does: small shapes.)
//!
//! ```sh
//! cargo run --example interpret -- 'k(a, b) = "ik,kj->ij";' 2x3 3x4
//! cargo run --example interpret -- 'c(x, w) = "nctk,dck->ndt" { unfold x.t by k, stride = 2; bias d; }' 1x2x7 3x2x3
//! ```

use conv_kernels::check::finite_difference;
use conv_kernels::shapes::Extents;
use conv_kernels::{Interpreter, ShapeError, TextErrors};
use ndarray::{ArrayD, ArrayViewD, IxDyn};
use std::process::ExitCode;

const USAGE: &str = "usage: interpret '<kernel text>' SHAPE... (one shape per operand, e.g. 2x3)";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some((text, shapes)) = args.split_first() else {
        eprintln!("{USAGE}");
        return ExitCode::from(2);
    };
    let interpreter = match Interpreter::new(text) {
        Ok(interpreter) => interpreter,
        Err(errors) => {
            report(text, &errors);
            return ExitCode::FAILURE;
        }
    };
    let shapes: Result<Vec<Vec<usize>>, _> = shapes
        .iter()
        .map(|s| s.split('x').map(str::parse).collect())
        .collect();
    let Ok(shapes) = shapes else {
        eprintln!("error: a shape is lengths joined by 'x', e.g. 2x3x5\n{USAGE}");
        return ExitCode::from(2);
    };
    match run(&interpreter, &shapes) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Each error, with the line of the text it is on and a marker under the columns at fault.
fn report(text: &str, errors: &TextErrors) {
    for e in &errors.0 {
        eprintln!("error: {e}");
        if let Some(line) = text.lines().nth(e.line.saturating_sub(1)) {
            let width = if e.end_line == e.line {
                e.end_column.saturating_sub(e.column)
            } else {
                1
            };
            eprintln!(
                "  {line}\n  {}{}",
                " ".repeat(e.column),
                "^".repeat(width.max(1))
            );
        }
    }
}

/// Small integers in [-2, 2] that differ from operand to operand.
fn fill(shape: &[usize], seed: usize) -> ArrayD<f64> {
    let mut i = 0;
    ArrayD::from_shape_simple_fn(IxDyn(shape), || {
        i += 1;
        ((i * 7 + seed * 3) % 5) as f64 - 2.0
    })
}

fn run(interpreter: &Interpreter, shapes: &[Vec<usize>]) -> Result<(), ShapeError> {
    let kernel = interpreter.kernel();
    let refs: Vec<&[usize]> = shapes.iter().map(Vec::as_slice).collect();
    let extents = interpreter.extents(&refs)?;
    let derivation = interpreter.derivation();
    println!("{derivation}");
    for operand in &kernel.operands {
        let name = format!("grad_{}", operand.name);
        assert!(derivation.contains(&name), "the derivation has no {name}");
    }
    if kernel.bias.is_some() {
        assert!(
            derivation.contains("grad_bias"),
            "the derivation has no grad_bias"
        );
    }
    let operands: Vec<ArrayD<f64>> = shapes.iter().enumerate().map(|(i, s)| fill(s, i)).collect();
    for (operand, value) in kernel.operands.iter().zip(&operands) {
        println!("{} {:?} =\n{value}\n", operand.name, value.shape());
    }
    let bias = kernel.bias.map(|axis| {
        let bias = ArrayD::from_shape_fn(IxDyn(&[extents.of(axis)]), |i| i[0] as f64);
        println!("bias {:?} = {bias}\n", bias.shape());
        bias
    });
    let views: Vec<ArrayViewD<f64>> = operands.iter().map(|a| a.view()).collect();
    let y = interpreter.forward(&views, bias.as_ref().map(|b| b.view()))?;
    println!("y {:?} =\n{y}\n", y.shape());
    assert_eq!(
        y,
        by_definition(interpreter, &extents, &operands, bias.as_ref())
    );

    let ones = ArrayD::ones(y.shape());
    let grads = interpreter.backward(&views, ones.view())?;
    // y as a function of every operand and the bias; finite differences of <y, grad_y>.
    let n = operands.len();
    let forward = |inputs: &[ArrayD<f64>]| {
        let views: Vec<ArrayViewD<f64>> = inputs[..n].iter().map(|a| a.view()).collect();
        let bias = inputs.get(n).map(|b| b.view());
        interpreter.forward(&views, bias).expect("the shapes fit")
    };
    let mut inputs = operands.clone();
    inputs.extend(bias.clone());
    // y is linear in each input and every value an integer: differences with step 1 are
    // exact.
    let numeric = |wrt| finite_difference(forward, &inputs, &ones, wrt, 1.0);
    println!("gradients for grad_y = 1:");
    for (i, (operand, grad)) in kernel.operands.iter().zip(&grads.operands).enumerate() {
        println!("grad_{} {:?} =\n{grad}\n", operand.name, grad.shape());
        assert_eq!(*grad, numeric(i), "grad_{}", operand.name);
    }
    assert_eq!(grads.bias.is_some(), bias.is_some());
    if let Some(grad) = grads.bias {
        println!("grad_bias {:?} = {grad}", grad.shape());
        assert_eq!(grad, numeric(n), "grad_bias");
    }
    println!(
        "\n(y equals the sum over every index by the definition, and every gradient the \
         central finite differences of y)"
    );
    Ok(())
}

/// The forward result by the definition: for every value of every axis of the spec, the
/// product of the operands' entries, added to the output entry of the output axes' values
/// (which starts at the bias). An unfolded axis `a` with window `k` reads its operand at
/// input position `a * stride + k * dilation - pad_lo`, through the padding mode; its view
/// has `floor((len + lo + hi - span) / stride) + 1` positions (checked against the
/// extents the interpreter resolved, whose paddings this takes).
fn by_definition(
    interpreter: &Interpreter,
    extents: &Extents,
    operands: &[ArrayD<f64>],
    bias: Option<&ArrayD<f64>>,
) -> ArrayD<f64> {
    let kernel = interpreter.kernel();
    for (window, g) in kernel.windows.iter().zip(&extents.windows) {
        assert_eq!(g.span, window.dilation * (g.window - 1) + 1);
        let out = (g.len + g.lo + g.hi - g.span) / window.stride + 1;
        assert_eq!(
            extents.of(window.axis),
            out,
            "the view length along {}",
            window.axis
        );
    }
    let axes = kernel.axes();
    let value = |point: &IxDyn, axis: char| point[axes.iter().position(|&a| a == axis).unwrap()];
    let mut y = ArrayD::zeros(IxDyn(&extents.shape(&kernel.output)));
    if let (Some(axis), Some(bias)) = (kernel.bias, bias) {
        let at = kernel.output.iter().position(|&a| a == axis).unwrap();
        for (index, v) in y.indexed_iter_mut() {
            *v = bias[IxDyn(&[index[at]])];
        }
    }
    'points: for point in ndarray::indices(IxDyn(&extents.shape(&axes))) {
        let mut term = 1.0;
        for (i, (operand, array)) in kernel.operands.iter().zip(operands).enumerate() {
            let mut index = Vec::new();
            for &axis in &operand.physical {
                let unfold = kernel
                    .windows
                    .iter()
                    .zip(&extents.windows)
                    .find(|(w, _)| w.operand == i && w.axis == axis);
                let Some((w, g)) = unfold else {
                    index.push(value(&point, axis));
                    continue;
                };
                let padded = value(&point, axis) * w.stride + value(&point, w.window) * w.dilation;
                match input_position(padded as isize - g.lo as isize, g.len, w.mode.name()) {
                    Some(p) => index.push(p),
                    None => continue 'points, // a term of zero padding
                }
            }
            term *= array[IxDyn(&index)];
        }
        let out: Vec<usize> = kernel.output.iter().map(|&a| value(&point, a)).collect();
        y[IxDyn(&out)] += term;
    }
    y
}

/// The input position that position `q` (relative to the input's start) of an input of
/// length `len` padded in `mode` reads, or `None` for zero padding.
fn input_position(q: isize, len: usize, mode: &str) -> Option<usize> {
    let last = len as isize - 1;
    let p = match mode {
        _ if (0..=last).contains(&q) => q,
        "zeros" => return None,
        "replicate" => q.clamp(0, last),
        // [c b | a b c d | c b]: the edge is not repeated.
        "reflect" if q < 0 => -q,
        "reflect" => 2 * last - q,
        "circular" => q.rem_euclid(len as isize),
        other => unreachable!("no padding mode {other}"),
    };
    Some(p as usize)
}
