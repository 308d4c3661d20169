//! Errors in `unfold` statements and in the extents they imply. Each test marks the
//! token the error must point at with `«...»` (see `common`).

mod common;

use common::{expect_error, expect_errors};

/// A conv2d kernel around the given block statements.
fn conv(block: &str) -> String {
    format!("conv(x, w) = \"nchwkj,dckj->ndhw\" {{\n    {block}\n}}")
}

#[test]
fn unknown_axis() {
    expect_error(
        &conv("unfold x.«z» by k;"),
        &["operand `x` has no axis 'z'", "\"nchwkj\""],
    );
}

#[test]
fn unfolded_axis_not_in_the_operand() {
    // 'd' is an axis of the spec, but not of x.
    expect_error(
        &conv("unfold x.«d» by k;"),
        &["operand `x` has no axis 'd'", "\"nchwkj\""],
    );
}

#[test]
fn window_axis_not_in_the_operand() {
    expect_error(
        &conv("unfold x.h by «q»;"),
        &["operand `x` has no axis 'q'", "window axis", "\"nchwkj\""],
    );
}

#[test]
fn window_axis_also_in_the_output() {
    expect_error(
        &conv("unfold x.h by «w»;"),
        &[
            "window axis 'w' is also in the output \"ndhw\"",
            "remove it from the output",
        ],
    );
}

#[test]
fn axis_as_its_own_window() {
    expect_error(
        "sum(x) = \"ik->i\" { unfold x.k by «k»; }",
        &["'k' cannot be its own window", "another axis"],
    );
}

#[test]
fn unknown_operand() {
    expect_error(
        &conv("unfold «input».h by k;"),
        &["unknown operand `input`", "x, w"],
    );
}

#[test]
fn stride_zero() {
    expect_error(
        &conv("unfold x.h by k, stride = «0»;"),
        &["`stride = 0`", "write 1 or more"],
    );
}

#[test]
fn dilation_zero() {
    expect_error(
        &conv("unfold x.h by k, dilation = «0»;"),
        &["`dilation = 0`", "write 1 or more"],
    );
}

#[test]
fn same_axis_unfolded_twice() {
    expect_error(
        &conv("unfold x.h by k;\n    unfold x.«h» by j;"),
        &["`x.h` is already unfolded", "unfold each axis once"],
    );
}

#[test]
fn window_axis_used_by_two_unfolds() {
    expect_error(
        &conv("unfold x.h by k;\n    unfold x.w by «k»;"),
        &["'k' is already the window of `x.h`", "its own window axis"],
    );
}

#[test]
fn window_of_a_window() {
    // Unfolding the window axis of an earlier unfold: the error is on that axis.
    expect_error(
        &conv("unfold x.h by k;\n    unfold x.«k» by j;"),
        &["window", "not supported"],
    );
    // Using the unfolded axis of an earlier unfold as a window: the error is on the window.
    expect_error(
        &conv("unfold x.k by j;\n    unfold x.h by «k»;"),
        &["window", "not supported"],
    );
}

#[test]
fn duplicate_option() {
    expect_error(
        &conv("unfold x.h by k, stride = 2, «stride» = 3;"),
        &["`stride` is already given", "give it once"],
    );
}

#[test]
fn unknown_option() {
    expect_error(
        &conv("unfold x.h by k, «step» = 2;"),
        &[
            "unknown unfold option `step`",
            "`stride`, `dilation`, `pad`, `mode` and, on the output, `output_padding`",
        ],
    );
}

#[test]
fn unknown_mode() {
    expect_error(
        &conv("unfold x.h by k, pad = 1, mode = «mirror»;"),
        &[
            "unknown padding mode `mirror`",
            "`zeros`, `reflect`, `replicate` or `circular`",
        ],
    );
}

#[test]
fn bad_pad_value() {
    expect_error(
        &conv("unfold x.h by k, pad = «full»;"),
        &["`pad` takes an integer, `(lo, hi)`, `valid` or `same`"],
    );
}

#[test]
fn bad_stride_and_mode_values() {
    expect_errors(
        &conv("unfold x.h by k, stride = «same», mode = «2»;"),
        &[
            &["`stride` takes a positive integer", "`stride = 2`"],
            &["`mode` takes `zeros`, `reflect`, `replicate` or `circular`"],
        ],
    );
}

#[test]
fn negative_pad_is_a_syntax_error() {
    expect_error(
        &conv("unfold x.h by k, pad = «-1»;"),
        &["negative", "0 or more"],
    );
}

#[test]
fn pad_pair_needs_two_integers() {
    expect_error(
        &conv("unfold x.h by k, pad = (1, «x»);"),
        &["expected a non-negative integer"],
    );
}

#[test]
fn option_without_value() {
    expect_error(
        &conv("unfold x.h by k, stride «;»"),
        &["expected `=` and a value", "`stride = 2`"],
    );
}

#[test]
fn missing_by() {
    expect_error(
        &conv("unfold x.h «with» k;"),
        &["expected `by` and the window axis", "`unfold x.h by k`"],
    );
}

#[test]
fn window_axis_without_extent() {
    // 'q' is only in x's subscript: nothing tells how long the window is.
    expect_error(
        "pool(x) = \"nchwq->nchw\" { unfold x.h by «q»; }",
        &["window axis 'q' has no extent", "`size q = N;`"],
    );
}

#[test]
fn window_axis_with_size_needs_no_other_operand() {
    assert!(
        common::errors("pool(x) = \"nchwq->nchw\" { unfold x.h by q; size q = 2; }").is_empty()
    );
}

#[test]
fn fixed_window_larger_than_fixed_input() {
    expect_error(
        &conv("unfold x.h by k;\n    size h = 4, k = «5»;"),
        &[
            "spans 5 positions",
            "`x.h` is 4 long",
            "make the window smaller or pad more",
        ],
    );
    // Dilation widens the window: 3 taps at dilation 2 span 5 positions.
    expect_error(
        &conv("unfold x.h by k, dilation = 2;\n    size h = 4, k = «3»;"),
        &["spans 5 positions", "`x.h` is 4 long"],
    );
    // With enough padding it fits.
    assert!(common::errors(&conv("unfold x.h by k, pad = 1; size h = 3, k = 5;")).is_empty());
}

#[test]
fn reflect_pad_too_large_for_a_fixed_input() {
    // Reflect needs pad < len: 3 is too large for a length of 3.
    expect_error(
        &conv("unfold x.h by k, pad = «3», mode = reflect;\n    size h = 3, k = 3;"),
        &["reflect padding of 3 is too large", "length 3", "at most 2"],
    );
    // The window's extent does not matter for an explicit pad: it may come from w.
    expect_error(
        &conv("unfold x.h by k, pad = «(0, 4)», mode = circular;\n    size h = 3;"),
        &["circular padding of 4 is too large", "at most 3"],
    );
    assert!(common::errors(&conv(
        "unfold x.h by k, pad = 2, mode = reflect; size h = 3;"
    ))
    .is_empty());
    assert!(common::errors(&conv(
        "unfold x.h by k, pad = 9, mode = replicate; size h = 3;"
    ))
    .is_empty());
}

#[test]
fn fixed_lengths_that_overflow() {
    expect_error(
        &conv("unfold x.h by k, pad = 1;\n    size h = «18446744073709551615», k = 3;"),
        &["larger than usize holds", "lower the sizes or the pad"],
    );
}
