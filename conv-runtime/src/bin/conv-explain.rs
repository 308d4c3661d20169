//! `conv-explain 'KERNEL TEXT'`: what the compiler makes of one or more kernel
//! declarations (the grammar of `conv_kernel!`): the parsed kernel, the output shape
//! and every derived contraction, or every error, pointing into the text.

use conv_codegen::ir::{Gradient, Program};
use conv_codegen::text;
use conv_runtime::explain::{lex_error, render_errors};
use conv_runtime::{compile_text, TextErrors};
use std::fmt::Write;
use std::process::ExitCode;

const USAGE: &str = "\
usage: conv-explain [--no-code] 'KERNEL...'

Explains kernel declarations written as inside `conv_kernel! { ... }` (one or more):
the operands and their unfolds, the output shape, every derived gradient
contraction and the code the macro generates (left out with --no-code). On errors,
prints each one with its line and column and exits with 1.

example:
  conv-explain 'conv(x, weight) = \"nchwkj,dckj->ndhw\" {
      unfold x.h by k, stride = 2, pad = 1;
      unfold x.w by j, stride = 2, pad = 1;
      bias d;
  }'
";

fn main() -> ExitCode {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let show_code = !args.iter().any(|a| a == "--no-code");
    args.retain(|a| a != "--no-code");
    let text = match args.as_slice() {
        [flag] if flag == "--help" || flag == "-h" => {
            print!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        [text] => text,
        _ => {
            eprint!("{USAGE}");
            return ExitCode::from(2);
        }
    };
    let compiled = match lex_error(text) {
        Some(error) => Err(TextErrors(vec![error])),
        None => compile_text(text),
    };
    match compiled {
        Ok(programs) => {
            let explanations: Vec<String> =
                programs.iter().map(|p| explain(p, show_code)).collect();
            print!("{}", explanations.join("\n"));
            ExitCode::SUCCESS
        }
        Err(errors) => {
            eprint!("{}", render_errors(text, &errors));
            ExitCode::FAILURE
        }
    }
}

/// Where the sections of the derivation text begin: (first line starts with, heading).
const SECTIONS: [(&str, &str); 4] = [
    ("kernel ", "Declaration"),
    (
        "operand ",
        "Operands (the arrays passed in) and their unfolds",
    ),
    (
        "output ",
        "Shapes: each extent in terms of the arguments' shapes",
    ),
    (
        "forward:",
        "Contractions: the forward and every derived gradient",
    ),
];

/// The derivation text (what the generated module carries as `DERIVATION`) in
/// sections, with the docs, the fixed sizes and how to read a fold added.
fn explain(program: &Program, show_code: bool) -> String {
    let kernel = &program.kernel;
    let title = format!("kernel {}", kernel.name);
    let mut out = format!("{title}\n{}\n", "=".repeat(title.len()));
    let mut sections = SECTIONS.iter().peekable();
    for line in text::derivation(program).lines() {
        if let Some((_, heading)) = sections.next_if(|(start, _)| line.starts_with(start)) {
            let _ = writeln!(out, "\n{heading}");
        }
        if line.starts_with("kernel ") {
            for doc in &kernel.docs {
                let _ = writeln!(out, "  ///{doc}");
            }
        }
        let _ = writeln!(out, "  {line}");
        if line.starts_with("dtype ") {
            let sizes: Vec<String> = (kernel.sizes.iter())
                .map(|(axis, n)| format!("{axis} = {n}"))
                .collect();
            if sizes.is_empty() {
                let _ = writeln!(
                    out,
                    "  size: none fixed, every extent comes from the arguments"
                );
            } else {
                let _ = writeln!(out, "  size {}", sizes.join(", "));
            }
        }
    }
    for gradient in program.gradients.iter().filter(|g| !g.folds.is_empty()) {
        let _ = writeln!(out, "\n{}", fold_note(program, gradient));
    }
    if let Some(code) = generated_code(program).filter(|_| show_code) {
        let _ = write!(out, "\nGenerated code\n{code}");
    }
    out
}

/// How to read `grad_x = fold_hw(e)`.
fn fold_note(program: &Program, gradient: &Gradient) -> String {
    let name = &program.kernel.operands[gradient.folds[0].window.operand].name;
    let axes: String = gradient.folds.iter().map(|f| f.window.axis).collect();
    let list: Vec<String> = axes.chars().map(String::from).collect();
    format!(
        "  In grad_{name} = fold_{axes}(e), e is the gradient of {name}'s unfolded view. It is folded\n  \
         back onto {name} along {} in gather form: each position p_k of {name} sums the window\n  \
         entries that read it, those at padded position q_k = a*stride + k*dilation.",
        list.join(", ")
    )
}

/// The Rust code the macro emits for this kernel, pretty-printed as `cargo expand` would.
fn generated_code(program: &Program) -> Option<String> {
    conv_runtime::expanded_code(&conv_codegen::source::kernel_source(&program.kernel)).ok()
}
