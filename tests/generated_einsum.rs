//! Generated kernels without windows or with windows on two operands, and f64 kernels,
//! against the reference interpreter: matmul, batched matmul, a 3-operand chain,
//! transpose, reductions (to a vector and to a scalar), an outer product, rank 7
//! (dynamic-rank arrays), two unfolded operands, and `dtype f64`.

mod common;

use common::{check_generated, layout, least_len, random, Layout, Lcg};
use conv_kernels::conv_kernel;
use proptest::prelude::*;

conv_kernel! {
    pub matmul(a, b) = "ik,kj->ij";
    pub batched(a, b) = "bik,bkj->bij" { bias j; }
    pub chain(a, b, c) = "ab,bc,cd->ad";
    pub transpose(a) = "ij->ji";
    pub reduce(a) = "ij->i";
    pub dot(a, b) = "i,i->";
    pub outer(a, b) = "i,j->ij" { bias j; }
    pub rank7(a, b) = "abcdefg,gh->abcdefh";
    /// Two unfolded operands sharing no window.
    pub two_unfolds(a, b) = "lkj,mjk->lm" {
        unfold a.l by k;
        unfold b.m by j, stride = 2, pad = 1;
    }
    pub two_unfolds_modes(a, b, c) = "lk,mj,kj->lm" {
        unfold a.l by k, pad = 1, mode = reflect;
        unfold b.m by j, dilation = 2, stride = 3, pad = (0, 2), mode = replicate;
        size j = 2;
    }

    pub matmul64(a, b) = "ik,kj->ij" { dtype f64; }
    pub chain64(a, b, c) = "ab,bc,cd->ad" { dtype f64; }
    pub conv2d64(x, weight) = "nchwkj,dckj->ndhw" {
        unfold x.h by k, stride = 2, pad = same;
        unfold x.w by j, dilation = 2, pad = (1, 2), mode = circular;
        bias d;
        dtype f64;
    }
    pub fold64(x, weight) = "nclk,dck->ndl" {
        unfold x.l by k, stride = 4, dilation = 2, pad = 3, mode = reflect;
        size k = 3;
        dtype f64;
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    #[test]
    fn matmul_matches(
        (i, k, j) in (1..6usize, 1..6usize, 1..6usize),
        (la, lb, lg) in (layout(), layout(), layout()),
        seed in any::<u64>(),
    ) {
        let rng = &mut Lcg::new(seed);
        let (a, b) = (random::<f32, _>([i, k], la, rng), random::<f32, _>([k, j], lb, rng));
        check_generated!(matmul(a, b), rng, lg);
        let (a, b) = (random::<f64, _>([i, k], la, rng), random::<f64, _>([k, j], lb, rng));
        check_generated!(matmul64(a, b), rng, lg);
    }

    #[test]
    fn batched_matmul_matches(
        (n, i, k, j) in (1..4usize, 1..5usize, 1..5usize, 1..5usize),
        (la, lb, lg) in (layout(), layout(), layout()),
        seed in any::<u64>(),
    ) {
        let rng = &mut Lcg::new(seed);
        let a = random::<f32, _>([n, i, k], la, rng);
        let b = random::<f32, _>([n, k, j], lb, rng);
        let bias = random::<f32, _>([j], Layout::Reversed, rng);
        check_generated!(batched(a, b) bias bias, rng, lg);
    }

    #[test]
    fn chain_matches(
        (p, q, r, s) in (1..5usize, 1..5usize, 1..5usize, 1..5usize),
        (la, lb, lc) in (layout(), layout(), layout()),
        seed in any::<u64>(),
    ) {
        let rng = &mut Lcg::new(seed);
        let a = random::<f32, _>([p, q], la, rng);
        let b = random::<f32, _>([q, r], lb, rng);
        let c = random::<f32, _>([r, s], lc, rng);
        check_generated!(chain(a, b, c), rng, la);
        let a = random::<f64, _>([p, q], lb, rng);
        let b = random::<f64, _>([q, r], lc, rng);
        let c = random::<f64, _>([r, s], la, rng);
        check_generated!(chain64(a, b, c), rng, lb);
    }

    #[test]
    fn transpose_reduce_dot_outer_match(
        (i, j) in (1..7usize, 1..7usize),
        (la, lb, lg) in (layout(), layout(), layout()),
        seed in any::<u64>(),
    ) {
        let rng = &mut Lcg::new(seed);
        let a = random::<f32, _>([i, j], la, rng);
        check_generated!(transpose(a), rng, lg);
        check_generated!(reduce(a), rng, lg);
        let (a, b) = (random::<f32, _>([i], la, rng), random::<f32, _>([i], lb, rng));
        check_generated!(dot(a, b), rng, lg);
        let b = random::<f32, _>([j], lb, rng);
        let bias = random::<f32, _>([j], lg, rng);
        check_generated!(outer(a, b) bias bias, rng, lg);
    }

    #[test]
    fn rank7_matches(
        (a0, a1, a6, h) in (1..3usize, 1..3usize, 1..4usize, 1..3usize),
        (la, lb, lg) in (layout(), layout(), layout()),
        seed in any::<u64>(),
    ) {
        let rng = &mut Lcg::new(seed);
        let shape = ndarray::IxDyn(&[a0, a1, 2, 1, 2, 1, a6]);
        let a = random::<f32, _>(shape, la, rng);
        let b = random::<f32, _>(ndarray::IxDyn(&[a6, h]), lb, rng).into_dimensionality().unwrap();
        check_generated!(rank7(a, b), rng, lg);
    }

    #[test]
    fn two_unfolds_match(
        (k, j) in (1..4usize, 1..4usize),
        (el, em) in (0..5usize, 0..6usize),
        (la, lb, lg) in (layout(), layout(), layout()),
        seed in any::<u64>(),
    ) {
        let rng = &mut Lcg::new(seed);
        let (l, m) = (least_len(k, 1, 0, 1) + el, least_len(j, 1, 2, 1) + em);
        let a = random::<f32, _>([l, j], la, rng);
        let b = random::<f32, _>([m, k], lb, rng);
        check_generated!(two_unfolds(a, b), rng, lg);
        // reflect: pad 1 < l.
        let (l, m) = (least_len(k, 1, 2, 2) + el, least_len(2, 2, 2, 1) + em);
        let a = random::<f32, _>([l], la, rng);
        let b = random::<f32, _>([m], lb, rng);
        let c = random::<f32, _>([k, 2], lg, rng);
        check_generated!(two_unfolds_modes(a, b, c), rng, lg);
    }

    #[test]
    fn f64_convolutions_match(
        (n, c, d) in (1..3usize, 1..3usize, 1..3usize),
        (k, j) in (1..4usize, 1..4usize),
        (h, ew) in (1..8usize, 0..5usize),
        (lx, lw, lg) in (layout(), layout(), layout()),
        seed in any::<u64>(),
    ) {
        let rng = &mut Lcg::new(seed);
        // circular: pad 2 <= w.
        let w = least_len(j, 2, 3, 2) + ew;
        let x = random::<f64, _>([n, c, h, w], lx, rng);
        let weight = random::<f64, _>([d, c, k, j], lw, rng);
        let b = random::<f64, _>([d], Layout::Standard, rng);
        check_generated!(conv2d64(x, weight) bias b, rng, lg);
        // reflect: pad 3 < len.
        let x = random::<f64, _>([n, c, least_len(3, 2, 6, 4) + ew + h], lx, rng);
        let weight = random::<f64, _>([d, c, 3], lw, rng);
        check_generated!(fold64(x, weight), rng, lg);
    }
}
