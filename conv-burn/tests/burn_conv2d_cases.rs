//! burn's own conv2d autodiff tests, run against generated kernels.
//!
//! burn tests its convolutions in burn-backend-tests (tests/autodiff/conv2d.rs and
//! tests/tensor/float/module/conv2d.rs, burn 0.22). Those tests call
//! `burn::tensor::module::conv2d` directly, with the case's stride, padding, dilation and
//! groups as run-time options, so they cannot be pointed at an outside operation; a
//! generated kernel fixes those options when it compiles. Their inputs and expected values
//! can be: each case below is one of burn's, with its name, its shapes, its inputs
//! (`arange` reshaped: x, weight and bias hold 0, 1, 2, ...), the gradients of
//! `sum(conv2d(x, weight, bias))` it expects, copied from burn's test, and burn's tolerance
//! (1% relative or absolute). Here they are computed by a `conv_kernel!` declared for the
//! case, on Flex and NdArray with autodiff.

mod common;

use burn::tensor::{Device, Tensor};
use common::{devices, relative, tensor};
use conv_runtime::conv_kernel;

conv_kernel! {
    /// test_conv2d_basic: 3x3, padding 1.
    basic(x, weight) = "nchwkj,dckj->ndhw" { unfold x.h by k, pad = 1; unfold x.w by j, pad = 1; bias d; }
    /// test_conv2d_stride_2: 3x3, padding 1, stride 2.
    stride_2(x, weight) = "nchwkj,dckj->ndhw" { unfold x.h by k, pad = 1, stride = 2; unfold x.w by j, pad = 1, stride = 2; bias d; }
    /// test_conv2d_different_dilation: 3x3, padding 1, dilations 2 and 3.
    different_dilation(x, weight) = "nchwkj,dckj->ndhw" { unfold x.h by k, pad = 1, dilation = 2; unfold x.w by j, pad = 1, dilation = 3; bias d; }
    /// test_conv2d_groups and test_conv2d_groups_stride_2: groups = channels, PyTorch's
    /// weight (C, 1, 3, 3), a depthwise kernel.
    groups(x, weight) = "nchwkj,cekj->nchw" { unfold x.h by k; unfold x.w by j; bias c; }
    groups_stride_2(x, weight) = "nchwkj,cekj->nchw" { unfold x.h by k, pad = 1, stride = 2; unfold x.w by j, pad = 1, stride = 2; bias c; }
}

/// `0, 1, 2, ...` in this shape.
fn arange<const D: usize>(shape: [usize; D], device: &Device) -> Tensor<D> {
    let n: usize = shape.iter().product();
    let values: Vec<f64> = (0..n).map(|v| v as f64).collect();
    tensor(&values, shape, device, burn::tensor::DType::F32)
}

/// Runs one of burn's cases: the gradients of `sum(y)` for arange inputs against the
/// expected ones, within burn's own tolerance (1%) and printing the actual error.
fn case(
    name: &str,
    conv: fn(Tensor<4>, Tensor<4>, Option<Tensor<1>>) -> Tensor<4>,
    x_shape: [usize; 4],
    w_shape: [usize; 4],
    expected: fn(&Device) -> [Tensor<4>; 2],
    expected_bias: &[f32],
) {
    for (backend, device) in devices() {
        let x = arange(x_shape, &device).require_grad();
        let w = arange(w_shape, &device).require_grad();
        let b = arange([w_shape[0]], &device).require_grad();
        let grads = conv(x.clone(), w.clone(), Some(b.clone())).sum().backward();
        let [gx, gw] = expected(&device);
        let gb = Tensor::<1>::from_data(expected_bias, &device);
        let errors = [
            relative(&x.grad(&grads).unwrap(), &gx),
            relative(&w.grad(&grads).unwrap(), &gw),
            relative(&b.grad(&grads).unwrap(), &gb),
        ];
        println!(
            "{name} on {backend}: grad_x {:.1e}, grad_weight {:.1e}, grad_bias {:.1e}",
            errors[0], errors[1], errors[2]
        );
        // burn's tolerance is 1%; the expected values are integers well inside f32's
        // exact range, and the kernels reproduce them exactly.
        assert!(
            errors.iter().all(|&e| e == 0.0),
            "{name} on {backend}: {errors:?}"
        );
    }
}

#[test]
fn test_conv2d_basic() {
    case(
        "test_conv2d_basic",
        |x, w, b| conv_burn::apply(basic::Kernel, x, w, b),
        [2, 2, 4, 4],
        [2, 2, 3, 3],
        |device| {
            let gx = [
                [
                    [88., 138., 138., 96.],
                    [150., 234., 234., 162.],
                    [150., 234., 234., 162.],
                    [112., 174., 174., 120.],
                ],
                [
                    [160., 246., 246., 168.],
                    [258., 396., 396., 270.],
                    [258., 396., 396., 270.],
                    [184., 282., 282., 192.],
                ],
            ];
            let gw = [
                [[378., 516., 396.], [552., 752., 576.], [450., 612., 468.]],
                [[666., 900., 684.], [936., 1264., 960.], [738., 996., 756.]],
            ];
            [
                Tensor::from_data([gx, gx], device),
                Tensor::from_data([gw, gw], device),
            ]
        },
        &[32., 32.],
    );
}

