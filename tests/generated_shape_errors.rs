//! Arguments of the wrong shape make every generated function return the `ShapeError`
//! that names the operand, the axis, the expected and the actual extent, never panic.

mod common;

use conv_kernels::{conv_kernel, Kernel, ShapeError, Wrt};
use ndarray::{Array, ArrayD, IxDyn};
use proptest::prelude::*;

conv_kernel! {
    pub conv2d(x, weight) = "nchwkj,dckj->ndhw" {
        unfold x.h by k, stride = 2, pad = 1;
        unfold x.w by j, stride = 2, pad = 1;
        size k = 3, j = 3;
        bias d;
    }
    pub tiny(x, weight) = "nclk,dck->ndl" {
        unfold x.l by k, stride = 2, pad = 1;
        size n = 1, c = 2, l = 5, k = 3, d = 2;
    }
    pub reflect(x, weight) = "nclk,dck->ndl" { unfold x.l by k, pad = 2, mode = reflect; }
    pub rank7(a, b) = "abcdefg,gh->abcdefh" { bias h; }
}

fn extent(operand: &str, axis: char, expected: usize, actual: usize, because: &str) -> ShapeError {
    ShapeError::Extent {
        operand: operand.into(),
        axis,
        expected,
        actual,
        because: because.into(),
    }
}

fn rank(operand: &str, expected: usize, actual: usize) -> ShapeError {
    ShapeError::Rank {
        operand: operand.into(),
        expected,
        actual,
    }
}

