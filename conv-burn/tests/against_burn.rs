//! Generated kernels through burn against burn's own convolutions
//! (`burn::tensor::module::conv1d/conv2d/conv3d`): for each layer, on Flex and NdArray with
//! autodiff, the forward result and the gradients of `sum(y * r)` (random `r`) with respect
//! to the input, the weight and the bias, all through `loss.backward()`.
//!
//! Every kernel is declared in PyTorch's layouts (x `(N, C, ..)`, weight `(D, C/G, K..)`);
//! the grouped one sees x as `(N, G, C/G, ..)` and the weight as `(G, D/G, C/G, K..)`,
//! reshapes of burn's tensors, as PyTorch's grouped convolution defines them.

mod common;

use burn::tensor::module::{conv1d, conv2d, conv3d};
use burn::tensor::ops::ConvOptions;
use burn::tensor::{DType, Device, Tensor};
use common::{devices, random, relative, Values};
use conv_runtime::conv_kernel;

conv_kernel! {
    /// 3x3, stride 2, zero padding 1.
    pub strided(x, weight) = "nchwkj,dckj->ndhw" {
        unfold x.h by k, stride = 2, pad = 1;
        unfold x.w by j, stride = 2, pad = 1;
        bias d;
    }
    /// Asymmetric zero padding: (1, 2) along h, (2, 0) along w.
    pub padded(x, weight) = "nchwkj,dckj->ndhw" {
        unfold x.h by k, pad = (1, 2);
        unfold x.w by j, pad = (2, 0);
        bias d;
    }
    /// Dilations 2 and 3, padding 2 and 1, stride 2 along w.
    pub dilated(x, weight) = "nchwkj,dckj->ndhw" {
        unfold x.h by k, dilation = 2, pad = 2;
        unfold x.w by j, dilation = 3, pad = 1, stride = 2;
        bias d;
    }
    /// The same in f64.
    pub dilated_f64(x, weight) = "nchwkj,dckj->ndhw" {
        unfold x.h by k, dilation = 2, pad = 2;
        unfold x.w by j, dilation = 3, pad = 1, stride = 2;
        bias d;
        dtype f64;
    }
    /// Grouped, PyTorch's groups as an axis g: stride 2 along h, padding 1.
    pub grouped(x, weight) = "ngchwkj,gdckj->ngdhw" {
        unfold x.h by k, stride = 2, pad = 1;
        unfold x.w by j, pad = 1;
    }
    /// Depthwise, PyTorch's weight (C, 1, 3, 3): the axis e of extent 1 is summed.
    pub depthwise(x, weight) = "nchwkj,cekj->nchw" {
        unfold x.h by k, pad = 1;
        unfold x.w by j, pad = 1;
        size k = 3, j = 3;
        bias c;
    }
    /// 1-D: stride 2, dilation 2, padding 3.
    pub conv1d_k(x, weight) = "nclk,dck->ndl" {
        unfold x.l by k, stride = 2, dilation = 2, pad = 3;
        bias d;
    }
    /// 3-D: stride 2 along h, padding 1 along z and h, 2 along w (burn's conv3d has no
    /// asymmetric padding; the PyTorch fixtures cover ours).
    pub conv3d_k(x, weight) = "nczhwijk,dcijk->ndzhw" {
        unfold x.z by i, pad = 1;
        unfold x.h by j, stride = 2, pad = 1;
        unfold x.w by k, pad = 2;
        bias d;
    }
}

type Conv<const D: usize> = fn(Tensor<D>, Tensor<D>, Option<Tensor<1>>) -> Tensor<D>;

/// Largest relative errors (forward, grad_x, grad_weight, grad_bias) of `ours` against
/// `theirs` for random operands of these shapes, on `device`.
fn compare<const D: usize>(
    ours: Conv<D>,
    theirs: Conv<D>,
    x_shape: [usize; D],
    w_shape: [usize; D],
    bias: Option<usize>,
    device: &Device,
    dtype: DType,
) -> [f64; 4] {
    let mut values = Values::new(7);
    let x = random(&mut values, x_shape, device, dtype);
    let w = random(&mut values, w_shape, device, dtype);
    let b = bias.map(|n| random(&mut values, [n], device, dtype));
    let y_shape = theirs(x.clone(), w.clone(), b.clone()).dims();
    let r = random(&mut values, y_shape, device, dtype);
    let run = |f: Conv<D>| {
        let (x, w) = (x.clone().require_grad(), w.clone().require_grad());
        let b = b.clone().map(|b| b.require_grad());
        let y = f(x.clone(), w.clone(), b.clone());
        let grads = (y.clone() * r.clone()).sum().backward();
        let gb = b.map(|b| b.grad(&grads).expect("grad_bias"));
        (
            y,
            x.grad(&grads).expect("grad_x"),
            w.grad(&grads).expect("grad_w"),
            gb,
        )
    };
    let (y1, gx1, gw1, gb1) = run(ours);
    let (y2, gx2, gw2, gb2) = run(theirs);
    assert_eq!(y1.dtype(), dtype);
    let gb = match (gb1, gb2) {
        (Some(a), Some(b)) => relative(&a, &b),
        _ => 0.0,
    };
    [
        relative(&y1, &y2),
        relative(&gx1, &gx2),
        relative(&gw1, &gw2),
        gb,
    ]
}

