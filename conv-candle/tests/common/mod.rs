//! Shared by the tests: the PyTorch fixtures of tests/fixtures (the root package's), read
//! with candle's own .npy reader, and error measures.

// Each test file uses a different subset of these helpers.
#![allow(dead_code)]

use candle_core::{DType, Result, Tensor};
use std::path::PathBuf;

/// One fixture case, as tests/fixtures/generate.py describes it (the struct of
/// tests/pytorch_support, for the generated table).
#[derive(Debug)]
pub struct Case {
    pub name: &'static str,
    pub family: &'static str,
    pub dtype: &'static str,
    pub kernel: &'static str,
    pub source: &'static str,
    pub operands: &'static [&'static str],
    pub bias: bool,
    /// For y and each gradient, the largest entry of the same computation on the
    /// absolute values of its arguments: the scale tolerances are relative to.
    pub magnitudes: &'static [(&'static str, f64)],
}

include!("../../../tests/fixtures/cases.rs");

/// The case of this name.
pub fn case(name: &str) -> &'static Case {
    CASES
        .iter()
        .find(|c| c.name == name)
        .unwrap_or_else(|| panic!("no fixture case {name} in tests/fixtures/cases.rs"))
}

impl Case {
    /// The magnitude of one of its results (`y`, `grad_x`, `grad_bias`, ...).
    pub fn magnitude(&self, result: &str) -> f64 {
        self.magnitudes
            .iter()
            .find(|(name, _)| *name == result)
            .unwrap_or_else(|| panic!("{}: no magnitude for {result}", self.name))
            .1
    }

    /// The fixtures' tolerance for the case's dtype, relative to the magnitude: that of
    /// tests/pytorch_support (PyTorch's own f32 rounding is part of the reference).
    pub fn tolerance(&self) -> f64 {
        match self.dtype {
            "f32" => 4e-6,
            _ => 1e-14,
        }
    }

    /// tests/fixtures/data/<case>/<file>.npy, in the kernel's layout and the case's dtype.
    pub fn read(&self, file: &str) -> Tensor {
        let path: PathBuf = [
            env!("CARGO_MANIFEST_DIR"),
            "..",
            "tests",
            "fixtures",
            "data",
            self.name,
            &format!("{file}.npy"),
        ]
        .iter()
        .collect();
        Tensor::read_npy(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
    }
}

/// The values as f64, in logical (row-major) order.
pub fn values(t: &Tensor) -> Vec<f64> {
    t.to_dtype(DType::F64)
        .and_then(|t| t.flatten_all())
        .and_then(|t| t.to_vec1::<f64>())
        .expect("a float tensor")
}

/// `max |a - b|`, after checking the shapes are equal.
pub fn max_difference(a: &Tensor, b: &Tensor) -> f64 {
    assert_eq!(a.dims(), b.dims(), "shapes differ");
    values(a)
        .iter()
        .zip(values(b))
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f64::max)
}

/// `max |a - b| / max(max |b|, tiny)`.
pub fn relative_difference(a: &Tensor, b: &Tensor) -> f64 {
    let scale = values(b).iter().fold(0.0f64, |m, v| m.max(v.abs()));
    max_difference(a, b) / scale.max(1e-300)
}

/// `sum(y * grad_y)`: a loss whose gradient with respect to `y` is `grad_y`.
pub fn loss_with_gradient(y: &Tensor, grad_y: &Tensor) -> Result<Tensor> {
    y.mul(grad_y)?.sum_all()
}
