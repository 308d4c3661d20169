//! The tutorial convolution: "nchwkj,dckj->ndhw", 3x3, stride 2, zero padding 2, with a
//! bias, on x (2,3,5,5) and weight (4,3,3,3). Prints the derivation, the output, the
//! three gradients, and how far the generated kernels are from the reference interpreter
//! and from finite differences. Every value printed is asserted: the output and the
//! gradients against a textbook loop nest in f64 (and one output by hand), the derivation
//! against the interpreter's, the checks against their tolerances.

use conv_kernels::{conv_kernel, Interpreter};
use ndarray::{Array, Array1, Array4, Dimension, ShapeBuilder, Zip};

conv_kernel! {
    /// 3x3 convolution, stride 2, zero padding 2, with a bias.
    pub conv2d(x, weight) = "nchwkj,dckj->ndhw" {
        unfold x.h by k, stride = 2, pad = 2;
        unfold x.w by j, stride = 2, pad = 2;
        size k = 3, j = 3;
        bias d;
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    println!("{}", conv2d::DERIVATION);
    // The interpreter derives the gradients again, at run time, from the kernel's text.
    assert_eq!(
        conv2d::DERIVATION,
        Interpreter::new(conv2d::SOURCE)?.derivation()
    );
    // What the derivation must say, worked out by hand: the output length along h and w,
    // grad_x as the contraction with grad_y into the unfolded view folded back along h
    // and w, grad_weight as the contraction of x's view with grad_y, grad_bias as the sum
    // of grad_y over every axis but d.
    for line in [
        "h = floor((x.h + 4 - (3 - 1) - 1) / 2) + 1",
        "forward: y = \"nchwkj,dckj->ndhw\"",
        "grad_x = fold_hw(\"ndhw,dckj->nchwkj\")",
        "grad_weight = \"nchwkj,ndhw->dckj\"",
        "grad_bias = \"ndhw->d\"",
    ] {
        assert!(
            conv2d::DERIVATION.lines().any(|l| l.trim() == line),
            "the derivation has no line {line}"
        );
    }

    let x = sample((2, 3, 5, 5), 1.0);
    let weight = sample((4, 3, 3, 3), 0.5);
    let bias = sample(4, 0.25);
    let y = conv2d::forward(&x, &weight, &bias)?;
    let grad_y = sample(y.raw_dim(), 0.75);
    let expected = textbook(&x, &weight, &bias, &grad_y);
    println!("y {:?} =\n{y:.4}\n", y.shape());
    // floor((5 + 2 + 2 - (3 - 1) - 1) / 2) + 1 = 4 positions along h and w.
    assert_eq!(y.shape(), [2, 4, 4, 4]);
    assert_close("y", &y, &expected.y);
    // The first window along h covers padded rows 0..3, two of padding and x's row 0,
    // and likewise along w: only tap (2, 2) reads x.
    let by_hand = f64::from(bias[0])
        + (0..3)
            .map(|c| f64::from(weight[[0, c, 2, 2]]) * f64::from(x[[0, c, 0, 0]]))
            .sum::<f64>();
    println!(
        "y[0, 0, 0, 0] = bias[0] + sum over c of weight[0, c, 2, 2] * x[0, c, 0, 0] = {by_hand:.4}\n"
    );
    assert!((f64::from(y[[0, 0, 0, 0]]) - by_hand).abs() < 1e-6);

    let grads = conv2d::backward(&x, &weight, &grad_y)?;
    println!("grad_x {:?} =\n{:.4}\n", grads.x.shape(), grads.x);
    assert_close("grad_x", &grads.x, &expected.x);
    println!(
        "grad_weight {:?} =\n{:.4}\n",
        grads.weight.shape(),
        grads.weight
    );
    assert_close("grad_weight", &grads.weight, &expected.weight);
    println!("grad_bias = {:.4}\n", grads.bias);
    assert_close("grad_bias", &grads.bias, &expected.bias);
    println!(
        "(y and every gradient equal a textbook loop nest in f64 to 1e-5 of their largest entry)\n"
    );

    let report = conv_kernels::check::check(&conv2d::Kernel, &[x.shape(), weight.shape()], 1)?;
    println!("largest relative errors of the generated f32 kernels:\n{report}");
    let names: Vec<&str> = report.entries.iter().map(|e| e.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "forward",
            "grad_x",
            "grad_weight",
            "grad_bias",
            "jvp",
            "double_backward"
        ]
    );
    for entry in &report.entries {
        assert!(entry.vs_interpreter < 1e-5, "{report}");
        assert!(
            entry.vs_finite_differences.unwrap_or(0.0) < 1e-3,
            "{report}"
        );
    }
    Ok(())
}

