//! The issue's layer through burn: a 3x3 convolution, padding 1, x (8, 64, 56, 56), weight
//! (64, 64, 3, 3), bias, on `Device::flex().autodiff()`: the forward pass and forward +
//! backward (grad_x, grad_weight, grad_bias) as a generated kernel and as burn's conv2d,
//! best of 5 each.
//!
//! ```sh
//! cargo run --release -p conv-burn --example burn_layer
//! ```

use burn::tensor::module::conv2d;
use burn::tensor::ops::ConvOptions;
use burn::tensor::{Device, Distribution, Tensor};
use conv_runtime::conv_kernel;
use std::time::Instant;

conv_kernel! {
    pub conv(x, weight) = "nchwkj,dckj->ndhw" {
        unfold x.h by k, pad = 1;
        unfold x.w by j, pad = 1;
        size k = 3, j = 3;
        bias d;
    }
}

type Conv = fn(Tensor<4>, Tensor<4>, Option<Tensor<1>>) -> Tensor<4>;

/// Best of 5: the forward pass alone, then forward and backward.
fn time(f: Conv, device: &Device) -> (f64, f64) {
    let x = Tensor::<4>::random([8, 64, 56, 56], Distribution::Default, device);
    let w = Tensor::<4>::random([64, 64, 3, 3], Distribution::Default, device);
    let b = Tensor::<1>::random([64], Distribution::Default, device);
    let mut best = (f64::MAX, f64::MAX);
    for _ in 0..5 {
        let start = Instant::now();
        let y = f(x.clone(), w.clone(), Some(b.clone()));
        let _ = y.clone().sum().into_scalar::<f32>();
        best.0 = best.0.min(start.elapsed().as_secs_f64());
        let (x, w, b) = (
            x.clone().require_grad(),
            w.clone().require_grad(),
            b.clone().require_grad(),
        );
        let start = Instant::now();
        let grads = f(x.clone(), w.clone(), Some(b.clone())).sum().backward();
        let _ = x.grad(&grads).unwrap().sum().into_scalar::<f32>();
        let _ = w.grad(&grads).unwrap().sum().into_scalar::<f32>();
        let _ = b.grad(&grads).unwrap().sum().into_scalar::<f32>();
        best.1 = best.1.min(start.elapsed().as_secs_f64());
    }
    best
}

fn main() {
    let device = Device::flex().autodiff();
    let ours = time(|x, w, b| conv_burn::apply(conv::Kernel, x, w, b), &device);
    let theirs = time(
        |x, w, b| conv2d(x, w, b, ConvOptions::new([1, 1], [1, 1], [1, 1], 1)),
        &device,
    );
    println!(
        "x (8,64,56,56) w (64,64,3,3), padding 1, bias, burn 0.22 Flex with autodiff, best of 5:"
    );
    println!(
        "  forward:          generated {:.1} ms, burn's conv2d {:.1} ms",
        1e3 * ours.0,
        1e3 * theirs.0
    );
    println!(
        "  forward+backward: generated {:.1} ms, burn's conv2d {:.1} ms",
        1e3 * ours.1,
        1e3 * theirs.1
    );
}
