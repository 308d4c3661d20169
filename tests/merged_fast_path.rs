//! Products whose outer points have few rows (`rows x (k + n) < k x n`: a 1x1 or 3x3
//! convolution over 7x7 positions with 512 channels) run as one GEMM over every outer
//! point's rows (`lowered/merged.rs`), read in place or as im2col panels. Held to the
//! reference interpreter on the loop nest and on that path at 1 and 3 threads: both
//! spellings of a 1x1 convolution, channels last, f64, a weight laid out `[c][d]`, the
//! bias, 3x3 windows with zero and reflect padding and with stride 2.

mod common;

use common::{check_generated, paths, random, Layout, Lcg};
use conv_kernels::conv_kernel;

conv_kernel! {
    /// Spelled as PyTorch shapes it: windows of size 1, weight (d, c, 1, 1).
    pub pointwise_windows(x, weight) = "nchwkj,dckj->ndhw" {
        unfold x.h by k; unfold x.w by j;
        size k = 1, j = 1;
        bias d;
    }
    /// Without windows, weight `[c][d]` (B's reduction index outer), f64.
    pub pointwise(x, weight) = "nchw,cd->ndhw" { dtype f64; }
    /// Channels last.
    pub pointwise_nhwc(x, weight) = "nhwc,dc->nhwd";
    /// ResNet's last stage.
    pub conv3x3(x, weight) = "nchwkj,dckj->ndhw" {
        unfold x.h by k, pad = 1; unfold x.w by j, pad = 1;
        size k = 3, j = 3;
        bias d;
    }
    pub reflect_s2(x, weight) = "nchwkj,dckj->ndhw" {
        unfold x.h by k, stride = 2, pad = 1, mode = reflect;
        unfold x.w by j, stride = 2, pad = 1, mode = reflect;
        dtype f64;
    }
}

#[test]
fn few_rows_per_outer_point_run_merged() {
    let merged = ["merged GEMM"; 3];
    let layer: [&[usize]; 2] = [&[8, 512, 7, 7], &[2048, 512, 1, 1]];
    assert_eq!(paths(&pointwise_windows::Kernel, &layer), merged);
    assert_eq!(
        paths(&pointwise::Kernel, &[&[8, 512, 7, 7], &[512, 2048]]),
        merged
    );
    // 3x3 over 7x7: the forward pass and grad_x (the transposed kernel's forward) in
    // tiles of any 6 positions of the padded copy, grad_w merged (im2col panels); over
    // 14x14 Winograd's tiles share B among 64 tiles.
    let last_stage: [&[usize]; 2] = [&[8, 512, 7, 7], &[512, 512, 3, 3]];
    let tiles = "direct, position tiles";
    assert_eq!(
        paths(&conv3x3::Kernel, &last_stage),
        [tiles, tiles, "merged GEMM"]
    );
    let third_stage: [&[usize]; 2] = [&[8, 256, 14, 14], &[256, 256, 3, 3]];
    let winograd = ["Winograd F(4x4, 3x3)"; 3];
    assert_eq!(paths(&conv3x3::Kernel, &third_stage), winograd);
    // Many rows per image: the GEMM reads each image in place.
    let wide: [&[usize]; 2] = [&[8, 256, 28, 28], &[128, 256, 1, 1]];
    assert_eq!(
        paths(&pointwise_windows::Kernel, &wide),
        ["GEMM in place"; 3]
    );
}

#[test]
fn merged_products_match_the_interpreter() {
    // The shapes below run merged once the threshold lets them onto the fast path.
    conv_kernels::set_gemm_threshold(0);
    let small: [&[usize]; 2] = [&[3, 40, 3, 5], &[56, 40, 1, 1]];
    assert_eq!(
        paths(&pointwise_windows::Kernel, &small),
        ["merged GEMM"; 3]
    );
    assert_eq!(
        paths(&pointwise::Kernel, &[&[4, 48, 2, 3], &[48, 33]]),
        ["merged GEMM"; 3]
    );
    let mut rng = Lcg::new(5);
    let lg = Layout::Standard;
    // 3 x 5 rows per image, 40 and 56 channels: 15 x 96 < 40 x 56.
    let (x, weight, b) = (
        random::<f32, _>((3, 40, 3, 5), lg, &mut rng),
        random::<f32, _>((56, 40, 1, 1), lg, &mut rng),
        random::<f32, _>(56, lg, &mut rng),
    );
    check_generated!(pointwise_windows(x, weight) bias b, &mut rng, lg);
    let (x, weight) = (
        random::<f64, _>((4, 48, 2, 3), Layout::Fortran, &mut rng),
        random::<f64, _>((48, 33), lg, &mut rng),
    );
    check_generated!(pointwise(x, weight), &mut rng, lg);
    let (x, weight) = (
        random::<f32, _>((5, 2, 3, 36), lg, &mut rng),
        random::<f32, _>((44, 36), Layout::Strided, &mut rng),
    );
    check_generated!(pointwise_nhwc(x, weight), &mut rng, lg);
    // 5 x 6 positions (one direct tile), 216 taps, 40 channels: 30 x 256 < 216 x 40;
    // grad_w merged, the forward pass and grad_x in position tiles.
    let (x, weight, b) = (
        random::<f32, _>((3, 24, 5, 6), lg, &mut rng),
        random::<f32, _>((40, 24, 3, 3), lg, &mut rng),
        random::<f32, _>(40, lg, &mut rng),
    );
    check_generated!(conv3x3(x, weight) bias b, &mut rng, lg);
    let (x, weight) = (
        random::<f64, _>((4, 16, 9, 10), Layout::Strided, &mut rng),
        random::<f64, _>((48, 16, 3, 3), lg, &mut rng),
    );
    check_generated!(reflect_s2(x, weight), &mut rng, lg);
}

/// One GEMM over every row, split among however many threads there are: the same bits.
#[test]
fn merged_results_do_not_depend_on_the_number_of_threads() {
    let mut rng = Lcg::new(9);
    let lg = Layout::Standard;
    let x = random::<f32, _>((8, 96, 5, 7), lg, &mut rng);
    let weight = random::<f32, _>((300, 96, 1, 1), lg, &mut rng);
    let b = random::<f32, _>(300, lg, &mut rng);
    let grad_y = random::<f32, _>((8, 300, 5, 7), lg, &mut rng);
    let shapes: [&[usize]; 2] = [x.shape(), weight.shape()];
    assert_eq!(
        paths(&pointwise_windows::Kernel, &shapes),
        ["merged GEMM"; 3]
    );
    let run = |threads: usize| {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap();
        pool.install(|| {
            let y = pointwise_windows::forward(&x, &weight, &b).unwrap();
            let g = pointwise_windows::backward(&x, &weight, &grad_y).unwrap();
            (y, g.x, g.weight)
        })
    };
    let one = run(1);
    for threads in [2, 3, 4] {
        let other = run(threads);
        assert!(
            one.0
                .iter()
                .zip(&other.0)
                .all(|(a, b)| a.to_bits() == b.to_bits()),
            "y, {threads} threads"
        );
        assert!(
            one.1
                .iter()
                .zip(&other.1)
                .all(|(a, b)| a.to_bits() == b.to_bits()),
            "grad_x, {threads} threads"
        );
        assert!(
            one.2
                .iter()
                .zip(&other.2)
                .all(|(a, b)| a.to_bits() == b.to_bits()),
            "grad_w, {threads} threads"
        );
    }
}
