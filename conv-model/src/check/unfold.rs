//! `unfold T.A by K, options;`: the window it declares, on an operand or on the output,
//! and the rules its options follow on each side.

use super::quote;
use super::statements::single_letter;
use crate::ast::{KernelAst, Loc, OptionAst, OptionValue, UnfoldAst};
use crate::diag::Errors;
use crate::kernel::{Kernel, Pad, PadMode, Window};

pub(super) fn unfold_window(
    unfold: &UnfoldAst,
    ast: &KernelAst,
    kernel: &Kernel,
    errors: &mut Errors,
) -> Option<Window> {
    let options = unfold_options(&unfold.options, errors);
    let on_output = ast
        .output
        .as_ref()
        .is_some_and(|o| o.value == unfold.operand.value);
    if on_output
        && kernel
            .operands
            .iter()
            .any(|op| op.name == unfold.operand.value)
    {
        // The output is named like an operand (an error at the header's name): which of
        // the two this unfold means is unknown, so nothing about it can be checked.
        return None;
    }
    let operand = match kernel
        .operands
        .iter()
        .position(|op| op.name == unfold.operand.value)
    {
        Some(operand) => operand,
        None if on_output => kernel.output_slot(),
        None => {
            let names: Vec<&str> = kernel.operands.iter().map(|o| o.name.as_str()).collect();
            let hint = match &ast.output {
                Some(output) => format!(" and the output is `{}`", output.value),
                None => format!(
                    "; to put a window on the output, name it in the header: `{}({}) -> {} = ...`",
                    kernel.name,
                    names.join(", "),
                    unfold.operand.value
                ),
            };
            errors.push(
                unfold.operand.loc,
                format!(
                    "unknown operand `{}`: the operands are {}{hint}",
                    unfold.operand.value,
                    names.join(", ")
                ),
            );
            return None;
        }
    };
    let view = match kernel.operands.get(operand) {
        Some(op) => &op.view,
        None => &kernel.output_view,
    };
    let name = &unfold.operand.value;
    let axis = single_letter(&unfold.axis, errors);
    let window = single_letter(&unfold.window, errors);
    let (axis, window) = (axis?, window?);
    let mut ok = true;
    for (letter, loc, role) in [
        (axis, unfold.axis.loc, "axis"),
        (window, unfold.window.loc, "window axis"),
    ] {
        if !view.contains(&letter) {
            let what = if on_output { "the output" } else { "operand" };
            errors.push(
                loc,
                format!(
                    "{what} `{name}` has no axis '{letter}' (its subscript is {}): the unfolded {role} must be in it",
                    quote(view)
                ),
            );
            ok = false;
        }
    }
    if axis == window {
        errors.push(
            unfold.window.loc,
            format!(
                "'{axis}' cannot be its own window: name the window with another axis of {}",
                quote(view)
            ),
        );
        ok = false;
    }
    if !on_output && kernel.output_view.contains(&window) {
        errors.push(
            unfold.window.loc,
            format!(
                "window axis '{window}' is also in the output {}: a window axis is summed, remove it from the output",
                quote(&kernel.output_view)
            ),
        );
        ok = false;
    }
    for other in &kernel.windows {
        let other_name = kernel.tensor_name(other.operand);
        if other.operand == operand && other.axis == axis {
            errors.push(
                unfold.axis.loc,
                format!("`{name}.{axis}` is already unfolded: unfold each axis once"),
            );
            ok = false;
        } else if other.window == window {
            errors.push(unfold.window.loc, format!("'{window}' is already the window of `{other_name}.{}`: each unfold needs its own window axis", other.axis));
            ok = false;
        } else if other.window == axis {
            errors.push(
                unfold.axis.loc,
                format!(
                    "'{axis}' is the window axis of `{other_name}.{}`: windows of windows are not supported, unfold an axis that is not a window",
                    other.axis
                ),
            );
            ok = false;
        } else if other.axis == window {
            errors.push(
                unfold.window.loc,
                format!(
                    "'{window}' is unfolded by `unfold {other_name}.{window} by {}`: windows of windows are not supported, name the window with an axis that is not unfolded",
                    other.window
                ),
            );
            ok = false;
        }
    }
    if on_output {
        ok &= output_options(&options, name, axis, errors);
    } else if let Some((_, loc)) = options.output_padding {
        errors.push(
            loc,
            format!(
                "`output_padding` lengthens the output of a fold (a transposed convolution): it applies only to \
                 a window on the output (`unfold y.i by k, ...` with the header `... -> y = \"...\"`), \
                 not to operand `{name}`; remove it"
            ),
        );
        ok = false;
    }
    ok.then_some(Window {
        operand,
        axis,
        window,
        stride: options.stride,
        dilation: options.dilation,
        pad: options.pad,
        mode: options.mode,
        output_padding: options.output_padding.map_or(0, |(p, _)| p),
    })
}

