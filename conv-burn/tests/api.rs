//! The functions' contract: shape errors as values from the `try_` functions (before
//! anything is recorded), panics with the same message from the others, element types,
//! devices without autodiff, kernels of one and three operands, and tensors whose layout
//! is not the standard one (read in place, or copied where Flex's strides are negative).

mod common;

use burn::tensor::{DType, Device, Tensor};
use common::{devices, random, relative, Values};
use conv_runtime::{conv_kernel, ShapeError};

conv_kernel! {
    pub conv(x, weight) = "nclk,dck->ndl" { unfold x.l by k, stride = 2, pad = 1; bias d; }
    pub conv_f64(x, weight) = "nclk,dck->ndl" { unfold x.l by k, stride = 2, pad = 1; bias d; dtype f64; }
    pub no_bias(x, weight) = "nclk,dck->ndl" { unfold x.l by k; }
    pub pool(x) = "nchwkj->nchw" { unfold x.h by k, stride = 2; unfold x.w by j, stride = 2; size k = 2, j = 2; }
    pub chain(a, b, c) = "ij,jk,kl->il";
    pub linear(x, weight) = "ni,oi->no" { bias o; }
}

#[test]
fn shape_errors_are_values() {
    let device = Device::flex().autodiff();
    let x = Tensor::<3>::ones([2, 3, 10], &device);
    let w = Tensor::<3>::ones([4, 2, 3], &device);
    let error = conv_burn::try_apply::<_, 3, 3, 3>(conv::Kernel, x.clone(), w, None).unwrap_err();
    assert_eq!(
        error.to_string(),
        "weight: axis 'c' has extent 2, expected 3 (as x.c)"
    );

    let w = Tensor::<3>::ones([4, 3, 3], &device);
    let bias = Tensor::<1>::ones([5], &device);
    let error = conv_burn::try_apply::<_, 3, 3, 3>(conv::Kernel, x.clone(), w.clone(), Some(bias))
        .unwrap_err();
    assert!(
        matches!(error, ShapeError::Extent { ref operand, axis: 'd', expected: 4, actual: 5, .. } if operand == "bias"),
        "{error}"
    );

    // The result's rank is the caller's type: a wrong one is a Rank error for y.
    let error =
        conv_burn::try_apply::<_, 3, 3, 4>(conv::Kernel, x.clone(), w.clone(), None).unwrap_err();
    assert!(
        matches!(error, ShapeError::Rank { ref operand, expected: 3, actual: 4 } if operand == "y"),
        "{error}"
    );

    // A bias for a kernel without one counts as one operand too many.
    let error = conv_burn::try_apply::<_, 3, 3, 3>(
        no_bias::Kernel,
        x.clone(),
        w.clone(),
        Some(Tensor::ones([4], &device)),
    )
    .unwrap_err();
    assert!(
        matches!(
            error,
            ShapeError::OperandCount {
                expected: 2,
                actual: 3
            }
        ),
        "{error}"
    );

    // A window longer than the padded input.
    let short = Tensor::<3>::ones([2, 3, 1], &device);
    let error =
        conv_burn::try_apply::<_, 3, 3, 3>(no_bias::Kernel, short, w.clone(), None).unwrap_err();
    assert!(matches!(error, ShapeError::WindowTooLong { .. }), "{error}");

    let y: Tensor<3> = conv_burn::try_apply(conv::Kernel, x, w, None).unwrap();
    assert_eq!(y.dims(), [2, 4, 5]);
}

#[test]
#[should_panic(expected = "weight: axis 'c' has extent 2, expected 3 (as x.c)")]
fn apply_panics_with_the_shape_error() {
    let device = Device::flex();
    let _: Tensor<3> = conv_burn::apply(
        conv::Kernel,
        Tensor::<3>::ones([2, 3, 10], &device),
        Tensor::<3>::ones([4, 2, 3], &device),
        None,
    );
}

#[test]
#[should_panic(expected = "kernel conv_f64 computes in f64, its x is F32")]
fn element_types_must_be_the_kernels() {
    let device = Device::flex();
    let w = Tensor::<3>::ones([4, 3, 3], &device).cast(DType::F64);
    let _: Tensor<3> = conv_burn::apply(
        conv_f64::Kernel,
        Tensor::<3>::ones([2, 3, 10], &device),
        w,
        None,
    );
}