/// The output length of a 3-tap window with stride 2 and padding 1 on each side.
fn out_len(len: usize) -> usize {
    (len + 2 - 3) / 2 + 1
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    /// x and weight disagree on the channels: every function that takes both says so.
    #[test]
    fn operands_disagree(
        (n, c, d) in (1..3usize, 1..4usize, 1..4usize),
        (h, w) in (1..7usize, 1..7usize),
        more in 1..3usize,
    ) {
        let x = Array::<f32, _>::zeros((n, c, h, w));
        let weight = Array::<f32, _>::zeros((d, c + more, 3, 3));
        let bias = Array::<f32, _>::zeros(d);
        let grad_y = Array::<f32, _>::zeros((n, d, out_len(h), out_len(w)));
        let expected = Err(extent("weight", 'c', c, c + more, "as x.c"));
        prop_assert_eq!(conv2d::forward(&x, &weight, &bias).map(drop), expected.clone());
        prop_assert_eq!(conv2d::output_shape([n, c, h, w], [d, c + more, 3, 3]).map(drop), expected.clone());
        prop_assert_eq!(conv2d::backward(&x, &weight, &grad_y).map(drop), expected.clone());
        prop_assert_eq!(conv2d::grad_x([n, c, h, w], &weight, &grad_y).map(drop), expected.clone());
        prop_assert_eq!(conv2d::grad_weight(&x, [d, c + more, 3, 3], &grad_y).map(drop), expected.clone());
        let mut out = Array::<f32, _>::zeros((n, d, out_len(h), out_len(w)));
        prop_assert_eq!(conv2d::forward_into(&x, &weight, &bias, out.view_mut()), expected.clone());
        let views = [x.view().into_dyn(), weight.view().into_dyn()];
        prop_assert_eq!(conv2d::Kernel.forward_dyn(&views, None).map(drop), expected.clone());
        for wrt in [Wrt::Operand(0), Wrt::Operand(1), Wrt::Bias] {
            let got = conv2d::Kernel.gradient_dyn(wrt, &views, grad_y.view().into_dyn());
            prop_assert_eq!(got.map(drop), expected.clone());
        }
    }

    /// grad_y that is not the output's shape, along any one axis.
    #[test]
    fn grad_y_misfits(
        (n, c, d) in (1..3usize, 1..4usize, 1..4usize),
        (h, w) in (1..7usize, 1..7usize),
        axis in 0..4usize,
        more in 1..3usize,
    ) {
        let x = Array::<f32, _>::zeros((n, c, h, w));
        let weight = Array::<f32, _>::zeros((d, c, 3, 3));
        let shape = [n, d, out_len(h), out_len(w)];
        let mut wrong = shape;
        wrong[axis] += more;
        let grad_y = Array::<f32, _>::zeros(wrong);
        let letter = ['n', 'd', 'h', 'w'][axis];
        let expected = Err(extent("grad_y", letter, shape[axis], wrong[axis], "the output's extent"));
        prop_assert_eq!(conv2d::backward(&x, &weight, &grad_y).map(drop), expected.clone());
        prop_assert_eq!(conv2d::grad_x([n, c, h, w], &weight, &grad_y).map(drop), expected.clone());
        prop_assert_eq!(conv2d::grad_weight(&x, [d, c, 3, 3], &grad_y).map(drop), expected.clone());
        let views = [x.view().into_dyn(), weight.view().into_dyn()];
        for wrt in [Wrt::Operand(0), Wrt::Operand(1), Wrt::Bias] {
            let got = conv2d::Kernel.gradient_dyn(wrt, &views, grad_y.view().into_dyn());
            prop_assert_eq!(got.map(drop), expected.clone());
        }
    }

    /// Every `*_into` with an `out` of the wrong shape along one axis.
    #[test]
    fn out_misfits(
        (n, c, d) in (1..3usize, 1..4usize, 1..4usize),
        (h, w) in (1..7usize, 1..7usize),
        axis in 0..4usize,
        more in 1..3usize,
    ) {
        let x = Array::<f32, _>::zeros((n, c, h, w));
        let weight = Array::<f32, _>::zeros((d, c, 3, 3));
        let bias = Array::<f32, _>::zeros(d);
        let y_shape = [n, d, out_len(h), out_len(w)];
        let grad_y = Array::<f32, _>::zeros(y_shape);
        let misfit = |shape: [usize; 4], axes: [char; 4]| {
            let mut wrong = shape;
            wrong[axis] += more;
            let error = extent("out", axes[axis], shape[axis], wrong[axis], "the result's extent");
            (Array::<f32, _>::zeros(wrong), Err(error))
        };
        let (mut out, expected) = misfit(y_shape, ['n', 'd', 'h', 'w']);
        prop_assert_eq!(conv2d::forward_into(&x, &weight, &bias, out.view_mut()), expected);
        let (mut out, expected) = misfit([n, c, h, w], ['n', 'c', 'h', 'w']);
        prop_assert_eq!(conv2d::grad_x_into([n, c, h, w], &weight, &grad_y, out.view_mut()), expected);
        let (mut out, expected) = misfit([d, c, 3, 3], ['d', 'c', 'k', 'j']);
        prop_assert_eq!(conv2d::grad_weight_into(&x, [d, c, 3, 3], &grad_y, out.view_mut()), expected);
        let mut out = Array::<f32, _>::zeros(d + more);
        let expected = Err(extent("out", 'd', d, d + more, "the result's extent"));
        prop_assert_eq!(conv2d::grad_bias_into(&grad_y, out.view_mut()), expected);
    }
}

#[test]
fn bias_of_the_wrong_length() {
    let x = Array::<f32, _>::zeros((1, 2, 5, 5));
    let weight = Array::<f32, _>::zeros((4, 2, 3, 3));
    let bias = Array::<f32, _>::zeros(5);
    let expected = Err(extent("bias", 'd', 4, 5, "the output's extent"));
    assert_eq!(conv2d::forward(&x, &weight, &bias).map(drop), expected);
    let views = [x.view().into_dyn(), weight.view().into_dyn()];
    let got = conv2d::Kernel.forward_dyn(&views, Some(bias.view().into_dyn()));
    assert_eq!(got.map(drop), expected);
    let bias = Array::<f32, _>::zeros((4, 1)).into_dyn();
    let got = conv2d::Kernel.forward_dyn(&views, Some(bias.view()));
    assert_eq!(got.map(drop), Err(rank("bias", 1, 2)));
}

