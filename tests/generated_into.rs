//! `*_into` variants write exactly what the allocating functions return, into `out`
//! arrays of any layout (row-major, transposed, strided, reversed) holding garbage; and
//! each `grad_<operand>` returns exactly the matching field of `backward`.

mod common;

use common::{layout, least_len, random, Layout, Lcg};
use conv_kernels::conv_kernel;
use ndarray::IxDyn;
use proptest::prelude::*;

conv_kernel! {
    pub conv2d(x, weight) = "nchwkj,dckj->ndhw" {
        unfold x.h by k, stride = 2, pad = 1, mode = replicate;
        unfold x.w by j, dilation = 2, pad = same;
        size k = 3;
        bias d;
    }
    pub chain(a, b, c) = "ab,bc,cd->ad" { dtype f64; }
    pub transpose(a) = "ij->ji";
    pub rank7(a, b) = "abcdefg,gh->abcdefh" { bias h; }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    #[test]
    fn conv2d_into_matches(
        (n, c, d, j) in (1..3usize, 1..3usize, 1..4usize, 1..4usize),
        (eh, w) in (0..5usize, 1..8usize),
        (lx, lw, lg, lo) in (layout(), layout(), layout(), layout()),
        seed in any::<u64>(),
    ) {
        let rng = &mut Lcg::new(seed);
        let h = least_len(3, 1, 2, 1) + eh;
        let x = random::<f32, _>([n, c, h, w], lx, rng);
        let weight = random::<f32, _>([d, c, 3, j], lw, rng);
        let bias = random::<f32, _>([d], Layout::Standard, rng);
        let y = conv2d::forward(&x, &weight, &bias).unwrap();
        let mut out = random::<f32, _>(y.raw_dim(), lo, rng);
        conv2d::forward_into(&x, &weight, &bias, out.view_mut()).unwrap();
        common::assert_same("forward_into", &out, &y);

        let grad_y = random::<f32, _>(y.raw_dim(), lg, rng);
        let grads = conv2d::backward(&x, &weight, &grad_y).unwrap();
        let grad_x = conv2d::grad_x([n, c, h, w], &weight, &grad_y).unwrap();
        common::assert_same("grad_x", &grad_x, &grads.x);
        let mut out = random::<f32, _>(x.raw_dim(), lo, rng);
        conv2d::grad_x_into([n, c, h, w], &weight, &grad_y, out.view_mut()).unwrap();
        common::assert_same("grad_x_into", &out, &grads.x);

        let grad_weight = conv2d::grad_weight(&x, [d, c, 3, j], &grad_y).unwrap();
        common::assert_same("grad_weight", &grad_weight, &grads.weight);
        let mut out = random::<f32, _>(weight.raw_dim(), lo, rng);
        conv2d::grad_weight_into(&x, [d, c, 3, j], &grad_y, out.view_mut()).unwrap();
        common::assert_same("grad_weight_into", &out, &grads.weight);

        common::assert_same("grad_bias", &conv2d::grad_bias(&grad_y).unwrap(), &grads.bias);
        let mut out = random::<f32, _>([d], lo, rng);
        conv2d::grad_bias_into(&grad_y, out.view_mut()).unwrap();
        common::assert_same("grad_bias_into", &out, &grads.bias);
    }

    #[test]
    fn chain_into_matches(
        (p, q, r, s) in (1..5usize, 1..5usize, 1..5usize, 1..5usize),
        (la, lb, lc, lo) in (layout(), layout(), layout(), layout()),
        seed in any::<u64>(),
    ) {
        let rng = &mut Lcg::new(seed);
        let a = random::<f64, _>([p, q], la, rng);
        let b = random::<f64, _>([q, r], lb, rng);
        let c = random::<f64, _>([r, s], lc, rng);
        let y = chain::forward(&a, &b, &c).unwrap();
        let mut out = random::<f64, _>([p, s], lo, rng);
        chain::forward_into(&a, &b, &c, out.view_mut()).unwrap();
        common::assert_same("forward_into", &out, &y);

        let grad_y = random::<f64, _>([p, s], la, rng);
        let grads = chain::backward(&a, &b, &c, &grad_y).unwrap();
        common::assert_same("grad_a", &chain::grad_a([p, q], &b, &c, &grad_y).unwrap(), &grads.a);
        common::assert_same("grad_b", &chain::grad_b(&a, [q, r], &c, &grad_y).unwrap(), &grads.b);
        common::assert_same("grad_c", &chain::grad_c(&a, &b, [r, s], &grad_y).unwrap(), &grads.c);
        let mut out = random::<f64, _>([p, q], lo, rng);
        chain::grad_a_into([p, q], &b, &c, &grad_y, out.view_mut()).unwrap();
        common::assert_same("grad_a_into", &out, &grads.a);
        let mut out = random::<f64, _>([q, r], lo, rng);
        chain::grad_b_into(&a, [q, r], &c, &grad_y, out.view_mut()).unwrap();
        common::assert_same("grad_b_into", &out, &grads.b);
        let mut out = random::<f64, _>([r, s], lo, rng);
        chain::grad_c_into(&a, &b, [r, s], &grad_y, out.view_mut()).unwrap();
        common::assert_same("grad_c_into", &out, &grads.c);
    }

    #[test]
    fn transpose_and_rank7_into_match(
        (i, j, g, h) in (1..6usize, 1..6usize, 1..4usize, 1..4usize),
        (la, lo) in (layout(), layout()),
        seed in any::<u64>(),
    ) {
        let rng = &mut Lcg::new(seed);
        let a = random::<f32, _>([i, j], la, rng);
        let y = transpose::forward(&a).unwrap();
        let mut out = random::<f32, _>([j, i], lo, rng);
        transpose::forward_into(&a, out.view_mut()).unwrap();
        common::assert_same("transpose forward_into", &out, &y);
        let mut out = random::<f32, _>([i, j], lo, rng);
        transpose::grad_a_into([i, j], &y, out.view_mut()).unwrap();
        common::assert_same("transpose grad_a_into", &out, &a);

        let a = random::<f32, _>(IxDyn(&[2, 1, i, 1, 1, 1, g]), la, rng);
        let b = random::<f32, _>([g, h], lo, rng);
        let bias = random::<f32, _>([h], la, rng);
        let y = rank7::forward(&a, &b, &bias).unwrap();
        let mut out = random::<f32, _>(y.raw_dim(), lo, rng);
        rank7::forward_into(&a, &b, &bias, out.view_mut()).unwrap();
        common::assert_same("rank7 forward_into", &out, &y);
        let grads = rank7::backward(&a, &b, &y).unwrap();
        let mut out = random::<f32, _>(a.raw_dim(), lo, rng);
        rank7::grad_a_into([2, 1, i, 1, 1, 1, g], &b, &y, out.view_mut()).unwrap();
        common::assert_same("rank7 grad_a_into", &out, &grads.a);
        let mut out = random::<f32, _>([h], lo, rng);
        rank7::grad_bias_into(&y, out.view_mut()).unwrap();
        common::assert_same("rank7 grad_bias_into", &out, &grads.bias);
    }
}
