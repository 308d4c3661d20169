//! Errors in the declaration of windows on the output (folds, transposed convolutions):
//! `name(x, w) -> y = ...` with `unfold y.i by k, ..., output_padding = P`. Each test
//! marks the token the error must point at with `«...»` (see `common`).

mod common;

use common::{errors, expect_error, expect_errors};

/// A 1-D transposed convolution named `up` with output `y`, around the given block.
fn up(block: &str) -> String {
    format!("up(x, w) -> y = \"nci,cdk->ndik\" {{\n    {block}\n}}")
}

#[test]
fn output_window_on_an_axis_the_output_does_not_have() {
    expect_error(
        &up("unfold y.«z» by k, stride = 2;"),
        &["the output `y` has no axis 'z'", "\"ndik\""],
    );
    // 'c' is an axis of the spec, but only of the operands.
    expect_error(
        &up("unfold y.«c» by k, stride = 2;"),
        &[
            "the output `y` has no axis 'c'",
            "the unfolded axis must be in it",
        ],
    );
    expect_error(
        &up("unfold y.i by «q»;"),
        &["the output `y` has no axis 'q'", "window axis"],
    );
}

#[test]
fn output_padding_not_below_the_stride_or_dilation() {
    expect_error(
        &up("unfold y.i by k, stride = 2, output_padding = «2»;"),
        &[
            "`output_padding = 2` is too large",
            "less than the stride (2) or the dilation (1), whichever is larger",
            "write at most `output_padding = 1`",
        ],
    );
    // The dilation counts too: 2 < max(1, 3).
    assert!(errors(&up("unfold y.i by k, dilation = 3, output_padding = 2;")).is_empty());
    expect_error(
        &up("unfold y.i by k, dilation = 3, stride = 2, output_padding = «3»;"),
        &[
            "stride (2) or the dilation (3)",
            "at most `output_padding = 2`",
        ],
    );
    // At stride 1 and dilation 1 no output_padding is allowed.
    expect_error(
        &up("unfold y.i by k, output_padding = «1»;"),
        &[
            "`output_padding = 1` is too large",
            "remove it, or raise the stride",
        ],
    );
}

#[test]
fn window_on_an_output_without_a_name() {
    expect_error(
        "up(x, w) = \"nci,cdk->ndik\" { unfold «y».i by k, stride = 2; }",
        &[
            "unknown operand `y`: the operands are x, w",
            "name it in the header: `up(x, w) -> y = ...`",
        ],
    );
    // With a named output the hint names it instead.
    expect_error(
        &up("unfold «out».i by k;"),
        &["unknown operand `out`", "and the output is `y`"],
    );
}

#[test]
fn pad_same_is_refused_on_the_output() {
    expect_error(
        &up("unfold y.i by k, stride = 2, pad = «same»;"),
        &[
            "`pad = same` is not supported on the output",
            "the length of the output `y.i` follows from its input's",
            "`pad = 1`",
        ],
    );
    // Whatever the mode.
    expect_error(
        &up("unfold y.i by k, pad = «same», mode = circular;"),
        &["`pad = same` is not supported on the output"],
    );
}

#[test]
fn every_padding_mode_is_accepted_on_the_output() {
    for mode in ["zeros", "reflect", "replicate", "circular"] {
        for pad in ["1", "(2, 0)", "valid"] {
            let source = up(&format!(
                "unfold y.i by k, stride = 2, pad = {pad}, mode = {mode};"
            ));
            assert!(
                errors(&source).is_empty(),
                "{source}: {:?}",
                errors(&source)
            );
        }
    }
}

