//! Transposed convolutions at fast-path sizes: each pass runs as its adjoint
//! convolution's (the forward as grad_x, grad_x as the forward, grad_w as grad_w), held
//! to the reference interpreter on the loop nest and on the fast path at 1 and 3 threads.

mod common;

use common::{check_generated, paths, random, Layout, Lcg};
use conv_kernels::conv_kernel;

conv_kernel! {
    /// Stride 2, the U-Net decoder's: the forward is a strided convolution's grad_x.
    pub up_s2(x, weight) -> y = "ncij,cdkl->ndijkl" {
        unfold y.i by k, stride = 2, pad = 1, output_padding = 1;
        unfold y.j by l, stride = 2, pad = 1, output_padding = 1;
        size k = 3, l = 3;
        bias d;
    }
    /// Stride 1: the forward is the transposed direct kernel's.
    pub up_s1(x, weight) -> y = "ncij,cdkl->ndijkl" {
        unfold y.i by k, pad = 1;
        unfold y.j by l, pad = 2;
        size k = 3, l = 5;
        bias d;
        dtype f64;
    }
    /// A GAN generator's 4x4 stride-2 layer, weight first.
    pub gan(weight, x) -> y = "cdkl,ncij->ndijkl" {
        unfold y.i by k, stride = 2, pad = 1;
        unfold y.j by l, stride = 2, pad = 1;
        size k = 4, l = 4;
    }
    /// output_padding at least the stride (dilation 2): the loop nest, not the adjoint.
    pub dilated(x, weight) -> y = "nci,cdk->ndik" {
        unfold y.i by k, dilation = 2, pad = 1, output_padding = 1;
        size k = 3;
    }
}

#[test]
fn transposed_convolutions_run_as_their_adjoint_s_passes() {
    use conv_kernels::Kernel as _;
    // forward = the adjoint's grad_x, grad_x = its forward, grad_weight = its grad_w.
    let s2 = paths(&up_s2::Kernel, &[&[8, 64, 28, 28], &[64, 32, 3, 3]]);
    assert_eq!(s2, ["panels + GEMM", "direct", "direct"]);
    let s1 = paths(&up_s1::Kernel, &[&[8, 64, 28, 28], &[64, 32, 3, 5]]);
    assert_eq!(s1, ["transposed direct", "direct", "direct"]);
    let gan_paths = paths(&gan::Kernel, &[&[256, 128, 4, 4], &[16, 256, 8, 8]]);
    assert!(gan_paths.iter().all(|&p| p != "loop nest"), "{gan_paths:?}");
    let past = paths(&dilated::Kernel, &[&[4, 32, 40], &[32, 16, 3]]);
    assert_eq!(past, ["loop nest"; 3]);
    assert!(dilated::Kernel.facts().adjoint.is_some());
}

/// Every pass against the interpreter: on the loop nest, and on the fast path (the
/// threshold at 0) at 1 and 3 threads, with tile remainders (odd extents).
#[test]
fn transposed_convolutions_on_the_fast_path_match_the_interpreter() {
    let mut rng = Lcg::new(7);
    let lg = Layout::Standard;
    let (x, weight, b) = (
        random::<f32, _>((2, 16, 9, 11), lg, &mut rng),
        random::<f32, _>((16, 8, 3, 3), lg, &mut rng),
        random::<f32, _>(8, lg, &mut rng),
    );
    check_generated!(up_s2(x, weight) bias b, &mut rng, lg);
    let (x, weight, b) = (
        random::<f64, _>((2, 8, 12, 10), Layout::Fortran, &mut rng),
        random::<f64, _>((8, 6, 3, 5), lg, &mut rng),
        random::<f64, _>(6, lg, &mut rng),
    );
    check_generated!(up_s1(x, weight) bias b, &mut rng, lg);
    let (weight, x) = (
        random::<f32, _>((12, 6, 4, 4), lg, &mut rng),
        random::<f32, _>((3, 12, 7, 6), Layout::Strided, &mut rng),
    );
    check_generated!(gan(weight, x), &mut rng, lg);
    let (x, weight) = (
        random::<f32, _>((2, 5, 13), lg, &mut rng),
        random::<f32, _>((5, 3, 3), lg, &mut rng),
    );
    check_generated!(dilated(x, weight), &mut rng, lg);
}
