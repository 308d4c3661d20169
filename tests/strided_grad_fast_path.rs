//! grad_x of strided windows at fast-path sizes (im2col panels folded back: split by
//! phase into forward convolutions of grad_y was measured slower, see
//! `lowered/transposed.rs`), held to the reference interpreter on the loop nest and on
//! the fast path at 1 and 3 threads, with odd extents (tile remainders), a stride longer
//! than the window and pads wider than the window.

mod common;

use common::{check_generated, paths, random, Layout, Lcg};
use conv_kernels::conv_kernel;

conv_kernel! {
    /// ResNet's downsampling 3x3.
    pub down(x, weight) = "nchwkj,dckj->ndhw" {
        unfold x.h by k, stride = 2, pad = 1;
        unfold x.w by j, stride = 2, pad = 1;
        size k = 3, j = 3;
        bias d;
    }
    /// The stem: 7x7 stride 2 over 3 channels.
    pub stem(x, weight) = "nchwkj,dckj->ndhw" {
        unfold x.h by k, stride = 2, pad = 3;
        unfold x.w by j, stride = 2, pad = 3;
        size k = 7, j = 7;
    }
    /// Stride 3 over windows of 2: every third position has no gradient.
    pub sparse(x, weight) = "nclk,dck->ndl" {
        unfold x.l by k, stride = 3, pad = (1, 0);
        size k = 2;
        dtype f64;
    }
    /// A pad of 3 around windows of 2.
    pub wide_pad(x, weight) = "nchwkj,dckj->ndhw" {
        unfold x.h by k, stride = 2, pad = 3;
        unfold x.w by j, pad = 1;
        size k = 2, j = 3;
    }
    /// 3-D, stride 2 along depth only.
    pub volume(x, weight) = "ncdhwijk,ecijk->nedhw" {
        unfold x.d by i, stride = 2, pad = 1;
        unfold x.h by j, pad = 1;
        unfold x.w by k, pad = 1;
        size i = 3, j = 3, k = 3;
    }
}

/// The path of grad_x at these shapes with the default threshold.
fn grad_x_path<K: conv_kernels::Kernel>(kernel: &K, shapes: &[&[usize]]) -> &'static str {
    paths(kernel, shapes)[1]
}

#[test]
fn strided_grad_x_runs_on_panels() {
    let panels = "panels + GEMM";
    assert_eq!(
        grad_x_path(&down::Kernel, &[&[8, 64, 56, 56], &[128, 64, 3, 3]]),
        panels
    );
    assert_eq!(
        grad_x_path(&stem::Kernel, &[&[1, 3, 224, 224], &[64, 3, 7, 7]]),
        panels
    );
    assert_eq!(
        grad_x_path(&sparse::Kernel, &[&[2, 16, 301], &[24, 16, 2]]),
        panels
    );
    assert_eq!(
        grad_x_path(&wide_pad::Kernel, &[&[2, 16, 30, 31], &[24, 16, 2, 3]]),
        panels
    );
    let volume_shapes: [&[usize]; 2] = [&[1, 8, 9, 10, 33], &[8, 8, 3, 3, 3]];
    assert_eq!(grad_x_path(&volume::Kernel, &volume_shapes), panels);
}

#[test]
fn strided_grad_x_matches_the_interpreter() {
    let mut rng = Lcg::new(11);
    let lg = Layout::Standard;
    let (x, weight, b) = (
        random::<f32, _>((2, 32, 29, 30), lg, &mut rng),
        random::<f32, _>((48, 32, 3, 3), lg, &mut rng),
        random::<f32, _>(48, lg, &mut rng),
    );
    check_generated!(down(x, weight) bias b, &mut rng, lg);
    let (x, weight) = (
        random::<f32, _>((1, 3, 40, 37), lg, &mut rng),
        random::<f32, _>((16, 3, 7, 7), Layout::Fortran, &mut rng),
    );
    check_generated!(stem(x, weight), &mut rng, lg);
    let (x, weight) = (
        random::<f64, _>((2, 16, 301), lg, &mut rng),
        random::<f64, _>((24, 16, 2), lg, &mut rng),
    );
    check_generated!(sparse(x, weight), &mut rng, lg);
    let (x, weight) = (
        random::<f32, _>((2, 16, 30, 31), Layout::Strided, &mut rng),
        random::<f32, _>((24, 16, 2, 3), lg, &mut rng),
    );
    check_generated!(wide_pad(x, weight), &mut rng, lg);
    let (x, weight) = (
        random::<f32, _>((1, 8, 9, 10, 33), lg, &mut rng),
        random::<f32, _>((8, 8, 3, 3, 3), lg, &mut rng),
    );
    check_generated!(volume(x, weight), &mut rng, lg);
}