#[test]
fn fixed_output_length_that_no_input_gives() {
    // Stride 2, pads (1, 1), 3 taps: (n - 1)*2 - 2 + 3 = 2n - 1, odd lengths only.
    let message = expect_error(
        &up("unfold y.i by k, stride = 2, pad = 1;\n    size i = «8», k = 3;"),
        &[
            "no input gives `y.i` the length 8 fixed here",
            "with stride 2, pads (1, 1), window 'k' of 3 taps and output_padding 0",
            "an input of length n gives it the length (n - 1)*2 - 2 + 3 = 2n - 1",
            "write `size i = 7` or `size i = 9`, or `output_padding = 1`",
        ],
    );
    // No "+ 0" or "- 0" terms.
    assert!(
        !message.contains("+ 0") && !message.contains("- 0"),
        "{message}"
    );
    // The output_padding it suggests does fit, and so do the lengths.
    for fixed in [
        "unfold y.i by k, stride = 2, pad = 1, output_padding = 1; size i = 8, k = 3;",
        "unfold y.i by k, stride = 2, pad = 1; size i = 7, k = 3;",
        "unfold y.i by k, stride = 2, pad = 1; size i = 9, k = 3;",
    ] {
        assert!(errors(&up(fixed)).is_empty(), "{fixed}");
    }
}

#[test]
fn fixed_output_length_messages_with_dilation_and_without_pads() {
    // Stride 3, no pads, 2 taps at dilation 2 (span 3), output_padding 1:
    // (n - 1)*3 + 3 + 1 = 3n + 1.
    expect_error(
        &up("unfold y.i by k, stride = 3, dilation = 2, output_padding = 1;\n    size i = «9», k = 2;"),
        &[
            "with stride 3, window 'k' of 2 taps at dilation 2 (spanning 3) and output_padding 1",
            "the length (n - 1)*3 + 3 + 1 = 3n + 1;",
            "write `size i = 7` or `size i = 10`, or remove the output_padding",
        ],
    );
}

#[test]
fn fixed_output_length_shorter_than_the_shortest() {
    // Stride 1, 5 taps: (n - 1) + 5 = n + 4, so at least 5 long; no output_padding helps.
    let message = expect_error(
        &up("unfold y.i by k;\n    size i = «3», k = 5;"),
        &[
            "the length (n - 1) + 5 = n + 4;",
            "write `size i = 5`, the shortest it can be",
        ],
    );
    assert!(!message.contains("output_padding ="), "{message}");
    // Pads larger than the window: (n - 1)*4 - 8 + 1 = 4n - 11, at least 1 (n = 3).
    expect_error(
        &up("unfold y.i by k, stride = 4, pad = 4;\n    size i = «2», k = 1;"),
        &[
            "(n - 1)*4 - 8 + 1 = 4n - 11;",
            "write `size i = 1` or `size i = 5`, or `output_padding = 1`",
        ],
    );
}

#[test]
fn output_padding_on_an_input_window() {
    expect_error(
        "conv(x, w) = \"nclk,dck->ndl\" { unfold x.l by k, stride = 2, output_padding = «1»; }",
        &[
            "`output_padding` lengthens the output of a fold",
            "it applies only to a window on the output",
            "not to operand `x`; remove it",
        ],
    );
}

#[test]
fn bias_on_a_window_axis_of_the_output() {
    expect_error(
        &up("unfold y.i by k, stride = 2;\n    bias «k»;"),
        &[
            "the bias axis 'k' is the window of `unfold y.i by k`",
            "not an axis of the output tensor",
            "one axis of the output \"ndi\"",
        ],
    );
    // Whether the bias comes before or after the unfold.
    expect_error(
        &up("bias «k»;\n    unfold y.i by k, stride = 2;"),
        &["the bias axis 'k' is the window of `unfold y.i by k`"],
    );
    // An axis of the operands only: the output quoted is the tensor's, without 'k'.
    expect_error(
        &up("unfold y.i by k, stride = 2;\n    bias «c»;"),
        &[
            "the bias axis 'c' is not an output axis",
            "one axis of the output \"ndi\"",
        ],
    );
    // The unfolded axis itself is an axis of the output.
    assert!(errors(&up("unfold y.i by k, stride = 2; bias i;")).is_empty());
    assert!(errors(&up("unfold y.i by k, stride = 2; bias d;")).is_empty());
}

