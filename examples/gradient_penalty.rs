//! A WGAN-GP-style gradient penalty through `double_backward`. The critic is one conv
//! layer, y = conv(x, w) + b (3x3, stride 2, padding 1, in f64), scored by L = <y, r> for
//! a fixed r. The penalty is the squared norm of the critic's input gradient,
//! P = ||dL/dx||^2 = ||grad_x(w, r)||^2, a function of w (and r) that training must
//! differentiate: a gradient of a gradient. With g = grad_x and the cotangents
//! (x: 2g, weight: 0, bias: 0), `double_backward(x, w, r, &cotangents)` is the gradient
//! of <grad_x, 2g> = dP, so its `weight` is dP/dw and its `grad_y` is dP/dr. Both are
//! checked against central finite differences of P over every entry; the same with the
//! penalty of the WGAN-GP paper, (||g|| - 1)^2, whose cotangent is 2(1 - 1/||g||) g.

use conv_kernels::conv_kernel;
use ndarray::{Array, Array1, Array4, Dimension, ShapeBuilder};

conv_kernel! {
    /// The critic's layer: 3x3, stride 2, zero padding 1, with a bias, in f64.
    pub critic(x, weight) = "nchwkj,dckj->ndhw" {
        unfold x.h by k, stride = 2, pad = 1;
        unfold x.w by j, stride = 2, pad = 1;
        size k = 3, j = 3;
        bias d;
        dtype f64;
    }
}

const X_SHAPE: [usize; 4] = [2, 3, 8, 8];

/// The critic's input gradient for the score L = <conv(x, w) + b, r>: it depends on the
/// weight and on r, not on x's values nor on the bias.
fn input_gradient(weight: &Array4<f64>, r: &Array4<f64>) -> Array4<f64> {
    critic::grad_x(X_SHAPE, weight, r).expect("shapes fit")
}

/// ||g||^2, the penalty of this example.
fn squared_norm(g: &Array4<f64>) -> f64 {
    g.iter().map(|v| v * v).sum()
}

/// (||g|| - 1)^2, the penalty of the WGAN-GP paper.
fn unit_norm_penalty(g: &Array4<f64>) -> f64 {
    (squared_norm(g).sqrt() - 1.0).powi(2)
}

/// The largest |analytic - central difference| over every entry of `at`, relative to the
/// largest |analytic| entry, for the penalty `p` as a function of `at`.
fn finite_difference_error(
    analytic: &Array4<f64>,
    at: &Array4<f64>,
    p: impl Fn(&Array4<f64>) -> f64,
) -> f64 {
    let h = 1e-4;
    let scale = analytic.iter().fold(0.0f64, |m, v| m.max(v.abs()));
    let mut worst = 0.0f64;
    for (index, &value) in analytic.indexed_iter() {
        let (mut plus, mut minus) = (at.clone(), at.clone());
        plus[index] += h;
        minus[index] -= h;
        let numeric = (p(&plus) - p(&minus)) / (2.0 * h);
        worst = worst.max((numeric - value).abs() / scale);
    }
    worst
}

fn main() -> Result<(), conv_kernels::ShapeError> {
    let x = sample(X_SHAPE, 1.0, 1);
    let weight = sample((4, 3, 3, 3), 0.5, 2);
    let bias = sample(4, 0.1, 3);
    let y = critic::forward(&x, &weight, &bias)?;
    let r = sample(y.raw_dim(), 1.0, 4);
    let score: f64 = (&y * &r).sum();
    assert_eq!(y.shape(), [2, 4, 4, 4]);
    let g = input_gradient(&weight, &r);
    assert_eq!(g, critic::backward(&x, &weight, &r)?.x);
    // L is linear in x and in the bias: L = <x, dL/dx> + <bias, dL/dbias>.
    let linear = (&x * &g).sum() + (&bias * &critic::grad_bias(&r)?).sum();
    println!(
        "critic: x {:?} -> y {:?}, L = <y, r> = {score:.6} = <x, dL/dx> + <b, dL/db>",
        x.shape(),
        y.shape()
    );
    assert!((score - linear).abs() < 1e-12 * score.abs().max(1.0));
    let penalty = squared_norm(&g);
    // And ||g||^2 = <conv^T(r), g> = <r, conv(g, w)>: the adjoint identity.
    let conv_g = critic::forward(&g, &weight, &Array1::zeros(4))?;
    println!("P = ||dL/dx||^2 = {penalty:.6} = <r, conv(g, w)>");
    assert!((penalty - (&r * &conv_g).sum()).abs() < 1e-12 * penalty);

    // dP/dw and dP/dr: the gradient of <grad_x, 2g> with g held fixed.
    let cotangents = critic::Grads {
        x: 2.0 * &g,
        weight: Array4::zeros(weight.raw_dim()),
        bias: Array1::zeros(4),
    };
    let dd = critic::double_backward(&x, &weight, &r, &cotangents)?;
    // grad_x reads neither x nor the bias, and the other cotangents are zero.
    assert!(dd.x.iter().chain(&dd.bias).all(|&v| v == 0.0));
    let error_w = finite_difference_error(&dd.weight, &weight, |w| {
        squared_norm(&input_gradient(w, &r))
    });
    let error_r = finite_difference_error(&dd.grad_y, &r, |r| {
        squared_norm(&input_gradient(&weight, r))
    });
    println!(
        "dP/dw {:?}: dP/dw[0, 0, 1, 1] = {:.6}, largest error against central differences {error_w:.1e}",
        dd.weight.shape(),
        dd.weight[[0, 0, 1, 1]]
    );
    println!(
        "dP/dr {:?}: dP/dr[0, 0, 0, 0] = {:.6}, largest error against central differences {error_r:.1e}",
        dd.grad_y.shape(),
        dd.grad_y[[0, 0, 0, 0]]
    );
    // P is quadratic in w and in r, so central differences are exact but for rounding.
    assert!(error_w < 1e-6 && error_r < 1e-6);
    // dP/dr is 2 conv(g, w) = 2 grad_y of <grad_x, g>: the convolution of g, as grad_x's
    // adjoint must be.
    let gap = (&dd.grad_y - &(2.0 * &conv_g))
        .iter()
        .fold(0.0f64, |m, v| m.max(v.abs()));
    println!("dP/dr - 2 conv(g, w), largest entry: {gap:.1e}");
    assert!(gap < 1e-12);

    // The WGAN-GP paper's penalty, (||g|| - 1)^2: only the cotangent changes.
    let norm = penalty.sqrt();
    let unit = critic::Grads {
        x: 2.0 * (1.0 - 1.0 / norm) * &g,
        ..cotangents
    };
    let dd = critic::double_backward(&x, &weight, &r, &unit)?;
    let error = finite_difference_error(&dd.weight, &weight, |w| {
        unit_norm_penalty(&input_gradient(w, &r))
    });
    println!(
        "(||g|| - 1)^2 = {:.6}: largest error of its dP/dw against central differences {error:.1e}",
        unit_norm_penalty(&g)
    );
    assert!(error < 1e-6);
    Ok(())
}

/// Deterministic values in [-scale, scale), so the printout is the same on every run.
fn sample<Sh: ShapeBuilder>(shape: Sh, scale: f64, seed: u64) -> Array<f64, Sh::Dim>
where
    Sh::Dim: Dimension,
{
    let mut state = 0x2545_f491_4f6c_dd1du64 ^ seed.wrapping_mul(0x9e37_79b9_7f4a_7c15);
    Array::from_shape_simple_fn(shape, || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        scale * ((state >> 11) as f64 / (1u64 << 53) as f64 * 2.0 - 1.0)
    })
}
