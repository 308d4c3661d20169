//! A transposed convolution is the gradient of a convolution with respect to its input,
//! used as a forward operation: `conv::grad_x(x_shape, &weight, &z)` of a stride-2 conv
//! upsamples z by 2. The input shape is an argument, which settles what PyTorch's
//! `output_padding` settles: a stride-2 conv maps both 3x3 and 4x4 inputs to 2x2. The
//! result is checked against a textbook scatter loop and one value by hand; the transposed
//! conv's own input gradient is the convolution's forward.
//!
//! tests/transposed_conv_example.rs runs `main` as a test too (`cargo test`).

use conv_kernels::conv_kernel;
use ndarray::{array, s, Array4};

conv_kernel! {
    /// 3x3 convolution, stride 2, zero padding 1: halves the height and the width.
    pub conv(x, weight) = "nchwkj,dckj->ndhw" {
        unfold x.h by k, stride = 2, pad = 1;
        unfold x.w by j, stride = 2, pad = 1;
        size k = 3, j = 3;
    }
}

/// The textbook transposed convolution: each input scatters the weighted kernel onto
/// the output at 2a + k - 1 (stride 2, padding 1), dropping what falls outside.
fn scatter(z: &Array4<f32>, weight: &Array4<f32>, out_shape: [usize; 4]) -> Array4<f32> {
    let mut out = Array4::zeros(out_shape);
    for ((n, d, a, b), &v) in z.indexed_iter() {
        for ((_, c, k, j), &w) in weight.slice(s![d..d + 1, .., .., ..]).indexed_iter() {
            let (p, q) = ((2 * a + k) as isize - 1, (2 * b + j) as isize - 1);
            if (0..out_shape[2] as isize).contains(&p) && (0..out_shape[3] as isize).contains(&q) {
                out[[n, c, p as usize, q as usize]] += v * w;
            }
        }
    }
    out
}

/// Public for tests/transposed_conv_example.rs, which includes this file as a module.
pub fn main() -> Result<(), conv_kernels::ShapeError> {
    let z = array![[[[1.0f32, 2.0], [3.0, 4.0]]]];
    let weight = array![[[[1.0f32, 2.0, 3.0], [4.0, 5.0, 6.0], [7.0, 8.0, 9.0]]]];
    for side in [4, 3] {
        let up = conv::grad_x([1, 1, side, side], &weight, &z)?;
        println!("z 2x2 -> {side}x{side} =\n{}", up.slice(s![0, 0, .., ..]));
        assert_eq!(up, scatter(&z, &weight, [1, 1, side, side]));
    }
    println!("(both equal the textbook scatter loop)");
    // Output (1, 1) is read by window taps (a, k) in {(0, 2), (1, 0)} along each axis.
    let up = conv::grad_x([1, 1, 4, 4], &weight, &z)?;
    println!(
        "up[1, 1] = z00 w22 + z01 w20 + z10 w02 + z11 w00 = 1*9 + 2*7 + 3*3 + 4*1 = {}\n",
        up[[0, 0, 1, 1]]
    );
    assert_eq!(up[[0, 0, 1, 1]], 36.0);

    // Several channels: 3 -> 2 channels, 5x5 -> 10x10. The weight (d, c, k, j) of the
    // conv maps c = 2 channels to d = 3; its transpose maps 3 channels back to 2.
    let weight = Array4::from_shape_fn((3, 2, 3, 3), |(d, c, k, j)| {
        ((d + 2 * c + k + 3 * j) % 5) as f32 - 2.0
    });
    let z = Array4::from_shape_fn((2, 3, 5, 5), |(n, d, a, b)| {
        ((n + d + 3 * a + 2 * b) % 7) as f32 - 3.0
    });
    let up = conv::grad_x([2, 2, 10, 10], &weight, &z)?;
    println!("z {:?} -> {:?}", z.shape(), up.shape());
    assert_eq!(up, scatter(&z, &weight, [2, 2, 10, 10]));

    // The transposed conv's gradient with respect to z is the convolution itself:
    // <up(z), g> = <z, conv(g)> for any g of up's shape.
    let g = Array4::from_shape_fn((2, 2, 10, 10), |(n, c, p, q)| {
        ((n + 5 * c + p + 2 * q) % 3) as f32 - 1.0
    });
    let grad_z = conv::forward(&g, &weight)?;
    let (lhs, rhs) = ((&up * &g).sum(), (&z * &grad_z).sum());
    println!("<up(z), g> = {lhs}, <z, conv(g)> = {rhs}");
    assert_eq!(lhs, rhs);
    Ok(())
}
