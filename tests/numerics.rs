//! IEEE special values through the generated kernels (as loop nests and on the GEMM
//! path) and the interpreter: a NaN reaches exactly the results it contributes to,
//! infinities and overflow give infinities (or NaN for inf × 0 and inf − inf),
//! subnormals are kept, not flushed to zero. And the accumulation error of f32 kernels
//! on a long reduction (4096 channels × 3×3 taps), measured against f64: README.md
//! ("Numerics") states the bound this test checks.
//!
//! What "contributes" means at a zero-padded border differs between the two ways a
//! kernel runs, and these tests pin both: the loop nests and the interpreter skip the
//! taps that fall in the padding, so a NaN or infinite weight (or upstream gradient)
//! meets real input values only; the GEMM path, like PyTorch's im2col, stores the
//! padding as zeros and multiplies them, so there a NaN weight at a border tap gives
//! NaN (0 × NaN) where the loop nest gives a number.

mod common;

use common::{random, Layout, Lcg};
use conv_kernels::{conv_kernel, set_gemm_threshold, Interpreter};
use ndarray::{Array, Array3, ArrayD, Axis, Dimension};

conv_kernel! {
    pub conv1d(x, weight) = "nclk,dck->ndl" { unfold x.l by k, pad = 1; }
    pub conv1d_f64(x, weight) = "nclk,dck->ndl" { unfold x.l by k, pad = 1; dtype f64; }
    pub conv2d(x, weight) = "nchwkj,dckj->ndhw" {
        unfold x.h by k, pad = 1;
        unfold x.w by j, pad = 1;
        size k = 3, j = 3;
    }
    pub conv2d_f64(x, weight) = "nchwkj,dckj->ndhw" {
        unfold x.h by k, pad = 1;
        unfold x.w by j, pad = 1;
        size k = 3, j = 3;
        dtype f64;
    }
}

/// The two ways a kernel runs: its loop nest, and the GEMM path.
const WAYS: [(&str, usize); 2] = [("loop nest", usize::MAX), ("GEMM path", 0)];

/// Shapes with more multiply-adds than the GEMM path's default threshold, so both ways
/// are exercised: batch, channels in and out, length, window.
const SHAPE: (usize, usize, usize, usize, usize) = (2, 16, 8, 32, 3);

fn inputs(seed: u64) -> (Array3<f32>, Array3<f32>) {
    let (n, c, d, l, k) = SHAPE;
    let rng = &mut Lcg::new(seed);
    (
        random::<f32, _>([n, c, l], Layout::Standard, rng),
        random::<f32, _>([d, c, k], Layout::Standard, rng),
    )
}

fn interpreter(x: &Array3<f32>, w: &Array3<f32>, grad_y: Option<&Array3<f32>>) -> Vec<ArrayD<f32>> {
    let interp = Interpreter::new(conv1d::SOURCE).unwrap();
    let ops = [x.view().into_dyn(), w.view().into_dyn()];
    let y = interp.forward(&ops, None).unwrap();
    let gy = grad_y.map_or_else(|| y.clone(), |g| g.clone().into_dyn());
    let grads = interp.backward(&ops, gy.view()).unwrap();
    vec![y, grads.operands[0].clone(), grads.operands[1].clone()]
}

/// `y`, `grad_x` and `grad_weight` of `conv1d`, both ways, with the interpreter's third.
fn all_ways(
    x: &Array3<f32>,
    w: &Array3<f32>,
    grad_y: &Array3<f32>,
) -> Vec<(&'static str, [ArrayD<f32>; 3])> {
    let mut out = Vec::new();
    for (way, threshold) in WAYS {
        set_gemm_threshold(threshold);
        let y = conv1d::forward(x, w).unwrap().into_dyn();
        let g = conv1d::backward(x, w, grad_y).unwrap();
        out.push((way, [y, g.x.into_dyn(), g.weight.into_dyn()]));
    }
    set_gemm_threshold(1 << 14);
    let [y, gx, gw]: [ArrayD<f32>; 3] = interpreter(x, w, Some(grad_y)).try_into().unwrap();
    out.push(("interpreter", [y, gx, gw]));
    out
}

fn nan_positions(a: &ArrayD<f32>) -> Vec<Vec<usize>> {
    a.indexed_iter()
        .filter(|(_, v)| v.is_nan())
        .map(|(i, _)| i.slice().to_vec())
        .collect()
}

