//! The gradients of generated f64 kernels against central finite differences of their
//! own `forward` (no interpreter involved), and the adjoint identity
//! `<f(x), grad_y> = <x_i, grad_x_i>` for every operand (with a zero bias: the kernels
//! are linear in each operand).

mod common;

use common::{layout, least_len, random, Layout, Lcg};
use conv_kernels::check::{adjoint_gap, finite_difference, max_error};
use conv_kernels::conv_kernel;
use ndarray::{ArrayD, ArrayView, Dimension, Ix1, Ix2, Ix3, Ix4, Ix5};
use proptest::prelude::*;

conv_kernel! {
    pub conv2d(x, weight) = "nchwkj,dckj->ndhw" {
        unfold x.h by k, stride = 2, pad = 1, mode = reflect;
        unfold x.w by j, stride = 3, dilation = 2, pad = (2, 1);
        size k = 3;
        bias d;
        dtype f64;
    }
    pub conv1d(x, weight) = "nclk,dck->ndl" {
        unfold x.l by k, stride = 4, dilation = 2, pad = same, mode = circular;
        dtype f64;
    }
    pub nhwc(x, weight) = "nhwkjc,kjcd->nhwd" {
        unfold x.h by k, stride = 2, pad = same, mode = replicate;
        unfold x.w by j, pad = 1;
        size k = 2, j = 3;
        bias d;
        dtype f64;
    }
    pub grouped(x, weight) = "ngchwkj,gdckj->ngdhw" {
        unfold x.h by k, stride = 9, pad = 4;
        unfold x.w by j, stride = 2, pad = (1, 0);
        dtype f64;
    }
    pub chain(a, b, c) = "ab,bc,cd->ad" { dtype f64; }
    pub two_unfolds(a, b) = "lkj,mjk->lm" {
        unfold a.l by k, pad = 1, mode = reflect;
        unfold b.m by j, stride = 2, pad = 1;
        dtype f64;
    }
}

/// Input `i` as a view of fixed rank.
fn fix<D: Dimension>(inputs: &[ArrayD<f64>], i: usize) -> ArrayView<'_, f64, D> {
    inputs[i].view().into_dimensionality().unwrap()
}

