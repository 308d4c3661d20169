//! Channels-last layout, "nhwkjc,kjcd->nhwd": x is (n, h, w, c) and the weight is
//! TensorFlow's (k, j, c, d). The layout is only the order of the letters. The result
//! equals the channels-first kernel run on permuted views of the same arrays (no copies:
//! the kernels take views of any strides), and one output is summed out by hand.

use conv_kernels::conv_kernel;
use ndarray::Array4;

conv_kernel! {
    /// 3x3 convolution, zero padding 1, channels last.
    pub nhwc(x, weight) = "nhwkjc,kjcd->nhwd" {
        unfold x.h by k, pad = 1;
        unfold x.w by j, pad = 1;
        size k = 3, j = 3;
        bias d;
    }
    /// The same convolution, channels first.
    pub nchw(x, weight) = "nchwkj,dckj->ndhw" {
        unfold x.h by k, pad = 1;
        unfold x.w by j, pad = 1;
        size k = 3, j = 3;
        bias d;
    }
}

fn main() -> Result<(), conv_kernels::ShapeError> {
    // Small integers, so every sum is exact in f32.
    let x = Array4::from_shape_fn((2, 5, 4, 3), |(n, h, w, c)| {
        ((n + 7 * h + 3 * w + 2 * c) % 5) as f32 - 2.0
    });
    let weight = Array4::from_shape_fn((3, 3, 3, 4), |(k, j, c, d)| {
        ((k + 2 * j + 5 * c + 3 * d) % 4) as f32 - 1.5
    });
    let bias = ndarray::arr1(&[1.0f32, 0.0, -1.0, 0.5]);
    let y = nhwc::forward(&x, &weight, &bias)?;
    println!(
        "x (n, h, w, c) {:?} -> y (n, h, w, d) {:?}",
        x.shape(),
        y.shape()
    );

    // One output by hand: y[1, 2, 1, 3] = bias[3] + sum over the window and the channels.
    let (n, h, w, d) = (1, 2, 1, 3);
    let mut by_hand = bias[d];
    for k in 0..3 {
        for j in 0..3 {
            for c in 0..3 {
                by_hand += x[[n, h + k - 1, w + j - 1, c]] * weight[[k, j, c, d]];
            }
        }
    }
    println!(
        "y[1, 2, 1, 3] = {}, summed by hand: {by_hand}",
        y[[n, h, w, d]]
    );
    assert_eq!(y[[n, h, w, d]], by_hand);

    // The channels-first kernel on permuted views of the same data.
    let x_nchw = x.view().permuted_axes([0, 3, 1, 2]);
    let w_dckj = weight.view().permuted_axes([3, 2, 0, 1]);
    let y_nchw = nchw::forward(x_nchw, w_dckj, &bias)?;
    let same = y_nchw.view().permuted_axes([0, 2, 3, 1]) == y;
    println!("the channels-first kernel on permuted views gives the same y: {same}");
    assert!(same);
    // And the same gradients, in the other layout.
    let grad_y = y.mapv(|v| v * 0.5 - 1.0);
    let g = nhwc::backward(&x, &weight, &grad_y)?;
    let g_nchw = nchw::backward(x_nchw, w_dckj, grad_y.view().permuted_axes([0, 3, 1, 2]))?;
    let same = g_nchw.x.view().permuted_axes([0, 2, 3, 1]) == g.x
        && g_nchw.weight.view().permuted_axes([2, 3, 1, 0]) == g.weight
        && g_nchw.bias == g.bias;
    println!("and the same grad_x, grad_weight and grad_bias: {same}\n");
    assert!(same);

    let shapes: [&[usize]; 2] = [&[2, 6, 5, 3], &[3, 3, 3, 4]];
    let report = conv_kernels::check::check(&nhwc::Kernel, &shapes, 9)?;
    println!("largest relative errors of the generated f32 kernels:\n{report}");
    assert!(report.worst() < 1e-2);
    Ok(())
}
