//! A convolution over four spatial axes, "ncabdeijkl,fcijkl->nfabde": axes a, b, d and e
//! of x, each viewed through its own window (i, j, k, l) with its own stride, dilation,
//! padding and padding mode, and a bias along f. The generated kernels, in f32 and f64,
//! against the reference interpreter (forward and every gradient, the bias's included)
//! and against central finite differences of their own forward (`conv_kernels::check`),
//! as loop nests and on the fast path, on small shapes and on shapes above the fast
//! path's default threshold; the interpreter's own gradients against finite differences
//! and the adjoint identity; and values worked out by hand for inputs of ones.

use conv_kernels::check::{check, check_interpreter, KernelReport};
use conv_kernels::{conv_kernel, set_gemm_threshold, Interpreter};
use ndarray::{Array, Array1, ArrayD, IxDyn};

conv_kernel! {
    /// Along a: stride 2, zero padding 1. Along b: dilation 2, no padding, 2 taps fixed.
    /// Along d: padding (1, 0), replicated. Along e: stride 3, dilation 2, padding 2,
    /// reflected.
    pub conv4d(x, weight) = "ncabdeijkl,fcijkl->nfabde" {
        unfold x.a by i, stride = 2, pad = 1;
        unfold x.b by j, dilation = 2;
        unfold x.d by k, pad = (1, 0), mode = replicate;
        unfold x.e by l, stride = 3, dilation = 2, pad = 2, mode = reflect;
        size j = 2;
        bias f;
    }

    /// The same in f64.
    pub conv4d_f64(x, weight) = "ncabdeijkl,fcijkl->nfabde" {
        unfold x.a by i, stride = 2, pad = 1;
        unfold x.b by j, dilation = 2;
        unfold x.d by k, pad = (1, 0), mode = replicate;
        unfold x.e by l, stride = 3, dilation = 2, pad = 2, mode = reflect;
        size j = 2;
        bias f;
        dtype f64;
    }
}

/// The two ways a kernel runs: its loop nest, and the fast path (threshold 0 sends every
/// pass to it, grad_bias included).
const WAYS: [(&str, usize); 2] = [("loop nest", usize::MAX), ("fast path", 0)];

/// The fast path's default threshold (README, `set_gemm_threshold`).
const DEFAULT_THRESHOLD: usize = 1 << 14;

/// Shapes of x (n, c, a, b, d, e) and weight (f, c, i, j, k, l): one window of one tap,
/// windows longer than the stride, an input as short as its window allows (d of length
/// 1, e of length 3 under reflect padding 2), several batch and channel counts.
const SMALL: [([usize; 6], [usize; 6]); 4] = [
    ([1, 2, 5, 4, 2, 3], [2, 2, 3, 2, 2, 2]),
    ([2, 1, 4, 3, 3, 5], [3, 1, 2, 2, 1, 3]),
    ([1, 3, 3, 5, 1, 4], [1, 3, 1, 2, 2, 1]),
    ([2, 2, 6, 3, 4, 8], [2, 2, 4, 2, 3, 2]),
];

/// Above the default threshold: out (a, b, d, e) = (4, 3, 4, 3), so 3 * 144 outputs of
/// 2 * 3 * 2 * 2 * 2 = 48 multiply-adds each, 20736 in all (per pass).
const LARGE: ([usize; 6], [usize; 6]) = ([1, 2, 8, 5, 4, 7], [3, 2, 3, 2, 2, 2]);

/// The view's length along an unfolded axis, by the README's formula:
/// floor((len + lo + hi - dilation * (taps - 1) - 1) / stride) + 1.
fn out_len(len: usize, taps: usize, stride: usize, dilation: usize, lo: usize, hi: usize) -> usize {
    (len + lo + hi - dilation * (taps - 1) - 1) / stride + 1
}

/// The output shape (n, f, a, b, d, e) worked out from the unfolds' declarations.
fn output_shape(x: [usize; 6], w: [usize; 6]) -> [usize; 6] {
    [
        x[0],
        w[0],
        out_len(x[2], w[2], 2, 1, 1, 1),
        out_len(x[3], w[3], 1, 2, 0, 0),
        out_len(x[4], w[4], 1, 1, 1, 0),
        out_len(x[5], w[5], 3, 2, 2, 2),
    ]
}

fn multiply_adds(x: [usize; 6], w: [usize; 6]) -> usize {
    output_shape(x, w).iter().product::<usize>() * w[1..].iter().product::<usize>()
}