#[test]
fn output_named_like_an_operand() {
    // One error, at the output's name: the unfold, which could mean either, adds none.
    expect_error(
        "up(x, w) -> «x» = \"nci,cdk->ndik\" { unfold x.i by k, stride = 2; }",
        &["`x` names an operand", "give the output a name of its own"],
    );
    expect_error(
        "up(x, w) -> «w» = \"nci,cdk->ndik\" { unfold w.i by k; }",
        &["`w` names an operand"],
    );
}

#[test]
fn output_mistakes_reported_together() {
    expect_errors(
        &up("unfold y.«z» by k;\n    unfold y.i by k, pad = «same», output_padding = «1»;\n    bias «q»;"),
        &[
            &["the output `y` has no axis 'z'"],
            &["`pad = same` is not supported on the output"],
            &["`output_padding = 1` is too large"],
            &["unknown axis 'q'"],
        ],
    );
}

/// Every fixed output length is accepted exactly when some input length gives it, and
/// every length and output_padding the message suggests is accepted.
#[test]
fn fixed_output_lengths_against_the_transposed_convolution_rule() {
    let suggested = |message: &str, key: &str| -> Vec<String> {
        message
            .split('`')
            .filter(|part| part.starts_with(key))
            .map(|part| part[key.len()..].to_string())
            .collect()
    };
    let mut refused = 0;
    for stride in 1..=4usize {
        for dilation in 1..=3usize {
            for taps in 1..=3usize {
                for (lo, hi) in [(0, 0), (1, 1), (2, 0), (0, 3), (4, 4)] {
                    for padding in 0..stride.max(dilation) {
                        let span = (taps - 1) * dilation + 1;
                        let options =
                            format!("stride = {stride}, dilation = {dilation}, pad = ({lo}, {hi})");
                        let text = |len: usize, padding: usize| {
                            up(&format!(
                                "unfold y.i by k, {options}, output_padding = {padding}; size i = {len}, k = {taps};"
                            ))
                        };
                        for len in 1..=14usize {
                            let given = (1..=40usize).any(|n| {
                                ((n - 1) * stride + span + padding).checked_sub(lo + hi)
                                    == Some(len)
                            });
                            let found = errors(&text(len, padding));
                            assert_eq!(
                                found.is_empty(),
                                given,
                                "{}: {found:?}",
                                text(len, padding)
                            );
                            let Some(error) = found.first() else { continue };
                            refused += 1;
                            let sizes = suggested(&error.message, "size i = ");
                            assert!(!sizes.is_empty(), "{}", error.message);
                            for size in sizes {
                                let size: usize = size.parse().unwrap();
                                assert!(
                                    errors(&text(size, padding)).is_empty(),
                                    "{}",
                                    error.message
                                );
                            }
                            for fix in suggested(&error.message, "output_padding = ") {
                                let fix: usize = fix.parse().unwrap();
                                assert!(errors(&text(len, fix)).is_empty(), "{}", error.message);
                            }
                            if error.message.contains("remove the output_padding") {
                                assert!(errors(&text(len, 0)).is_empty(), "{}", error.message);
                            }
                        }
                    }
                }
            }
        }
    }
    assert!(refused > 1000, "{refused}");
}

#[test]
fn mode_pad_too_large_for_a_fixed_output() {
    // Reflect needs pad < len on the output too; the error points at the pad.
    expect_error(
        &up("unfold y.i by k, stride = 2, pad = «3», mode = reflect;\n    size i = 3;"),
        &[
            "reflect padding of 3 is too large for `y.i` of length 3 (at most 2)",
            "pad less or use `mode = zeros`",
        ],
    );
    expect_error(
        &up(
            "unfold y.i by k, stride = 2, pad = «(0, 4)», mode = circular;\n    size i = 3, k = 3;",
        ),
        &["circular padding of 4 is too large", "at most 3"],
    );
}
