//! Every way the generator writes windows and folds, against the reference interpreter:
//! fully fixed tiny shapes, window loops unrolled (extent fixed by `size`) and run-time,
//! and grad_x gathers through each tap path: all taps unrolled (stride 1), one unrolled
//! tap list per phase (fixed window, stride <= 8), and the run-time scan (stride > 8,
//! windows beyond the unroll limit, or not fixed), with gcd(stride, dilation) > 1.

mod common;

use common::{check_generated, conv1d_property, layout, least_len, random, Layout, Lcg};
use conv_kernels::conv_kernel;
use proptest::prelude::*;

conv_kernel! {
    /// Every extent fixed.
    pub tiny(x, weight) = "nclk,dck->ndl" {
        unfold x.l by k, stride = 2, pad = 1;
        size n = 1, c = 2, l = 5, k = 3, d = 2;
        bias d;
    }
    pub tiny_2d(x, weight) = "nchwkj,dckj->ndhw" {
        unfold x.h by k, pad = (1, 0), mode = replicate;
        unfold x.w by j, stride = 2, dilation = 2;
        size n = 2, c = 1, h = 3, w = 6, k = 2, j = 2, d = 3;
    }

    pub unrolled(x, weight) = "nchwkj,dckj->ndhw" {
        unfold x.h by k, pad = 1;
        unfold x.w by j, stride = 3, dilation = 2, pad = (2, 0);
        size k = 3, j = 3;
    }
    pub runtime(x, weight) = "nchwkj,dckj->ndhw" {
        unfold x.h by k, pad = 1;
        unfold x.w by j, stride = 3, dilation = 2, pad = (2, 0);
    }

    /// Stride above the phase limit: the run-time scan even though the window is fixed.
    pub stride9(x, weight) = "nclk,dck->ndl" {
        unfold x.l by k, stride = 9, pad = 4;
        size k = 3;
    }
    pub stride10_dilation4(x, weight) = "nclk,dck->ndl" {
        unfold x.l by k, stride = 10, dilation = 4, pad = (3, 5);
        size k = 4;
    }
    /// gcd(4, 2) = 2: odd positions meet no tap.
    pub stride4_dilation2(x, weight) = "nclk,dck->ndl" {
        unfold x.l by k, stride = 4, dilation = 2, pad = 3;
    }
    pub stride4_dilation2_fixed(x, weight) = "nclk,dck->ndl" {
        unfold x.l by k, stride = 4, dilation = 2, pad = 3;
        size k = 3;
    }
    /// gcd 3, step 3, dilation / gcd = 2 inverted modulo 3.
    pub stride9_dilation6(x, weight) = "nclk,dck->ndl" {
        unfold x.l by k, stride = 9, dilation = 6, pad = (4, 2);
    }
    pub stride6_dilation4_reflect(x, weight) = "nclk,dck->ndl" {
        unfold x.l by k, stride = 6, dilation = 4, pad = (3, 2), mode = reflect;
    }
    /// Fixed windows beyond the unroll limit (16) loop at run time.
    pub window17(x, weight) = "nclk,dck->ndl" {
        unfold x.l by k, stride = 2, pad = 2;
        size k = 17;
    }
    pub window16(x, weight) = "nclk,dck->ndl" {
        unfold x.l by k, dilation = 2, pad = 5, mode = circular;
        size k = 16;
        bias d;
    }
}

conv1d_property!(stride9_matches: stride9, k in 3..4usize, len >= |k| least_len(k, 1, 8, 1));
conv1d_property!(stride10_dilation4_matches: stride10_dilation4, k in 4..5usize,
    len >= |k| least_len(k, 4, 8, 1));
conv1d_property!(stride4_dilation2_matches: stride4_dilation2, k in 1..6usize,
    len >= |k| least_len(k, 2, 6, 1));
conv1d_property!(stride4_dilation2_fixed_matches: stride4_dilation2_fixed, k in 3..4usize,
    len >= |k| least_len(k, 2, 6, 1));
conv1d_property!(stride9_dilation6_matches: stride9_dilation6, k in 1..4usize,
    len >= |k| least_len(k, 6, 6, 1) + 6);
// reflect: pad 3 < len.
conv1d_property!(stride6_dilation4_reflect_matches: stride6_dilation4_reflect, k in 1..4usize,
    len >= |k| least_len(k, 4, 5, 4));
conv1d_property!(window17_matches: window17, k in 17..18usize, len >= |k| least_len(k, 1, 4, 1));
// circular: pad 5 <= len.
conv1d_property!(window16_matches: window16, k in 16..17usize,
    len >= |k| least_len(k, 2, 10, 5), b);

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    #[test]
    fn tiny_matches(
        (lx, lw, lg) in (layout(), layout(), layout()),
        seed in any::<u64>(),
    ) {
        let rng = &mut Lcg::new(seed);
        let x = random::<f32, _>([1, 2, 5], lx, rng);
        let weight = random::<f32, _>([2, 2, 3], lw, rng);
        let b = random::<f32, _>([2], Layout::Standard, rng);
        check_generated!(tiny(x, weight) bias b, rng, lg);
    }

    #[test]
    fn tiny_2d_matches(
        (lx, lw, lg) in (layout(), layout(), layout()),
        seed in any::<u64>(),
    ) {
        let rng = &mut Lcg::new(seed);
        let x = random::<f32, _>([2, 1, 3, 6], lx, rng);
        let weight = random::<f32, _>([3, 1, 2, 2], lw, rng);
        check_generated!(tiny_2d(x, weight), rng, lg);
    }

    /// The same spec with windows fixed (unrolled) and not (run-time loops).
    #[test]
    fn unrolled_and_runtime_windows_match(
        (n, c, d) in (1..3usize, 1..3usize, 1..4usize),
        (k, j) in (1..5usize, 1..5usize),
        (eh, ew) in (0..5usize, 0..8usize),
        (lx, lw, lg) in (layout(), layout(), layout()),
        seed in any::<u64>(),
    ) {
        let rng = &mut Lcg::new(seed);
        let (h, w) = (least_len(3, 1, 2, 1) + eh, least_len(3, 2, 2, 1) + ew);
        let x = random::<f32, _>([n, c, h, w], lx, rng);
        let weight = random::<f32, _>([d, c, 3, 3], lw, rng);
        check_generated!(unrolled(x, weight), rng, lg);
        check_generated!(runtime(x, weight), rng, lg);
        let (h, w) = (least_len(k, 1, 2, 1) + eh, least_len(j, 2, 2, 1) + ew);
        let x = random::<f32, _>([n, c, h, w], lx, rng);
        let weight = random::<f32, _>([d, c, k, j], lw, rng);
        check_generated!(runtime(x, weight), rng, lg);
    }
}
