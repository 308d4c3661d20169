//! The tutorial convolution: "nchwkj,dckj->ndhw", 3x3, stride 2, zero padding 2, with a
//! bias, on x (2,3,5,5) and weight (4,3,3,3). It prints the derivation, the output, the
//! three gradients, and how far they are from finite differences and the adjoint identity.

use conv_kernels::check::check_interpreter;
use conv_kernels::Interpreter;
use ndarray::{ArrayD, IxDyn};

const KERNEL: &str = r#"
    conv2d(x, weight) = "nchwkj,dckj->ndhw" {
        unfold x.h by k, stride = 2, pad = 2;
        unfold x.w by j, stride = 2, pad = 2;
        bias d;
    }
"#;

fn main() {
    let interpreter = match Interpreter::new(KERNEL) {
        Ok(interpreter) => interpreter,
        Err(errors) => {
            eprintln!("{errors}");
            std::process::exit(1);
        }
    };
    println!("{}", interpreter.derivation());
    let x = sample(&[2, 3, 5, 5], 1.0);
    let weight = sample(&[4, 3, 3, 3], 0.5);
    let bias = sample(&[4], 0.25);
    let operands = [x.view(), weight.view()];
    let y = interpreter
        .forward(&operands, Some(bias.view()))
        .expect("shapes fit the kernel");
    println!("y {:?} =\n{y:.4}\n", y.shape());
    let grad_y = sample(y.shape(), 0.75);
    let grads = interpreter
        .backward(&operands, grad_y.view())
        .expect("shapes fit the kernel");
    let names = ["grad_x", "grad_weight"];
    for (name, grad) in names.iter().zip(&grads.operands) {
        println!("{name} {:?} =\n{grad:.4}\n", grad.shape());
    }
    if let Some(grad_bias) = &grads.bias {
        println!("grad_bias = {grad_bias:.4}\n");
    }
    let report = check_interpreter(&interpreter, &[x, weight], Some(&bias), &grad_y)
        .expect("shapes fit the kernel");
    println!("relative errors against independent checks:\n{report}");
}

/// Deterministic values in [-scale, scale), so the printout is the same on every run.
fn sample(shape: &[usize], scale: f64) -> ArrayD<f64> {
    let mut state = 0x2545_f491_4f6c_dd1du64 ^ shape.iter().product::<usize>() as u64;
    ArrayD::from_shape_fn(IxDyn(shape), |_| {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        scale * ((state >> 11) as f64 / (1u64 << 53) as f64 - 0.5) * 2.0
    })
}
