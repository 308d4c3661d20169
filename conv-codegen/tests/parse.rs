//! The parse layer: kernel text into syntax trees, and recovery from syntax errors.

mod common;

use common::{errors, parse_ok};
use conv_codegen::ast::{OptionValue, SizeAst, Statement, UnfoldAst};
use conv_codegen::parse::parse_text;
use quote::ToTokens;

fn unfolds(statements: &[Statement]) -> Vec<&UnfoldAst> {
    statements
        .iter()
        .filter_map(|s| match s {
            Statement::Unfold(u) => Some(u),
            _ => None,
        })
        .collect()
}

/// The options of the single unfold in a block, as `(key, value)`.
fn options_of(unfold_line: &str) -> Vec<(String, OptionValue)> {
    let source = format!("k(x, w) = \"nchwkj,dckj->ndhw\" {{ {unfold_line} }}");
    let parsed = parse_ok(&source);
    let statements = &parsed.kernels[0].ast.statements;
    let unfold = unfolds(statements)[0];
    assert_eq!(
        (
            &*unfold.operand.value,
            &*unfold.axis.value,
            &*unfold.window.value
        ),
        ("x", "h", "k")
    );
    unfold
        .options
        .iter()
        .map(|o| (o.key.value.clone(), o.value.value.clone()))
        .collect()
}

fn opt(key: &str, value: OptionValue) -> (String, OptionValue) {
    (key.to_string(), value)
}

#[test]
fn several_kernels_in_one_text() {
    let parsed = parse_ok(
        r#"
        pub conv2d(x, weight) = "nchwkj,dckj->ndhw" {
            unfold x.h by k;
            unfold x.w by j;
        }
        matmul(a, b) = "ik,kj->ij";
        pub(crate) sum(x) = "ij->i" {}
        "#,
    );
    let names: Vec<&str> = parsed.kernels.iter().map(|k| &*k.ast.name.value).collect();
    assert_eq!(names, ["conv2d", "matmul", "sum"]);
    let specs: Vec<&str> = parsed.kernels.iter().map(|k| &*k.ast.spec.value).collect();
    assert_eq!(specs, ["nchwkj,dckj->ndhw", "ik,kj->ij", "ij->i"]);
    let statements: Vec<usize> = parsed
        .kernels
        .iter()
        .map(|k| k.ast.statements.len())
        .collect();
    assert_eq!(statements, [2, 0, 0]);
}

#[test]
fn visibility_is_kept() {
    let parsed = parse_ok(
        r#"pub a(x) = "i->i"; b(x) = "i->i"; pub(crate) c(x) = "i->i"; pub(super) d(x) = "i->i";"#,
    );
    let vis: Vec<String> = parsed
        .kernels
        .iter()
        .map(|k| k.vis.to_token_stream().to_string())
        .collect();
    assert_eq!(vis, ["pub", "", "pub (crate)", "pub (super)"]);
    assert!(matches!(parsed.kernels[1].vis, syn::Visibility::Inherited));
}

#[test]
fn doc_comments_and_other_attributes_are_kept() {
    let parsed = parse_ok(
        r#"
        /// First line.
        /// Second line.
        #[allow(dead_code)]
        #[doc = "Third line."]
        pub k(a, b) = "ik,kj->ij";
        undocumented(x) = "i->i";
        "#,
    );
    let kernel = &parsed.kernels[0];
    assert_eq!(
        kernel.ast.docs,
        [" First line.", " Second line.", "Third line."]
    );
    let attrs: Vec<String> = kernel
        .attrs
        .iter()
        .map(|a| a.path().to_token_stream().to_string())
        .collect();
    assert_eq!(attrs, ["doc", "doc", "allow", "doc"]);
    assert!(parsed.kernels[1].ast.docs.is_empty());
    assert!(parsed.kernels[1].attrs.is_empty());
}

