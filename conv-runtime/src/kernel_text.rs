//! Kernel text (the grammar of one `conv_kernel!` body, as a string) compiled at run
//! time, with every error located by line and column.
//!
//! [`compile_text`] is what the [`Interpreter`](crate::Interpreter), the `conv-explain`
//! binary and the generated modules (which rebuild their kernel from its `SOURCE`) use.

use conv_codegen::parse::parse_text;
use conv_model::ir::Program;
use std::fmt;

/// One error in kernel text. Lines count from 1, columns (in characters) from 0.
///
/// `Display` shows it as `line L, column C: message`, the column counted from 1 there;
/// [`explain::render_errors`](crate::explain::render_errors) shows it under the source
/// line, as rustc does.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TextDiagnostic {
    /// The line of the first character at fault, from 1.
    pub line: usize,
    /// The column of the first character at fault, in characters from 0.
    pub column: usize,
    /// The line of the end of the span at fault, from 1.
    pub end_line: usize,
    /// The column just past the span at fault, from 0 (equal to `column` for an empty
    /// span, as errors at the end of the input have).
    pub end_column: usize,
    /// What is wrong and what to write instead: the text the macro would report.
    pub message: String,
}

impl fmt::Display for TextDiagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "line {}, column {}: {}",
            self.line,
            self.column + 1,
            self.message
        )
    }
}

/// Every error of a kernel text, in the order of the text; `Display` shows one per line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TextErrors(pub Vec<TextDiagnostic>);

impl fmt::Display for TextErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, d) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{d}")?;
        }
        Ok(())
    }
}

impl std::error::Error for TextErrors {}

/// Parses, checks and lowers every kernel of `text`; all errors are reported together.
///
/// `text` holds what may stand inside `conv_kernel! { ... }`: one or more kernel
/// declarations. Each becomes a [`Program`]: the checked kernel, its forward contraction
/// and every derived gradient. The errors are those the macro reports, with the same
/// messages, located by line and column instead of by span.
///
/// # Example
///
/// ```
/// use conv_runtime::compile_text;
///
/// let programs = compile_text(
///     r#"
///     conv(x, weight) = "nclk,dck->ndl" { unfold x.l by k, stride = 2; bias d; }
///     matmul(a, b) = "ik,kj->ij";
///     "#,
/// )?;
/// assert_eq!(programs.len(), 2);
/// assert_eq!(programs[0].kernel.name, "conv");
/// // grad_x, grad_weight and grad_bias.
/// assert_eq!(programs[0].gradients.len(), 3);
///
/// // Every error at once, each with its place in the text.
/// let errors = compile_text("k(x, w) = \"nclk,dck->ndl\" {\n    unfold x.l by k, stride = 0;\n    bias c;\n}")
///     .unwrap_err();
/// assert_eq!(errors.0.len(), 2);
/// assert_eq!((errors.0[0].line, errors.0[0].column), (2, 30));
/// assert!(errors.0[0].message.contains("`stride = 0` is not a stride"));
/// assert_eq!((errors.0[1].line, errors.0[1].column), (3, 9));
/// assert!(errors.0[1].message.contains("bias axis 'c' is not an output axis"));
/// # Ok::<(), conv_runtime::TextErrors>(())
/// ```
pub fn compile_text(text: &str) -> Result<Vec<Program>, TextErrors> {
    let parsed = parse_text(text);
    let mut errors: Vec<TextDiagnostic> = parsed
        .errors
        .iter()
        .flat_map(|e| e.clone().into_iter())
        .map(|e| located(e.span(), e.to_string()))
        .collect();
    let mut programs = Vec::new();
    let mut names: Vec<&str> = Vec::new();
    for kernel in &parsed.kernels {
        let name = &kernel.ast.name;
        if names.contains(&name.value.as_str()) {
            let message = format!(
                "a kernel named `{}` is already declared: rename one",
                name.value
            );
            errors.push(located(parsed.spans.span(name.loc), message));
            continue;
        }
        names.push(&name.value);
        match conv_codegen::compile(&kernel.ast) {
            Ok(program) => programs.push(program),
            Err(diagnostics) => errors.extend(
                diagnostics
                    .into_iter()
                    .map(|d| located(parsed.spans.span(d.loc), d.message)),
            ),
        }
    }
    if programs.is_empty() && errors.is_empty() {
        errors.push(located(
            proc_macro2::Span::call_site(),
            "no kernel: write e.g. `k(a, b) = \"ik,kj->ij\";`".into(),
        ));
    }
    if errors.is_empty() {
        Ok(programs)
    } else {
        errors.sort_by_key(|d| (d.line, d.column));
        Err(TextErrors(errors))
    }
}

fn located(span: proc_macro2::Span, message: String) -> TextDiagnostic {
    let (start, end) = (span.start(), span.end());
    TextDiagnostic {
        line: start.line,
        column: start.column,
        end_line: end.line,
        end_column: end.column,
        message,
    }
}
