//! Helpers shared by the front-end tests: parse kernel text, compile it, and check where
//! each error points.
//!
//! Error tests write the expected place of an error into the kernel text with markers:
//! `size k = «0»;` says "an error points at `0`". The markers are removed before
//! parsing, and the error's span must start and end exactly at them.

#![allow(dead_code)] // each test file uses its own part of these helpers

use conv_codegen::ir::Program;
use conv_codegen::parse::{parse_text, Parsed};
use conv_codegen::{compile, text};
use proc_macro2::Span;

/// A line (1-based) and column (0-based, in characters), as `proc_macro2` reports them.
pub type Pos = (usize, usize);

/// One error, syntax or check, with where it points.
#[derive(Clone, Debug)]
pub struct Error {
    pub message: String,
    pub start: Pos,
    pub end: Pos,
    /// The text between start and end.
    pub at: String,
}

/// Parses text that must have no syntax error.
pub fn parse_ok(source: &str) -> Parsed {
    let parsed = parse_text(source);
    let errors: Vec<String> = parsed.errors.iter().map(|e| e.to_string()).collect();
    assert!(errors.is_empty(), "unexpected syntax errors: {errors:?}");
    parsed
}

/// Compiles the single kernel of `source`, which must have no error.
pub fn program(source: &str) -> Program {
    let parsed = parse_ok(source);
    assert_eq!(parsed.kernels.len(), 1, "expected one kernel");
    match compile(&parsed.kernels[0].ast) {
        Ok(program) => program,
        Err(diagnostics) => panic!("unexpected errors: {diagnostics:?}"),
    }
}

/// The whole derivation text of the single kernel of `source`.
pub fn derivation(source: &str) -> String {
    text::derivation(&program(source))
}

/// Every error of every kernel in `source` (syntax errors, then check errors), sorted
/// by position.
pub fn errors(source: &str) -> Vec<Error> {
    let parsed = parse_text(source);
    let mut out: Vec<Error> = parsed
        .errors
        .iter()
        .flat_map(|e| e.clone().into_iter())
        .map(|e| error(source, e.span(), e.to_string()))
        .collect();
    for kernel in &parsed.kernels {
        if let Err(diagnostics) = compile(&kernel.ast) {
            out.extend(
                diagnostics
                    .into_iter()
                    .map(|d| error(source, parsed.spans.span(d.loc), d.message)),
            );
        }
    }
    out.sort_by_key(|e| e.start);
    out
}

fn error(source: &str, span: Span, message: String) -> Error {
    let (start, end) = (span.start(), span.end());
    let (start, end) = ((start.line, start.column), (end.line, end.column));
    Error {
        message,
        start,
        end,
        at: slice(source, start, end),
    }
}

/// The text of `source` between two positions.
pub fn slice(source: &str, start: Pos, end: Pos) -> String {
    let offset = |(line, column): Pos| -> Option<usize> {
        let line_start: usize = source
            .split_inclusive('\n')
            .take(line.checked_sub(1)?)
            .map(|l| l.chars().count())
            .sum();
        Some(line_start + column)
    };
    match (offset(start), offset(end)) {
        (Some(a), Some(b)) if a <= b => source.chars().skip(a).take(b - a).collect(),
        _ => format!("<no text: {start:?}..{end:?}>"),
    }
}

/// Source text with `«...»` markers: the text without them, and each marked range.
pub struct Marked {
    pub source: String,
    pub marks: Vec<(Pos, Pos, String)>,
}

pub fn marked(text: &str) -> Marked {
    let mut source = String::new();
    let mut marks = Vec::new();
    let (mut line, mut column) = (1, 0);
    let mut open: Option<(Pos, String)> = None;
    for c in text.chars() {
        match c {
            '«' => open = Some(((line, column), String::new())),
            '»' => {
                let (start, token) = open.take().expect("» without «");
                marks.push((start, (line, column), token));
            }
            _ => {
                source.push(c);
                if let Some((_, token)) = open.as_mut() {
                    token.push(c);
                }
                if c == '\n' {
                    (line, column) = (line + 1, 0);
                } else {
                    column += 1;
                }
            }
        }
    }
    assert!(open.is_none(), "« without »");
    Marked { source, marks }
}

/// Asserts that `text` has exactly the expected errors, in order of position, the i-th
/// pointing exactly at the i-th mark (or all at the only mark) and its message containing
/// every fragment of `expected[i]`. Returns the messages.
pub fn expect_errors(text: &str, expected: &[&[&str]]) -> Vec<String> {
    let Marked { source, mut marks } = marked(text);
    if marks.len() == 1 {
        marks = vec![marks[0].clone(); expected.len()];
    }
    assert_eq!(marks.len(), expected.len(), "one mark per expected error");
    let found = errors(&source);
    let listing: Vec<String> = found
        .iter()
        .map(|e| format!("{:?} at {:?} `{}`: {}", e.start, e.end, e.at, e.message))
        .collect();
    assert_eq!(
        found.len(),
        expected.len(),
        "wrong number of errors in\n{source}\nfound:\n{}",
        listing.join("\n")
    );
    for ((error, (start, end, token)), fragments) in found.iter().zip(&marks).zip(expected) {
        assert_eq!(
            (error.start, error.end, error.at.as_str()),
            (*start, *end, token.as_str()),
            "error points at the wrong place: {}",
            error.message
        );
        for fragment in *fragments {
            assert!(
                error.message.contains(fragment),
                "message lacks {fragment:?}: {}",
                error.message
            );
        }
    }
    found.into_iter().map(|e| e.message).collect()
}

/// [`expect_errors`] for a single error.
pub fn expect_error(text: &str, fragments: &[&str]) -> String {
    expect_errors(text, &[fragments]).remove(0)
}

/// Each gradient as `text::gradient_text` writes it, followed by its folds
/// (`text::fold_text`) and broadcast axes, indented by two spaces.
pub fn gradients(source: &str) -> Vec<String> {
    let program = program(source);
    let kernel = &program.kernel;
    let mut lines = Vec::new();
    for gradient in &program.gradients {
        lines.push(text::gradient_text(kernel, gradient));
        for fold in &gradient.folds {
            lines.push(format!("  {}", text::fold_text(kernel, fold)));
        }
        for axis in gradient.contraction.broadcast_axes() {
            lines.push(format!("  {axis}: broadcast"));
        }
    }
    lines
}

/// `axis = formula` for each output axis, then `summed axis = formula` for the others.
pub fn extents(source: &str) -> Vec<String> {
    let kernel = program(source).kernel;
    let output = kernel.output.iter().map(|&a| (a, ""));
    let summed = kernel.summed_axes().into_iter().map(|a| (a, "summed "));
    output
        .chain(summed)
        .map(|(a, prefix)| format!("{prefix}{a} = {}", text::extent_formula(&kernel, a)))
        .collect()
}
