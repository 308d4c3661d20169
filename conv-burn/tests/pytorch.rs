//! Generated kernels through burn against PyTorch's answers: the fixtures under
//! tests/fixtures/data of the root package (see tests/fixtures/README.md), on Flex and
//! NdArray with autodiff. For each case the forward result and the gradients of
//! `sum(y * grad_y)` (PyTorch's stored upstream gradient) with respect to every operand
//! and the bias come from `loss.backward()`, and each must be within the fixtures'
//! tolerance of PyTorch's: `max |ours - PyTorch| <= tol * magnitude`, with tol 4e-6
//! (f32) or 1e-14 (f64) and the magnitude the fixture's own (the same computation on
//! absolute values).
//!
//! The kernels are the fixtures' own declarations, in their layouts: PyTorch's for the
//! convolutions, `(N, G, C/G, ..)` and `(G, D/G, C/G, ..)` for the grouped ones, the
//! weight `(C, K..)` for the depthwise ones. The cases cover what burn's own
//! convolutions cannot do too: reflect padding, asymmetric 3-D padding, `pad = same` at
//! stride 2.

mod common;

use burn::tensor::{DType, Device, Tensor};
use common::{devices, tensor, to_f64};
use conv_runtime::conv_kernel;
use std::path::PathBuf;

/// One fixture case, as tests/fixtures/cases.rs lists them.
#[allow(dead_code)]
pub struct Case {
    name: &'static str,
    family: &'static str,
    dtype: &'static str,
    kernel: &'static str,
    source: &'static str,
    operands: &'static [&'static str],
    bias: bool,
    magnitudes: &'static [(&'static str, f64)],
}

include!("../../tests/fixtures/cases.rs");

conv_kernel! {
    conv1d_03(x, weight) = "nclk,dck->ndl" { unfold x.l by k, stride = 3, dilation = 2, pad = 2; bias d; dtype f64; }
    conv2d_09(x, weight) = "nchwkj,dckj->ndhw" { unfold x.h by k, stride = 2, pad = same; unfold x.w by j, stride = 2, pad = same; bias d; dtype f64; }
    conv2d_10(x, weight) = "nchwkj,dckj->ndhw" { unfold x.h by k, dilation = 2, pad = same; unfold x.w by j, stride = 2, pad = same; bias d; }
    conv2d_13(x, weight) = "nchwkj,dckj->ndhw" { unfold x.h by k, pad = 1, mode = reflect; unfold x.w by j, pad = 1, mode = reflect; bias d; }
    fast_conv2d_s2(x, weight) = "nchwkj,dckj->ndhw" { unfold x.h by k, stride = 2, pad = 1; unfold x.w by j, stride = 2, pad = 1; bias d; }
    fast_dilated_pad_0_2(x, weight) = "nchwkj,dckj->ndhw" { unfold x.h by k, dilation = 2, pad = (0, 2); unfold x.w by j, dilation = 2, pad = (0, 2); bias d; }
    grouped_02(x, weight) = "ngchwkj,gdckj->ngdhw" { unfold x.h by k, stride = 2, pad = same; unfold x.w by j, stride = 2, pad = same; }
    fast_grouped(x, weight) = "ngchwkj,gdckj->ngdhw" { unfold x.h by k, pad = 1; unfold x.w by j, pad = 1; }
    depthwise_01(x, weight) = "nchwkj,ckj->nchw" { unfold x.h by k, pad = 1; unfold x.w by j, pad = 1; bias c; }
    depthwise_05(x, weight) = "nczhwijk,cijk->nczhw" { unfold x.z by i, stride = 2, pad = 1; unfold x.h by j, pad = 1; unfold x.w by k, pad = 1; bias c; dtype f64; }
    conv3d_02(x, weight) = "nczhwijk,dcijk->ndzhw" { unfold x.z by i, pad = 1; unfold x.h by j, stride = 2, pad = 1; unfold x.w by k, stride = 3, pad = 1; bias d; dtype f64; }
    fast_conv3d(x, weight) = "nczhwijk,dcijk->ndzhw" { unfold x.z by i, pad = 1; unfold x.h by j, pad = 1; unfold x.w by k, pad = 1; bias d; }
}

