//! Errors in kernel text shown as rustc shows them: the message, the line and column,
//! and the source line with carets under the token at fault. Used by `conv-explain`.
//!
//! The rest of what `conv-explain` prints is the derivation
//! ([`Interpreter::derivation`](crate::Interpreter::derivation), which a generated module
//! carries as `DERIVATION`) and the generated code ([`expanded_code`](crate::expanded_code)).

use crate::kernel_text::{TextDiagnostic, TextErrors};
use proc_macro2::TokenStream;
use std::fmt::Write;

/// The error of a text that cannot even be split into tokens, saying what to fix
/// (the parse layer only reports "cannot parse string into token stream"). `None` when
/// the text splits into tokens, whether or not it is a valid kernel.
///
/// ```
/// use conv_runtime::explain::lex_error;
///
/// let error = lex_error("k(x) = \"nc->n;").unwrap();
/// assert_eq!((error.line, error.column), (1, 7));
/// assert_eq!(error.message, "this string is never closed: end it with `\"`");
/// assert!(lex_error("k(x) = \"nc->n\";").is_none());
/// ```
pub fn lex_error(text: &str) -> Option<TextDiagnostic> {
    let span = text.parse::<TokenStream>().err()?.span();
    let at = span.start();
    let rest: String = source_line(text, at.line).chars().skip(at.column).collect();
    let message = match rest.chars().next() {
        Some('"') => "this string is never closed: end it with `\"`".to_string(),
        Some('/') if rest.starts_with("/*") => {
            "this comment is never closed: end it with `*/`".to_string()
        }
        Some(c @ ('(' | '[' | '{')) => format!("this `{c}` is never closed"),
        Some(c @ (')' | ']' | '}')) => format!("this `{c}` closes nothing: remove it"),
        _ => "cannot split the text into tokens here".to_string(),
    };
    Some(TextDiagnostic {
        line: at.line,
        column: at.column,
        end_line: at.line,
        end_column: at.column + 1,
        message,
    })
}

/// Every error as `error: <message>`, `  --> line L, column C` (both from 1) and the
/// source line with carets under the span, in the order of the text.
///
/// Syntax errors at the end of the input ("unexpected end of input") come from syn with
/// the call-site span: empty, at line 1, column 0. No token has an empty span (and
/// [`lex_error`] gives lexing errors a width), so such an error is shown just past the
/// last token of the text.
///
/// ```
/// use conv_runtime::compile_text;
/// use conv_runtime::explain::render_errors;
///
/// let text = "pool(x) = \"nclk->ncl\" { unfold x.l by k; }";
/// let errors = compile_text(text).unwrap_err();
/// let shown = render_errors(text, &errors);
/// let lines: Vec<&str> = shown.lines().collect();
/// assert_eq!(
///     lines[0],
///     "error: window axis 'k' has no extent: it is in no other operand, so fix it with `size k = N;`"
/// );
/// assert_eq!(lines[1], "  --> line 1, column 39");
/// assert_eq!(lines[3], format!("1 | {text}"));
/// assert_eq!(lines[4], format!("  | {}^", " ".repeat(38)));
/// ```
pub fn render_errors(text: &str, errors: &TextErrors) -> String {
    let last_line = text.trim_end().lines().count().max(1);
    let mut located: Vec<(usize, usize, usize, &str)> = (errors.0.iter())
        .map(|d| {
            let empty = (d.line, d.column) == (d.end_line, d.end_column);
            if empty && (d.line, d.column) == (1, 0) {
                let column = source_line(text, last_line).trim_end().chars().count();
                return (last_line, column, column + 1, d.message.as_str());
            }
            // A span over several lines is underlined to the end of its first line.
            let end = match d.end_line == d.line {
                true => d.end_column,
                false => source_line(text, d.line).chars().count(),
            };
            (d.line, d.column, end.max(d.column + 1), d.message.as_str())
        })
        .collect();
    located.sort_by_key(|&(line, column, ..)| (line, column));
    let width = (located.iter())
        .map(|(line, ..)| line.to_string().len())
        .max()
        .unwrap_or(1);
    let mut out = String::new();
    for (line, column, end, message) in located {
        let source = source_line(text, line);
        // Tabs stay tabs so that the carets line up under the source line.
        let indent: String = (source.chars().take(column))
            .map(|c| if c == '\t' { '\t' } else { ' ' })
            .collect();
        let carets = "^".repeat(end - column);
        let _ = writeln!(out, "error: {message}");
        let _ = writeln!(out, "{:width$} --> line {line}, column {}", "", column + 1);
        let _ = writeln!(out, "{:width$} |", "");
        let _ = writeln!(out, "{line:width$} | {source}");
        let _ = writeln!(out, "{:width$} | {indent}{carets}\n", "");
    }
    out
}

/// Line `line` (from 1) of `text`, or "" past its end.
fn source_line(text: &str, line: usize) -> &str {
    text.lines().nth(line.wrapping_sub(1)).unwrap_or("")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn diagnostic(line: usize, column: usize, end: (usize, usize)) -> TextDiagnostic {
        TextDiagnostic {
            line,
            column,
            end_line: end.0,
            end_column: end.1,
            message: "bad".into(),
        }
    }

    #[test]
    fn carets_under_the_span_of_the_right_line() {
        let text = "k(x) = \"ab->b\" {\n\tbias cc;\n}";
        let errors = TextErrors(vec![diagnostic(2, 6, (2, 8))]);
        let expected = "error: bad\n  --> line 2, column 7\n  |\n2 | \tbias cc;\n  | \t     ^^\n\n";
        assert_eq!(render_errors(text, &errors), expected);
    }

    #[test]
    fn end_of_input_points_past_the_last_token() {
        let text = "k(x) =\n  \n";
        let errors = TextErrors(vec![diagnostic(1, 0, (1, 0))]);
        assert!(render_errors(text, &errors).contains("line 1, column 7\n"));
    }

    #[test]
    fn unclosed_string() {
        let error = lex_error("k(x) = \"ab->b;").unwrap();
        assert_eq!((error.line, error.column), (1, 7));
        assert!(error.message.contains("never closed"), "{}", error.message);
        assert!(lex_error("k(x) = \"ab->b\";").is_none());
    }
}