#[test]
fn fixed_sizes_violated() {
    let x = Array::<f32, _>::zeros((1, 2, 5, 5));
    let weight = Array::<f32, _>::zeros((4, 2, 2, 3));
    let bias = Array::<f32, _>::zeros(4);
    let expected = Err(extent("weight", 'k', 3, 2, "as size k = 3"));
    assert_eq!(conv2d::forward(&x, &weight, &bias).map(drop), expected);
    let grad_y = Array::<f32, _>::zeros((1, 4, 3, 3));
    let got = conv2d::grad_weight(&x, [4, 2, 3, 4], &grad_y).map(drop);
    assert_eq!(got, Err(extent("weight", 'j', 3, 4, "as size j = 3")));

    let weight = Array::<f32, _>::zeros((2, 2, 3));
    let x = Array::<f32, _>::zeros((1, 2, 6));
    let expected = Err(extent("x", 'l', 5, 6, "size l = 5"));
    assert_eq!(tiny::forward(&x, &weight).map(drop), expected);
    let x = Array::<f32, _>::zeros((2, 2, 5));
    let expected = Err(extent("x", 'n', 1, 2, "as size n = 1"));
    assert_eq!(tiny::forward(&x, &weight).map(drop), expected);
    let grad_y = Array::<f32, _>::zeros((1, 2, 3));
    let got = tiny::grad_x([1, 3, 5], &weight, &grad_y).map(drop);
    assert_eq!(got, Err(extent("x", 'c', 2, 3, "as size c = 2")));
    let weight = Array::<f32, _>::zeros((3, 2, 3));
    let got = tiny::grad_x([1, 2, 5], &weight, &grad_y).map(drop);
    assert_eq!(got, Err(extent("weight", 'd', 2, 3, "as size d = 2")));
}

#[test]
fn windows_that_do_not_fit() {
    let weight = Array::<f32, _>::zeros((1, 1, 8));
    let x = Array::<f32, _>::zeros((1, 1, 3));
    let expected = ShapeError::WindowTooLong {
        operand: "x".into(),
        axis: 'l',
        window: 'k',
        span: 8,
        padded: 7,
    };
    assert_eq!(reflect::forward(&x, &weight).map(drop), Err(expected));
    let x = Array::<f32, _>::zeros((1, 1, 2));
    let weight = Array::<f32, _>::zeros((1, 1, 3));
    let expected = ShapeError::PadTooLarge {
        operand: "x".into(),
        axis: 'l',
        mode: "reflect",
        pad: 2,
        len: 2,
    };
    assert_eq!(reflect::forward(&x, &weight).map(drop), Err(expected));
    let weight = Array::<f32, _>::zeros((1, 1, 0));
    let expected = ShapeError::EmptyWindow {
        operand: "x".into(),
        axis: 'l',
        window: 'k',
    };
    let grad_y = Array::<f32, _>::zeros((1, 1, 1));
    assert_eq!(
        reflect::grad_x([1, 1, 4], &weight, &grad_y).map(drop),
        Err(expected)
    );
}