/// A NaN in x reaches the outputs whose windows read it (every output channel, only its
/// batch element) and the weight gradient of its channel, never grad_x (which does not
/// read x); everything else stays finite.
#[test]
fn nan_input_reaches_the_windows_that_read_it() {
    let (n, c, d, l, k) = SHAPE;
    let (mut x, w) = inputs(1);
    let (nan_n, nan_c, p) = (1, 5, 17);
    x[[nan_n, nan_c, p]] = f32::NAN;
    let grad_y = random::<f32, _>([n, d, l], Layout::Standard, &mut Lcg::new(2));
    for (way, [y, gx, gw]) in all_ways(&x, &w, &grad_y) {
        // Output position o reads padded positions o..o+3, input positions o-1..=o+1.
        let expected: Vec<Vec<usize>> = (0..d)
            .flat_map(|dd| (p - 1..=p + 1).map(move |o| vec![nan_n, dd, o]))
            .collect();
        assert_eq!(nan_positions(&y), expected, "{way}: y");
        assert!(nan_positions(&gx).is_empty(), "{way}: grad_x");
        let expected: Vec<Vec<usize>> = (0..d)
            .flat_map(|dd| (0..k).map(move |kk| vec![dd, nan_c, kk]))
            .collect();
        assert_eq!(nan_positions(&gw), expected, "{way}: grad_weight");
        assert!(y
            .iter()
            .chain(&gx)
            .chain(&gw)
            .all(|v| v.is_nan() || v.is_finite()));
    }
    let _ = (c, l);
}

/// A NaN weight at tap 0 of output channel 0: tap 0 of output position 0 lies in the zero
/// padding. The loop nest and the interpreter skip it, so y[.., 0, 0] stays finite; the
/// GEMM path multiplies the stored padding zero by NaN. Likewise a NaN in grad_y at
/// position 0 reaches grad_weight's tap 0 only on the GEMM path.
#[test]
fn nan_weight_at_a_padded_tap() {
    let (n, c, d, l, _) = SHAPE;
    let (x, mut w) = inputs(3);
    w[[0, 2, 0]] = f32::NAN;
    let mut grad_y = random::<f32, _>([n, d, l], Layout::Standard, &mut Lcg::new(4));
    grad_y[[0, 3, 0]] = f32::NAN;
    for (way, [y, gx, gw]) in all_ways(&x, &w, &grad_y) {
        let padded_nan = way == "GEMM path";
        for nn in 0..n {
            assert_eq!(y[[nn, 0, 0]].is_nan(), padded_nan, "{way}: y[{nn}, 0, 0]");
            assert!(
                (1..l).all(|o| y[[nn, 0, o]].is_nan()),
                "{way}: y[{nn}, 0, 1..]"
            );
            assert!((1..d).all(|dd| y.index_axis(Axis(1), dd).iter().all(|v| v.is_finite())));
        }
        // grad_weight[3, .., 0] = sum over o of x_padded[o] grad_y[o]: o = 0 is padding.
        for cc in 0..c {
            assert_eq!(
                gw[[3, cc, 0]].is_nan(),
                padded_nan,
                "{way}: grad_weight[3, {cc}, 0]"
            );
            assert!(gw[[3, cc, 1]].is_nan() && gw[[3, cc, 2]].is_nan(), "{way}");
        }
        // grad_x of channel 2 meets the NaN weight (and every channel the NaN grad_y).
        assert!(gx.iter().any(|v| v.is_nan()), "{way}");
    }
}

/// +inf in x gives +inf where every weight it meets is positive, NaN where it meets a
/// zero weight (inf × 0) or where +inf and -inf meet (inf − inf).
#[test]
fn infinities() {
    let (n, c, d, l, k) = SHAPE;
    let x = Array::from_elem((n, c, l), 0.5f32);
    let mut w = Array::from_elem((d, c, k), 0.25f32);
    let mut x_inf = x.clone();
    x_inf[[0, 0, 10]] = f32::INFINITY;
    w[[1, 0, 1]] = 0.0; // output channel 1 meets the inf at tap 1 (position 10) with 0
    let grad_y = Array::from_elem((n, d, l), 1.0f32);
    for (way, [y, ..]) in all_ways(&x_inf, &w, &grad_y) {
        assert_eq!(y[[0, 0, 10]], f32::INFINITY, "{way}");
        assert_eq!(y[[0, 0, 9]], f32::INFINITY, "{way}");
        assert!(y[[0, 1, 10]].is_nan(), "{way}: inf × 0");
        assert_eq!(y[[0, 1, 9]], f32::INFINITY, "{way}");
        assert_eq!(y[[0, 0, 12]], 0.5 * 0.25 * 3.0 * c as f32, "{way}");
    }
    let mut x_both = x_inf.clone();
    x_both[[0, 1, 11]] = f32::NEG_INFINITY;
    for (way, [y, ..]) in all_ways(&x_both, &w, &grad_y) {
        assert!(y[[0, 0, 10]].is_nan(), "{way}: inf − inf");
        assert_eq!(y[[0, 0, 9]], f32::INFINITY, "{way}");
        assert_eq!(y[[0, 0, 12]], f32::NEG_INFINITY, "{way}");
    }
}

