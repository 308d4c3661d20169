//! The lean crate runs kernels, and links none of the compiler's crates.

use ndarray::{array, Array3};
use std::process::Command;

#[test]
fn kernels_run_without_the_text_feature() {
    // x = [1, 2, 3, 4, 5], padded [0, 1, 2, 3, 4, 5, 0]; windows of 3 at stride 2 start
    // at 0, 2 and 4: [0, 1, 2], [2, 3, 4], [4, 5, 0]; with the weight [1, 2, 3]:
    // 0 + 2 + 6, 2 + 6 + 12, 4 + 10 + 0, plus the bias 10.
    let x: Array3<f32> = array![[[1.0, 2.0, 3.0, 4.0, 5.0]]];
    let w: Array3<f32> = array![[[1.0, 2.0, 3.0]]];
    let y = conv_lean::conv1d::forward(&x, &w, &array![10.0]).expect("shapes fit");
    assert_eq!(y, array![[[18.0, 30.0, 24.0]]]);
    // For grad_y = 1, each x position sums the weights of the taps that read it (x[1]
    // is tap 2 of the first window and tap 0 of the second), and each tap of the weight
    // sums the x values it read.
    let grads = conv_lean::conv1d::backward(&x, &w, &Array3::ones((1, 1, 3))).expect("fit");
    assert_eq!(grads.x, array![[[2.0, 4.0, 2.0, 4.0, 2.0]]]);
    assert_eq!(grads.weight, array![[[6.0, 9.0, 6.0]]]);
    assert_eq!(grads.bias, array![3.0]);
}

#[test]
fn no_compiler_crate_among_the_normal_dependencies() {
    let output = Command::new(env!("CARGO"))
        .args(["tree", "-p", "conv-lean", "-e", "normal,no-proc-macro"])
        .args(["--prefix", "none", "--format", "{p}"])
        .output()
        .expect("cargo tree runs");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let tree = String::from_utf8(output.stdout).expect("utf-8");
    let names: Vec<&str> = tree
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    for present in ["conv-lean", "conv-runtime", "conv-model", "ndarray"] {
        assert!(names.contains(&present), "{present} missing from\n{tree}");
    }
    for absent in [
        "syn",
        "quote",
        "proc-macro2",
        "prettyplease",
        "conv-codegen",
    ] {
        assert!(!names.contains(&absent), "{absent} in\n{tree}");
    }
}
