//! A grouped convolution, "ngchwkj,gdckj->ngdhw": the group axis g is in the input, the
//! weight and the output, so each group of input channels c feeds only its own output
//! channels d. PyTorch's layouts (channels g*c and g*d on one axis) are a reshape away.

use conv_kernels::conv_kernel;
use ndarray::{s, Array4, Array5};

conv_kernel! {
    /// Grouped 3x3 convolution, zero padding 1.
    pub grouped(x, weight) = "ngchwkj,gdckj->ngdhw" {
        unfold x.h by k, pad = 1;
        unfold x.w by j, pad = 1;
        size k = 3, j = 3;
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // PyTorch layout: 4 input channels in 2 groups; channels 0, 1 (group 0) hold 1 and 2,
    // channels 2, 3 (group 1) hold 10 and 20. Weight (groups * 1 output, 2, 3, 3) of ones.
    let mut x = Array4::<f32>::zeros((1, 4, 3, 3));
    for (channel, value) in [1.0, 2.0, 10.0, 20.0].into_iter().enumerate() {
        x.slice_mut(s![0, channel, .., ..]).fill(value);
    }
    let weight = Array4::<f32>::ones((2, 2, 3, 3));
    // Split the channel axes into (group, channel): (n, g*c, h, w) -> (n, g, c, h, w).
    let x5 = x.into_shape_with_order((1, 2, 2, 3, 3))?;
    let w5 = weight.into_shape_with_order((2, 1, 2, 3, 3))?;
    let y = grouped::forward(&x5, &w5)?;
    // Each output sums its group's two channels over the window: (1 + 2) * 9 = 27 at the
    // centre and (1 + 2) * 4 = 12 at a corner for group 0; ten times that for group 1.
    println!("group 0 =\n{}", y.slice(s![0, 0, 0, .., ..]));
    println!("group 1 =\n{}", y.slice(s![0, 1, 0, .., ..]));
    assert_eq!((y[[0, 0, 0, 1, 1]], y[[0, 0, 0, 0, 0]]), (27.0, 12.0));
    assert_eq!((y[[0, 1, 0, 1, 1]], y[[0, 1, 0, 0, 0]]), (270.0, 120.0));
    // Back to PyTorch's (n, g*d, h, w).
    let y4 = y.into_shape_with_order((1, 2, 3, 3))?;
    println!("as (n, g*d, h, w): {:?}\n", y4.shape());

    // grad_weight of group g sees only group g's channels: with grad_y = 1, the centre
    // tap of group 0's weight sums channel 0 (nine ones) and channel 1 (nine twos).
    let grads = grouped::backward(&x5, &w5, &Array5::<f32>::ones((1, 2, 1, 3, 3)))?;
    println!(
        "grad_weight centre taps: group 0 {}, {}; group 1 {}, {}\n",
        grads.weight[[0, 0, 0, 1, 1]],
        grads.weight[[0, 0, 1, 1, 1]],
        grads.weight[[1, 0, 0, 1, 1]],
        grads.weight[[1, 0, 1, 1, 1]]
    );
    assert_eq!(grads.weight[[1, 0, 1, 1, 1]], 180.0);

    // 3 groups of 2 input and 4 output channels.
    let shapes: [&[usize]; 2] = [&[2, 3, 2, 5, 6], &[3, 4, 2, 3, 3]];
    let report = conv_kernels::check::check(&grouped::Kernel, &shapes, 7)?;
    println!(
        "x {:?}, weight {:?}: largest relative errors of the generated f32 kernels:\n{report}",
        shapes[0], shapes[1]
    );
    assert!(report.worst() < 1e-2);
    Ok(())
}
