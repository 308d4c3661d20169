//! The statements of a kernel's block: `unfold`, `size`, `bias`, `dtype`, `algorithm`.

use super::unfold::unfold_window;
use super::SizeLocs;
use crate::ast::{KernelAst, Loc, Located, Statement};
use crate::diag::Errors;
use crate::kernel::{Algorithm, Dtype, Kernel};

/// Applies every statement to `kernel`: its windows, sizes and dtype. The bias axis is
/// returned with where it was written rather than set: whether it indexes the output
/// depends on every window on the output, including those declared after it.
pub(super) fn apply(
    ast: &KernelAst,
    kernel: &mut Kernel,
    errors: &mut Errors,
) -> (SizeLocs, Option<(char, Loc)>) {
    let mut size_locs = SizeLocs::new();
    let mut bias = None;
    // Every axis a `size` names, whether its extent is valid or not.
    let mut sized = std::collections::BTreeSet::new();
    let mut bias_seen = false;
    let mut dtype_seen = false;
    let mut algorithm_seen = false;
    for statement in &ast.statements {
        match statement {
            Statement::Unfold(unfold) => {
                if let Some(window) = unfold_window(unfold, ast, kernel, errors) {
                    kernel.windows.push(window);
                }
            }
            Statement::Size(entries) => {
                for entry in entries {
                    let Some(axis) = known_axis(&entry.axis, kernel, errors) else {
                        continue;
                    };
                    if !sized.insert(axis) {
                        errors.push(
                            entry.axis.loc,
                            format!("the size of '{axis}' is already fixed: fix each axis once"),
                        );
                    } else if entry.extent.value == 0 {
                        errors.push(
                            entry.extent.loc,
                            format!("size 0 for '{axis}' leaves nothing to compute: write an extent of at least 1, or leave it to run time"),
                        );
                    } else if let Ok(extent) = usize::try_from(entry.extent.value) {
                        size_locs.insert(axis, entry.extent.loc);
                        kernel.sizes.insert(axis, extent);
                    } else {
                        errors.push(entry.extent.loc, "this size does not fit in usize");
                    }
                }
            }
            Statement::Bias { keyword, axis } => {
                let second = "a kernel has one bias: remove this second `bias`";
                if !first(&mut bias_seen, *keyword, second, errors) {
                    continue;
                }
                if let Some(letter) = known_axis(axis, kernel, errors) {
                    bias = Some((letter, axis.loc));
                }
            }
            Statement::Dtype { keyword, name } => {
                let second = "the element type is already chosen: remove this second `dtype`";
                if !first(&mut dtype_seen, *keyword, second, errors) {
                    continue;
                }
                match name.value.as_str() {
                    "f32" => kernel.dtype = Dtype::F32,
                    "f64" => kernel.dtype = Dtype::F64,
                    other => errors.push(
                        name.loc,
                        format!(
                            "unknown element type `{other}`: write `dtype f32;` or `dtype f64;`"
                        ),
                    ),
                }
            }
            Statement::Algorithm { keyword, name } => {
                let second = "the algorithm is already chosen: remove this second `algorithm`";
                if !first(&mut algorithm_seen, *keyword, second, errors) {
                    continue;
                }
                match name.value.as_str() {
                    "auto" => kernel.algorithm = Algorithm::Auto,
                    "direct" => kernel.algorithm = Algorithm::Direct,
                    other => errors.push(
                        name.loc,
                        format!(
                            "unknown algorithm `{other}`: write `algorithm direct;` (never \
                             Winograd) or `algorithm auto;` (by shape, the default)"
                        ),
                    ),
                }
            }
        }
    }
    (size_locs, bias)
}

/// Whether a statement that a kernel has at most once is the first of its kind (and
/// marks it `seen`); a second is the error `second` at its keyword.
fn first(seen: &mut bool, keyword: Loc, second: &str, errors: &mut Errors) -> bool {
    if *seen {
        errors.push(keyword, second);
        return false;
    }
    *seen = true;
    true
}

/// The letter of an axis named in a statement, if it is one letter and in the spec.
fn known_axis(axis: &Located<String>, kernel: &Kernel, errors: &mut Errors) -> Option<char> {
    let letter = single_letter(axis, errors)?;
    if kernel.axes().contains(&letter) {
        Some(letter)
    } else {
        let all: Vec<String> = kernel.axes().iter().map(|a| a.to_string()).collect();
        errors.push(
            axis.loc,
            format!(
                "unknown axis '{letter}': write one of the axes of the spec \"{}\": {}",
                kernel.spec,
                all.join(", ")
            ),
        );
        None
    }
}

pub(super) fn single_letter(axis: &Located<String>, errors: &mut Errors) -> Option<char> {
    let mut chars = axis.value.chars();
    match (chars.next(), chars.next()) {
        (Some(c), None) if c.is_ascii_alphabetic() => Some(c),
        _ => {
            errors.push(
                axis.loc,
                format!(
                    "`{}` is not an axis: axes are single ASCII letters of the spec",
                    axis.value
                ),
            );
            None
        }
    }
}