/// A .npy file as tests/fixtures/generate.py writes them (format 1.0, little-endian
/// `<f4` or `<f8`, C order): its shape and values.
fn npy(case: &str, file: &str) -> (Vec<usize>, Vec<f64>) {
    let path: PathBuf = [
        env!("CARGO_MANIFEST_DIR"),
        "..",
        "tests",
        "fixtures",
        "data",
        case,
    ]
    .iter()
    .collect::<PathBuf>()
    .join(format!("{file}.npy"));
    let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let rest = bytes.strip_prefix(b"\x93NUMPY\x01\x00").expect(".npy 1.0");
    let len = usize::from(u16::from_le_bytes([rest[0], rest[1]]));
    let (header, data) = rest[2..].split_at(len);
    let header = std::str::from_utf8(header).unwrap();
    assert!(header.contains("'fortran_order': False"), "{header}");
    let size = if header.contains("'<f4'") { 4 } else { 8 };
    let shape = header
        .split("'shape': (")
        .nth(1)
        .unwrap()
        .split(')')
        .next()
        .unwrap();
    let shape: Vec<usize> = shape
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| s.parse().unwrap())
        .collect();
    let values: Vec<f64> = data
        .chunks_exact(size)
        .map(|b| match *b {
            [a, b, c, d] => f64::from(f32::from_le_bytes([a, b, c, d])),
            _ => f64::from_le_bytes(b.try_into().unwrap()),
        })
        .collect();
    assert_eq!(values.len(), shape.iter().product::<usize>());
    (shape, values)
}

fn load<const D: usize>(case: &str, file: &str, device: &Device, dtype: DType) -> Tensor<D> {
    let (shape, values) = npy(case, file);
    tensor(&values, shape.try_into().expect("the rank"), device, dtype)
}

/// Runs `apply` (the kernel through conv-burn) on one case and holds the result and
/// every gradient to PyTorch's; returns the largest error relative to the magnitude.
fn run<const DX: usize, const DW: usize, const DY: usize>(
    name: &str,
    apply: fn(Tensor<DX>, Tensor<DW>, Option<Tensor<1>>) -> Tensor<DY>,
) -> f64 {
    let case = CASES
        .iter()
        .find(|c| c.name == name)
        .expect("a fixture case");
    let (dtype, tol) = match case.dtype {
        "f64" => (DType::F64, 1e-14),
        _ => (DType::F32, 4e-6),
    };
    let magnitude = |what: &str| case.magnitudes.iter().find(|(m, _)| *m == what).unwrap().1;
    let mut worst = 0.0f64;
    for (backend, device) in devices() {
        let x = load::<DX>(name, "x", &device, dtype).require_grad();
        let w = load::<DW>(name, "weight", &device, dtype).require_grad();
        let b = case
            .bias
            .then(|| load::<1>(name, "bias", &device, dtype).require_grad());
        let grad_y = load::<DY>(name, "grad_y", &device, dtype);
        let y = apply(x.clone(), w.clone(), b.clone());
        assert_eq!(y.dtype(), dtype);
        let grads = (y.clone() * grad_y).sum().backward();
        let mut results = vec![
            ("y", to_f64(&y)),
            ("grad_x", to_f64(&x.grad(&grads).unwrap())),
            ("grad_weight", to_f64(&w.grad(&grads).unwrap())),
        ];
        if let Some(b) = &b {
            results.push(("grad_bias", to_f64(&b.grad(&grads).unwrap())));
        }
        for (what, actual) in results {
            let (_, expected) = npy(name, what);
            let error = actual
                .iter()
                .zip(&expected)
                .fold(0.0f64, |m, (a, e)| m.max((a - e).abs()))
                / magnitude(what);
            println!("{name:>20} {backend:>7} {what:>11}: {error:.2e} of the magnitude");
            assert!(error <= tol, "{name} on {backend}: {what} is {error:.2e} of the magnitude from PyTorch's (tolerance {tol:e})");
            worst = worst.max(error);
        }
    }
    worst
}

macro_rules! fixture_tests {
    ($($case:ident: $dx:literal, $dw:literal, $dy:literal;)*) => {$(
        #[test]
        fn $case() {
            run::<$dx, $dw, $dy>(stringify!($case), |x, w, b| conv_burn::apply($case::Kernel, x, w, b));
        }
    )*};
}

fixture_tests! {
    conv1d_03: 3, 3, 3;
    conv2d_09: 4, 4, 4;
    conv2d_10: 4, 4, 4;
    conv2d_13: 4, 4, 4;
    fast_conv2d_s2: 4, 4, 4;
    fast_dilated_pad_0_2: 4, 4, 4;
    grouped_02: 5, 5, 5;
    fast_grouped: 5, 5, 5;
    depthwise_01: 4, 3, 4;
    depthwise_05: 5, 4, 5;
    conv3d_02: 5, 5, 5;
    fast_conv3d: 5, 5, 5;
}

/// fast_depthwise shares depthwise_01's kernel.
#[test]
fn fast_depthwise() {
    run::<4, 3, 4>("fast_depthwise", |x, w, b| {
        conv_burn::apply(depthwise_01::Kernel, x, w, b)
    });
}
