//! The reference interpreter on a kernel given on the command line: no macro, no
//! recompiling. Parses the kernel text, fills operands of the given shapes with small
//! integers (the same on every run), and prints the derivation, the operands, the forward
//! result and, for grad_y = 1, the gradient of every operand and of the bias. A kernel
//! with errors prints each error under the text and exits with status 1.
//!
//! ```sh
//! cargo run --example interpret -- 'k(a, b) = "ik,kj->ij";' 2x3 3x4
//! cargo run --example interpret -- 'c(x, w) = "nctk,dck->ndt" { unfold x.t by k, stride = 2; bias d; }' 1x2x7 3x2x3
//! ```

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
    println!("{}", interpreter.derivation());
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
    let grads = interpreter.backward(&views, ArrayD::ones(y.shape()).view())?;
    println!("gradients for grad_y = 1:");
    for (operand, grad) in kernel.operands.iter().zip(&grads.operands) {
        println!("grad_{} {:?} =\n{grad}\n", operand.name, grad.shape());
    }
    if let Some(grad) = grads.bias {
        println!("grad_bias {:?} = {grad}", grad.shape());
    }
    Ok(())
}