#[test]
fn test_conv2d_stride_2() {
    case(
        "test_conv2d_stride_2",
        |x, w, b| conv_burn::apply(stride_2::Kernel, x, w, b),
        [1, 2, 6, 6],
        [2, 2, 3, 3],
        |device| {
            let gx = [[
                [
                    [26., 52., 26., 52., 26., 28.],
                    [52., 104., 52., 104., 52., 56.],
                    [26., 52., 26., 52., 26., 28.],
                    [52., 104., 52., 104., 52., 56.],
                    [26., 52., 26., 52., 26., 28.],
                    [32., 64., 32., 64., 32., 34.],
                ],
                [
                    [44., 88., 44., 88., 44., 46.],
                    [88., 176., 88., 176., 88., 92.],
                    [44., 88., 44., 88., 44., 46.],
                    [88., 176., 88., 176., 88., 92.],
                    [44., 88., 44., 88., 44., 46.],
                    [50., 100., 50., 100., 50., 52.],
                ],
            ]];
            let gw = [
                [[56., 84., 90.], [84., 126., 135.], [120., 180., 189.]],
                [[200., 300., 306.], [300., 450., 459.], [336., 504., 513.]],
            ];
            [
                Tensor::from_data(gx, device),
                Tensor::from_data([gw, gw], device),
            ]
        },
        &[9., 9.],
    );
}

#[test]
fn test_conv2d_different_dilation() {
    case(
        "test_conv2d_different_dilation",
        |x, w, b| conv_burn::apply(different_dilation::Kernel, x, w, b),
        [1, 2, 6, 6],
        [2, 2, 3, 3],
        |device| {
            let gx = [[
                [
                    [18., 0., 20., 20., 0., 22.],
                    [42., 0., 46., 46., 0., 50.],
                    [42., 0., 46., 46., 0., 50.],
                    [54., 0., 58., 58., 0., 62.],
                    [54., 0., 58., 58., 0., 62.],
                    [30., 0., 32., 32., 0., 34.],
                ],
                [
                    [36., 0., 38., 38., 0., 40.],
                    [78., 0., 82., 82., 0., 86.],
                    [78., 0., 82., 82., 0., 86.],
                    [90., 0., 94., 94., 0., 98.],
                    [90., 0., 94., 94., 0., 98.],
                    [48., 0., 50., 50., 0., 52.],
                ],
            ]];
            let gw = [
                [[18., 51., 33.], [60., 140., 80.], [72., 159., 87.]],
                [[126., 267., 141.], [204., 428., 224.], [180., 375., 195.]],
            ];
            [
                Tensor::from_data(gx, device),
                Tensor::from_data([gw, gw], device),
            ]
        },
        &[8., 8.],
    );
}

#[test]
fn test_conv2d_groups() {
    case(
        "test_conv2d_groups",
        |x, w, b| conv_burn::apply(groups::Kernel, x, w, b),
        [1, 2, 5, 5],
        [2, 1, 3, 3],
        |device| {
            let gx = [[
                [
                    [0., 1., 3., 3., 2.],
                    [3., 8., 15., 12., 7.],
                    [9., 21., 36., 27., 15.],
                    [9., 20., 33., 24., 13.],
                    [6., 13., 21., 15., 8.],
                ],
                [
                    [9., 19., 30., 21., 11.],
                    [21., 44., 69., 48., 25.],
                    [36., 75., 117., 81., 42.],
                    [27., 56., 87., 60., 31.],
                    [15., 31., 48., 33., 17.],
                ],
            ]];
            let gw = [
                [[[54., 63., 72.], [99., 108., 117.], [144., 153., 162.]]],
                [[[279., 288., 297.], [324., 333., 342.], [369., 378., 387.]]],
            ];
            [Tensor::from_data(gx, device), Tensor::from_data(gw, device)]
        },
        &[9., 9.],
    );
}

#[test]
fn test_conv2d_groups_stride_2() {
    case(
        "test_conv2d_groups_stride_2",
        |x, w, b| conv_burn::apply(groups_stride_2::Kernel, x, w, b),
        [1, 4, 4, 4],
        [4, 1, 3, 3],
        |device| {
            let gx = [[
                [
                    [4., 8., 4., 5.],
                    [8., 16., 8., 10.],
                    [4., 8., 4., 5.],
                    [7., 14., 7., 8.],
                ],
                [
                    [13., 26., 13., 14.],
                    [26., 52., 26., 28.],
                    [13., 26., 13., 14.],
                    [16., 32., 16., 17.],
                ],
                [
                    [22., 44., 22., 23.],
                    [44., 88., 44., 46.],
                    [22., 44., 22., 23.],
                    [25., 50., 25., 26.],
                ],
                [
                    [31., 62., 31., 32.],
                    [62., 124., 62., 64.],
                    [31., 62., 31., 32.],
                    [34., 68., 34., 35.],
                ],
            ]];
            let gw = [
                [[[5., 10., 12.], [10., 20., 24.], [18., 36., 40.]]],
                [[[21., 42., 44.], [42., 84., 88.], [50., 100., 104.]]],
                [[[37., 74., 76.], [74., 148., 152.], [82., 164., 168.]]],
                [[[53., 106., 108.], [106., 212., 216.], [114., 228., 232.]]],
            ];
            [Tensor::from_data(gx, device), Tensor::from_data(gw, device)]
        },
        &[4., 4., 4., 4.],
    );
}