#[test]
fn header_without_block_and_with_an_empty_block() {
    let parsed = parse_ok(r#"mm(a, b) = "ik,kj->ij"; t(x) = "ij->ji" {}"#);
    for kernel in &parsed.kernels {
        assert!(kernel.ast.statements.is_empty());
    }
    let mm = &parsed.kernels[0].ast;
    let operands: Vec<&str> = mm.operands.iter().map(|o| &*o.value).collect();
    assert_eq!(operands, ["a", "b"]);
}

#[test]
fn one_two_and_three_operands() {
    let parsed =
        parse_ok(r#"t(x) = "ij->ji"; mm(a, b) = "ik,kj->ij"; chain(a, b, c) = "ab,bc,cd->ad";"#);
    let counts: Vec<usize> = parsed
        .kernels
        .iter()
        .map(|k| k.ast.operands.len())
        .collect();
    assert_eq!(counts, [1, 2, 3]);
    // A trailing comma in the operand list is accepted.
    let parsed = parse_ok(r#"mm(a, b,) = "ik,kj->ij";"#);
    assert_eq!(parsed.kernels[0].ast.operands.len(), 2);
}

#[test]
fn unfold_without_options() {
    assert_eq!(options_of("unfold x.h by k;"), []);
}

#[test]
fn unfold_integer_options() {
    assert_eq!(
        options_of("unfold x.h by k, stride = 2, dilation = 3, pad = 1;"),
        [
            opt("stride", OptionValue::Int(2)),
            opt("dilation", OptionValue::Int(3)),
            opt("pad", OptionValue::Int(1)),
        ]
    );
}

#[test]
fn unfold_pad_forms() {
    assert_eq!(
        options_of("unfold x.h by k, pad = (1, 2);"),
        [opt("pad", OptionValue::Pair(1, 2))]
    );
    for word in ["valid", "same"] {
        assert_eq!(
            options_of(&format!("unfold x.h by k, pad = {word};")),
            [opt("pad", OptionValue::Word(word.into()))]
        );
    }
}

#[test]
fn unfold_modes() {
    for mode in ["zeros", "reflect", "replicate", "circular"] {
        assert_eq!(
            options_of(&format!("unfold x.h by k, pad = 1, mode = {mode};")),
            [
                opt("pad", OptionValue::Int(1)),
                opt("mode", OptionValue::Word(mode.into()))
            ]
        );
    }
}

#[test]
fn size_bias_and_dtype_statements() {
    let parsed = parse_ok(
        r#"k(x, w) = "nchwkj,dckj->ndhw" {
            size k = 3, j = 4;
            size h = 10;
            bias d;
            dtype f64;
        }"#,
    );
    let statements = &parsed.kernels[0].ast.statements;
    let pairs = |entries: &[SizeAst]| -> Vec<(String, u64)> {
        entries
            .iter()
            .map(|e| (e.axis.value.clone(), e.extent.value))
            .collect()
    };
    match &statements[..] {
        [Statement::Size(a), Statement::Size(b), Statement::Bias { axis, .. }, Statement::Dtype { name, .. }] =>
        {
            assert_eq!(pairs(a), [("k".into(), 3), ("j".into(), 4)]);
            assert_eq!(pairs(b), [("h".into(), 10)]);
            assert_eq!(axis.value, "d");
            assert_eq!(name.value, "f64");
        }
        other => panic!("unexpected statements: {other:?}"),
    }
}

#[test]
fn a_bad_statement_keeps_the_kernel_and_the_other_statements() {
    let parsed = parse_text(
        r#"k(x, w) = "nchwkj,dckj->ndhw" {
            unfold x.h by k;
            unfold x.w j;
            bias d;
        }"#,
    );
    assert_eq!(parsed.errors.len(), 1);
    assert_eq!(parsed.kernels.len(), 1);
    let statements = &parsed.kernels[0].ast.statements;
    assert_eq!(statements.len(), 2);
    assert!(matches!(&statements[1], Statement::Bias { axis, .. } if axis.value == "d"));
}

#[test]
fn two_bad_statements_give_two_errors() {
    let found = errors(
        r#"k(x, w) = "nchwkj,dckj->ndhw" {
            unfold x.h by k, stride 2;
            size k = 3;
            size j = j;
        }"#,
    );
    let at: Vec<&str> = found.iter().map(|e| &*e.at).collect();
    assert_eq!(at, ["2", "j"], "{found:?}");
}

#[test]
fn a_bad_header_loses_only_its_kernel() {
    let parsed = parse_text(
        r#"
        a(x) = "ij->i";
        b(x) "ij->j";
        c(x) = 5 {}
        d(x) = "ij->ji" { bias i; }
        "#,
    );
    assert_eq!(parsed.errors.len(), 2);
    let names: Vec<&str> = parsed.kernels.iter().map(|k| &*k.ast.name.value).collect();
    assert_eq!(names, ["a", "d"]);
}

#[test]
fn a_syntax_error_and_a_check_error_are_both_reported() {
    let found = errors(
        r#"k(x, w) = "nchwkj,dckj->ndhw" {
            unfold x.h by k, stride = 0;
            bias;
        }"#,
    );
    let at: Vec<&str> = found.iter().map(|e| &*e.at).collect();
    assert_eq!(at, ["0", ";"], "{found:?}");
}
