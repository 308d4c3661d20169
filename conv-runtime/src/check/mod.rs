//! Independent checks of gradients: central finite differences in f64 and the adjoint
//! identity. They know nothing of the derivation; they only call the functions they test.
//!
//! - [`check()`] holds a generated kernel to the reference interpreter and to finite
//!   differences of its own forward: the one call a new kernel needs.
//! - [`check_interpreter`] holds every gradient the interpreter derives to finite
//!   differences and the adjoint identity.
//! - [`finite_difference`], [`adjoint_gap`], [`max_error`] and [`inner`] are the pieces
//!   they are built from, for tests of other functions.

mod interpreter;
mod kernel;

pub use interpreter::{check_interpreter, GradientReport, ReportEntry};
pub use kernel::{check, KernelCheck, KernelReport};

use ndarray::{ArrayD, Zip};

/// Central finite differences of the loss `L = <f(inputs), grad_y>` with respect to
/// `inputs[wrt]`: `(L(x + h e_i) - L(x - h e_i)) / 2h` for every element `i`.
///
/// For a kernel (linear in each input) the truncation error is zero and only rounding
/// remains, of order `eps * |L| / h`.
///
/// # Example
///
/// ```
/// use conv_runtime::check::{finite_difference, max_error};
/// use ndarray::{array, ArrayD};
///
/// // f(a, b) = a * b elementwise: the gradient of <f, g> with respect to a is b * g.
/// let f = |inputs: &[ArrayD<f64>]| &inputs[0] * &inputs[1];
/// let a = array![1.0, 2.0, 3.0].into_dyn();
/// let b = array![4.0, 5.0, 6.0].into_dyn();
/// let g = array![1.0, -1.0, 0.5].into_dyn();
/// let numeric = finite_difference(f, &[a, b.clone()], &g, 0, 1e-3);
/// let (_, relative) = max_error(&numeric, &(&b * &g));
/// assert!(relative < 1e-12, "{relative}");
/// ```
pub fn finite_difference(
    f: impl Fn(&[ArrayD<f64>]) -> ArrayD<f64>,
    inputs: &[ArrayD<f64>],
    grad_y: &ArrayD<f64>,
    wrt: usize,
    h: f64,
) -> ArrayD<f64> {
    let loss = |inputs: &[ArrayD<f64>]| inner(&f(inputs), grad_y);
    let mut probe = inputs.to_vec();
    let mut grad = ArrayD::zeros(inputs[wrt].raw_dim());
    for (index, slot) in grad.indexed_iter_mut() {
        let original = inputs[wrt][&index];
        probe[wrt][&index] = original + h;
        let up = loss(&probe);
        probe[wrt][&index] = original - h;
        let down = loss(&probe);
        probe[wrt][&index] = original;
        *slot = (up - down) / (2.0 * h);
    }
    grad
}

/// `<a, b>`: the sum of the elementwise products (0 for shapes that differ).
///
/// ```
/// use conv_runtime::check::inner;
/// use ndarray::array;
///
/// let a = array![[1.0, 2.0], [3.0, 4.0]].into_dyn();
/// let b = array![[1.0, 0.0], [0.0, -1.0]].into_dyn();
/// assert_eq!(inner(&a, &b), -3.0);
/// ```
pub fn inner(a: &ArrayD<f64>, b: &ArrayD<f64>) -> f64 {
    if a.shape() != b.shape() {
        return 0.0;
    }
    Zip::from(a).and(b).fold(0.0, |acc, x, y| acc + x * y)
}

/// How far the adjoint identity `<f(x), y> = <x, f^T(y)>` is from holding, relative to
/// the size of its terms: `|<fx, y> - <x, fty>| / (|fx|·|y| + |x|·|fty|)` (norms are
/// Euclidean), 0 when both sides are 0.
///
/// For a linear map `f` with transpose `f^T` the gap is rounding error only; a wrong
/// `f^T` (a gradient with a wrong sign, tap or phase) makes it of order 1.
///
/// ```
/// use conv_runtime::check::adjoint_gap;
/// use ndarray::{array, ArrayD};
///
/// // f(x) = M x and its transpose f^T(y) = M^T y.
/// let m = array![[1.0, 2.0, 0.0], [0.0, -1.0, 3.0]];
/// let x = array![0.5, -1.0, 2.0];
/// let y = array![1.5, 0.25];
/// let (fx, fty) = (m.dot(&x).into_dyn(), m.t().dot(&y).into_dyn());
/// let (x, y) = (x.into_dyn(), y.into_dyn());
/// assert!(adjoint_gap(&fx, &y, &x, &fty) < 1e-15);
/// // M^T y with two entries swapped (a tap in the wrong place): the gap is large.
/// let wrong: ArrayD<f64> = array![1.5, 0.75, 2.75].into_dyn();
/// assert!(adjoint_gap(&fx, &y, &x, &wrong) > 0.1);
/// ```
pub fn adjoint_gap(fx: &ArrayD<f64>, y: &ArrayD<f64>, x: &ArrayD<f64>, fty: &ArrayD<f64>) -> f64 {
    let norm = |a: &ArrayD<f64>| a.iter().map(|v| v * v).sum::<f64>().sqrt();
    let scale = norm(fx) * norm(y) + norm(x) * norm(fty);
    if scale == 0.0 {
        return 0.0;
    }
    (inner(fx, y) - inner(x, fty)).abs() / scale
}

/// The largest elementwise difference and that difference relative to the larger of the
/// two tensors' largest magnitudes (1 when both are 0). Shapes that differ give
/// infinity, a NaN difference gives NaN.
///
/// ```
/// use conv_runtime::check::max_error;
/// use ndarray::array;
///
/// let actual = array![1.0, 2.0, 4.01].into_dyn();
/// let expected = array![1.0, 2.0, 4.0].into_dyn();
/// let (absolute, relative) = max_error(&actual, &expected);
/// assert!((absolute - 0.01).abs() < 1e-12);
/// assert!((relative - 0.01 / 4.01).abs() < 1e-12);
/// ```
pub fn max_error(actual: &ArrayD<f64>, expected: &ArrayD<f64>) -> (f64, f64) {
    if actual.shape() != expected.shape() {
        return (f64::INFINITY, f64::INFINITY);
    }
    let largest = |a: &ArrayD<f64>| a.iter().fold(0.0f64, |m, v| m.max(v.abs()));
    let scale = largest(actual).max(largest(expected));
    let worst = Zip::from(actual).and(expected).fold(0.0f64, |m, a, e| {
        if (a - e).is_nan() {
            f64::NAN
        } else {
            m.max((a - e).abs())
        }
    });
    (worst, worst / if scale == 0.0 { 1.0 } else { scale })
}
