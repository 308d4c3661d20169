//! A depthwise convolution, "nchwkj,ckj->nchw": the channel axis c is in the weight and in
//! the output and is not summed, so each channel is filtered by its own 3x3 window and
//! channels never mix. No option does this; it is the index structure of the spec.

use conv_kernels::conv_kernel;
use ndarray::{arr2, s, Array3, Array4};

conv_kernel! {
    /// Depthwise 3x3 convolution, zero padding 1, with a bias per channel.
    pub depthwise(x, weight) = "nchwkj,ckj->nchw" {
        unfold x.h by k, pad = 1;
        unfold x.w by j, pad = 1;
        size k = 3, j = 3;
        bias c;
    }
}

fn main() -> Result<(), conv_kernels::ShapeError> {
    // Channel 0 holds ones, channel 1 tens. Channel 0's filter is the identity (only the
    // centre tap), channel 1's sums the 3x3 neighbourhood.
    let mut x = Array4::<f32>::ones((1, 2, 3, 3));
    x.slice_mut(s![0, 1, .., ..]).fill(10.0);
    let mut weight = Array3::<f32>::zeros((2, 3, 3));
    weight[[0, 1, 1]] = 1.0;
    weight.slice_mut(s![1, .., ..]).fill(1.0);
    let bias = ndarray::arr1(&[0.0f32, 0.5]);
    let y = depthwise::forward(&x, &weight, &bias)?;
    println!(
        "channel 0 (identity filter) =\n{}",
        y.slice(s![0, 0, .., ..])
    );
    println!(
        "channel 1 (3x3 sum of tens, + 0.5) =\n{}",
        y.slice(s![0, 1, .., ..])
    );
    assert!(y.slice(s![0, 0, .., ..]).iter().all(|&v| v == 1.0));
    let sums = arr2(&[[40.5, 60.5, 40.5], [60.5, 90.5, 60.5], [40.5, 60.5, 40.5]]);
    assert_eq!(y.slice(s![0, 1, .., ..]), sums);

    // grad_weight[c] only sees channel c: with grad_y = 1, each tap sums the ones
    // (channel 0) or tens (channel 1) it reads: 9 at the centre tap, 4 at a corner.
    let grads = depthwise::backward(&x, &weight, &Array4::<f32>::ones(y.raw_dim()))?;
    println!("grad_weight[0] =\n{}", grads.weight.slice(s![0, .., ..]));
    println!("grad_weight[1] =\n{}", grads.weight.slice(s![1, .., ..]));
    println!("grad_bias = {}   (9 outputs per channel)\n", grads.bias);
    assert_eq!(grads.weight[[1, 0, 0]], 40.0);
    assert_eq!(grads.bias, ndarray::arr1(&[9.0, 9.0]));

    let shapes: [&[usize]; 2] = [&[2, 4, 7, 6], &[4, 3, 3]];
    let report = conv_kernels::check::check(&depthwise::Kernel, &shapes, 5)?;
    println!(
        "x {:?}, weight {:?}: largest relative errors of the generated f32 kernels:\n{report}",
        shapes[0], shapes[1]
    );
    assert!(report.worst() < 1e-2);
    Ok(())
}
