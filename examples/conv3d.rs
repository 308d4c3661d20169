//! A 3-D convolution, "ncdhwijk,ocijk->nodhw": three unfolded axes, one per spatial axis.
//! A 3x3x3 box filter over a 3x3x3 block of ones counts each voxel's neighbours inside
//! the block (8 at a corner, 12 on an edge, 18 at a face centre, 27 in the middle); then
//! a strided 3-D convolution with a bias is checked against the reference interpreter
//! and finite differences.

use conv_kernels::conv_kernel;
use ndarray::{s, Array5};

conv_kernel! {
    /// 3x3x3 convolution, zero padding 1 on depth, height and width.
    pub conv3d(x, weight) = "ncdhwijk,ocijk->nodhw" {
        unfold x.d by i, pad = 1;
        unfold x.h by j, pad = 1;
        unfold x.w by k, pad = 1;
        size i = 3, j = 3, k = 3;
    }
    /// Stride 2 along every axis, zero padding 1, with a bias.
    pub conv3d_s2(x, weight) = "ncdhwijk,ocijk->nodhw" {
        unfold x.d by i, stride = 2, pad = 1;
        unfold x.h by j, stride = 2, pad = 1;
        unfold x.w by k, stride = 2, pad = 1;
        bias o;
    }
}

fn main() -> Result<(), conv_kernels::ShapeError> {
    let x = Array5::<f32>::ones((1, 1, 3, 3, 3));
    let weight = Array5::<f32>::ones((1, 1, 3, 3, 3));
    let y = conv3d::forward(&x, &weight)?;
    for d in 0..3 {
        println!("y[depth {d}] =\n{}", y.slice(s![0, 0, d, .., ..]));
    }
    let expected = [[8.0, 12.0, 8.0], [12.0, 18.0, 12.0], [8.0, 12.0, 8.0]];
    assert_eq!(y.slice(s![0, 0, 0, .., ..]), ndarray::arr2(&expected));
    assert_eq!(y[[0, 0, 1, 1, 1]], 27.0);

    // A box filter is its own adjoint: with grad_y = 1, grad_x counts the same neighbours.
    let grads = conv3d::backward(&x, &weight, &Array5::<f32>::ones(y.raw_dim()))?;
    assert_eq!(grads.x, y);
    println!(
        "grad_x (grad_y = 1) equals y: each voxel is read by as many windows as it has neighbours"
    );
    // grad_weight[i, j, k] counts the voxels under tap (i, j, k): 27 at the centre tap,
    // 2*3*3 = 18 at the centre of a face of the window, 2*2*2 = 8 at a corner.
    println!(
        "grad_weight[centre] = {}, [face] = {}, [corner] = {}\n",
        grads.weight[[0, 0, 1, 1, 1]],
        grads.weight[[0, 0, 0, 1, 1]],
        grads.weight[[0, 0, 0, 0, 0]]
    );
    assert_eq!(grads.weight[[0, 0, 0, 0, 0]], 8.0);

    // x (1, 2, 5, 6, 7), weight (3, 2, 3, 3, 3) -> y (1, 3, 3, 3, 4).
    let shapes: [&[usize]; 2] = [&[1, 2, 5, 6, 7], &[3, 2, 3, 3, 3]];
    println!(
        "stride 2: output shape for x {:?}, weight {:?}: {:?}",
        shapes[0],
        shapes[1],
        conv3d_s2::output_shape([1, 2, 5, 6, 7], [3, 2, 3, 3, 3])?
    );
    let report = conv_kernels::check::check(&conv3d_s2::Kernel, &shapes, 3)?;
    println!("largest relative errors of the generated f32 kernels:\n{report}");
    assert!(report.worst() < 1e-2);
    Ok(())
}