#[test]
fn kernel_dyn_wrong_rank_and_count() {
    let x = ArrayD::<f32>::zeros(IxDyn(&[1, 2, 5, 5]));
    let x3 = ArrayD::<f32>::zeros(IxDyn(&[2, 5, 5]));
    let weight = ArrayD::<f32>::zeros(IxDyn(&[4, 2, 3, 3]));
    let weight5 = ArrayD::<f32>::zeros(IxDyn(&[1, 4, 2, 3, 3]));
    let grad_y = ArrayD::<f32>::zeros(IxDyn(&[1, 4, 3, 3]));
    let k = conv2d::Kernel;
    let forward = |ops: &[&ArrayD<f32>]| {
        let views: Vec<_> = ops.iter().map(|a| a.view()).collect();
        k.forward_dyn(&views, None).map(drop)
    };
    assert_eq!(forward(&[&x3, &weight]), Err(rank("x", 4, 3)));
    assert_eq!(forward(&[&x, &weight5]), Err(rank("weight", 4, 5)));
    let count = |actual| ShapeError::OperandCount {
        expected: 2,
        actual,
    };
    assert_eq!(forward(&[&x]), Err(count(1)));
    assert_eq!(forward(&[&x, &weight, &weight]), Err(count(3)));
    assert_eq!(forward(&[]), Err(count(0)));

    let gradient = |wrt, ops: &[&ArrayD<f32>], grad_y: &ArrayD<f32>| {
        let views: Vec<_> = ops.iter().map(|a| a.view()).collect();
        k.gradient_dyn(wrt, &views, grad_y.view()).map(drop)
    };
    for wrt in [Wrt::Operand(0), Wrt::Operand(1), Wrt::Bias] {
        assert_eq!(gradient(wrt, &[&x], &grad_y), Err(count(1)));
        assert_eq!(gradient(wrt, &[&x, &weight, &x], &grad_y), Err(count(3)));
        assert_eq!(
            gradient(wrt, &[&x, &weight], &x3),
            Err(rank("grad_y", 4, 3))
        );
        assert_eq!(gradient(wrt, &[&x, &weight], &grad_y), Ok(()));
    }
    assert_eq!(
        gradient(Wrt::Operand(0), &[&x3, &weight], &grad_y),
        Err(rank("x", 4, 3))
    );
    assert_eq!(
        gradient(Wrt::Operand(0), &[&x, &weight5], &grad_y),
        Err(rank("weight", 4, 5))
    );
    assert_eq!(
        gradient(Wrt::Operand(1), &[&x, &weight5], &grad_y),
        Err(rank("weight", 4, 5))
    );
    assert_eq!(
        gradient(Wrt::Bias, &[&x3, &weight], &grad_y),
        Err(rank("x", 4, 3))
    );

    // A bias for a kernel that has none.
    let views = [x3.view(), x3.view()];
    let got = tiny::Kernel.forward_dyn(&views, Some(x3.view()));
    assert_eq!(got.map(drop), Err(count(3)));
}

/// Outputs of more than 6 axes are dynamic-rank arrays, whose rank only a check can pin.
#[test]
fn dynamic_rank_mismatches() {
    let a = ArrayD::<f32>::zeros(IxDyn(&[1, 2, 1, 1, 1, 1, 2]));
    let b = Array::<f32, _>::zeros((2, 3));
    let bias = Array::<f32, _>::zeros(3);
    let a6 = ArrayD::<f32>::zeros(IxDyn(&[1, 2, 1, 1, 1, 2]));
    assert_eq!(
        rank7::forward(&a6, &b, &bias).map(drop),
        Err(rank("a", 7, 6))
    );
    for shape in [&[1, 2, 1, 1, 1, 1][..], &[1, 2, 1, 1, 1, 1, 3, 1]] {
        let mut out = ArrayD::<f32>::zeros(IxDyn(shape));
        let got = rank7::forward_into(&a, &b, &bias, out.view_mut());
        assert_eq!(got, Err(rank("out", 7, shape.len())));
        let grad_y = ArrayD::<f32>::zeros(IxDyn(shape));
        let expected = Err(rank("grad_y", 7, shape.len()));
        assert_eq!(rank7::grad_bias(&grad_y).map(drop), expected);
        assert_eq!(rank7::backward(&a, &b, &grad_y).map(drop), expected);
        let views = [a.view(), b.view().into_dyn()];
        let got = rank7::Kernel.gradient_dyn(Wrt::Bias, &views, grad_y.view());
        assert_eq!(got.map(drop), expected);
    }
}

#[test]
fn errors_display_operand_axis_and_extents() {
    let message = extent("weight", 'c', 3, 4, "as x.c").to_string();
    assert_eq!(
        message,
        "weight: axis 'c' has extent 4, expected 3 (as x.c)"
    );
    let error: Box<dyn std::error::Error> = Box::new(rank("out", 7, 6));
    assert_eq!(error.to_string(), "out: expected 7 axes, got 6");
}
