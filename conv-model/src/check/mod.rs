//! Checks a parsed declaration against every rule of the language and builds the
//! [`Kernel`]. All errors of a declaration are collected, none stops the others.

mod extents;
mod statements;
mod unfold;

use crate::ast::{KernelAst, Loc};
use crate::diag::{Diagnostic, Errors};
use crate::einsum::parse_spec;
use crate::kernel::{Dtype, Kernel, Operand};
use std::collections::BTreeMap;

/// Names the generated code uses for its own arguments; operands must not take them.
const RESERVED: [&str; 4] = ["grad_y", "bias", "out", "extents"];

/// The most operands a kernel takes (as numpy's einsum long did). Each generated
/// gradient function takes every operand, so the generated code grows with the square
/// of their number: 32 operands make 1 MB of code.
pub const MAX_OPERANDS: usize = 32;

pub fn check(ast: &KernelAst) -> Result<Kernel, Vec<Diagnostic>> {
    let mut errors = Errors::default();
    if ast.name.value.starts_with("r#") {
        errors.push(
            ast.name.loc,
            format!(
                "`{}` is a raw identifier: a kernel's name names its module and appears in generated names, write one that is not a keyword",
                ast.name.value
            ),
        );
    }
    let operand_names = check_operand_names(ast, &mut errors);
    let output_name = check_output_name(ast, &mut errors);
    let subscripts = match parse_spec(&ast.spec.value) {
        Ok(s) => Some(s),
        Err(messages) => {
            for m in messages {
                errors.push(ast.spec.loc, m);
            }
            None
        }
    };
    let Some(subscripts) = subscripts else {
        return Err(errors.into_vec());
    };
    if subscripts.inputs.len() != ast.operands.len() && !ast.operands.is_empty() {
        let quoted: Vec<String> = subscripts.inputs.iter().map(|s| quote(s)).collect();
        errors.push(
            ast.operand_list,
            format!(
                "the spec \"{}\" has {} input subscript{} ({}) but {} operand{} named: name one operand per subscript",
                ast.spec.value,
                subscripts.inputs.len(),
                plural(subscripts.inputs.len()),
                quoted.join(", "),
                ast.operands.len(),
                if ast.operands.len() == 1 { " is" } else { "s are" },
            ),
        );
        return Err(errors.into_vec());
    }
    for (axis, position) in subscripts.output.iter().zip(&subscripts.output_positions) {
        if !subscripts.inputs.iter().any(|s| s.contains(axis)) {
            errors.push(
                ast.spec.loc,
                format!(
                    "output axis '{axis}' (position {position} of the spec \"{}\") occurs in no input: \
                     remove it from the output or add it to an input's subscript",
                    ast.spec.value
                ),
            );
        }
    }
    let mut kernel = Kernel {
        name: ast.name.value.clone(),
        docs: ast.docs.clone(),
        spec: ast.spec.value.clone(),
        operands: operand_names
            .iter()
            .zip(&subscripts.inputs)
            .map(|(name, view)| Operand {
                name: name.clone(),
                view: view.clone(),
                physical: view.clone(),
            })
            .collect(),
        output_name,
        output_view: subscripts.output.clone(),
        output: subscripts.output,
        windows: Vec::new(),
        sizes: BTreeMap::new(),
        bias: None,
        dtype: Dtype::F32,
        algorithm: crate::kernel::Algorithm::Auto,
    };
    let (size_locs, bias) = statements::apply(ast, &mut kernel, &mut errors);
    for window in &kernel.windows {
        match kernel.operands.get_mut(window.operand) {
            Some(operand) => operand.physical.retain(|&a| a != window.window),
            None => kernel.output.retain(|&a| a != window.window),
        }
    }
    if let Some((axis, loc)) = bias {
        check_bias(&mut kernel, axis, loc, &mut errors);
    }
    if errors.is_empty() {
        extents::check(ast, &kernel, &size_locs, &mut errors);
    }
    if errors.is_empty() {
        Ok(kernel)
    } else {
        Err(errors.into_vec())
    }
}

