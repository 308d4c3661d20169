//! Kernels with windows on the output (folds: transposed convolutions, overlap-add),
//! generated, against the reference interpreter and finite differences
//! (`conv_kernels::check::check`), at loop-nest sizes; 1-D, 2-D and 3-D, groups and
//! depthwise as index structure, every padding mode, fixed and run-time extents, f32
//! and f64.

use conv_kernels::conv_kernel;

conv_kernel! {
    /// The U-Net upsampling layer of the language reference.
    pub up2(x, weight) -> y = "ncij,cdkl->ndijkl" {
        unfold y.i by k, stride = 2, pad = 1, output_padding = 1;
        unfold y.j by l, stride = 2, pad = 1, output_padding = 1;
        size k = 3, l = 3;
        bias d;
    }
    pub up1d(x, weight) -> up = "nci,cdk->ndik" {
        unfold up.i by k, stride = 3, dilation = 2, pad = (2, 1), output_padding = 1;
        bias d;
        dtype f64;
    }
    pub up3d(x, weight) -> y = "nchij,cdekl->ndhijekl" {
        unfold y.h by e, stride = 2;
        unfold y.i by k, pad = 1;
        unfold y.j by l, stride = 2, dilation = 2, pad = 1, output_padding = 1;
        size e = 2, k = 3, l = 2;
    }
    pub grouped(x, weight) -> y = "ngcij,gcdkl->ngdijkl" {
        unfold y.i by k, stride = 2, pad = 1;
        unfold y.j by l, stride = 2, pad = 1;
        dtype f64;
    }
    pub depthwise(x, weight) -> y = "ncij,ckl->ncijkl" {
        unfold y.i by k, stride = 2, pad = (1, 0);
        unfold y.j by l, stride = 1, pad = 1;
        bias c;
    }
    pub reflect(x, weight) -> y = "nci,cdk->ndik" {
        unfold y.i by k, stride = 2, pad = 2, mode = reflect;
        dtype f64;
    }
    pub replicate(x, weight) -> y = "nci,cdk->ndik" {
        unfold y.i by k, pad = (1, 2), mode = replicate;
        dtype f64;
    }
    pub circular(x, weight) -> y = "nci,cdk->ndik" {
        unfold y.i by k, stride = 3, pad = (2, 1), mode = circular;
        dtype f64;
    }
    /// Windows on an operand and on the output at once: a strided convolution along h
    /// whose result is folded back up along the same axis.
    pub mixed(x, weight) -> y = "nchk,dckl->ndhl" {
        unfold x.h by k, stride = 2, pad = 1;
        unfold y.h by l, stride = 3, pad = (0, 1), output_padding = 2;
        bias d;
        dtype f64;
    }
    /// col2im: one operand, every extent fixed.
    pub col2im(cols) -> image = "ncklij->ncijkl" {
        unfold image.i by k, stride = 2, pad = 1;
        unfold image.j by l, stride = 2;
        size n = 1, c = 2, k = 3, l = 4, i = 9, j = 8;
        dtype f64;
    }
}

fn check<K: conv_kernels::Kernel>(kernel: &K, shapes: &[&[usize]], tolerance: f64) {
    let report = conv_kernels::check::check(kernel, shapes, 3).unwrap();
    assert!(report.worst() < tolerance, "{report}");
    assert!(report.entries.len() > shapes.len(), "{report}");
}

#[test]
fn transposed_convolutions_match_the_interpreter_and_finite_differences() {
    check(&up2::Kernel, &[&[2, 3, 4, 5], &[3, 4, 3, 3]], 1e-3);
    check(&up1d::Kernel, &[&[2, 3, 6], &[3, 2, 4]], 1e-9);
    check(&up3d::Kernel, &[&[1, 2, 3, 4, 3], &[2, 3, 2, 3, 2]], 1e-3);
    check(
        &grouped::Kernel,
        &[&[2, 2, 3, 3, 4], &[2, 3, 2, 3, 3]],
        1e-9,
    );
    check(&depthwise::Kernel, &[&[2, 3, 4, 5], &[3, 2, 3]], 1e-3);
}