/// The options of a window on the output: no `pad = same` (its length follows from the
/// input's, not the other way round), and `output_padding < max(stride, dilation)`.
fn output_options(options: &UnfoldOptions, name: &str, axis: char, errors: &mut Errors) -> bool {
    let mut ok = true;
    if let (Pad::Same, Some(loc)) = (options.pad, options.pad_loc) {
        errors.push(
            loc,
            format!(
                "`pad = same` is not supported on the output: it fits the windows to the length of the tensor they read, \
                 but the length of the output `{name}.{axis}` follows from its input's; write the pads, e.g. `pad = 1` \
                 (every `mode` works on the output)"
            ),
        );
        ok = false;
    }
    if let Some((padding, loc)) = options.output_padding {
        let limit = options.stride.max(options.dilation);
        if padding >= limit {
            let (stride, dilation) = (options.stride, options.dilation);
            let fix = if limit == 1 {
                "remove it, or raise the stride".to_string()
            } else {
                format!("write at most `output_padding = {}`", limit - 1)
            };
            errors.push(
                loc,
                format!(
                    "`output_padding = {padding}` is too large: it must be less than the stride ({stride}) or the \
                     dilation ({dilation}), whichever is larger, as in PyTorch; {fix}"
                ),
            );
            ok = false;
        }
    }
    ok
}

struct UnfoldOptions {
    stride: usize,
    dilation: usize,
    pad: Pad,
    pad_loc: Option<Loc>,
    mode: PadMode,
    output_padding: Option<(usize, Loc)>,
}

fn unfold_options(options: &[OptionAst], errors: &mut Errors) -> UnfoldOptions {
    let mut out = UnfoldOptions {
        stride: 1,
        dilation: 1,
        pad: Pad::Explicit { lo: 0, hi: 0 },
        pad_loc: None,
        mode: PadMode::Zeros,
        output_padding: None,
    };
    let mut seen: Vec<&str> = Vec::new();
    for option in options {
        let key = option.key.value.as_str();
        if seen.contains(&key) {
            errors.push(
                option.key.loc,
                format!("`{key}` is already given for this unfold: give it once"),
            );
            continue;
        }
        seen.push(key);
        let value = &option.value;
        if key == "pad" {
            out.pad_loc = Some(value.loc);
        }
        match (key, &value.value) {
            ("stride" | "dilation", OptionValue::Int(n)) => match positive(*n, key, value.loc, errors) {
                Some(n) if key == "stride" => out.stride = n,
                Some(n) => out.dilation = n,
                None => {}
            },
            ("pad", OptionValue::Int(p)) => {
                if let Some(p) = fits(*p, value.loc, errors) {
                    out.pad = Pad::Explicit { lo: p, hi: p };
                }
            }
            ("pad", OptionValue::Pair(lo, hi)) => {
                if let (Some(lo), Some(hi)) = (fits(*lo, value.loc, errors), fits(*hi, value.loc, errors)) {
                    out.pad = Pad::Explicit { lo, hi };
                }
            }
            ("pad", OptionValue::Word(w)) if w == "valid" => out.pad = Pad::Explicit { lo: 0, hi: 0 },
            ("pad", OptionValue::Word(w)) if w == "same" => out.pad = Pad::Same,
            ("output_padding", OptionValue::Int(p)) => {
                if let Some(p) = fits(*p, value.loc, errors) {
                    out.output_padding = Some((p, value.loc));
                }
            }
            ("mode", OptionValue::Word(w)) => match PadMode::ALL.iter().find(|m| m.name() == w) {
                Some(mode) => out.mode = *mode,
                None => errors.push(value.loc, format!("unknown padding mode `{w}`: write `zeros`, `reflect`, `replicate` or `circular`")),
            },
            ("stride" | "dilation", _) => errors.push(value.loc, format!("`{key}` takes a positive integer, e.g. `{key} = 2`")),
            ("pad", _) => errors.push(value.loc, "`pad` takes an integer, `(lo, hi)`, `valid` or `same`"),
            ("mode", _) => errors.push(value.loc, "`mode` takes `zeros`, `reflect`, `replicate` or `circular`"),
            ("output_padding", _) => errors.push(value.loc, "`output_padding` takes an integer, e.g. `output_padding = 1`"),
            _ => errors.push(option.key.loc, format!("unknown unfold option `{key}`: the options are `stride`, `dilation`, `pad`, `mode` and, on the output, `output_padding`")),
        }
    }
    out
}

fn positive(n: u64, key: &str, loc: Loc, errors: &mut Errors) -> Option<usize> {
    if n == 0 {
        errors.push(loc, format!("`{key} = 0` is not a {key}: write 1 or more"));
        return None;
    }
    fits(n, loc, errors)
}

fn fits(n: u64, loc: Loc, errors: &mut Errors) -> Option<usize> {
    let fitted = usize::try_from(n).ok();
    if fitted.is_none() {
        errors.push(loc, "this integer does not fit in usize");
    }
    fitted
}
