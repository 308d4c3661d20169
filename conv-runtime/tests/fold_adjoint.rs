//! Windows on the output (folds, transposed convolutions), through `check_interpreter`:
//! every gradient the interpreter derives for a fold against central finite differences
//! and the adjoint identity `<y, grad_y> = <x_i, grad_x_i>`, in every padding mode.

mod common;

use common::{interp, Lcg};
use conv_runtime::check::check_interpreter;

/// Checks every gradient of a fold on random f64 inputs (and a random bias if it has
/// one) and returns the names of the entries.
fn check(text: &str, shapes: &[&[usize]], seed: u64) -> Vec<String> {
    let k = interp(text);
    assert!(k.kernel().folds_output(), "{text}: no window on the output");
    let mut rng = Lcg::new(seed);
    let operands: Vec<_> = shapes.iter().map(|s| rng.array(s)).collect();
    let extents = k.extents(shapes).unwrap_or_else(|e| panic!("{text}: {e}"));
    let bias = k.kernel().bias.map(|axis| rng.array(&[extents.of(axis)]));
    let grad_y = rng.array(&k.output_shape(shapes).unwrap());
    let report = check_interpreter(&k, &operands, bias.as_ref(), &grad_y)
        .unwrap_or_else(|e| panic!("{text}: {e}"));
    println!("{text}\n{report}");
    assert!(report.worst() < 1e-8, "{text}\n{report}");
    report.entries.iter().map(|e| e.name.clone()).collect()
}

#[test]
fn transposed_convolution_with_output_padding() {
    let names = check(
        r#"up(x, w) -> y = "nci,cdk->ndik" { unfold y.i by k, stride = 2, pad = 1, output_padding = 1; bias d; dtype f64; }"#,
        &[&[2, 3, 5], &[3, 4, 3]],
        1,
    );
    assert_eq!(names, ["grad_x", "grad_w", "grad_bias"]);
}

#[test]
fn transposed_convolution_in_reflect_mode() {
    // y is (6 - 1)*2 - 4 + 3 = 9 long: reflect pads of 2 fit.
    let names = check(
        r#"up(x, w) -> y = "nci,cdk->ndik" { unfold y.i by k, stride = 2, pad = 2, mode = reflect; dtype f64; }"#,
        &[&[2, 3, 6], &[3, 2, 3]],
        2,
    );
    assert_eq!(names, ["grad_x", "grad_w"]);
}

#[test]
fn transposed_convolutions_in_every_mode_and_geometry() {
    for mode in ["zeros", "reflect", "replicate", "circular"] {
        for (options, x_len) in [
            ("stride = 2, pad = 1", 5),
            (
                "stride = 3, dilation = 2, pad = (2, 1), output_padding = 1",
                4,
            ),
            ("pad = (0, 2)", 6),
            ("stride = 2, dilation = 3, pad = 3, output_padding = 2", 3),
        ] {
            check(
                &format!(
                    r#"up(x, w) -> y = "nci,cdk->ndik" {{ unfold y.i by k, {options}, mode = {mode}; bias d; dtype f64; }}"#
                ),
                &[&[2, 2, x_len], &[2, 3, 3]],
                x_len as u64,
            );
        }
    }
}

#[test]
fn two_dimensional_fold_and_col2im() {
    check(
        r#"up2(x, w) -> y = "ncij,cdkl->ndijkl" {
            unfold y.i by k, stride = 2, pad = 1, output_padding = 1;
            unfold y.j by l, stride = 2, pad = (0, 1), mode = reflect;
            bias d;
            dtype f64;
        }"#,
        &[&[1, 2, 3, 4], &[2, 3, 3, 2]],
        3,
    );
    // One operand: the fold's gradient is an unfold of grad_y.
    check(
        r#"col2im(cols) -> image = "ncklij->ncijkl" {
            unfold image.i by k, stride = 2, pad = 1;
            unfold image.j by l, stride = 2, mode = circular;
            dtype f64;
        }"#,
        &[&[1, 2, 3, 2, 4, 3]],
        4,
    );
}
