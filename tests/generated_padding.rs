//! Generated kernels with every pad form (an integer, `(lo, hi)`, `valid`, `same` with
//! stride 1 and 2 and different per axis) and every padding mode (zeros, reflect,
//! replicate, circular) against the reference interpreter, over random shapes.

mod common;

use common::{check_generated, conv1d_property, layout, least_len, random, Layout, Lcg};
use conv_kernels::conv_kernel;
use proptest::prelude::*;

conv_kernel! {
    pub pad_int(x, weight) = "nclk,dck->ndl" { unfold x.l by k, stride = 2, pad = 1; bias d; }
    pub pad_lo_hi(x, weight) = "nclk,dck->ndl" { unfold x.l by k, stride = 3, pad = (2, 1); }
    pub pad_valid(x, weight) = "nclk,dck->ndl" {
        unfold x.l by k, stride = 2, pad = valid;
        size k = 3;
    }
    pub same_s1(x, weight) = "nclk,dck->ndl" { unfold x.l by k, pad = same; bias d; }
    pub same_s2(x, weight) = "nclk,dck->ndl" { unfold x.l by k, stride = 2, pad = same; }
    pub same_s2_fixed(x, weight) = "nclk,dck->ndl" {
        unfold x.l by k, stride = 2, pad = same;
        size k = 4;
    }
    /// `same` with stride 2 along h, stride 1 and dilation 2 along w.
    pub same_2d(x, weight) = "nchwkj,dckj->ndhw" {
        unfold x.h by k, stride = 2, pad = same;
        unfold x.w by j, dilation = 2, pad = same;
        bias d;
    }

    pub zeros(x, weight) = "nclk,dck->ndl" {
        unfold x.l by k, stride = 2, pad = (2, 1), mode = zeros;
    }
    pub reflect(x, weight) = "nclk,dck->ndl" {
        unfold x.l by k, stride = 2, pad = (2, 1), mode = reflect;
    }
    pub replicate(x, weight) = "nclk,dck->ndl" {
        unfold x.l by k, stride = 2, pad = (2, 1), mode = replicate;
    }
    pub circular(x, weight) = "nclk,dck->ndl" {
        unfold x.l by k, stride = 2, pad = (2, 1), mode = circular;
    }
    /// Fixed windows (unrolled taps), a different mode on each axis.
    pub modes_2d(x, weight) = "nchwkj,dckj->ndhw" {
        unfold x.h by k, stride = 2, pad = 2, mode = reflect;
        unfold x.w by j, dilation = 2, pad = (1, 3), mode = circular;
        size k = 3, j = 2;
        bias d;
    }
    pub replicate_same(x, weight) = "nclk,dck->ndl" {
        unfold x.l by k, stride = 3, dilation = 2, pad = same, mode = replicate;
    }
    pub reflect_fixed(x, weight) = "nclk,dck->ndl" {
        unfold x.l by k, stride = 3, pad = 3, mode = reflect;
        size k = 5;
    }
}

conv1d_property!(pad_int_matches: pad_int, k in 1..6usize, len >= |k| least_len(k, 1, 2, 1), b);
conv1d_property!(pad_lo_hi_matches: pad_lo_hi, k in 1..6usize, len >= |k| least_len(k, 1, 3, 1));
conv1d_property!(pad_valid_matches: pad_valid, k in 3..4usize, len >= |k| least_len(k, 1, 0, 1));
conv1d_property!(same_s1_matches: same_s1, k in 1..6usize, len >= |_k| 1, b);
conv1d_property!(same_s2_matches: same_s2, k in 1..6usize, len >= |_k| 1);
conv1d_property!(same_s2_fixed_matches: same_s2_fixed, k in 4..5usize, len >= |_k| 1);
conv1d_property!(zeros_matches: zeros, k in 1..6usize, len >= |k| least_len(k, 1, 3, 1));
// reflect needs pad < len, circular pad <= len.
conv1d_property!(reflect_matches: reflect, k in 1..6usize, len >= |k| least_len(k, 1, 3, 3));
conv1d_property!(replicate_matches: replicate, k in 1..6usize, len >= |k| least_len(k, 1, 3, 1));
conv1d_property!(circular_matches: circular, k in 1..6usize, len >= |k| least_len(k, 1, 3, 2));
// `same` pads at most span - 1 = 2 (k - 1) in all, so a replicate border always fits.
conv1d_property!(replicate_same_matches: replicate_same, k in 1..5usize, len >= |_k| 1);
conv1d_property!(reflect_fixed_matches: reflect_fixed, k in 5..6usize, len >= |_k| 4);

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    #[test]
    fn same_2d_matches(
        (n, c, d) in (1..3usize, 1..3usize, 1..4usize),
        (k, j) in (1..5usize, 1..4usize),
        (h, w) in (1..9usize, 1..9usize),
        (lx, lw, lg) in (layout(), layout(), layout()),
        seed in any::<u64>(),
    ) {
        let rng = &mut Lcg::new(seed);
        let x = random::<f32, _>([n, c, h, w], lx, rng);
        let weight = random::<f32, _>([d, c, k, j], lw, rng);
        let b = random::<f32, _>([d], Layout::Strided, rng);
        check_generated!(same_2d(x, weight) bias b, rng, lg);
    }

    #[test]
    fn modes_2d_matches(
        (n, c, d) in (1..3usize, 1..3usize, 1..4usize),
        // reflect along h: pad 2 < h; circular along w: pad 3 <= w.
        (h, w) in (3..9usize, 3..9usize),
        (lx, lw, lg) in (layout(), layout(), layout()),
        seed in any::<u64>(),
    ) {
        let rng = &mut Lcg::new(seed);
        let x = random::<f32, _>([n, c, h, w], lx, rng);
        let weight = random::<f32, _>([d, c, 3, 2], lw, rng);
        let b = random::<f32, _>([d], Layout::Standard, rng);
        check_generated!(modes_2d(x, weight) bias b, rng, lg);
    }
}
