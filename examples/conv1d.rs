//! A 1-D convolution, "nctk,dck->ndt" with zero padding 1: the forward result and both
//! gradients of a case small enough to check by hand, then the generated kernel (with a
//! bias) against the reference interpreter and finite differences on a larger shape.

use conv_kernels::conv_kernel;
use ndarray::{array, Array3};

conv_kernel! {
    /// 1-D convolution, window 3, zero padding 1 (the output is as long as the input).
    pub conv1d(x, weight) = "nctk,dck->ndt" {
        unfold x.t by k, pad = 1;
        size k = 3;
    }
    /// The same with a bias, for the check on random inputs.
    pub conv1d_bias(x, weight) = "nctk,dck->ndt" {
        unfold x.t by k, pad = 1;
        bias d;
    }
}

fn main() -> Result<(), conv_kernels::ShapeError> {
    // y[t] = sum_k w[k] * x_padded[t + k] = x[t - 1] - x[t + 1]: a central difference.
    let x = array![[[1.0f32, 2.0, 4.0, 7.0, 11.0, 16.0]]];
    let weight = array![[[1.0f32, 0.0, -1.0]]];
    let y = conv1d::forward(&x, &weight)?;
    println!("x      = {}", x);
    println!("weight = {}", weight);
    println!("y      = {}   (x[t-1] - x[t+1], with x[-1] = x[6] = 0)", y);
    assert_eq!(y, array![[[-2.0, -3.0, -5.0, -7.0, -9.0, 11.0]]]);

    // With grad_y = 1 everywhere, grad_x[p] sums the weights of the taps that read x[p]:
    // all three in the interior (0), only w[0] and w[1] at p = 0, w[1] and w[2] at p = 5.
    let grad_y = Array3::<f32>::ones(y.raw_dim());
    let grads = conv1d::backward(&x, &weight, &grad_y)?;
    println!("grad_x      = {}   (1 = w0 + w1, -1 = w1 + w2)", grads.x);
    assert_eq!(grads.x, array![[[1.0, 0.0, 0.0, 0.0, 0.0, -1.0]]]);
    // grad_weight[k] sums the padded input under tap k: x_padded[k..k + 6].
    println!(
        "grad_weight = {}   (0+1+2+4+7+11, 1+...+16, 2+...+16+0)",
        grads.weight
    );
    assert_eq!(grads.weight, array![[[25.0, 41.0, 40.0]]]);

    // Any batch, channel count and length: x (2, 3, 10), weight (4, 3, 5) -> y (2, 4, 8).
    println!(
        "\noutput shape for x (2, 3, 10), weight (4, 3, 5): {:?}",
        conv1d_bias::output_shape([2, 3, 10], [4, 3, 5])?
    );
    let report = conv_kernels::check::check(&conv1d_bias::Kernel, &[&[2, 3, 10], &[4, 3, 5]], 1)?;
    println!("largest relative errors of the generated f32 kernels:\n{report}");
    assert!(report.worst() < 1e-2);
    Ok(())
}
