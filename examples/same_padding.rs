//! Stride 2 with `pad = same`: the output is ceil(len / 2) long whatever the input length,
//! and the padding is split as TensorFlow splits it: total = (out - 1) * stride + window -
//! len, lo = total / 2, hi = total - lo (an odd total puts the extra row at the end).
//! All-ones inputs and weights make each output count the real (unpadded) inputs it sees.

use conv_kernels::conv_kernel;
use ndarray::{s, Array4};

conv_kernel! {
    /// 3x3 convolution, stride 2, `same` padding.
    pub same_s2(x, weight) = "nchwkj,dckj->ndhw" {
        unfold x.h by k, stride = 2, pad = same;
        unfold x.w by j, stride = 2, pad = same;
        size k = 3, j = 3;
        bias d;
    }
}

fn main() -> Result<(), conv_kernels::ShapeError> {
    println!("len  out  pad (lo, hi)");
    for len in 5..=8 {
        let out = same_s2::output_shape([1, 1, len, len], [1, 1, 3, 3])?[2];
        let total = (out - 1) * 2 + 3 - len;
        println!(
            "{len:>3}  {out:>3}  {total} ({}, {})",
            total / 2,
            total - total / 2
        );
        assert_eq!(out, len.div_ceil(2));
    }

    let weight = Array4::<f32>::ones((1, 1, 3, 3));
    let bias = ndarray::arr1(&[0.0f32]);
    for (len, counts) in [(7, [2.0, 3.0, 3.0, 2.0]), (8, [3.0, 3.0, 3.0, 2.0])] {
        let x = Array4::<f32>::ones((1, 1, len, len));
        let y = same_s2::forward(&x, &weight, &bias)?;
        // Along each axis, window a covers rows 2a - lo .. 2a - lo + 2; the counts of real
        // rows multiply: for len 8 (lo 0, hi 1) the last window hangs over the end only.
        println!(
            "\n{len}x{len} ones -> y =\n{}\n(outer product of {counts:?})",
            y.slice(s![0, 0, .., ..])
        );
        let expected = Array4::from_shape_fn((1, 1, 4, 4), |(_, _, a, b)| counts[a] * counts[b]);
        assert_eq!(y, expected);
    }

    let shapes: [&[usize]; 2] = [&[2, 3, 9, 8], &[4, 3, 3, 3]];
    let report = conv_kernels::check::check(&same_s2::Kernel, &shapes, 13)?;
    println!(
        "\nx {:?}, weight {:?}: largest relative errors of the generated f32 kernels:\n{report}",
        shapes[0], shapes[1]
    );
    assert!(report.worst() < 1e-2);
    Ok(())
}