/// Asserts that a report covers the forward result, all three gradients, forward mode
/// and the double backward, each within `interpreter` of the interpreter and
/// `differences` of finite differences.
fn assert_report(what: &str, report: &KernelReport, interpreter: f64, differences: f64) {
    let names: Vec<&str> = report.entries.iter().map(|e| e.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "forward",
            "grad_x",
            "grad_weight",
            "grad_bias",
            "jvp",
            "double_backward"
        ],
        "{what}"
    );
    for entry in &report.entries {
        assert!(
            entry.vs_interpreter <= interpreter,
            "{what}: {} is {:.2e} from the interpreter\n{report}",
            entry.name,
            entry.vs_interpreter
        );
        if entry.name != "forward" {
            let fd = entry.vs_finite_differences.expect("a gradient is checked");
            assert!(
                fd <= differences,
                "{what}: {} is {fd:.2e} from finite differences\n{report}",
                entry.name
            );
        }
    }
}

#[test]
fn output_shapes_follow_the_formula() {
    for (x, w) in SMALL.into_iter().chain([LARGE]) {
        assert_eq!(conv4d::output_shape(x, w).unwrap(), output_shape(x, w));
        assert_eq!(conv4d_f64::output_shape(x, w).unwrap(), output_shape(x, w));
    }
}

#[test]
fn small_shapes_against_interpreter_and_finite_differences() {
    for (way, threshold) in WAYS {
        set_gemm_threshold(threshold);
        for (seed, (x, w)) in SMALL.into_iter().enumerate() {
            let what = format!("{way}, x {x:?}, weight {w:?}");
            let report = check(&conv4d::Kernel, &[&x, &w], seed as u64).unwrap();
            assert_report(&format!("f32 {what}"), &report, 1e-5, 1e-3);
            let report = check(&conv4d_f64::Kernel, &[&x, &w], seed as u64).unwrap();
            assert_report(&format!("f64 {what}"), &report, 1e-12, 1e-8);
        }
    }
    set_gemm_threshold(DEFAULT_THRESHOLD);
}

/// A NaN weight at tap (0, 0, 0, 0) of output channel 0. Output (a, b, d, e) = 0 reads
/// that tap from the zero padding along a: the loop nest skips such taps and stays
/// finite, the fast path multiplies its stored zeros by NaN (README, Numerics), so that
/// output tells which path ran.
fn forward_runs_on_the_fast_path(x: [usize; 6], w: [usize; 6]) -> bool {
    let x = Array::from_shape_fn(x, |(n, c, a, b, d, e)| {
        ((n + 2 * c + a + 3 * b + d + e) % 5) as f32 - 2.0
    });
    let mut weight = Array::from_elem(w, 0.5f32);
    weight[[0, 0, 0, 0, 0, 0]] = f32::NAN;
    let y = conv4d::forward(&x, &weight, &Array1::zeros(w[0])).unwrap();
    // Further along a, the tap reads x: NaN either way.
    assert!(y[[0, 0, 1, 0, 0, 0]].is_nan());
    y[[0, 0, 0, 0, 0, 0]].is_nan()
}

#[test]
fn large_shapes_take_the_fast_path() {
    let (x, w) = LARGE;
    assert!(
        multiply_adds(x, w) > DEFAULT_THRESHOLD,
        "{}",
        multiply_adds(x, w)
    );
    set_gemm_threshold(usize::MAX);
    assert!(!forward_runs_on_the_fast_path(x, w), "the loop nest");
    set_gemm_threshold(DEFAULT_THRESHOLD);
    assert!(forward_runs_on_the_fast_path(x, w), "the default threshold");
    // Below the threshold the loop nest runs, as the rule says.
    let (x, w) = SMALL[3];
    assert!(multiply_adds(x, w) < DEFAULT_THRESHOLD);
    assert!(!forward_runs_on_the_fast_path(x, w));
}

#[test]
fn large_shapes_against_interpreter_and_finite_differences() {
    let (x, w) = LARGE;
    set_gemm_threshold(DEFAULT_THRESHOLD);
    let report = check(&conv4d::Kernel, &[&x, &w], 7).unwrap();
    assert_report("f32, large", &report, 1e-5, 1e-3);
    let report = check(&conv4d_f64::Kernel, &[&x, &w], 8).unwrap();
    assert_report("f64, large", &report, 1e-12, 1e-8);
}

/// Deterministic values in [-1, 1].
fn filled(shape: &[usize], seed: f64) -> ArrayD<f64> {
    let mut t = seed;
    ArrayD::from_shape_simple_fn(IxDyn(shape), move || {
        t += 0.37;
        t.sin()
    })
}

/// The interpreter, which the checks above hold the kernels to, against finite
/// differences of its own forward and the adjoint identity (on the three smaller shapes:
/// the interpreter loops over every point, and finite differences run it twice per
/// input entry).
#[test]
fn interpreter_gradients_against_finite_differences() {
    let interpreter = Interpreter::new(conv4d_f64::SOURCE).unwrap();
    for (seed, (x, w)) in SMALL[..3].iter().copied().enumerate() {
        let s = seed as f64;
        let operands = [filled(&x, 0.1 + s), filled(&w, 0.7 + s)];
        let bias = filled(&[w[0]], 1.9 + s);
        let grad_y = filled(&output_shape(x, w), 2.3 + s);
        let report = check_interpreter(&interpreter, &operands, Some(&bias), &grad_y).unwrap();
        let names: Vec<&str> = report.entries.iter().map(|e| e.name.as_str()).collect();
        assert_eq!(names, ["grad_x", "grad_weight", "grad_bias"]);
        assert!(report.worst() < 1e-9, "x {x:?}, weight {w:?}:\n{report}");
    }
}