/// Sums beyond f32::MAX are infinities, not wrapped or clamped.
#[test]
fn overflow_gives_infinity() {
    let (n, c, d, l, k) = SHAPE;
    let mut x = Array::from_elem((n, c, l), 0.0f32);
    x[[0, 0, 10]] = f32::MAX;
    x[[1, 0, 10]] = -f32::MAX;
    let mut w = Array::from_elem((d, c, k), 0.0f32);
    w.index_axis_mut(Axis(1), 0).fill(2.0);
    let grad_y = Array::from_elem((n, d, l), 1.0f32);
    for (way, [y, ..]) in all_ways(&x, &w, &grad_y) {
        assert!((9..=11).all(|o| y[[0, 0, o]] == f32::INFINITY), "{way}");
        assert!((9..=11).all(|o| y[[1, 0, o]] == f32::NEG_INFINITY), "{way}");
        assert_eq!(y[[0, 0, 12]], 0.0, "{way}");
    }
}

/// Subnormal inputs, products and sums are computed exactly as IEEE says (no flush to
/// zero): multiples of 2^-149 add exactly, halving 2^-140 gives 2^-141.
#[test]
fn subnormals_are_kept() {
    let (n, c, d, l, k) = SHAPE;
    let tiny = f32::from_bits(1 << 9); // 2^-140, subnormal
    assert!(tiny.is_subnormal());
    let x = Array::from_elem((n, c, l), tiny);
    let w = Array::from_elem((d, c, k), 0.5f32);
    let grad_y = Array::from_elem((n, d, l), 1.0f32);
    for (way, [y, ..]) in all_ways(&x, &w, &grad_y) {
        // Interior: 3 taps × c channels × tiny/2; the border has 2 taps.
        let interior = f32::from_bits(1 << 8) * (3 * c) as f32;
        let border = f32::from_bits(1 << 8) * (2 * c) as f32;
        assert!(interior.is_subnormal() && border.is_subnormal());
        assert_eq!(y[[0, 0, 5]], interior, "{way}");
        assert_eq!(y[[1, d - 1, 0]], border, "{way}");
        assert_eq!(y[[1, d - 1, l - 1]], border, "{way}");
    }
    // f64 too.
    let tiny = f64::from_bits(1 << 20);
    assert!(tiny.is_subnormal());
    let x = Array::from_elem((n, c, l), tiny);
    let w = Array::from_elem((d, c, k), 1.0f64);
    for (_, threshold) in WAYS {
        set_gemm_threshold(threshold);
        let y = conv1d_f64::forward(&x, &w).unwrap();
        assert_eq!(y[[0, 0, 5]], tiny * (3 * c) as f64);
    }
    set_gemm_threshold(1 << 14);
}

/// The largest error of an output over the sum of the magnitudes of its terms.
fn relative_to_terms(y: &ArrayD<f64>, exact: &ArrayD<f64>, terms: &ArrayD<f64>) -> f64 {
    y.iter()
        .zip(exact)
        .zip(terms)
        .map(|((y, e), t)| (y - e).abs() / t)
        .fold(0.0, f64::max)
}

/// A 3×3 convolution over 4096 channels: 36,864 products per output. Each f32 output is
/// compared with the same computation in f64 on the same (f32) values, which is exact to
/// about 1e-12 here; the error is measured relative to the sum of the magnitudes of its
/// terms (the scale of any summation's rounding, however much the terms cancel) and
/// relative to the largest output. README.md states the bounds.
#[test]
fn accumulation_error_of_a_long_reduction() {
    let rng = &mut Lcg::new(9);
    let x = random::<f32, _>([1, 4096, 8, 8], Layout::Standard, rng);
    let w = random::<f32, _>([4, 4096, 3, 3], Layout::Standard, rng);
    let (x64, w64) = (x.mapv(f64::from), w.mapv(f64::from));
    set_gemm_threshold(usize::MAX);
    let exact = conv2d_f64::forward(&x64, &w64).unwrap().into_dyn();
    let terms = conv2d_f64::forward(&x64.mapv(f64::abs), &w64.mapv(f64::abs))
        .unwrap()
        .into_dyn();
    let largest = exact.iter().fold(0.0f64, |m, v| m.max(v.abs()));
    for (way, threshold) in WAYS {
        set_gemm_threshold(threshold);
        let y = conv2d::forward(&x, &w).unwrap().mapv(f64::from).into_dyn();
        let of_terms = relative_to_terms(&y, &exact, &terms);
        let max_error = y
            .iter()
            .zip(&exact)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0, f64::max);
        let of_largest = max_error / largest;
        eprintln!(
            "f32 {way}, 36864 terms per output: error <= {of_terms:.2e} of the sum of |terms|, \
             {of_largest:.2e} of the largest output ({max_error:.2e} absolute)"
        );
        assert!(
            of_terms <= 5e-7,
            "{way}: {of_terms:.2e} of the sum of |terms|"
        );
        assert!(
            of_largest <= 2e-5,
            "{way}: {of_largest:.2e} of the largest output"
        );
    }
    set_gemm_threshold(1 << 14);
}
