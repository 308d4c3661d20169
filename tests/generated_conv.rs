//! The generated convolution families against the reference interpreter: forward and
//! every gradient (operands and bias) over random shapes, values and layouts.

mod common;

use common::{check_generated, layout, least_len, random, Layout, Lcg};
use conv_kernels::conv_kernel;
use proptest::prelude::*;

conv_kernel! {
    pub conv1d(x, weight) = "nclk,dck->ndl" {
        unfold x.l by k;
        bias d;
    }

    /// The tutorial convolution: NCHW, 3×3 window fixed, stride 2, zero padding 1.
    pub conv2d(x, weight) = "nchwkj,dckj->ndhw" {
        unfold x.h by k, stride = 2, pad = 1;
        unfold x.w by j, stride = 2, pad = 1;
        size k = 3, j = 3;
        bias d;
    }

    pub conv2d_nhwc(x, weight) = "nhwkjc,kjcd->nhwd" {
        unfold x.h by k, pad = 1;
        unfold x.w by j, stride = 2;
        bias d;
    }

    pub conv3d(x, weight) = "ncthwijk,ocijk->nothw" {
        unfold x.t by i;
        unfold x.h by j, stride = 2, pad = 1;
        unfold x.w by k, dilation = 2;
        bias o;
    }

    pub depthwise(x, weight) = "nchwkj,ckj->nchw" {
        unfold x.h by k, pad = 1;
        unfold x.w by j, pad = 1;
        bias c;
    }

    pub grouped(x, weight) = "ngchwkj,gdckj->ngdhw" {
        unfold x.h by k, stride = 2, pad = 1;
        unfold x.w by j, pad = (1, 0);
        bias d;
    }

    pub dilated1d(x, weight) = "nclk,dck->ndl" {
        unfold x.l by k, dilation = 3, pad = 2;
    }

    /// Dilation 2 with a fixed window along h, dilation 3 with a run-time one along w.
    pub dilated2d(x, weight) = "nchwkj,dckj->ndhw" {
        unfold x.h by k, dilation = 2;
        unfold x.w by j, dilation = 3, pad = 3;
        size k = 3;
        bias d;
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    #[test]
    fn conv1d_matches_interpreter(
        (n, c, d) in (1..3usize, 1..4usize, 1..4usize),
        k in 1..5usize,
        extra in 0..6usize,
        (lx, lw, lg) in (layout(), layout(), layout()),
        seed in any::<u64>(),
    ) {
        let rng = &mut Lcg::new(seed);
        let l = least_len(k, 1, 0, 1) + extra;
        let x = random::<f32, _>([n, c, l], lx, rng);
        let weight = random::<f32, _>([d, c, k], lw, rng);
        let b = random::<f32, _>([d], Layout::Standard, rng);
        check_generated!(conv1d(x, weight) bias b, rng, lg);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    #[test]
    fn conv2d_nchw_matches_interpreter(
        (n, c, d) in (1..3usize, 1..4usize, 1..4usize),
        (h, w) in (1..8usize, 1..8usize),
        (lx, lw, lg) in (layout(), layout(), layout()),
        seed in any::<u64>(),
    ) {
        let rng = &mut Lcg::new(seed);
        let x = random::<f32, _>([n, c, h, w], lx, rng);
        let weight = random::<f32, _>([d, c, 3, 3], lw, rng);
        let b = random::<f32, _>([d], Layout::Strided, rng);
        check_generated!(conv2d(x, weight) bias b, rng, lg);
    }

    #[test]
    fn conv2d_nhwc_matches_interpreter(
        (n, c, d) in (1..3usize, 1..4usize, 1..4usize),
        (k, j) in (1..4usize, 1..4usize),
        (eh, ew) in (0..5usize, 0..5usize),
        (lx, lw, lg) in (layout(), layout(), layout()),
        seed in any::<u64>(),
    ) {
        let rng = &mut Lcg::new(seed);
        let (h, w) = (least_len(k, 1, 2, 1) + eh, least_len(j, 1, 0, 1) + ew);
        let x = random::<f32, _>([n, h, w, c], lx, rng);
        let weight = random::<f32, _>([k, j, c, d], lw, rng);
        let b = random::<f32, _>([d], Layout::Standard, rng);
        check_generated!(conv2d_nhwc(x, weight) bias b, rng, lg);
    }

    #[test]
    fn conv3d_matches_interpreter(
        (n, c, o) in (1..3usize, 1..3usize, 1..3usize),
        (i, j, k) in (1..3usize, 1..4usize, 1..3usize),
        (et, eh, ew) in (0..3usize, 0..4usize, 0..3usize),
        (lx, lw, lg) in (layout(), layout(), layout()),
        seed in any::<u64>(),
    ) {
        let rng = &mut Lcg::new(seed);
        let t = least_len(i, 1, 0, 1) + et;
        let h = least_len(j, 1, 2, 1) + eh;
        let w = least_len(k, 2, 0, 1) + ew;
        let x = random::<f32, _>([n, c, t, h, w], lx, rng);
        let weight = random::<f32, _>([o, c, i, j, k], lw, rng);
        let b = random::<f32, _>([o], Layout::Standard, rng);
        check_generated!(conv3d(x, weight) bias b, rng, lg);
    }

    #[test]
    fn depthwise_matches_interpreter(
        (n, c) in (1..3usize, 1..5usize),
        (k, j) in (1..5usize, 1..4usize),
        (eh, ew) in (0..5usize, 0..5usize),
        (lx, lw, lg) in (layout(), layout(), layout()),
        seed in any::<u64>(),
    ) {
        let rng = &mut Lcg::new(seed);
        let (h, w) = (least_len(k, 1, 2, 1) + eh, least_len(j, 1, 2, 1) + ew);
        let x = random::<f32, _>([n, c, h, w], lx, rng);
        let weight = random::<f32, _>([c, k, j], lw, rng);
        let b = random::<f32, _>([c], Layout::Reversed, rng);
        check_generated!(depthwise(x, weight) bias b, rng, lg);
    }

    #[test]
    fn grouped_matches_interpreter(
        (n, g, c, d) in (1..3usize, 1..4usize, 1..3usize, 1..3usize),
        (k, j) in (1..4usize, 1..4usize),
        (eh, ew) in (0..5usize, 0..5usize),
        (lx, lw, lg) in (layout(), layout(), layout()),
        seed in any::<u64>(),
    ) {
        let rng = &mut Lcg::new(seed);
        let (h, w) = (least_len(k, 1, 2, 1) + eh, least_len(j, 1, 1, 1) + ew);
        let x = random::<f32, _>([n, g, c, h, w], lx, rng);
        let weight = random::<f32, _>([g, d, c, k, j], lw, rng);
        let b = random::<f32, _>([d], Layout::Standard, rng);
        check_generated!(grouped(x, weight) bias b, rng, lg);
    }

    #[test]
    fn dilated1d_matches_interpreter(
        (n, c, d) in (1..3usize, 1..4usize, 1..4usize),
        k in 1..5usize,
        extra in 0..8usize,
        (lx, lw, lg) in (layout(), layout(), layout()),
        seed in any::<u64>(),
    ) {
        let rng = &mut Lcg::new(seed);
        let l = least_len(k, 3, 4, 1) + extra;
        let x = random::<f32, _>([n, c, l], lx, rng);
        let weight = random::<f32, _>([d, c, k], lw, rng);
        check_generated!(dilated1d(x, weight), rng, lg);
    }

    #[test]
    fn dilated2d_matches_interpreter(
        (n, c, d) in (1..3usize, 1..3usize, 1..3usize),
        j in 1..4usize,
        (eh, ew) in (0..4usize, 0..6usize),
        (lx, lw, lg) in (layout(), layout(), layout()),
        seed in any::<u64>(),
    ) {
        let rng = &mut Lcg::new(seed);
        let (h, w) = (least_len(3, 2, 0, 1) + eh, least_len(j, 3, 6, 1) + ew);
        let x = random::<f32, _>([n, c, h, w], lx, rng);
        let weight = random::<f32, _>([d, c, 3, j], lw, rng);
        let b = random::<f32, _>([d], Layout::Standard, rng);
        check_generated!(dilated2d(x, weight) bias b, rng, lg);
    }
}