/// The product of one count per axis: `counts[0][p0] * counts[1][p1] * ...`.
fn outer(counts: &[&[f32]]) -> ArrayD<f32> {
    let shape: Vec<usize> = counts.iter().map(|c| c.len()).collect();
    ArrayD::from_shape_fn(IxDyn(&shape), |index| {
        counts
            .iter()
            .enumerate()
            .map(|(axis, c)| c[index[axis]])
            .product()
    })
}

/// x, weight and grad_y all ones, bias (0.5, -1): every term is 1, so each result counts
/// terms, which factor into one count per axis (worked out below). Replicated and
/// reflected padding repeat x's ones, so there every tap counts; zero padding does not.
/// x (1, 2, 5, 4, 2, 3), weight (2, 2, 3, 2, 2, 2), y (1, 2, 3, 2, 2, 2).
#[test]
fn ones_by_hand() {
    let (x_shape, w_shape) = SMALL[0];
    assert_eq!(output_shape(x_shape, w_shape), [1, 2, 3, 2, 2, 2]);
    let x = Array::from_elem(x_shape, 1.0f32);
    let weight = Array::from_elem(w_shape, 1.0f32);
    let bias = Array1::from(vec![0.5f32, -1.0]);
    let grad_y = Array::from_elem([1, 2, 3, 2, 2, 2], 1.0f32);

    // y: along a (stride 2, pad 1, 3 taps over 5), output p reads input 2p + i - 1:
    // p = 0 reads -1, 0, 1 (2 in x), p = 1 reads 1, 2, 3 (3), p = 2 reads 3, 4, 5 (2).
    // Along b, d and e all 2 taps count; 2 channels.
    let per_output = outer(&[
        &[1.0],
        &[1.0, 1.0],
        &[2.0, 3.0, 2.0],
        &[2.0; 2],
        &[2.0; 2],
        &[2.0; 2],
    ]);
    let y_expected = ArrayD::from_shape_fn(IxDyn(&[1, 2, 3, 2, 2, 2]), |index| {
        bias[index[1]] + 2.0 * per_output[&index]
    });

    // grad_x[.., pa, pb, pd, pe] counts the (output, tap) pairs that read the position,
    // times the 2 output channels:
    // a: 2p + i - 1 = pa: pa = 0: (0, 1); 1: (0, 2), (1, 0); 2: (1, 1); 3: (1, 2), (2, 0);
    //    4: (2, 1).
    // b: q + 2j = pb (no padding, 2 outputs): one pair for each of pb = 0..4.
    // d: r + k - 1 (pad (1, 0), 2 outputs), position -1 replicating 0:
    //    r = 0 reads -1 -> 0 and 0, r = 1 reads 0 and 1: input 0 three times, 1 once.
    // e: 3s + 2l - 2 (2 outputs), reflected: s = 0 reads -2 -> 2 and 0, s = 1 reads 1
    //    and 3 -> 1: input 0 once, 1 twice, 2 once.
    let grad_x_expected = outer(&[
        &[2.0],
        &[1.0, 1.0],
        &[1.0, 2.0, 1.0, 2.0, 1.0],
        &[1.0; 4],
        &[3.0, 1.0],
        &[1.0, 2.0, 1.0],
    ]);

    // grad_weight[.., i, j, k, l] counts the outputs whose tap reads x (or a repeated
    // edge): along a, tap 0 for p = 1, 2, tap 1 for all 3, tap 2 for p = 0, 1; along b,
    // d and e every tap for both outputs.
    let grad_w_expected = outer(&[
        &[1.0; 2],
        &[1.0; 2],
        &[2.0, 3.0, 2.0],
        &[2.0; 2],
        &[2.0; 2],
        &[2.0; 2],
    ]);

    for (way, threshold) in WAYS {
        set_gemm_threshold(threshold);
        let y = conv4d::forward(&x, &weight, &bias).unwrap().into_dyn();
        assert_eq!(y, y_expected, "{way}: y");
        let grads = conv4d::backward(&x, &weight, &grad_y).unwrap();
        assert_eq!(grads.x.into_dyn(), grad_x_expected, "{way}: grad_x");
        assert_eq!(
            grads.weight.into_dyn(),
            grad_w_expected,
            "{way}: grad_weight"
        );
        // 3 * 2 * 2 * 2 outputs per channel.
        assert_eq!(
            grads.bias,
            Array1::from(vec![24.0f32, 24.0]),
            "{way}: grad_bias"
        );
    }
    set_gemm_threshold(DEFAULT_THRESHOLD);
}