#[test]
fn every_padding_mode_on_the_output_is_the_adjoint_of_the_input_side() {
    check(&reflect::Kernel, &[&[2, 3, 6], &[3, 2, 3]], 1e-9);
    check(&replicate::Kernel, &[&[2, 3, 6], &[3, 2, 3]], 1e-9);
    check(&circular::Kernel, &[&[2, 3, 6], &[3, 2, 4]], 1e-9);
}

#[test]
fn windows_on_an_operand_and_on_the_output_at_once() {
    check(&mixed::Kernel, &[&[2, 3, 9], &[2, 3, 3, 4]], 1e-9);
    // h: the view is floor((9 + 2 - 3) / 2) + 1 = 5 long; y.h = (5 - 1)*3 - 1 + 4 + 2 = 17.
    assert_eq!(mixed::output_shape([2, 3, 9], [2, 3, 3, 4]), Ok([2, 2, 17]));
}

#[test]
fn the_into_variants_write_the_output_s_shape() {
    use ndarray::{Array, Array3};
    let x = Array::from_shape_fn((2, 3, 6), |(a, b, c)| (a + 2 * b + 3 * c) as f64 * 0.1);
    let w = Array::from_shape_fn((3, 2, 4), |(a, b, c)| (a * b) as f64 - c as f64);
    let bias = ndarray::array![1.0, -1.0];
    let y = up1d::forward(&x, &w, &bias).unwrap();
    let mut out = Array3::zeros((2, 2, 20));
    up1d::forward_into(&x, &w, &bias, out.view_mut()).unwrap();
    assert_eq!(out, y);
    let mut grad_x = Array3::zeros((2, 3, 6));
    up1d::grad_x_into([2, 3, 6], &w, &y, grad_x.view_mut()).unwrap();
    assert_eq!(grad_x, up1d::grad_x([2, 3, 6], &w, &y).unwrap());
    let mut grad_weight = Array3::zeros((3, 2, 4));
    up1d::grad_weight_into(&x, [3, 2, 4], &y, grad_weight.view_mut()).unwrap();
    assert_eq!(grad_weight, up1d::grad_weight(&x, [3, 2, 4], &y).unwrap());
    // The bias's gradient sums grad_y over the images and the folded axis.
    let mut grad_bias = ndarray::Array1::zeros(2);
    up1d::grad_bias_into(&y, grad_bias.view_mut()).unwrap();
    let sums = y.sum_axis(ndarray::Axis(0)).sum_axis(ndarray::Axis(1));
    for (got, want) in grad_bias.iter().zip(&sums) {
        assert!(
            (got - want).abs() <= 1e-12 * want.abs().max(1.0),
            "{got} against {want}"
        );
    }
    // An output of the view's length along i is the wrong shape.
    let mut wrong = Array3::zeros((2, 2, 6));
    let error = up1d::forward_into(&x, &w, &bias, wrong.view_mut()).unwrap_err();
    assert_eq!(
        error.to_string(),
        "out: axis 'i' has extent 6, expected 20 (the result's extent)"
    );
    // So is a grad_y of the view's length.
    let error = up1d::grad_x([2, 3, 6], &w, &Array3::<f64>::zeros((2, 2, 6))).unwrap_err();
    assert_eq!(
        error.to_string(),
        "grad_y: axis 'i' has extent 6, expected 20 (the output's extent)"
    );
}

#[test]
fn col2im_folds_fixed_extents() {
    check(&col2im::Kernel, &[&[1, 2, 3, 4, 5, 3]], 1e-9);
    // i: (5 - 1)*2 - 2 + 3 = 9; j: (3 - 1)*2 + 4 = 8.
    assert_eq!(col2im::output_shape([1, 2, 3, 4, 5, 3]), Ok([1, 2, 9, 8]));
}