/// A bias is indexed by an axis of the output tensor: not by an axis that only an input
/// has, nor by the window of an unfold on the output (an axis of its view, summed by the
/// fold, not of the tensor).
fn check_bias(kernel: &mut Kernel, axis: char, loc: Loc, errors: &mut Errors) {
    if kernel.output.contains(&axis) {
        kernel.bias = Some(axis);
        return;
    }
    let output = quote(&kernel.output);
    let on_window = kernel.output_windows().find(|w| w.window == axis);
    let message = match on_window {
        Some(w) => format!(
            "the bias axis '{axis}' is the window of `unfold {}.{} by {axis}`, which the fold sums over: \
             it is not an axis of the output tensor; a bias is indexed by one axis of the output {output}",
            kernel.output_name, w.axis
        ),
        None => format!(
            "the bias axis '{axis}' is not an output axis: a bias is indexed by one axis of the output {output}"
        ),
    };
    errors.push(loc, message);
}

/// The output's name (`y` unless the header names it), which must not clash with an
/// operand's or a generated argument's.
fn check_output_name(ast: &KernelAst, errors: &mut Errors) -> String {
    let Some(name) = &ast.output else {
        return "y".to_string();
    };
    if ast.operands.iter().any(|op| op.value == name.value) {
        errors.push(
            name.loc,
            format!(
                "`{}` names an operand: give the output a name of its own",
                name.value
            ),
        );
    } else if name.value.starts_with("r#") {
        errors.push(
            name.loc,
            format!(
                "`{}` is a raw identifier: write an output name that is not a keyword",
                name.value
            ),
        );
    } else if RESERVED.contains(&name.value.as_str()) || name.value == "facts" {
        errors.push(
            name.loc,
            format!(
                "`{}` is the name of a generated item or argument: call the output something else",
                name.value
            ),
        );
    }
    name.value.clone()
}

fn check_operand_names(ast: &KernelAst, errors: &mut Errors) -> Vec<String> {
    if ast.operands.is_empty() {
        errors.push(
            ast.operand_list,
            "a kernel needs at least one operand: name one per input subscript, e.g. `(x, weight)`",
        );
    }
    if ast.operands.len() > MAX_OPERANDS {
        errors.push(
            ast.operand_list,
            format!(
                "{} operands are too many: a kernel takes at most {MAX_OPERANDS}, split the contraction into several kernels",
                ast.operands.len()
            ),
        );
    }
    let mut seen: Vec<&str> = Vec::new();
    for name in &ast.operands {
        if seen.contains(&name.value.as_str()) {
            errors.push(
                name.loc,
                format!(
                    "operand `{}` is named twice: give each operand its own name",
                    name.value
                ),
            );
        } else if let Some(plain) = name.value.strip_prefix("r#") {
            errors.push(
                name.loc,
                format!(
                    "`{}` is a raw identifier: operand names become parts of generated names (`grad_{plain}`), write one that is not a keyword",
                    name.value
                ),
            );
        } else if name.value == "facts" {
            errors.push(
                name.loc,
                "`facts` is the name of the generated module's `facts()` function: call the \
                 operand something else",
            );
        } else if RESERVED.contains(&name.value.as_str()) {
            errors.push(
                name.loc,
                format!(
                    "`{}` is the name of a generated argument: call the operand something else",
                    name.value
                ),
            );
        }
        seen.push(&name.value);
    }
    ast.operands.iter().map(|n| n.value.clone()).collect()
}

pub(crate) fn quote(axes: &[char]) -> String {
    format!("\"{}\"", axes.iter().collect::<String>())
}

pub(crate) fn plural(n: usize) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}

/// Where the extent of each `size` was written, for errors that a fixed extent causes.
pub(crate) type SizeLocs = BTreeMap<char, Loc>;
