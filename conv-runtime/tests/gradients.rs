//! Every gradient the interpreter derives, against central finite differences and the
//! adjoint identity, for specs of every family; and the f32 interpreter against f64.

mod common;

use common::{interp, to_f32, to_f64, Lcg};
use conv_runtime::check::{adjoint_gap, check_interpreter, finite_difference, inner, max_error};
use conv_runtime::{Interpreter, Wrt};
use ndarray::{ArrayD, ArrayViewD};

/// Random operands (and a bias if the kernel declares one) and an upstream gradient.
struct Inputs {
    operands: Vec<ArrayD<f64>>,
    bias: Option<ArrayD<f64>>,
    grad_y: ArrayD<f64>,
}

fn inputs(k: &Interpreter, shapes: &[&[usize]], seed: u64) -> Inputs {
    let mut rng = Lcg::new(seed);
    let extents = k.extents(shapes).unwrap_or_else(|e| panic!("{e}"));
    Inputs {
        operands: shapes.iter().map(|s| rng.array(s)).collect(),
        bias: k.kernel().bias.map(|axis| rng.array(&[extents.of(axis)])),
        grad_y: rng.array(&extents.shape(&k.kernel().output)),
    }
}

fn views(arrays: &[ArrayD<f64>]) -> Vec<ArrayViewD<'_, f64>> {
    arrays.iter().map(|a| a.view()).collect()
}

/// Checks every gradient of one spec in f64 (printing the worst errors) and the f32
/// interpreter against the f64 one.
fn check(text: &str, shapes: &[&[usize]]) {
    let k = interp(text);
    let seed = shapes.iter().flat_map(|s| s.iter()).sum::<usize>() as u64;
    let inp = inputs(&k, shapes, seed);
    let report = check_interpreter(&k, &inp.operands, inp.bias.as_ref(), &inp.grad_y)
        .unwrap_or_else(|e| panic!("{text}: {e}"));
    let expected_entries = inp.operands.len() + usize::from(inp.bias.is_some());
    assert_eq!(report.entries.len(), expected_entries, "{text}");
    assert!(report.worst() < 1e-9, "{text}\n{report}");
    let (ops, gy) = (views(&inp.operands), inp.grad_y.view());
    let grads = k.backward(&ops, gy.clone()).unwrap();
    for (i, g) in grads.operands.iter().enumerate() {
        // A gradient that is zero everywhere would pass both checks vacuously.
        assert!(inner(g, g) > 0.0, "{text}: grad of operand {i} is 0");
        let alone = k.gradient(Wrt::Operand(i), &ops, gy.clone()).unwrap();
        assert_eq!(&alone, g, "{text}: gradient and backward differ");
    }
    // f32 on the rounded inputs against f64 on the exact ones.
    let o32: Vec<ArrayD<f32>> = inp.operands.iter().map(to_f32).collect();
    let v32: Vec<ArrayViewD<f32>> = o32.iter().map(|a| a.view()).collect();
    let b32 = inp.bias.as_ref().map(to_f32);
    let y32 = k.forward(&v32, b32.as_ref().map(|b| b.view())).unwrap();
    let y64 = k
        .forward(&ops, inp.bias.as_ref().map(|b| b.view()))
        .unwrap();
    let g32 = k.backward(&v32, to_f32(&inp.grad_y).view()).unwrap();
    let pairs = std::iter::once((&y32, &y64))
        .chain(g32.operands.iter().zip(&grads.operands))
        .chain(g32.bias.iter().zip(&grads.bias));
    let f32_error = pairs.fold(0.0f64, |worst, (a, e)| {
        worst.max(max_error(&to_f64(a), e).1)
    });
    assert!(f32_error < 1e-5, "{text}: f32 off by {f32_error:e}");
    println!("{:.2e} {f32_error:.2e} {text}", report.worst());
}

#[test]
fn conv1d() {
    check(
        r#"k(x, w) = "nclk,dck->ndl" { unfold x.l by k; bias d; }"#,
        &[&[2, 3, 7], &[4, 3, 3]],
    );
    check(
        r#"k(x, w) = "nclk,dck->ndl" { unfold x.l by k, stride = 2, pad = 1; }"#,
        &[&[2, 2, 8], &[3, 2, 3]],
    );
}

