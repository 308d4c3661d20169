//! The derived gradients of convolutions, as text. Every expected string is worked out
//! from the README's "What is derived" section, not copied from the program's output:
//! for `y = contract(v, w)` with `v` the unfolded view of x, grad_w replaces w by grad_y and produces w's
//! subscript; grad_x replaces x's view by grad_y, produces the view's subscript and
//! folds it back through each window. Padded position `q = a*stride + k*dilation` is a
//! copy of input position `p = q - pad_lo` (zeros padding).

mod common;

use common::{derivation, extents, gradients};

/// The README's first example, with its docs.
const TUTORIAL: &str = r#"
    /// 3×3 convolution, stride 2, zero padding 1.
    pub conv2d_s2(x, weight) = "nchwkj,dckj->ndhw" {
        unfold x.h by k, stride = 2, pad = 1;
        unfold x.w by j, stride = 2, pad = 1;
        size k = 3, j = 3;
        bias d;
    }
"#;

#[test]
fn tutorial_whole_derivation() {
    let expected = "\
kernel conv2d_s2(x, weight) = \"nchwkj,dckj->ndhw\"
dtype f32
operand x: [n, c, h, w]
  unfold x.h by k, stride 2, dilation 1, pad (1, 1), zeros
  unfold x.w by j, stride 2, dilation 1, pad (1, 1), zeros
operand weight: [d, c, k, j]
bias: [d]
output y: [n, d, h, w]
  n = x.n
  d = weight.d
  h = floor((x.h + 2 - (3 - 1) - 1) / 2) + 1
  w = floor((x.w + 2 - (3 - 1) - 1) / 2) + 1
  summed c = x.c
  summed k = 3 (size)
  summed j = 3 (size)
forward: y = \"nchwkj,dckj->ndhw\"
  + bias[d]
grad_x = fold_hw(\"ndhw,dckj->nchwkj\")
  fold x.h by k: position p_k gathers h = (q_k - k) / 2 for k ≡ q_k (mod 2), q_k = p_k + 1, 0 <= h < len(h)
  fold x.w by j: position p_j gathers w = (q_j - j) / 2 for j ≡ q_j (mod 2), q_j = p_j + 1, 0 <= w < len(w)
grad_weight = \"nchwkj,ndhw->dckj\"
grad_bias = \"ndhw->d\"
";
    assert_eq!(derivation(TUTORIAL), expected);
}

#[test]
fn conv1d() {
    let source = r#"conv1d(x, w) = "nclk,dck->ndl" { unfold x.l by k; }"#;
    assert_eq!(
        gradients(source),
        [
            "grad_x = fold_l(\"ndl,dck->nclk\")",
            "  fold x.l by k: position p_k gathers l = q_k - k for every k, q_k = p_k, 0 <= l < len(l)",
            "grad_w = \"nclk,ndl->dck\"",
        ]
    );
    assert_eq!(
        extents(source),
        [
            "n = x.n",
            "d = w.d",
            "l = x.l - (k - 1)",
            "summed c = x.c",
            "summed k = w.k"
        ]
    );
}

#[test]
fn conv2d_stride_2_pad_2() {
    let source = r#"conv(x, weight) = "nchwkj,dckj->ndhw" {
        unfold x.h by k, stride = 2, pad = 2;
        unfold x.w by j, stride = 2, pad = 2;
    }"#;
    assert_eq!(
        gradients(source),
        [
            "grad_x = fold_hw(\"ndhw,dckj->nchwkj\")",
            "  fold x.h by k: position p_k gathers h = (q_k - k) / 2 for k ≡ q_k (mod 2), q_k = p_k + 2, 0 <= h < len(h)",
            "  fold x.w by j: position p_j gathers w = (q_j - j) / 2 for j ≡ q_j (mod 2), q_j = p_j + 2, 0 <= w < len(w)",
            "grad_weight = \"nchwkj,ndhw->dckj\"",
        ]
    );
    assert_eq!(
        extents(source),
        [
            "n = x.n",
            "d = weight.d",
            "h = floor((x.h + 4 - (k - 1) - 1) / 2) + 1",
            "w = floor((x.w + 4 - (j - 1) - 1) / 2) + 1",
            "summed c = x.c",
            "summed k = weight.k",
            "summed j = weight.j",
        ]
    );
}

#[test]
fn conv2d_stride_1() {
    let source = r#"conv(x, weight) = "nchwkj,dckj->ndhw" {
        unfold x.h by k;
        unfold x.w by j;
        bias d;
    }"#;
    assert_eq!(
        gradients(source),
        [
            "grad_x = fold_hw(\"ndhw,dckj->nchwkj\")",
            "  fold x.h by k: position p_k gathers h = q_k - k for every k, q_k = p_k, 0 <= h < len(h)",
            "  fold x.w by j: position p_j gathers w = q_j - j for every j, q_j = p_j, 0 <= w < len(w)",
            "grad_weight = \"nchwkj,ndhw->dckj\"",
            "grad_bias = \"ndhw->d\"",
        ]
    );
    assert_eq!(
        extents(source)[2..4],
        ["h = x.h - (k - 1)", "w = x.w - (j - 1)"]
    );
}

