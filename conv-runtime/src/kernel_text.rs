//! Kernel text (the grammar of one `conv_kernel!` body, as a string) compiled at run
//! time, with every error located by line and column.

use conv_codegen::ir::Program;
use conv_codegen::parse::parse_text;
use std::fmt;

/// One error in kernel text. Lines count from 1, columns (in characters) from 0.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TextDiagnostic {
    pub line: usize,
    pub column: usize,
    pub end_line: usize,
    pub end_column: usize,
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

/// Every error of a kernel text.
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
