//! A U-Net-style upsampling layer: a 3x3 transposed convolution with stride 2, padding 1
//! and `output_padding = 1`, declared with windows on its output (`-> y`,
//! `unfold y.i by k`), with a bias. It doubles the height and the width exactly; without
//! `output_padding` the same layer gives the odd size `2 * len - 1`. The layer is checked
//! against the textbook scatter loop and one value by hand, and its input gradient
//! against the forward pass of the stride-2 convolution with the same weight, the layer
//! it transposes (which maps both 2n and 2n - 1 back to n: that is the ambiguity
//! `output_padding` settles), and its weight and bias gradients against loops written
//! out by hand.
//!
//! tests/transposed_conv_example.rs runs `main` as a test too (`cargo test`).

use conv_kernels::conv_kernel;
use ndarray::{array, s, Array1, Array4, Axis};

conv_kernel! {
    /// U-Net upsampling: 3x3, stride 2, padding 1, output_padding 1, c -> d channels.
    /// Along i: (len - 1)*2 - 1 - 1 + (3 - 1) + 1 + 1 = 2 * len.
    pub up2(x, weight) -> y = "ncij,cdkl->ndijkl" {
        unfold y.i by k, stride = 2, pad = 1, output_padding = 1;
        unfold y.j by l, stride = 2, pad = 1, output_padding = 1;
        size k = 3, l = 3;
        bias d;
    }
    /// The same layer without output_padding: (len - 1)*2 - 2 + 3 = 2 * len - 1.
    pub up2_odd(x, weight) -> y = "ncij,cdkl->ndijkl" {
        unfold y.i by k, stride = 2, pad = 1;
        unfold y.j by l, stride = 2, pad = 1;
        size k = 3, l = 3;
        bias d;
    }
    /// The stride-2 convolution the layer transposes, with the same weight (c, d, k, l):
    /// it maps d channels to c and halves the height and the width.
    pub down2(image, weight) = "ndhwkl,cdkl->nchw" {
        unfold image.h by k, stride = 2, pad = 1;
        unfold image.w by l, stride = 2, pad = 1;
        size k = 3, l = 3;
    }
}

/// The textbook transposed convolution: each input x[n, c, a, b] scatters
/// x * weight[c, d, k, l] onto y[n, d, 2a + k - 1, 2b + l - 1] (stride 2, padding 1),
/// dropping what falls outside; then the bias is added. `out` is the output's height and
/// width, which the input alone does not determine.
fn scatter(x: &Array4<f32>, weight: &Array4<f32>, bias: &Array1<f32>, out: usize) -> Array4<f32> {
    let (nn, _, _, _) = x.dim();
    let dd = weight.dim().1;
    let mut y = Array4::zeros((nn, dd, out, out));
    for ((n, c, a, b), &v) in x.indexed_iter() {
        for ((_, d, k, l), &w) in weight.slice(s![c..c + 1, .., .., ..]).indexed_iter() {
            let (p, q) = ((2 * a + k) as isize - 1, (2 * b + l) as isize - 1);
            if (0..out as isize).contains(&p) && (0..out as isize).contains(&q) {
                y[[n, d, p as usize, q as usize]] += v * w;
            }
        }
    }
    for ((_, d, _, _), v) in y.indexed_iter_mut() {
        *v += bias[d];
    }
    y
}