fn check<const D: usize>(
    name: &str,
    ours: Conv<D>,
    theirs: Conv<D>,
    x_shape: [usize; D],
    w_shape: [usize; D],
    bias: Option<usize>,
    dtype: DType,
) {
    let tolerance = if dtype == DType::F64 { 1e-12 } else { 2e-6 };
    for (backend, device) in devices() {
        let errors = compare(ours, theirs, x_shape, w_shape, bias, &device, dtype);
        println!(
            "{name:>12} {backend:>7} {dtype:?}: forward {:.1e}, grad_x {:.1e}, grad_weight {:.1e}, grad_bias {:.1e}",
            errors[0], errors[1], errors[2], errors[3]
        );
        for (what, e) in ["forward", "grad_x", "grad_weight", "grad_bias"]
            .iter()
            .zip(errors)
        {
            assert!(
                e <= tolerance,
                "{name} on {backend}: {what} differs from burn's by {e:.2e} (relative)"
            );
        }
    }
}

fn opts2(
    stride: [usize; 2],
    padding: [(usize, usize); 2],
    dilation: [usize; 2],
    groups: usize,
) -> ConvOptions<2> {
    ConvOptions::new_with_padding(stride, padding, dilation, groups)
}

#[test]
fn strided() {
    check(
        "strided",
        |x, w, b| conv_burn::apply(strided::Kernel, x, w, b),
        |x, w, b| conv2d(x, w, b, opts2([2, 2], [(1, 1), (1, 1)], [1, 1], 1)),
        [2, 3, 9, 10],
        [4, 3, 3, 3],
        Some(4),
        DType::F32,
    );
}

#[test]
fn padded_asymmetrically() {
    check(
        "padded",
        |x, w, b| conv_burn::apply(padded::Kernel, x, w, b),
        |x, w, b| conv2d(x, w, b, opts2([1, 1], [(1, 2), (2, 0)], [1, 1], 1)),
        [2, 3, 7, 6],
        [5, 3, 3, 4],
        Some(5),
        DType::F32,
    );
}

#[test]
fn dilated() {
    check(
        "dilated",
        |x, w, b| conv_burn::apply(dilated::Kernel, x, w, b),
        |x, w, b| conv2d(x, w, b, opts2([1, 2], [(2, 2), (1, 1)], [2, 3], 1)),
        [2, 2, 9, 11],
        [3, 2, 3, 3],
        Some(3),
        DType::F32,
    );
}

#[test]
fn dilated_f64() {
    check(
        "dilated_f64",
        |x, w, b| conv_burn::apply(dilated_f64::Kernel, x, w, b),
        |x, w, b| conv2d(x, w, b, opts2([1, 2], [(2, 2), (1, 1)], [2, 3], 1)),
        [2, 2, 9, 11],
        [3, 2, 3, 3],
        Some(3),
        DType::F64,
    );
}

/// burn's (N, C, H, W) and (D, C/G, 3, 3) seen as the kernel's (N, G, C/G, H, W) and
/// (G, D/G, C/G, 3, 3), the result (N, G, D/G, H', W') as (N, D, H', W').
fn grouped_ours(x: Tensor<4>, w: Tensor<4>, _: Option<Tensor<1>>) -> Tensor<4> {
    const G: usize = 2;
    let [n, c, h, wd] = x.dims();
    let [d, cg, kh, kw] = w.dims();
    let x: Tensor<5> = x.reshape([n, G, c / G, h, wd]);
    let w: Tensor<5> = w.reshape([G, d / G, cg, kh, kw]);
    let y: Tensor<5> = conv_burn::apply(grouped::Kernel, x, w, None);
    let [n, g, dg, oh, ow] = y.dims();
    y.reshape([n, g * dg, oh, ow])
}

#[test]
fn grouped() {
    check(
        "grouped",
        grouped_ours,
        |x, w, _| conv2d(x, w, None, opts2([2, 1], [(1, 1), (1, 1)], [1, 1], 2)),
        [2, 6, 8, 7],
        [4, 3, 3, 3],
        None,
        DType::F32,
    );
}

#[test]
fn depthwise() {
    check(
        "depthwise",
        |x, w, b| conv_burn::apply(depthwise::Kernel, x, w, b),
        |x, w, b| conv2d(x, w, b, opts2([1, 1], [(1, 1), (1, 1)], [1, 1], 5)),
        [2, 5, 9, 8],
        [5, 1, 3, 3],
        Some(5),
        DType::F32,
    );
}

#[test]
fn one_dimensional() {
    check(
        "conv1d",
        |x, w, b| conv_burn::apply(conv1d_k::Kernel, x, w, b),
        |x, w, b| conv1d(x, w, b, ConvOptions::new([2], [3], [2], 1)),
        [3, 4, 17],
        [5, 4, 3],
        Some(5),
        DType::F32,
    );
}

#[test]
fn three_dimensional() {
    check(
        "conv3d",
        |x, w, b| conv_burn::apply(conv3d_k::Kernel, x, w, b),
        |x, w, b| {
            let options = ConvOptions::new([1, 2, 1], [1, 1, 2], [1, 1, 1], 1);
            conv3d(x, w, b, options)
        },
        [2, 2, 4, 7, 5],
        [3, 2, 3, 3, 2],
        Some(3),
        DType::F32,
    );
}