#[test]
fn output_shapes_follow_pytorch_s_rule() {
    // (4 - 1)*2 - 2 + 3 + 1 = 8 and (5 - 1)*2 - 2 + 3 + 1 = 10.
    assert_eq!(
        up2::output_shape([2, 3, 4, 5], [3, 4, 3, 3]),
        Ok([2, 4, 8, 10])
    );
    // (6 - 1)*3 - 3 + 2*(4 - 1) + 1 + 1 = 20.
    assert_eq!(up1d::output_shape([2, 3, 6], [3, 2, 4]), Ok([2, 2, 20]));
}

/// The typed `jvp` and `double_backward` of a generated module equal the interpreter's.
#[test]
fn typed_jvp_and_double_backward_of_a_transposed_convolution() {
    use conv_kernels::Interpreter;
    use ndarray::{Array, Array1, Array3, ArrayViewD};
    fn dynamic(a: &Array3<f64>) -> ArrayViewD<'_, f64> {
        a.view().into_dyn()
    }
    let ramp = |shape: (usize, usize, usize), seed: f64| {
        Array::from_shape_fn(shape, |(a, b, c)| {
            ((a * 31 + b * 7 + c) as f64 * 0.3 + seed).sin()
        })
    };
    let (x, w, bias) = (
        ramp((2, 3, 6), 0.1),
        ramp((3, 2, 4), 0.2),
        Array1::from(vec![0.5, -1.0]),
    );
    let (tx, tw, tb) = (
        ramp((2, 3, 6), 0.3),
        ramp((3, 2, 4), 0.4),
        Array1::from(vec![2.0, 1.0]),
    );
    let (y, dy) = up1d::jvp(&x, &w, Some(bias.view()), &tx, &tw, Some(tb.view())).unwrap();
    let interpreter = Interpreter::new(up1d::SOURCE).unwrap();
    let (y_ref, dy_ref) = interpreter
        .jvp(
            &[dynamic(&x), dynamic(&w)],
            Some(bias.view().into_dyn()),
            &[dynamic(&tx), dynamic(&tw)],
            Some(tb.view().into_dyn()),
        )
        .unwrap();
    assert!((&y.into_dyn() - &y_ref).iter().all(|d| d.abs() < 1e-12));
    assert!((&dy.into_dyn() - &dy_ref).iter().all(|d| d.abs() < 1e-12));

    let grad_y = ramp((2, 2, 20), 0.5);
    let cotangents = up1d::Grads {
        x: ramp((2, 3, 6), 0.6),
        weight: ramp((3, 2, 4), 0.7),
        bias: Array1::from(vec![0.25, 4.0]),
    };
    let dd = up1d::double_backward(&x, &w, &grad_y, &cotangents).unwrap();
    let reference = interpreter
        .double_backward(
            &[dynamic(&x), dynamic(&w)],
            grad_y.view().into_dyn(),
            &conv_kernels::Grads {
                operands: vec![
                    cotangents.x.clone().into_dyn(),
                    cotangents.weight.clone().into_dyn(),
                ],
                bias: Some(cotangents.bias.clone().into_dyn()),
            },
        )
        .unwrap();
    let close = |a: ndarray::ArrayD<f64>, b: &ndarray::ArrayD<f64>| {
        (&a - b).iter().all(|d| d.abs() < 1e-12)
    };
    assert!(close(dd.x.into_dyn(), &reference.operands[0]));
    assert!(close(dd.weight.into_dyn(), &reference.operands[1]));
    assert!(close(dd.grad_y.into_dyn(), &reference.grad_y));
    assert!(dd.bias.iter().all(|&b| b == 0.0));
    // A cotangent of the wrong shape is an error naming it.
    let wrong = up1d::Grads {
        x: ramp((2, 3, 5), 0.0),
        ..cotangents
    };
    let error = up1d::double_backward(&x, &w, &grad_y, &wrong).unwrap_err();
    assert_eq!(
        error.to_string(),
        "cotangent_x: axis 'i' has extent 5, expected 6 (as x.i)"
    );
}