#[test]
fn conv2d_nhwc() {
    let source = r#"conv(x, w) = "nhwkjc,kjcd->nhwd" {
        unfold x.h by k, pad = 1;
        unfold x.w by j, pad = 1;
    }"#;
    assert_eq!(
        gradients(source),
        [
            "grad_x = fold_hw(\"nhwd,kjcd->nhwkjc\")",
            "  fold x.h by k: position p_k gathers h = q_k - k for every k, q_k = p_k + 1, 0 <= h < len(h)",
            "  fold x.w by j: position p_j gathers w = q_j - j for every j, q_j = p_j + 1, 0 <= w < len(w)",
            "grad_w = \"nhwkjc,nhwd->kjcd\"",
        ]
    );
    let program = common::program(source);
    assert_eq!(program.kernel.operands[0].physical, ['n', 'h', 'w', 'c']);
    assert_eq!(
        extents(source),
        [
            "n = x.n",
            "h = x.h + 2 - (k - 1)",
            "w = x.w + 2 - (j - 1)",
            "d = w.d",
            "summed k = w.k",
            "summed j = w.j",
            "summed c = x.c",
        ]
    );
}

#[test]
fn conv3d() {
    let source = r#"conv3d(x, w) = "ncdhwijk,ecijk->nedhw" {
        unfold x.d by i;
        unfold x.h by j, stride = 2;
        unfold x.w by k, stride = 3;
    }"#;
    assert_eq!(
        gradients(source),
        [
            "grad_x = fold_dhw(\"nedhw,ecijk->ncdhwijk\")",
            "  fold x.d by i: position p_i gathers d = q_i - i for every i, q_i = p_i, 0 <= d < len(d)",
            "  fold x.h by j: position p_j gathers h = (q_j - j) / 2 for j ≡ q_j (mod 2), q_j = p_j, 0 <= h < len(h)",
            "  fold x.w by k: position p_k gathers w = (q_k - k) / 3 for k ≡ q_k (mod 3), q_k = p_k, 0 <= w < len(w)",
            "grad_w = \"ncdhwijk,nedhw->ecijk\"",
        ]
    );
    assert_eq!(
        extents(source)[2..5],
        [
            "d = x.d - (i - 1)",
            "h = floor((x.h - (j - 1) - 1) / 2) + 1",
            "w = floor((x.w - (k - 1) - 1) / 3) + 1",
        ]
    );
}

#[test]
fn depthwise() {
    let source = r#"dw(x, w) = "nchwkj,ckj->nchw" {
        unfold x.h by k;
        unfold x.w by j;
    }"#;
    assert_eq!(
        gradients(source)
            .into_iter()
            .filter(|l| !l.starts_with(' '))
            .collect::<Vec<_>>(),
        [
            "grad_x = fold_hw(\"nchw,ckj->nchwkj\")",
            "grad_w = \"nchwkj,nchw->ckj\""
        ]
    );
}

#[test]
fn grouped() {
    let source = r#"grouped(x, w) = "ngchwkj,gdckj->ngdhw" {
        unfold x.h by k;
        unfold x.w by j;
        bias d;
    }"#;
    assert_eq!(
        gradients(source)
            .into_iter()
            .filter(|l| !l.starts_with(' '))
            .collect::<Vec<_>>(),
        [
            "grad_x = fold_hw(\"ngdhw,gdckj->ngchwkj\")",
            "grad_w = \"ngchwkj,ngdhw->gdckj\"",
            "grad_bias = \"ngdhw->d\"",
        ]
    );
}

#[test]
fn dilated() {
    // Stride 1, dilation 2: q = h + 2k, so every tap reaches every position.
    let source = r#"conv(x, w) = "nchwkj,dckj->ndhw" {
        unfold x.h by k, dilation = 2, pad = 2;
        unfold x.w by j, dilation = 2, pad = 2;
    }"#;
    assert_eq!(
        gradients(source)[1..3],
        [
            "  fold x.h by k: position p_k gathers h = q_k - k*2 for every k, q_k = p_k + 2, 0 <= h < len(h)",
            "  fold x.w by j: position p_j gathers w = q_j - j*2 for every j, q_j = p_j + 2, 0 <= w < len(w)",
        ]
    );
    assert_eq!(
        extents(source)[2..4],
        ["h = x.h + 4 - 2*(k - 1)", "w = x.w + 4 - 2*(j - 1)"]
    );
}

#[test]
fn the_unfolded_operand_may_come_second() {
    // The same conv1d with the operands swapped: grad_y takes each operand's place.
    let source = r#"conv1d(w, x) = "dck,nclk->ndl" { unfold x.l by k, stride = 2; }"#;
    assert_eq!(
        gradients(source),
        [
            "grad_w = \"ndl,nclk->dck\"",
            "grad_x = fold_l(\"dck,ndl->nclk\")",
            "  fold x.l by k: position p_k gathers l = (q_k - k) / 2 for k ≡ q_k (mod 2), q_k = p_k, 0 <= l < len(l)",
        ]
    );
}