#[test]
fn f64_on_every_device_with_and_without_autodiff() {
    #[allow(deprecated)]
    let all = [
        Device::flex(),
        Device::ndarray(),
        Device::flex().autodiff(),
        Device::ndarray().autodiff(),
    ];
    let mut results = Vec::new();
    for device in all {
        let mut values = Values::new(3);
        let x = random(&mut values, [2, 3, 11], &device, DType::F64);
        let w = random(&mut values, [4, 3, 3], &device, DType::F64);
        let b = random(&mut values, [4], &device, DType::F64);
        let y: Tensor<3> = conv_burn::apply(conv_f64::Kernel, x, w, Some(b));
        assert_eq!(y.dtype(), DType::F64);
        results.push(common::to_f64(&y));
    }
    assert!(results.windows(2).all(|pair| pair[0] == pair[1]));
}

#[test]
fn one_and_three_operands() {
    for (backend, device) in devices() {
        let mut values = Values::new(9);
        // Pooling: the gradient of a sum is the number of windows reading each entry.
        let x = random(&mut values, [2, 3, 6, 5], &device, DType::F32).require_grad();
        let y: Tensor<4> = conv_burn::apply1(pool::Kernel, x.clone(), None);
        assert_eq!(y.dims(), [2, 3, 3, 2]);
        let grads = y.sum().backward();
        let g = common::to_f64(&x.grad(&grads).unwrap());
        // Column 4 of 5 is in no window (2 windows of 2 along w).
        assert!(
            g.iter()
                .enumerate()
                .all(|(i, &v)| v == if i % 5 == 4 { 0.0 } else { 1.0 }),
            "{backend}"
        );

        // A chain of three matrices against burn's matmul, gradients included.
        let [a, b, c] =
            [[3, 4], [4, 5], [5, 2]].map(|s| random(&mut values, s, &device, DType::F32));
        let run = |f: &dyn Fn(Tensor<2>, Tensor<2>, Tensor<2>) -> Tensor<2>| {
            let [a, b, c] = [a.clone(), b.clone(), c.clone()].map(|t| t.require_grad());
            let grads = f(a.clone(), b.clone(), c.clone()).sum().backward();
            [a, b, c].map(|t| t.grad(&grads).unwrap())
        };
        let ours = run(&|a, b, c| conv_burn::apply3(chain::Kernel, a, b, c, None));
        let theirs = run(&|a, b, c| a.matmul(b).matmul(c));
        for (o, t) in ours.iter().zip(&theirs) {
            assert!(relative(o, t) < 1e-6, "{backend}");
        }
    }
}

#[test]
fn strided_and_flipped_tensors() {
    for (backend, device) in devices() {
        let mut values = Values::new(4);
        // A transposed weight (a view with permuted strides) and a flipped input (negative
        // strides on Flex): the same results as their contiguous copies.
        let x = random(&mut values, [3, 5], &device, DType::F32);
        let w = random(&mut values, [5, 4], &device, DType::F32);
        let b = random(&mut values, [4], &device, DType::F32);
        let flipped = x.clone().flip([1]);
        let transposed = w.clone().transpose();
        let y: Tensor<2> = conv_burn::apply(
            linear::Kernel,
            flipped.clone(),
            transposed.clone(),
            Some(b.clone()),
        );
        let copies = |t: Tensor<2>| Tensor::<2>::from_data(t.to_data(), &device);
        let expected: Tensor<2> =
            conv_burn::apply(linear::Kernel, copies(flipped), copies(transposed), Some(b));
        assert_eq!(relative(&y, &expected), 0.0, "{backend}");
    }
}

#[test]
fn layers_check_their_kernel() {
    let device = Device::flex();
    let result = std::panic::catch_unwind(|| {
        conv_burn::ConvLayerConfig::new(vec![4, 3, 3]).init::<_, 3>(no_bias::Kernel, &device)
    });
    let message = *result.unwrap_err().downcast::<String>().unwrap();
    assert_eq!(
        message,
        "conv-burn: the config asks for a bias, kernel no_bias declares none"
    );
    let layer = conv_burn::ConvLayerConfig::new(vec![4, 3, 3])
        .with_bias(false)
        .init::<_, 3>(no_bias::Kernel, &device);
    assert_eq!(
        layer.forward(Tensor::ones([2, 3, 7], &device)).dims(),
        [2, 4, 5]
    );
    let error = layer
        .try_forward(Tensor::ones([2, 2, 7], &device))
        .unwrap_err();
    assert_eq!(
        error.to_string(),
        "weight: axis 'c' has extent 3, expected 2 (as x.c)"
    );
}