/// What the kernel must compute, in f64.
struct Expected {
    y: Array4<f64>,
    x: Array4<f64>,
    weight: Array4<f64>,
    bias: Array1<f64>,
}

/// The convolution and its gradients by their definitions, one loop nest over every
/// term: y[n, d, p, q] = bias[d] + the sum over c, k, j of weight[d, c, k, j] *
/// x[n, c, 2p + k - 2, 2q + j - 2] (the terms outside x are 0), and each term's share of
/// the gradients for this grad_y.
fn textbook(
    x: &Array4<f32>,
    weight: &Array4<f32>,
    bias: &Array1<f32>,
    grad_y: &Array4<f32>,
) -> Expected {
    let (stride, pad) = (2, 2);
    let (nn, cc, hh, ww) = x.dim();
    let (dd, _, kk, jj) = weight.dim();
    let (ho, wo) = (
        (hh + 2 * pad - kk) / stride + 1,
        (ww + 2 * pad - jj) / stride + 1,
    );
    let mut e = Expected {
        y: Array4::zeros((nn, dd, ho, wo)),
        x: Array4::zeros(x.raw_dim()),
        weight: Array4::zeros(weight.raw_dim()),
        bias: Array1::zeros(dd),
    };
    for (n, d, p, q) in ndarray::indices((nn, dd, ho, wo)) {
        let g = f64::from(grad_y[[n, d, p, q]]);
        e.y[[n, d, p, q]] = f64::from(bias[d]);
        e.bias[d] += g;
        for (c, k, j) in ndarray::indices((cc, kk, jj)) {
            let (r, s) = (stride * p + k, stride * q + j);
            if r < pad || s < pad || r - pad >= hh || s - pad >= ww {
                continue;
            }
            let (xv, wv) = (x[[n, c, r - pad, s - pad]], weight[[d, c, k, j]]);
            e.y[[n, d, p, q]] += f64::from(wv) * f64::from(xv);
            e.x[[n, c, r - pad, s - pad]] += g * f64::from(wv);
            e.weight[[d, c, k, j]] += g * f64::from(xv);
        }
    }
    e
}

/// Asserts that every entry of `got` is `expected` to within 1e-5 of its largest
/// magnitude (f32 sums of 27 products round far less).
fn assert_close<D: Dimension>(name: &str, got: &Array<f32, D>, expected: &Array<f64, D>) {
    assert_eq!(got.shape(), expected.shape(), "{name}");
    let largest = expected.iter().fold(1e-30f64, |m, v| m.max(v.abs()));
    Zip::from(got).and(expected).for_each(|&g, &e| {
        assert!(
            (f64::from(g) - e).abs() <= 1e-5 * largest,
            "{name}: {g} where the textbook loops give {e}"
        );
    });
}

/// Deterministic values in [-scale, scale), so the printout is the same on every run.
fn sample<Sh: ShapeBuilder>(shape: Sh, scale: f32) -> Array<f32, Sh::Dim>
where
    Sh::Dim: Dimension,
{
    let mut state = 0x2545_f491_4f6c_dd1du64 ^ u64::from(scale.to_bits());
    Array::from_shape_simple_fn(shape, || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        scale * ((state >> 40) as f32 / (1u64 << 24) as f32 * 2.0 - 1.0)
    })
}
