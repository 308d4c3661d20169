//! Shared helpers of the interpreter's tests: a deterministic pseudo-random array
//! generator (no dependency on `rand`, the same numbers on every machine) and small
//! conversions.

// Each test file uses a different subset of these helpers.
#![allow(dead_code)]

use conv_runtime::Interpreter;
use ndarray::{ArrayD, ArrayView, ArrayViewD, IxDyn, ShapeBuilder};

/// A 64-bit linear congruential generator (Knuth's MMIX constants); the top 31 bits
/// of the state give values spread evenly over [-1, 1).
pub struct Lcg(u64);

impl Lcg {
    pub fn new(seed: u64) -> Self {
        Lcg(seed ^ 0x9e37_79b9_7f4a_7c15)
    }

    pub fn next_f64(&mut self) -> f64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((self.0 >> 33) as f64) / f64::from(1u32 << 30) - 1.0
    }

    /// An array of this shape with entries in [-1, 1).
    pub fn array(&mut self, shape: &[usize]) -> ArrayD<f64> {
        ArrayD::from_shape_fn(IxDyn(shape), |_| self.next_f64())
    }
}

/// An array of this shape with entries in [-1, 1), the same for the same seed.
pub fn random(shape: &[usize], seed: u64) -> ArrayD<f64> {
    Lcg::new(seed).array(shape)
}

/// Compiles kernel text, panicking with the diagnostics if it does not compile.
pub fn interp(text: &str) -> Interpreter {
    Interpreter::new(text).unwrap_or_else(|e| panic!("{text}\n{e}"))
}

/// Rounds every entry to f32.
pub fn to_f32(a: &ArrayD<f64>) -> ArrayD<f32> {
    a.mapv(|v| v as f32)
}

/// Widens every entry to f64.
pub fn to_f64(a: &ArrayD<f32>) -> ArrayD<f64> {
    a.mapv(f64::from)
}

/// An n-dimensional array from a flat list, in row-major order.
pub fn arr(shape: &[usize], values: &[f64]) -> ArrayD<f64> {
    ArrayD::from_shape_vec(IxDyn(shape), values.to_vec())
        .expect("as many values as the shape holds")
}

/// A view of this shape whose entries all alias `value[0]` (every stride 0): a huge
/// logical shape for free.
pub fn broadcast<'a, T>(shape: &[usize], value: &'a [T]) -> ArrayViewD<'a, T> {
    let zeros = vec![0; shape.len()];
    ArrayView::from_shape(IxDyn(shape).strides(IxDyn(&zeros)), value).expect("a zero-stride view")
}
