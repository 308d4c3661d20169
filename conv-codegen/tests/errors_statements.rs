//! Errors in `size`, `bias` and `dtype` statements, and several errors at once. Each
//! test marks the token the error must point at with `«...»` (see `common`).

mod common;

use common::{expect_error, expect_errors};

/// A conv2d kernel around the given block statements.
fn conv(block: &str) -> String {
    format!("conv(x, w) = \"nchwkj,dckj->ndhw\" {{\n    {block}\n}}")
}

#[test]
fn unknown_axis_in_size() {
    expect_error(
        &conv("size «z» = 3;"),
        &[
            "unknown axis 'z'",
            "\"nchwkj,dckj->ndhw\"",
            "n, c, h, w, k, j, d",
        ],
    );
}

#[test]
fn unknown_axis_in_bias() {
    expect_error(
        &conv("bias «q»;"),
        &["unknown axis 'q'", "n, c, h, w, k, j, d"],
    );
}

#[test]
fn an_axis_is_one_letter() {
    expect_errors(
        &conv("size «kk» = 3;\n    unfold x.«hh» by k;"),
        &[
            &["`kk` is not an axis", "single ASCII letters"],
            &["`hh` is not an axis", "single ASCII letters"],
        ],
    );
}

#[test]
fn duplicate_size() {
    expect_error(
        &conv("size k = 3, j = 3;\n    size «k» = 5;"),
        &["the size of 'k' is already fixed", "fix each axis once"],
    );
    // A rejected size still counts as given.
    expect_errors(
        &conv("size k = «0», «k» = 3;"),
        &[&["size 0 for 'k'"], &["the size of 'k' is already fixed"]],
    );
}

#[test]
fn size_zero() {
    expect_error(
        &conv("size k = «0»;"),
        &["size 0 for 'k'", "an extent of at least 1"],
    );
}

#[test]
fn huge_integer() {
    expect_error(
        &conv("size k = «99999999999999999999999»;"),
        &["too large", "64 bits"],
    );
    expect_error(
        &conv("unfold x.h by k, pad = «99999999999999999999999»;"),
        &["too large"],
    );
}

#[test]
fn integer_with_a_suffix() {
    expect_error(&conv("size k = «3usize»;"), &["without a type suffix"]);
}

#[test]
fn size_without_extent() {
    expect_error(
        &conv("size k «;»"),
        &["expected `=` and an extent", "`size k = 3`"],
    );
    expect_error(&conv("size k = «j»;"), &["expected a non-negative integer"]);
}

#[test]
fn duplicate_bias() {
    expect_error(
        &conv("bias d;\n    «bias» d;"),
        &["a kernel has one bias", "remove this second `bias`"],
    );
}

#[test]
fn bias_axis_not_in_the_output() {
    expect_error(
        &conv("bias «c»;"),
        &[
            "the bias axis 'c' is not an output axis",
            "one axis of the output \"ndhw\"",
        ],
    );
}

#[test]
fn duplicate_dtype() {
    expect_error(
        &conv("dtype f64;\n    «dtype» f64;"),
        &[
            "the element type is already chosen",
            "remove this second `dtype`",
        ],
    );
}

#[test]
fn unknown_dtype() {
    expect_error(
        &conv("dtype «f16»;"),
        &["unknown element type `f16`", "`dtype f32;` or `dtype f64;`"],
    );
}

#[test]
fn three_mistakes_at_once() {
    expect_errors(
        &conv(
            "unfold x.h by k, stride = «0»;\n    size «z» = 3;\n    unfold x.w by j;\n    dtype «f16»;",
        ),
        &[&["`stride = 0`"], &["unknown axis 'z'"], &["unknown element type `f16`"]],
    );
}

#[test]
fn mistakes_in_header_block_and_syntax_at_once() {
    // A bad operand name, a syntax error and a check error in one kernel, and a check
    // error in another: all four are reported.
    expect_errors(
        r#"
        a(x, «grad_y») = "nchwkj,dckj->ndhw" {
            unfold x.h by k «stride» = 2;
            bias «c»;
        }
        b(x) = "ij->i" { dtype «f8»; }
        "#,
        &[
            &["`grad_y` is the name of a generated argument"],
            &["expected `,` and another option, or `;`"],
            &["the bias axis 'c' is not an output axis"],
            &["unknown element type `f8`"],
        ],
    );
}

#[test]
fn the_errors_of_one_kernel_do_not_hide_the_next() {
    let found = common::errors(
        r#"
        a(x) = "ij->i" { size i = 0; }
        b(x) = "ij->z";
        c(x) = "ij->i";
        "#,
    );
    let at: Vec<&str> = found.iter().map(|e| &*e.at).collect();
    assert_eq!(at, ["0", "\"ij->z\""], "{found:?}");
}
