//! Independent checks of gradients: central finite differences in f64 and the adjoint
//! identity. They know nothing of the derivation; they only call the functions they test.

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
pub fn inner(a: &ArrayD<f64>, b: &ArrayD<f64>) -> f64 {
    if a.shape() != b.shape() {
        return 0.0;
    }
    Zip::from(a).and(b).fold(0.0, |acc, x, y| acc + x * y)
}

/// How far the adjoint identity `<f(x), y> = <x, f^T(y)>` is from holding, relative to
/// the size of its terms: `|<fx, y> - <x, fty>| / (|fx|·|y| + |x|·|fty|)` (norms are
/// Euclidean), 0 when both sides are 0.
pub fn adjoint_gap(fx: &ArrayD<f64>, y: &ArrayD<f64>, x: &ArrayD<f64>, fty: &ArrayD<f64>) -> f64 {
    let norm = |a: &ArrayD<f64>| a.iter().map(|v| v * v).sum::<f64>().sqrt();
    let scale = norm(fx) * norm(y) + norm(x) * norm(fty);
    if scale == 0.0 {
        return 0.0;
    }
    (inner(fx, y) - inner(x, fty)).abs() / scale
}

/// The largest elementwise difference and that difference relative to the larger of the
/// two tensors' largest magnitudes (1 when both are 0).
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
