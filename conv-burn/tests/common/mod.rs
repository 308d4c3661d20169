//! Shared by the tests: deterministic values, tensors from them and back, errors.

// Each test uses a different subset; Device::ndarray is deprecated in burn 0.22 (Flex
// replaces it) but still a backend this crate supports.
#![allow(dead_code, deprecated)]

use burn::tensor::{DType, Device, Tensor, TensorData};

/// The devices every test runs on: Flex and NdArray, both with autodiff.
pub fn devices() -> Vec<(&'static str, Device)> {
    vec![
        ("flex", Device::flex().autodiff()),
        ("ndarray", Device::ndarray().autodiff()),
    ]
}

/// Deterministic values in [-1, 1) (splitmix64).
pub struct Values(u64);

impl Values {
    pub fn new(seed: u64) -> Self {
        Values(seed)
    }
    pub fn next(&mut self) -> f64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        (z >> 11) as f64 / (1u64 << 52) as f64 - 1.0
    }
    pub fn take(&mut self, n: usize) -> Vec<f64> {
        (0..n).map(|_| self.next()).collect()
    }
}

/// A tensor of `dtype` (F32 or F64) holding `values`.
pub fn tensor<const D: usize>(
    values: &[f64],
    shape: [usize; D],
    device: &Device,
    dtype: DType,
) -> Tensor<D> {
    let data = match dtype {
        DType::F64 => TensorData::new(values.to_vec(), shape),
        _ => TensorData::new(values.iter().map(|&v| v as f32).collect::<Vec<_>>(), shape),
    };
    Tensor::from_data(data, (device, dtype))
}

/// Random values of this shape.
pub fn random<const D: usize>(
    values: &mut Values,
    shape: [usize; D],
    device: &Device,
    dtype: DType,
) -> Tensor<D> {
    let n = shape.iter().product();
    tensor(&values.take(n), shape, device, dtype)
}

/// The tensor's values as f64, in standard order.
pub fn to_f64<const D: usize>(t: &Tensor<D>) -> Vec<f64> {
    t.to_data().convert::<f64>().try_to_vec::<f64>().unwrap()
}

/// `max |a - b| / max(max |b|, 1e-30)`: the largest error relative to the expected
/// tensor's largest entry. Panics if the shapes differ.
pub fn relative<const D: usize>(actual: &Tensor<D>, expected: &Tensor<D>) -> f64 {
    assert_eq!(actual.dims(), expected.dims(), "shapes differ");
    relative_values(&to_f64(actual), &to_f64(expected))
}

pub fn relative_values(actual: &[f64], expected: &[f64]) -> f64 {
    assert_eq!(actual.len(), expected.len());
    let scale = expected.iter().fold(1e-30f64, |m, v| m.max(v.abs()));
    let worst = actual.iter().zip(expected).fold(0.0f64, |m, (a, e)| {
        if (a - e).is_nan() {
            f64::NAN
        } else {
            m.max((a - e).abs())
        }
    });
    worst / scale
}
