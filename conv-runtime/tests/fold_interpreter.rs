//! Windows on the output, through the reference interpreter: a transposed convolution
//! against a hand-written scatter loop, and against the gradient of the convolution it
//! transposes.

use conv_runtime::{Interpreter, Wrt};
use ndarray::{ArrayD, IxDyn};

fn ramp(shape: &[usize], seed: f64) -> ArrayD<f64> {
    let n: usize = shape.iter().product();
    let data = (0..n).map(|i| ((i as f64 + seed) * 0.37).sin()).collect();
    ArrayD::from_shape_vec(IxDyn(shape), data).unwrap()
}

/// `y[n, d, o] += x[n, c, i] * w[c, d, k]` at `o = i*stride + k*dilation - pad`, kept
/// when `0 <= o < len`: the definition of PyTorch's conv_transpose1d.
fn scatter(
    x: &ArrayD<f64>,
    w: &ArrayD<f64>,
    (stride, dilation, pad, len): (usize, usize, usize, usize),
) -> ArrayD<f64> {
    let (n, c, l) = (x.shape()[0], x.shape()[1], x.shape()[2]);
    let (d, k) = (w.shape()[1], w.shape()[2]);
    let mut y = ArrayD::zeros(IxDyn(&[n, d, len]));
    for b in 0..n {
        for ci in 0..c {
            for i in 0..l {
                for di in 0..d {
                    for ki in 0..k {
                        let o = (i * stride + ki * dilation) as isize - pad as isize;
                        if o >= 0 && (o as usize) < len {
                            y[[b, di, o as usize]] += x[[b, ci, i]] * w[[ci, di, ki]];
                        }
                    }
                }
            }
        }
    }
    y
}

fn max_diff(a: &ArrayD<f64>, b: &ArrayD<f64>) -> f64 {
    assert_eq!(a.shape(), b.shape());
    a.iter()
        .zip(b)
        .map(|(p, q)| (p - q).abs())
        .fold(0.0, f64::max)
}

#[test]
fn transposed_conv1d_is_the_scatter_loop() {
    for (stride, dilation, pad, output_padding) in
        [(2, 1, 1, 1), (1, 1, 0, 0), (3, 2, 2, 1), (1, 3, 1, 2)]
    {
        let text = format!(
            "up(x, w) -> y = \"nci,cdk->ndik\" {{ unfold y.i by k, stride = {stride}, dilation = {dilation}, pad = {pad}, output_padding = {output_padding}; dtype f64; }}"
        );
        let kernel = Interpreter::new(&text).unwrap();
        let (x, w) = (ramp(&[2, 3, 5], 0.0), ramp(&[3, 4, 3], 1.0));
        let len = (5 - 1) * stride - 2 * pad + dilation * 2 + 1 + output_padding;
        assert_eq!(
            kernel.output_shape(&[x.shape(), w.shape()]).unwrap(),
            [2, 4, len]
        );
        let y = kernel.forward(&[x.view(), w.view()], None).unwrap();
        let expected = scatter(&x, &w, (stride, dilation, pad, len));
        assert!(max_diff(&y, &expected) < 1e-12, "{text}");
        let derivation = kernel.derivation();
        assert!(
            derivation.contains("forward: y = fold_i(\"nci,cdk->ndik\")"),
            "{derivation}"
        );
    }
}

/// The forward pass of a transposed convolution is the gradient of x of the convolution
/// with the same windows, and its gradient of x is that convolution's forward pass.
#[test]
fn transposed_conv2d_passes_are_the_convolution_s() {
    let up = Interpreter::new(
        "up(x, w) -> y = \"ncij,cdkl->ndijkl\" { unfold y.i by k, stride = 2, pad = 1, output_padding = 1; unfold y.j by l, stride = 2, pad = (0, 1), mode = reflect; dtype f64; }",
    )
    .unwrap();
    let conv = Interpreter::new(
        "conv(g, w) = \"ndijkl,cdkl->ncij\" { unfold g.i by k, stride = 2, pad = 1; unfold g.j by l, stride = 2, pad = (0, 1), mode = reflect; dtype f64; }",
    )
    .unwrap();
    let (x, w) = (ramp(&[2, 3, 4, 5], 0.5), ramp(&[3, 2, 3, 3], 2.0));
    let y_shape = up.output_shape(&[x.shape(), w.shape()]).unwrap();
    assert_eq!(y_shape, [2, 2, 8, 10]);
    let y = up.forward(&[x.view(), w.view()], None).unwrap();
    let g = ArrayD::<f64>::zeros(IxDyn(&y_shape));
    let by_conv = conv
        .gradient(Wrt::Operand(0), &[g.view(), w.view()], x.view())
        .unwrap();
    assert!(max_diff(&y, &by_conv) < 1e-12);

    let grad_y = ramp(&y_shape, 3.0);
    let grads = up.backward(&[x.view(), w.view()], grad_y.view()).unwrap();
    let grad_x = conv.forward(&[grad_y.view(), w.view()], None).unwrap();
    assert!(max_diff(&grads.operands[0], &grad_x) < 1e-12);
    let grad_w = conv
        .gradient(Wrt::Operand(1), &[grad_y.view(), w.view()], x.view())
        .unwrap();
    assert!(max_diff(&grads.operands[1], &grad_w) < 1e-12);
}