#[test]
fn conv2d_nchw() {
    let text = r#"k(x, w) = "nchwkj,dckj->ndhw" { unfold x.h by k, pad = 1; unfold x.w by j, pad = 1; bias d; }"#;
    check(text, &[&[2, 3, 5, 6], &[4, 3, 3, 3]]);
    let text = r#"k(x, w) = "nchwkj,dckj->ndhw" {
        unfold x.h by k, stride = 2, pad = (0, 1); unfold x.w by j, stride = 3, pad = (2, 1); }"#;
    check(text, &[&[1, 2, 6, 7], &[3, 2, 3, 2]]);
    // Reflect, dilation and (lo, hi) on differently strided axes.
    let text = r#"k(x, weight) = "nchwkj,dckj->ndhw" {
        unfold x.h by k, stride = 2, pad = 2, mode = reflect;
        unfold x.w by j, stride = 3, dilation = 2, pad = (1, 2); bias d; }"#;
    check(text, &[&[2, 3, 5, 7], &[4, 3, 3, 2]]);
}

#[test]
fn conv2d_nhwc() {
    let text = r#"k(x, w) = "nhwkjc,kjcd->nhwd" { unfold x.h by k, pad = 1; unfold x.w by j, stride = 2; bias d; }"#;
    check(text, &[&[2, 5, 6, 3], &[3, 3, 3, 2]]);
}

#[test]
fn conv3d() {
    let text = r#"k(x, w) = "ncthwijk,ocijk->nothw" {
        unfold x.t by i; unfold x.h by j, stride = 2, pad = 1; unfold x.w by k, dilation = 2; bias o; }"#;
    check(text, &[&[1, 2, 4, 5, 6], &[3, 2, 2, 3, 2]]);
}

#[test]
fn depthwise_and_grouped() {
    let text =
        r#"k(x, w) = "nchwkj,ckj->nchw" { unfold x.h by k, pad = 1; unfold x.w by j, pad = 1; }"#;
    check(text, &[&[2, 3, 4, 5], &[3, 3, 3]]);
    let text = r#"k(x, w) = "ngchwkj,gdckj->ngdhw" {
        unfold x.h by k, stride = 2, pad = 1; unfold x.w by j, pad = (1, 0); bias d; }"#;
    check(text, &[&[1, 2, 2, 5, 4], &[2, 3, 2, 3, 2]]);
}

#[test]
fn dilated() {
    let conv = |opts: &str, len: usize, taps: usize| {
        let text = format!(r#"k(x, w) = "nclk,dck->ndl" {{ unfold x.l by k, {opts}; }}"#);
        check(&text, &[&[1, 2, len], &[2, 2, taps]])
    };
    conv("dilation = 3", 11, 3);
    conv("stride = 4, dilation = 2, pad = 3", 15, 3); // gcd(4, 2) = 2: odd positions skip taps
    conv("stride = 2, dilation = 3, pad = (1, 2)", 12, 3); // coprime: every phase meets a tap
    conv("stride = 3", 10, 2); // stride > window: some inputs are never read
}

/// Every pad form with strides 1 and 2, and `same` with odd and even lengths and windows.
#[test]
fn pad_forms() {
    let cases: [(&str, usize, usize); 9] = [
        ("pad = 1", 7, 3),
        ("stride = 2, pad = 2", 8, 3),
        ("stride = 2, pad = (0, 2)", 7, 3),
        ("stride = 2, pad = (3, 1)", 6, 4),
        ("stride = 2, pad = valid", 8, 3),
        ("pad = same", 7, 4), // total 3: lo 1, hi 2
        ("stride = 2, pad = same", 8, 3),
        ("stride = 2, pad = same", 7, 4),
        ("stride = 3, pad = same, mode = reflect", 8, 3),
    ];
    for (opts, len, taps) in cases {
        let text = format!(r#"k(x, w) = "nclk,dck->ndl" {{ unfold x.l by k, {opts}; }}"#);
        check(&text, &[&[2, 2, len], &[2, 2, taps]]);
    }
}

/// Each padding mode with several strides, dilations and pads, including pads as long
/// as the mode allows (reflect: len - 1, circular: len).
#[test]
fn padding_modes() {
    let geometries = [
        "pad = 2",
        "stride = 2, pad = (1, 3)",
        "dilation = 2, pad = (3, 0)",
        "stride = 3, dilation = 2, pad = 3",
    ];
    for mode in ["zeros", "reflect", "replicate", "circular"] {
        for geometry in geometries {
            let text = format!(
                r#"k(x, w) = "nclk,dck->ndl" {{ unfold x.l by k, {geometry}, mode = {mode}; }}"#
            );
            check(&text, &[&[1, 2, 6], &[2, 2, 3]]);
        }
    }
    let text = r#"k(x, w) = "nchwkj,dckj->ndhw" {
        unfold x.h by k, stride = 2, pad = 2, mode = reflect;
        unfold x.w by j, pad = (1, 4), mode = circular; bias d; }"#;
    check(text, &[&[1, 2, 5, 4], &[2, 2, 3, 3]]);
}

#[test]
fn pooling_with_a_fixed_window() {
    check(
        r#"k(x) = "nclk->ncl" { unfold x.l by k; size k = 3; }"#,
        &[&[2, 3, 7]],
    );
    let text = r#"k(x) = "nchwkj->nchw" { unfold x.h by k, stride = 2, pad = 1, mode = replicate;
        unfold x.w by j, stride = 2; size k = 3, j = 2; }"#;
    check(text, &[&[1, 2, 5, 6]]);
}

