//! Errors in a kernel's header: the spec string, the operand list and the block's
//! syntax. Each test marks the token the error must point at with `«...»` (see `common`).
//! Errors inside the spec point at the literal and quote the letter and its position.

mod common;

use common::{expect_error, expect_errors};

#[test]
fn non_letter_in_the_spec_with_its_position() {
    expect_error(
        r#"k(a, b) = «"ab,b1->a"»;"#,
        &["'1' at position 5", "one ASCII letter"],
    );
    expect_error(
        r#"k(a) = «"ab->a_"»;"#,
        &["'_' at position 6", "one ASCII letter"],
    );
    expect_error(r#"k(a) = «"a...->a"»;"#, &["'.' at position 2", "ellipses"]);
}

#[test]
fn repeated_axis_in_a_subscript() {
    expect_error(
        r#"trace(x) = «"ii->i"»;"#,
        &[
            "axis 'i' appears twice",
            "\"ii\"",
            "position 2",
            "use a different letter",
        ],
    );
    expect_error(
        r#"k(x) = «"ij->jj"»;"#,
        &["axis 'j' appears twice in the output", "position 6"],
    );
}

#[test]
fn missing_arrow() {
    expect_error(
        r#"mm(a, b) = «"ik,kj"»;"#,
        &["has no `->`", "\"ik,kj->...\""],
    );
    expect_error(r#"k(a) = «"i->j->k"»;"#, &["2 `->`", "write exactly one"]);
}

#[test]
fn empty_spec() {
    expect_error(
        r#"k(a) = «""»;"#,
        &["the spec is empty", "e.g. \"ik,kj->ij\""],
    );
    expect_error(r#"k(a) = «"  "»;"#, &["the spec is empty"]);
}

#[test]
fn every_spec_error_is_reported() {
    expect_errors(
        r#"k(a, b) = «"a1,bb->a"»;"#,
        &[&["'1' at position 2"], &["'b' appears twice"]],
    );
}

#[test]
fn output_axis_in_no_input() {
    expect_error(
        r#"mm(a, b) = «"ik,kj->iz"»;"#,
        &[
            "output axis 'z'",
            "position 9",
            "occurs in no input",
            "remove it from the output",
        ],
    );
}

#[test]
fn operand_count_not_matching_the_spec() {
    expect_error(
        r#"mm«(a)» = "ik,kj->ij";"#,
        &[
            "2 input subscripts (\"ik\", \"kj\")",
            "1 operand is named",
            "one operand per subscript",
        ],
    );
    expect_error(
        r#"t«(x, y)» = "ij->ji";"#,
        &["1 input subscript (\"ij\")", "2 operands are named"],
    );
}

#[test]
fn no_operand() {
    expect_error(
        r#"k«()» = "->";"#,
        &["at least one operand", "`(x, weight)`"],
    );
}

#[test]
fn duplicate_operand_names() {
    expect_error(
        r#"mm(a, «a») = "ik,kj->ij";"#,
        &["operand `a` is named twice", "its own name"],
    );
}

#[test]
fn reserved_operand_names() {
    expect_errors(
        r#"mm(«grad_y», «bias») = "ik,kj->ij";"#,
        &[
            &[
                "`grad_y` is the name of a generated argument",
                "call the operand something else",
            ],
            &["`bias` is the name of a generated argument"],
        ],
    );
    // Both were taken by the generated functions' own arguments (`*_into`'s output,
    // the resolved extents of the fast path), which the operand then shadowed.
    expect_errors(
        r#"mm(«out», «extents») = "ik,kj->ij";"#,
        &[
            &["`out` is the name of a generated argument"],
            &["`extents` is the name of a generated argument"],
        ],
    );
    // The generated module's function returning what the macro derived.
    expect_errors(
        r#"mm(«facts», b) = "ik,kj->ij";"#,
        &[&["`facts` is the name of the generated module's `facts()` function"]],
    );
}

#[test]
fn header_syntax() {
    expect_error(
        r#"mm(a, b) «"ik,kj->ij"»;"#,
        &["expected `=` and the einsum spec"],
    );
    expect_error(
        r#"mm(a, b) = «ik»;"#,
        &["expected the einsum spec as a string"],
    );
    expect_error(
        r#"mm(a, b) = "ik,kj->ij" «[»];"#,
        &["expected a `{ ... }` block of declarations or `;`"],
    );
}

#[test]
fn unknown_statement_keyword() {
    expect_error(
        r#"k(x, w) = "nchwkj,dckj->ndhw" { «stride» x.h = 2; }"#,
        &[
            "unknown statement `stride`",
            "`unfold`, `size`, `bias`, `dtype` or `algorithm`",
        ],
    );
}

#[test]
fn statement_not_starting_with_a_word() {
    expect_error(
        r#"k(x, w) = "nchwkj,dckj->ndhw" { «3»; }"#,
        &[
            "expected a statement",
            "`unfold`, `size`, `bias`, `dtype` or `algorithm`",
        ],
    );
}

#[test]
fn missing_semicolon_between_statements() {
    // The error is on the token where `;` should have been.
    expect_error(
        "k(x, w) = \"nchwkj,dckj->ndhw\" {\n    bias d\n    «dtype» f64;\n}",
        &["expected `;`"],
    );
    expect_error(
        "k(x, w) = \"nchwkj,dckj->ndhw\" {\n    unfold x.h by k, stride = 2\n    «unfold» x.w by j;\n}",
        &["expected `,` and another option, or `;`"],
    );
}

#[test]
fn missing_semicolon_after_the_last_statement() {
    // Nothing follows: the error points at the end of the statement.
    expect_error(
        "k(x, w) = \"nchwkj,dckj->ndhw\" {\n    unfold x.h by k;\n    bias «d»\n}",
        &["expected `;`"],
    );
    expect_error(
        "k(x, w) = \"nchwkj,dckj->ndhw\" {\n    dtype «f64»\n}",
        &["expected `;`"],
    );
}

#[test]
fn statement_cut_short() {
    // Both inside the block and at its end, an incomplete statement points at its last token.
    expect_error(
        "k(x, w) = \"nchwkj,dckj->ndhw\" {\n    bias «;»\n}",
        &["expected the bias axis"],
    );
    expect_error(
        "k(x, w) = \"nchwkj,dckj->ndhw\" {\n    unfold x.h «by»\n}",
        &["expected the window axis"],
    );
}

#[test]
fn missing_block_after_the_last_kernel() {
    expect_error(
        r#"mm(a, b) = «"ik,kj->ij"»"#,
        &["expected a `{ ... }` block of declarations or `;`"],
    );
}
