//! `conv-explain 'KERNEL TEXT'`: what the compiler makes of one or more kernel
//! declarations (the grammar of `conv_kernel!`): the parsed kernel, the output shape
//! and every derived contraction, or every error, pointing into the text; with
//! `--extents`, which path each pass takes for those extents and why.

use conv_model::facts::Facts;
use conv_model::ir::{Gradient, Program};
use conv_model::text;
use conv_runtime::explain::{lex_error, render_errors};
use conv_runtime::{compile_text, TextErrors};
use std::collections::BTreeMap;
use std::fmt::Write;
use std::process::ExitCode;

const USAGE: &str = "\
usage: conv-explain [--no-code] [--extents AXIS=N,...] 'KERNEL...'

Explains kernel declarations written as inside `conv_kernel! { ... }` (one or more):
the operands and their unfolds, the output shape, every derived gradient
contraction and the code the macro generates (left out with --no-code). On errors,
prints each one with its line and column and exits with 1.

With --extents, also shows which path each pass (forward, every gradient) takes for
operands of those extents, and why: the rule of the fast path's table that applies
and the measurement behind it. Give every axis of the operands (an unfolded axis:
its input length; a window axis: its taps, unless `size` fixes it).

example:
  conv-explain 'conv(x, weight) = \"nchwkj,dckj->ndhw\" {
      unfold x.h by k, stride = 2, pad = 1;
      unfold x.w by j, stride = 2, pad = 1;
      bias d;
  }'
  conv-explain --no-code --extents n=8,c=64,h=56,w=56,d=64,k=3,j=3 'conv(x, weight) = ...'
";

fn main() -> ExitCode {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let show_code = !args.iter().any(|a| a == "--no-code");
    args.retain(|a| a != "--no-code");
    let extents = match take_extents(&mut args) {
        Ok(extents) => extents,
        Err(message) => {
            eprintln!("error: {message}\n\n{USAGE}");
            return ExitCode::from(2);
        }
    };
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
            let mut explanations = Vec::new();
            for program in &programs {
                let mut text = explain(program, show_code);
                if let Some(extents) = &extents {
                    match paths(program, extents) {
                        Ok(paths) => text.push_str(&paths),
                        Err(message) => {
                            eprintln!("error: {message}");
                            return ExitCode::FAILURE;
                        }
                    }
                }
                explanations.push(text);
            }
            print!("{}", explanations.join("\n"));
            ExitCode::SUCCESS
        }
        Err(errors) => {
            eprint!("{}", render_errors(text, &errors));
            ExitCode::FAILURE
        }
    }
}

/// `--extents a=N,b=M,...` (or `--extents=...`), removed from `args`.
fn take_extents(args: &mut Vec<String>) -> Result<Option<BTreeMap<char, usize>>, String> {
    let Some(at) = args.iter().position(|a| a.starts_with("--extents")) else {
        return Ok(None);
    };
    let flag = args.remove(at);
    let list = match flag.strip_prefix("--extents=") {
        Some(list) => list.to_string(),
        None if at < args.len() => args.remove(at),
        None => return Err("--extents needs a list, e.g. --extents n=8,c=64".into()),
    };
    let mut extents = BTreeMap::new();
    for item in list.split(',').filter(|i| !i.trim().is_empty()) {
        let parsed = item.split_once('=').and_then(|(axis, n)| {
            let mut letters = axis.trim().chars();
            let axis = letters.next().filter(|_| letters.next().is_none())?;
            Some((axis, n.trim().parse::<usize>().ok()?))
        });
        let (axis, n) =
            parsed.ok_or_else(|| format!("`{item}` is not AXIS=N (one letter, a count)"))?;
        extents.insert(axis, n);
    }
    Ok(Some(extents))
}

/// The path of every pass for operands of these extents, as a section of the output.
fn paths(program: &Program, extents: &BTreeMap<char, usize>) -> Result<String, String> {
    let kernel = &program.kernel;
    let mut shapes = Vec::new();
    for op in &kernel.operands {
        let shape: Vec<usize> = (op.physical.iter())
            .map(|a| extents.get(a).or(kernel.sizes.get(a)).copied())
            .collect::<Option<_>>()
            .ok_or_else(|| {
                let missing: Vec<String> = (op.physical.iter())
                    .filter(|a| !extents.contains_key(a) && !kernel.sizes.contains_key(a))
                    .map(|a| format!("{a}=N"))
                    .collect();
                format!(
                    "--extents gives no extent for operand {}'s axes: add {}",
                    op.name,
                    missing.join(",")
                )
            })?;
        shapes.push(shape);
    }
    let facts = Facts::derive(program.clone());
    let views: Vec<&[usize]> = shapes.iter().map(|s| &s[..]).collect();
    let paths = conv_runtime::paths::paths(&facts, &views).map_err(|e| e.to_string())?;
    let given: Vec<String> = extents.iter().map(|(a, n)| format!("{a}={n}")).collect();
    let mut out = format!("\nPaths for {} (", given.join(","));
    let operands: Vec<String> = (kernel.operands.iter().zip(&shapes))
        .map(|(op, shape)| format!("{} {shape:?}", op.name))
        .collect();
    let _ = writeln!(
        out,
        "{}; {} threads)",
        operands.join(", "),
        rayon::current_num_threads()
    );
    for path in paths {
        let _ = writeln!(out, "  {path}");
    }
    if let Some(adjoint) = &facts.adjoint {
        let name = |i: usize| &kernel.operands[i].name;
        let _ = writeln!(
            out,
            "  (windows on the output: each pass is one of the adjoint convolution \
             g = \"{}\", g shaped like {}: forward = its grad_g, grad_{} = its forward, \
             grad_{} = its grad_{})",
            adjoint.facts.kernel().spec,
            kernel.output_name,
            name(adjoint.image),
            name(adjoint.other),
            name(adjoint.other),
        );
    }
    if let Some(transposed) = &facts.transposed {
        let _ = writeln!(
            out,
            "  (transposed direct: grad_{} = \"{}\", grad_y unfolded with mirrored padding, the \
             taps reversed)",
            kernel.operands[facts.plan.as_ref().map_or(0, |p| p.a)].name,
            transposed.kernel.spec
        );
    }
    Ok(out)
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
    if !program.folds.is_empty() {
        let _ = writeln!(out, "\n{}", output_note(program));
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

/// How to read a forward pass with windows on the output.
fn output_note(program: &Program) -> String {
    let y = &program.kernel.output_name;
    let axes: String = program.folds.iter().map(|f| f.window.axis).collect();
    format!(
        "  With windows on the output, {y} = fold_{axes}(e): e is the contraction into {y}'s \
         unfolded view,\n  and overlapping windows add up on {y} (gather form, as for a gradient's \
         fold). Every\n  gradient reads grad_{y} through the same windows: the gradient of a fold \
         is an unfold."
    )
}

/// The Rust code the macro emits for this kernel, pretty-printed as `cargo expand` would.
fn generated_code(program: &Program) -> Option<String> {
    conv_runtime::expanded_code(&conv_model::source::kernel_source(&program.kernel)).ok()
}
