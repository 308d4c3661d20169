//! Snapshots of what the macro emits: the derivation text and the expanded code of a few
//! kernels, so that any change to them shows up in review as a diff of
//! `tests/snapshots/`. After an intended change, `INSTA_UPDATE=always cargo test -p
//! conv-runtime --test snapshots` rewrites them (or `cargo insta review`).

use conv_runtime::{expanded_code, Interpreter};

/// The tutorial convolution: strided windows, padding, a bias.
const CONV2D: &str = r#"conv2d(x, weight) = "nchwkj,dckj->ndhw" {
    unfold x.h by k, stride = 2, pad = 1;
    unfold x.w by j, stride = 2, pad = 1;
    size k = 3, j = 3;
    bias d;
}"#;

/// Dilation, reflection and `same` padding on a 1-D convolution in f64.
const CONV1D: &str = r#"conv1d(x, w) = "nclk,dck->ndl" {
    unfold x.l by k, dilation = 2, pad = same, mode = reflect;
    dtype f64;
}"#;

/// A matrix product: no windows.
const MATMUL: &str = r#"matmul(a, b) = "ik,kj->ij";"#;

fn derivation(text: &str) -> String {
    Interpreter::new(text).expect("a valid kernel").derivation()
}

fn code(text: &str) -> String {
    expanded_code(text).expect("kernel text splits into tokens")
}

#[test]
fn derivations() {
    insta::assert_snapshot!("derivation_conv2d", derivation(CONV2D));
    insta::assert_snapshot!("derivation_conv1d", derivation(CONV1D));
    insta::assert_snapshot!("derivation_matmul", derivation(MATMUL));
}

#[test]
fn expanded_code_of_three_kernels() {
    insta::assert_snapshot!("expanded_conv2d", code(CONV2D));
    insta::assert_snapshot!("expanded_conv1d", code(CONV1D));
    insta::assert_snapshot!("expanded_matmul", code(MATMUL));
}