/// Public for tests/transposed_conv_example.rs, which includes this file as a module.
pub fn main() -> Result<(), conv_kernels::ShapeError> {
    // One channel, 2x2 -> 4x4, small integers: every sum is exact in f32.
    let x = array![[[[1.0f32, 2.0], [3.0, 4.0]]]];
    let weight = array![[[[1.0f32, 2.0, 3.0], [4.0, 5.0, 6.0], [7.0, 8.0, 9.0]]]];
    let bias = array![0.5f32];
    let y = up2::forward(&x, &weight, &bias)?;
    println!(
        "x 2x2 -> y {:?} =\n{}",
        y.shape(),
        y.slice(s![0, 0, .., ..])
    );
    assert_eq!(y.shape(), [1, 1, 4, 4]);
    assert_eq!(y, scatter(&x, &weight, &bias, 4));
    // Output row 1 is reached from (a, k) in {(0, 2), (1, 0)}: 2*0 + 2 - 1 = 2*1 + 0 - 1.
    println!(
        "y[1, 1] = x00 w22 + x01 w20 + x10 w02 + x11 w00 + b = 1*9 + 2*7 + 3*3 + 4*1 + 0.5 = {}",
        y[[0, 0, 1, 1]]
    );
    assert_eq!(y[[0, 0, 1, 1]], 36.5);
    let odd = up2_odd::forward(&x, &weight, &bias)?;
    println!(
        "without output_padding: 2x2 -> {:?} =\n{}",
        odd.shape(),
        odd.slice(s![0, 0, .., ..])
    );
    assert_eq!(odd.shape(), [1, 1, 3, 3]);
    assert_eq!(odd, scatter(&x, &weight, &bias, 3));
    // output_padding adds a row and a column at the end; the rows both have agree.
    assert_eq!(odd, y.slice(s![.., .., ..3, ..3]));
    println!("(both equal the textbook scatter loop)\n");

    // A decoder stage: 3 -> 2 channels, 5x5 -> 10x10, a batch of 2.
    let weight = Array4::from_shape_fn((3, 2, 3, 3), |(c, d, k, l)| {
        ((c + 2 * d + k + 3 * l) % 5) as f32 - 2.0
    });
    let bias = array![0.25f32, -1.0];
    let x = Array4::from_shape_fn((2, 3, 5, 5), |(n, c, a, b)| {
        ((n + c + 3 * a + 2 * b) % 7) as f32 - 3.0
    });
    let y = up2::forward(&x, &weight, &bias)?;
    println!("x {:?} -> y {:?}", x.shape(), y.shape());
    assert_eq!(
        up2::output_shape([2, 3, 5, 5], [3, 2, 3, 3])?,
        [2, 2, 10, 10]
    );
    assert_eq!(y, scatter(&x, &weight, &bias, 10));
    println!("y[0, 1, 0, ..4] = {}", y.slice(s![0, 1, 0, ..4]));
    assert_eq!(y.slice(s![0, 1, 0, ..4]), array![1.0f32, -5.0, 1.0, -5.0]);
    // Output (0, 0) is reached from tap (1, 1) of input (0, 0) alone.
    let corner = bias[1]
        + (0..3)
            .map(|c| x[[0, c, 0, 0]] * weight[[c, 1, 1, 1]])
            .sum::<f32>();
    println!("y[0, 1, 0, 0] = b1 + sum over c of x[0, c, 0, 0] w[c, 1, 1, 1] = {corner}");
    assert_eq!((corner, y[[0, 1, 0, 0]]), (1.0, 1.0));
    let odd = up2_odd::forward(&x, &weight, &bias)?;
    println!(
        "without output_padding: x {:?} -> {:?}",
        x.shape(),
        odd.shape()
    );
    assert_eq!(odd.shape(), [2, 2, 9, 9]);
    assert_eq!(odd, scatter(&x, &weight, &bias, 9));

    // The layer's input gradient is the stride-2 convolution with the same weight:
    // grad_x[n, c, a, b] = sum over d, k, l of weight[c, d, k, l] *
    // grad_y[n, d, 2a + k - 1, 2b + l - 1]. The convolution maps 10x10 and 9x9 alike to
    // 5x5, which is why the upsampling layer needs output_padding to say which it undoes.
    let grad_y_of = |side| {
        Array4::from_shape_fn((2, 2, side, side), |(n, d, p, q)| {
            ((n + 5 * d + p + 2 * q) % 3) as f32 - 1.0
        })
    };
    for side in [10, 9] {
        let grad_y = grad_y_of(side);
        let grad_x = if side == 10 {
            up2::grad_x([2, 3, 5, 5], &weight, &grad_y)?
        } else {
            up2_odd::grad_x([2, 3, 5, 5], &weight, &grad_y)?
        };
        println!(
            "grad_x from grad_y {:?}: {:?}, equal to down2::forward(grad_y, weight)",
            grad_y.shape(),
            grad_x.shape()
        );
        assert_eq!(grad_x, down2::forward(&grad_y, &weight)?);
    }
    let grad_y = grad_y_of(10);
    let grads = up2::backward(&x, &weight, &grad_y)?;
    assert_eq!(grads.x, down2::forward(&grad_y, &weight)?);
    // The bias gradient sums grad_y over n, i and j.
    let sums = grad_y.sum_axis(Axis(0)).sum_axis(Axis(1)).sum_axis(Axis(1));
    assert_eq!(grads.bias, sums);
    println!("grad_bias = {}", grads.bias);
    // The weight's gradient meets each input value with the grad_y values it scattered
    // onto: grad_weight[c, d, k, l] = sum over n, a, b of x[n, c, a, b] *
    // grad_y[n, d, 2a + k - 1, 2b + l - 1], where that lies inside.
    let mut grad_weight = Array4::<f32>::zeros(weight.dim());
    for ((n, c, a, b), &v) in x.indexed_iter() {
        for ((_, d, k, l), g) in grad_weight
            .slice_mut(s![c..c + 1, .., .., ..])
            .indexed_iter_mut()
        {
            let (p, q) = ((2 * a + k) as isize - 1, (2 * b + l) as isize - 1);
            if (0..10).contains(&p) && (0..10).contains(&q) {
                *g += v * grad_y[[n, d, p as usize, q as usize]];
            }
        }
    }
    for (got, want) in grads.weight.iter().zip(&grad_weight) {
        assert!(
            (got - want).abs() <= 1e-4 * want.abs().max(1.0),
            "{got} against {want}"
        );
    }
    println!(
        "grad_weight[0, 0] = {} (equal to the scatter loop's)",
        grads.weight.slice(s![0, 0, .., ..])
    );
    Ok(())
}
