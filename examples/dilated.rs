//! A dilated convolution: `dilation = 2` spaces the taps of a 3x3 window two apart, so it
//! covers 5x5 (`view[a, k] = x[a + 2k]`). With only the four corner taps set, each output
//! is a sum of four inputs four apart, and the gradient shows which inputs are never read.

use conv_kernels::conv_kernel;
use ndarray::{s, Array4};

conv_kernel! {
    /// 3x3 convolution, dilation 2, no padding.
    pub dilated(x, weight) = "nchwkj,dckj->ndhw" {
        unfold x.h by k, dilation = 2;
        unfold x.w by j, dilation = 2;
        size k = 3, j = 3;
    }
    /// Dilation 2 with stride 2, zero padding 2 and a bias, for the check.
    pub dilated_s2(x, weight) = "nchwkj,dckj->ndhw" {
        unfold x.h by k, stride = 2, dilation = 2, pad = 2;
        unfold x.w by j, stride = 2, dilation = 2, pad = 2;
        bias d;
    }
}

fn main() -> Result<(), conv_kernels::ShapeError> {
    // x[h, w] = 10 h + w on 7x7: the output is 7 - 2 * (3 - 1) = 3 long on each axis.
    let x = Array4::from_shape_fn((1, 1, 7, 7), |(_, _, h, w)| (10 * h + w) as f32);
    let mut weight = Array4::<f32>::zeros((1, 1, 3, 3));
    for (k, j) in [(0, 0), (0, 2), (2, 0), (2, 2)] {
        weight[[0, 0, k, j]] = 1.0;
    }
    let y = dilated::forward(&x, &weight)?;
    // y[h, w] = x[h, w] + x[h, w + 4] + x[h + 4, w] + x[h + 4, w + 4] = 40 h + 4 w + 88.
    println!("y =\n{}\n(40 h + 4 w + 88)", y.slice(s![0, 0, .., ..]));
    let expected = Array4::from_shape_fn((1, 1, 3, 3), |(_, _, h, w)| (40 * h + 4 * w + 88) as f32);
    assert_eq!(y, expected);

    // With grad_y = 1, grad_x counts how often each input is read: the corner taps at
    // offsets 0 and 4 read rows and columns 0-2 and 4-6, never row or column 3.
    let grad_x = dilated::grad_x([1, 1, 7, 7], &weight, &Array4::<f32>::ones((1, 1, 3, 3)))?;
    println!(
        "grad_x (grad_y = 1) =\n{}\n",
        grad_x.slice(s![0, 0, .., ..])
    );
    assert!(grad_x.slice(s![0, 0, 3, ..]).iter().all(|&v| v == 0.0));
    assert_eq!(grad_x.sum(), 36.0);

    // x (2, 3, 9, 8), weight (4, 3, 3, 3): (9 + 4 - 4 - 1) / 2 + 1 = 5, (8 + 4 - 4 - 1) / 2 + 1 = 4.
    let shapes: [&[usize]; 2] = [&[2, 3, 9, 8], &[4, 3, 3, 3]];
    println!(
        "stride 2, dilation 2, pad 2: x {:?}, weight {:?} -> y {:?}",
        shapes[0],
        shapes[1],
        dilated_s2::output_shape([2, 3, 9, 8], [4, 3, 3, 3])?
    );
    let report = conv_kernels::check::check(&dilated_s2::Kernel, &shapes, 11)?;
    println!("largest relative errors of the generated f32 kernels:\n{report}");
    assert!(report.worst() < 1e-2);
    Ok(())
}
