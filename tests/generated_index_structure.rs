//! Index structures beyond the textbook convolution, against the reference interpreter:
//! subscripts in unusual orders (the window before its axis, permuted outputs), pooling
//! (one operand, fixed window), a third operand along the unfolded output axis with a
//! bias on that axis, a window shared by three operands, and empty extents.

mod common;

use common::{check_generated, layout, least_len, random, Layout, Lcg};
use conv_kernels::conv_kernel;
use proptest::prelude::*;

conv_kernel! {
    /// Window axis before its axis in x's subscript; output axes reversed.
    pub permuted(x, weight) = "nkcl,dck->ldn" { unfold x.l by k, stride = 2, pad = 1; }
    /// Channels-last 2D, windows interleaved with the axes, output in yet another order.
    pub interleaved(x, weight) = "nhkwjc,cdkj->wdnh" {
        unfold x.h by k, pad = (0, 1), mode = reflect;
        unfold x.w by j, stride = 2, dilation = 2, pad = same;
        bias d;
    }
    /// Sum pooling: one operand, the window fixed.
    pub pool(x) = "nclk->ncl" { unfold x.l by k, stride = 2, pad = 1, mode = replicate; size k = 3; }
    pub pool2d(x) = "nchwkj->nchw" {
        unfold x.h by k, stride = 2;
        unfold x.w by j, stride = 3, pad = (1, 2), mode = circular;
        size k = 2, j = 4;
    }
    /// A mask along the output positions, and a bias along them too.
    pub masked(x, weight, mask) = "nclk,dck,l->nld" { unfold x.l by k, stride = 2; bias l; }
    /// The taps weighted by two operands.
    pub taps3(x, weight, taper) = "nclk,dck,k->ndl" { unfold x.l by k, dilation = 2, pad = 2; }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    #[test]
    fn permuted_subscripts_match(
        (n, c, d) in (1..3usize, 1..4usize, 1..4usize),
        (k, j) in (1..5usize, 1..4usize),
        (el, eh, ew) in (0..6usize, 0..5usize, 0..6usize),
        (lx, lw, lg) in (layout(), layout(), layout()),
        seed in any::<u64>(),
    ) {
        let rng = &mut Lcg::new(seed);
        let l = least_len(k, 1, 2, 1) + el;
        let x = random::<f32, _>([n, c, l], lx, rng);
        let weight = random::<f32, _>([d, c, k], lw, rng);
        check_generated!(permuted(x, weight), rng, lg);
        // reflect: pad 1 < h.
        let (h, w) = (least_len(k, 1, 1, 2) + eh, 1 + ew);
        let x = random::<f32, _>([n, h, w, c], lx, rng);
        let weight = random::<f32, _>([c, d, k, j], lw, rng);
        let b = random::<f32, _>([d], Layout::Standard, rng);
        check_generated!(interleaved(x, weight) bias b, rng, lg);
    }

    #[test]
    fn pooling_matches(
        (n, c) in (1..3usize, 1..4usize),
        (l, eh, ew) in (1..9usize, 0..5usize, 0..5usize),
        (lx, lg) in (layout(), layout()),
        seed in any::<u64>(),
    ) {
        let rng = &mut Lcg::new(seed);
        let x = random::<f32, _>([n, c, l], lx, rng);
        check_generated!(pool(x), rng, lg);
        // circular: pad 2 <= w.
        let (h, w) = (least_len(2, 1, 0, 1) + eh, least_len(4, 1, 3, 2) + ew);
        let x = random::<f32, _>([n, c, h, w], lx, rng);
        check_generated!(pool2d(x), rng, lg);
    }

    #[test]
    fn third_operands_match(
        (n, c, d, k) in (1..3usize, 1..4usize, 1..4usize, 1..4usize),
        extra in 0..7usize,
        (lx, lw, lm, lg) in (layout(), layout(), layout(), layout()),
        seed in any::<u64>(),
    ) {
        let rng = &mut Lcg::new(seed);
        let l = least_len(k, 1, 0, 1) + extra;
        let x = random::<f32, _>([n, c, l], lx, rng);
        let weight = random::<f32, _>([d, c, k], lw, rng);
        let mask = random::<f32, _>([(l - k) / 2 + 1], lm, rng);
        let b = random::<f32, _>([(l - k) / 2 + 1], lm, rng);
        check_generated!(masked(x, weight, mask) bias b, rng, lg);
        let l = least_len(k, 2, 4, 1) + extra;
        let x = random::<f32, _>([n, c, l], lx, rng);
        let taper = random::<f32, _>([k], lm, rng);
        check_generated!(taps3(x, weight, taper), rng, lg);
    }
}

/// Empty batches, channels and inputs: empty results, or the bias alone.
#[test]
fn empty_extents_match() {
    let rng = &mut Lcg::new(7);
    for (n, c, l) in [(0, 2, 5), (2, 0, 5), (0, 0, 3)] {
        let x = random::<f32, _>([n, c, l], Layout::Standard, rng);
        let weight = random::<f32, _>([3, c, 2], Layout::Standard, rng);
        check_generated!(permuted(x, weight), rng, Layout::Standard);
        let mask = random::<f32, _>([(l - 2) / 2 + 1], Layout::Standard, rng);
        let b = random::<f32, _>([(l - 2) / 2 + 1], Layout::Standard, rng);
        check_generated!(masked(x, weight, mask) bias b, rng, Layout::Fortran);
    }
    // No input rows: too few for a reflect pad, in the generated code as in the interpreter.
    let x = random::<f32, _>([2, 0, 3, 3], Layout::Standard, rng);
    let weight = random::<f32, _>([3, 4, 1, 2], Layout::Standard, rng);
    let b = random::<f32, _>([4], Layout::Standard, rng);
    let interp = conv_kernels::Interpreter::new(interleaved::SOURCE).unwrap();
    let views = [x.view().into_dyn(), weight.view().into_dyn()];
    let expected = interp.forward(&views, None).map(drop);
    assert!(
        matches!(expected, Err(conv_kernels::ShapeError::PadTooLarge { .. })),
        "{expected:?}"
    );
    assert_eq!(interleaved::forward(&x, &weight, &b).map(drop), expected);
    // No input columns: `same` gives no output columns.
    let x = random::<f32, _>([2, 2, 0, 3], Layout::Standard, rng);
    check_generated!(interleaved(x, weight) bias b, rng, Layout::Standard);
}