/// One window covers the whole padded input, so every output length is 1.
#[test]
fn window_spanning_the_whole_padded_input() {
    let text = r#"k(x, w) = "nclk,dck->ndl" { unfold x.l by k, pad = 1; }"#;
    let k = interp(text);
    assert_eq!(
        k.output_shape(&[&[1, 2, 3], &[2, 2, 5]]).unwrap(),
        [1, 2, 1]
    );
    check(text, &[&[1, 2, 3], &[2, 2, 5]]);
    let text = r#"k(x, w) = "nclk,dck->ndl" { unfold x.l by k, pad = (3, 0), mode = circular; }"#;
    check(text, &[&[1, 2, 3], &[2, 2, 6]]);
}

#[test]
fn plain_einsums() {
    check(r#"k(a, b) = "ik,kj->ij";"#, &[&[3, 4], &[4, 5]]);
    check(
        r#"k(a, b) = "bik,bkj->bij" { bias j; }"#,
        &[&[2, 3, 4], &[2, 4, 2]],
    );
    check(r#"k(a) = "ij->ji";"#, &[&[3, 4]]);
    check(r#"k(a) = "ij->i";"#, &[&[3, 5]]);
    check(r#"k(a, b) = "i,i->";"#, &[&[5], &[5]]);
    check(r#"k(a, b) = "i,j->ij" { bias j; }"#, &[&[3], &[4]]);
    check(
        r#"k(a, b, c) = "ab,bc,cd->ad";"#,
        &[&[2, 3], &[3, 4], &[4, 2]],
    );
}

/// Two operands unfolded, each window's extent given by the other operand:
/// y[l][m] = sum_{k,j} a[l + k][j] · b_padded[2m + j][k].
#[test]
fn two_unfolded_operands() {
    let text =
        r#"k(a, b) = "lkj,mjk->lm" { unfold a.l by k; unfold b.m by j, stride = 2, pad = 1; }"#;
    let k = interp(text);
    assert_eq!(k.output_shape(&[&[5, 3], &[6, 2]]).unwrap(), [4, 3]);
    check(text, &[&[5, 3], &[6, 2]]);
    let text = r#"k(a, b, c) = "lk,mj,kj->lm" { unfold a.l by k, pad = 1, mode = reflect; unfold b.m by j, dilation = 2; }"#;
    check(text, &[&[5], &[6], &[3, 2]]);
    // Both windows slide along the same output axis.
    let text = r#"k(a, b, c) = "lk,lj,kj->l" { unfold a.l by k, pad = 1;
        unfold b.l by j, dilation = 2, pad = (2, 1), mode = circular; }"#;
    check(text, &[&[5], &[4], &[3, 2]]);
}

/// A locally connected layer (a weight per output position) and a bias on a spatial axis.
#[test]
fn locally_connected_and_spatial_bias() {
    let text =
        r#"k(x, w) = "nclk,dclk->ndl" { unfold x.l by k, stride = 2, pad = 1, mode = reflect; }"#;
    check(text, &[&[2, 2, 7], &[3, 2, 4, 3]]);
    let text = r#"k(x, w) = "nclk,dck->ndl" { unfold x.l by k; bias l; size k = 3, c = 2; }"#;
    check(text, &[&[2, 2, 7], &[3, 2, 3]]);
}

/// Finite differences called directly: the loss is linear in each operand, so the
/// central difference is exact for any step, even h = 0.5.
#[test]
fn finite_differences_with_a_large_step() {
    let k = interp(
        r#"k(x, w) = "nchwkj,dckj->ndhw" { unfold x.h by k, stride = 2, pad = 1; unfold x.w by j, dilation = 2, mode = reflect, pad = 2; }"#,
    );
    let inp = inputs(&k, &[&[1, 2, 5, 5], &[2, 2, 3, 2]], 7);
    let f = |ops: &[ArrayD<f64>]| k.forward(&views(ops), None).unwrap();
    for i in 0..2 {
        let numeric = finite_difference(f, &inp.operands, &inp.grad_y, i, 0.5);
        let g = k
            .gradient(Wrt::Operand(i), &views(&inp.operands), inp.grad_y.view())
            .unwrap();
        let (_, rel) = max_error(&g, &numeric);
        assert!(rel < 1e-12, "operand {i}: {rel:e}");
    }
}

/// Mixed second derivative: `<grad_w(x, gy), v>` is `<conv(x, v), gy>`, so its
/// derivative with respect to x is grad_x of the conv with weight v.
#[test]
fn second_derivative_of_grad_w() {
    let k = interp(
        r#"k(x, w) = "nclk,dck->ndl" { unfold x.l by k, stride = 2, dilation = 2, pad = (2, 1), mode = replicate; }"#,
    );
    let inp = inputs(&k, &[&[2, 2, 9], &[3, 2, 2]], 11);
    let v = Lcg::new(99).array(&[3, 2, 2]);
    let gy = inp.grad_y.clone();
    let grad_w = |ops: &[ArrayD<f64>]| k.gradient(Wrt::Operand(1), &views(ops), gy.view()).unwrap();
    let numeric = finite_difference(grad_w, &inp.operands, &v, 0, 1e-3);
    let with_v = [inp.operands[0].clone(), v.clone()];
    let exact = k
        .gradient(Wrt::Operand(0), &views(&with_v), gy.view())
        .unwrap();
    let (_, rel) = max_error(&exact, &numeric);
    assert!(rel < 1e-9, "{rel:e}");
}

/// adjoint_gap directly: for a 3-operand chain, `<y, gy> = <op_i, grad_i>` for every i,
/// and a deliberately wrong gradient (transposed) is caught.
#[test]
fn adjoint_identity_for_every_operand_of_a_chain() {
    let k = interp(r#"k(a, b, c) = "ab,bc,cd->ad";"#);
    let inp = inputs(&k, &[&[3, 3], &[3, 3], &[3, 3]], 5);
    let y = k.forward(&views(&inp.operands), None).unwrap();
    let grads = k
        .backward(&views(&inp.operands), inp.grad_y.view())
        .unwrap();
    for (op, g) in inp.operands.iter().zip(&grads.operands) {
        assert!(adjoint_gap(&y, &inp.grad_y, op, g) < 1e-14);
    }
    let wrong = grads.operands[1].t().to_owned();
    assert!(adjoint_gap(&y, &inp.grad_y, &inp.operands[1], &wrong) > 1e-3);
}

/// The checks themselves: a gradient that is off in one entry fails finite differences.
#[test]
fn checks_catch_a_wrong_gradient() {
    let k = interp(r#"k(x, w) = "nclk,dck->ndl" { unfold x.l by k, stride = 2; }"#);
    let inp = inputs(&k, &[&[1, 1, 7], &[1, 1, 3]], 3);
    let f = |ops: &[ArrayD<f64>]| k.forward(&views(ops), None).unwrap();
    let numeric = finite_difference(f, &inp.operands, &inp.grad_y, 0, 1e-3);
    let mut g = k
        .gradient(Wrt::Operand(0), &views(&inp.operands), inp.grad_y.view())
        .unwrap();
    assert!(max_error(&g, &numeric).1 < 1e-9);
    g[[0, 0, 6]] += 0.1;
    assert!(max_error(&g, &numeric).1 > 1e-3);
}
