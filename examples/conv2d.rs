//! The tutorial convolution: "nchwkj,dckj->ndhw", 3x3, stride 2, zero padding 2, with a
//! bias, on x (2,3,5,5) and weight (4,3,3,3). Prints the derivation, the output, the
//! three gradients, and how far the generated kernels are from the reference interpreter
//! and from finite differences.

use conv_kernels::conv_kernel;
use ndarray::{Array, Dimension, ShapeBuilder};

conv_kernel! {
    /// 3x3 convolution, stride 2, zero padding 2, with a bias.
    pub conv2d(x, weight) = "nchwkj,dckj->ndhw" {
        unfold x.h by k, stride = 2, pad = 2;
        unfold x.w by j, stride = 2, pad = 2;
        size k = 3, j = 3;
        bias d;
    }
}

fn main() -> Result<(), conv_kernels::ShapeError> {
    println!("{}", conv2d::DERIVATION);
    let x = sample((2, 3, 5, 5), 1.0);
    let weight = sample((4, 3, 3, 3), 0.5);
    let bias = sample(4, 0.25);
    let y = conv2d::forward(&x, &weight, &bias)?;
    println!("y {:?} =\n{y:.4}\n", y.shape());
    let grad_y = sample(y.raw_dim(), 0.75);
    let grads = conv2d::backward(&x, &weight, &grad_y)?;
    println!("grad_x {:?} =\n{:.4}\n", grads.x.shape(), grads.x);
    println!(
        "grad_weight {:?} =\n{:.4}\n",
        grads.weight.shape(),
        grads.weight
    );
    println!("grad_bias = {:.4}\n", grads.bias);
    let report = conv_kernels::check::check(&conv2d::Kernel, &[x.shape(), weight.shape()], 1)?;
    println!("largest relative errors of the generated f32 kernels:\n{report}");
    Ok(())
}

/// Deterministic values in [-scale, scale), so the printout is the same on every run.
fn sample<Sh: ShapeBuilder>(shape: Sh, scale: f32) -> Array<f32, Sh::Dim>
where
    Sh::Dim: Dimension,
{
    let mut state = 0x2545_f491_4f6c_dd1du64 ^ u64::from(scale.to_bits());
    Array::from_shape_simple_fn(shape, || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        scale * ((state >> 40) as f32 / (1u64 << 24) as f32 * 2.0 - 1.0)
    })
}