/// Holds the generated gradients `analytic` (one per input: every operand, then the
/// bias if any) against finite differences of `forward` at `inputs`, and each operand's
/// gradient against the adjoint identity (the first `operands` inputs; a bias among the
/// inputs is zeroed for it).
fn check_gradients(
    family: &str,
    forward: impl Fn(&[ArrayD<f64>]) -> ArrayD<f64>,
    inputs: &[ArrayD<f64>],
    operands: usize,
    grad_y: &ArrayD<f64>,
    analytic: &[ArrayD<f64>],
) {
    let shapes: Vec<_> = inputs.iter().map(|a| a.shape().to_vec()).collect();
    for (i, grad) in analytic.iter().enumerate() {
        let numeric = finite_difference(&forward, inputs, grad_y, i, 1e-3);
        let (_, relative) = max_error(grad, &numeric);
        let what = format!("{family} gradient {i}");
        common::record("f64 finite differences", &what, relative);
        assert!(
            relative < 1e-8,
            "{family} {shapes:?}: gradient {i} is {relative:.3e} from finite differences"
        );
    }
    let mut unbiased = inputs.to_vec();
    for bias in &mut unbiased[operands..] {
        bias.fill(0.0);
    }
    let y = forward(&unbiased);
    for (i, grad) in analytic[..operands].iter().enumerate() {
        let gap = adjoint_gap(&y, grad_y, &inputs[i], grad);
        common::record("f64 adjoint", &format!("{family} operand {i}"), gap);
        assert!(
            gap < 1e-12,
            "{family} {shapes:?}: the adjoint identity is {gap:.3e} off for operand {i}"
        );
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(8))]

    #[test]
    fn conv2d_gradients(
        (n, c, d, j) in (1..3usize, 1..3usize, 1..3usize, 1..4usize),
        (eh, ew) in (0..4usize, 0..5usize),
        (lx, lw) in (layout(), layout()),
        seed in any::<u64>(),
    ) {
        let rng = &mut Lcg::new(seed);
        // reflect: pad 1 < h.
        let (h, w) = (least_len(3, 1, 2, 2) + eh, least_len(j, 2, 3, 1) + ew);
        let x = random::<f64, _>([n, c, h, w], lx, rng);
        let weight = random::<f64, _>([d, c, 3, j], lw, rng);
        let b = random::<f64, _>([d], Layout::Standard, rng);
        let y = conv2d::forward(&x, &weight, &b).unwrap();
        let grad_y = random::<f64, _>(y.raw_dim(), Layout::Standard, rng);
        let g = conv2d::backward(&x, &weight, &grad_y).unwrap();
        let forward = |v: &[ArrayD<f64>]| {
            conv2d::forward(fix::<Ix4>(v, 0), fix::<Ix4>(v, 1), fix::<Ix1>(v, 2))
                .unwrap()
                .into_dyn()
        };
        let inputs = [x.into_dyn(), weight.into_dyn(), b.into_dyn()];
        let analytic = [g.x.into_dyn(), g.weight.into_dyn(), g.bias.into_dyn()];
        check_gradients("conv2d", forward, &inputs, 2, &grad_y.into_dyn(), &analytic);
    }

    #[test]
    fn conv1d_gradients(
        (n, c, d, k) in (1..3usize, 1..3usize, 1..3usize, 1..4usize),
        extra in 0..8usize,
        (lx, lw) in (layout(), layout()),
        seed in any::<u64>(),
    ) {
        let rng = &mut Lcg::new(seed);
        // circular `same`: the pads (at most span - 1 in all) must not exceed the length.
        let l = least_len(k, 2, 0, 1) + extra;
        let x = random::<f64, _>([n, c, l], lx, rng);
        let weight = random::<f64, _>([d, c, k], lw, rng);
        let y = conv1d::forward(&x, &weight).unwrap();
        let grad_y = random::<f64, _>(y.raw_dim(), Layout::Fortran, rng);
        let g = conv1d::backward(&x, &weight, &grad_y).unwrap();
        let forward = |v: &[ArrayD<f64>]| {
            conv1d::forward(fix::<Ix3>(v, 0), fix::<Ix3>(v, 1)).unwrap().into_dyn()
        };
        let inputs = [x.into_dyn(), weight.into_dyn()];
        let analytic = [g.x.into_dyn(), g.weight.into_dyn()];
        check_gradients("conv1d", forward, &inputs, 2, &grad_y.into_dyn(), &analytic);
    }

    #[test]
    fn nhwc_gradients(
        (n, c, d) in (1..3usize, 1..3usize, 1..3usize),
        (h, ew) in (1..6usize, 0..4usize),
        (lx, lw) in (layout(), layout()),
        seed in any::<u64>(),
    ) {
        let rng = &mut Lcg::new(seed);
        let w = least_len(3, 1, 2, 1) + ew;
        let x = random::<f64, _>([n, h, w, c], lx, rng);
        let weight = random::<f64, _>([2, 3, c, d], lw, rng);
        let b = random::<f64, _>([d], Layout::Standard, rng);
        let y = nhwc::forward(&x, &weight, &b).unwrap();
        let grad_y = random::<f64, _>(y.raw_dim(), Layout::Standard, rng);
        let g = nhwc::backward(&x, &weight, &grad_y).unwrap();
        let forward = |v: &[ArrayD<f64>]| {
            nhwc::forward(fix::<Ix4>(v, 0), fix::<Ix4>(v, 1), fix::<Ix1>(v, 2))
                .unwrap()
                .into_dyn()
        };
        let inputs = [x.into_dyn(), weight.into_dyn(), b.into_dyn()];
        let analytic = [g.x.into_dyn(), g.weight.into_dyn(), g.bias.into_dyn()];
        check_gradients("nhwc", forward, &inputs, 2, &grad_y.into_dyn(), &analytic);
    }

    #[test]
    fn grouped_gradients(
        (g, c, d) in (1..3usize, 1..3usize, 1..3usize),
        (k, j) in (1..4usize, 1..3usize),
        (eh, ew) in (0..12usize, 0..4usize),
        (lx, lw) in (layout(), layout()),
        seed in any::<u64>(),
    ) {
        let rng = &mut Lcg::new(seed);
        let (h, w) = (least_len(k, 1, 8, 1) + eh, least_len(j, 1, 1, 1) + ew);
        let x = random::<f64, _>([1, g, c, h, w], lx, rng);
        let weight = random::<f64, _>([g, d, c, k, j], lw, rng);
        let y = grouped::forward(&x, &weight).unwrap();
        let grad_y = random::<f64, _>(y.raw_dim(), Layout::Strided, rng);
        let grads = grouped::backward(&x, &weight, &grad_y).unwrap();
        let forward = |v: &[ArrayD<f64>]| {
            grouped::forward(fix::<Ix5>(v, 0), fix::<Ix5>(v, 1)).unwrap().into_dyn()
        };
        let inputs = [x.into_dyn(), weight.into_dyn()];
        let analytic = [grads.x.into_dyn(), grads.weight.into_dyn()];
        check_gradients("grouped", forward, &inputs, 2, &grad_y.into_dyn(), &analytic);
    }

    #[test]
    fn chain_and_two_unfolds_gradients(
        (p, q, r, s) in (1..4usize, 1..4usize, 1..4usize, 1..4usize),
        (la, lb) in (layout(), layout()),
        seed in any::<u64>(),
    ) {
        let rng = &mut Lcg::new(seed);
        let a = random::<f64, _>([p, q], la, rng);
        let b = random::<f64, _>([q, r], lb, rng);
        let c = random::<f64, _>([r, s], la, rng);
        let y = chain::forward(&a, &b, &c).unwrap();
        let grad_y = random::<f64, _>(y.raw_dim(), Layout::Standard, rng);
        let g = chain::backward(&a, &b, &c, &grad_y).unwrap();
        let forward = |v: &[ArrayD<f64>]| {
            chain::forward(fix::<Ix2>(v, 0), fix::<Ix2>(v, 1), fix::<Ix2>(v, 2))
                .unwrap()
                .into_dyn()
        };
        let inputs = [a.into_dyn(), b.into_dyn(), c.into_dyn()];
        let analytic = [g.a.into_dyn(), g.b.into_dyn(), g.c.into_dyn()];
        check_gradients("chain", forward, &inputs, 3, &grad_y.into_dyn(), &analytic);

        // Windows k = p, j = q; reflect: pad 1 < l.
        let (l, m) = (least_len(p, 1, 2, 2) + r, least_len(q, 1, 2, 1) + s);
        let a = random::<f64, _>([l, q], la, rng);
        let b = random::<f64, _>([m, p], lb, rng);
        let y = two_unfolds::forward(&a, &b).unwrap();
        let grad_y = random::<f64, _>(y.raw_dim(), Layout::Standard, rng);
        let g = two_unfolds::backward(&a, &b, &grad_y).unwrap();
        let forward = |v: &[ArrayD<f64>]| {
            two_unfolds::forward(fix::<Ix2>(v, 0), fix::<Ix2>(v, 1)).unwrap().into_dyn()
        };
        let inputs = [a.into_dyn(), b.into_dyn()];
        let analytic = [g.a.into_dyn(), g.b.into_dyn()];
        check_gradients("two_unfolds", forward, &inputs, 2, &grad_y.into_dyn(), &analytic);
    }
}
