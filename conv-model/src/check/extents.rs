//! Rules that need the whole declaration: where each window's extent comes from, and
//! whether fixed windows and pads fit fixed inputs.

use super::SizeLocs;
use crate::ast::{KernelAst, Loc, Statement, UnfoldAst};
use crate::diag::Errors;
use crate::kernel::{Kernel, Misfit, Pad, PadMode, Window};

pub(super) fn check(ast: &KernelAst, kernel: &Kernel, size_locs: &SizeLocs, errors: &mut Errors) {
    let unfolds = ast.statements.iter().filter_map(|s| match s {
        Statement::Unfold(u) => Some(u),
        _ => None,
    });
    // Only called when every unfold passed, so windows and unfold statements pair up.
    for (window, unfold) in kernel.windows.iter().zip(unfolds) {
        let k = window.window;
        let elsewhere = kernel
            .operands
            .iter()
            .enumerate()
            .any(|(i, op)| i != window.operand && op.view.contains(&k));
        let fixed_window = kernel.sizes.get(&k).copied();
        if !elsewhere && fixed_window.is_none() {
            errors.push(
                unfold.window.loc,
                format!(
                    "window axis '{k}' has no extent: it is in no other operand, so fix it with `size {k} = N;`"
                ),
            );
            continue;
        }
        // The taps of a fixed window sit at fixed offsets, which code generation writes
        // as literals: they must fit in usize whatever the input's length.
        if let Some(taps) = fixed_window {
            let span = (taps - 1)
                .checked_mul(window.dilation)
                .and_then(|s| s.checked_add(1));
            if span.is_none() {
                errors.push(
                    option_loc(unfold, "dilation").unwrap_or(size_locs[&k]),
                    format!(
                        "the window '{k}' of {taps} taps with dilation {} spans more positions than usize holds: \
                         lower the dilation or the window's size",
                        window.dilation
                    ),
                );
                continue;
            }
        }
        let Some(&len) = kernel.sizes.get(&window.axis) else {
            continue;
        };
        // An explicit pad fits an input or not whatever the window: with the window's
        // extent unknown, one tap checks the pad alone (one tap never overhangs a
        // non-empty input).
        let taps = match (fixed_window, window.pad) {
            (Some(taps), _) => taps,
            (None, Pad::Explicit { .. }) => 1,
            (None, Pad::Same) => continue,
        };
        let name = kernel.tensor_name(window.operand);
        let a = window.axis;
        if window.operand == kernel.output_slot() {
            if let Some(error) = output_misfit(window, len, fixed_window, name) {
                errors.push(size_locs[&a], error);
            }
            continue;
        }
        let (at, message) = match window.geometry(len, taps) {
            Ok(_) => continue,
            Err(Misfit::TooShort { padded, span }) => (
                size_locs.get(&k).copied().unwrap_or(size_locs[&a]),
                format!(
                    "the window '{k}' spans {span} positions but `{name}.{a}` is {len} long ({padded} with padding): \
                     make the window smaller or pad more"
                ),
            ),
            Err(Misfit::PadTooLarge { pad, max, .. }) => (
                option_loc(unfold, "pad").unwrap_or(size_locs[&a]),
                format!(
                    "{} padding of {pad} is too large for `{name}.{a}` of length {len} (at most {max}): \
                     pad less or use `mode = zeros` or `mode = replicate`",
                    window.mode.name()
                ),
            ),
            Err(Misfit::Overflow) => (
                size_locs[&a],
                format!(
                    "the window '{k}' over `{name}.{a}` needs lengths larger than usize holds: lower the sizes or the pad"
                ),
            ),
            Err(Misfit::EmptyWindow | Misfit::PadsTooLarge { .. }) => continue, // `size 0` is rejected where it is written
        };
        errors.push(at, message);
    }
}

/// Where the value of the unfold's option `key` was written.
fn option_loc(unfold: &UnfoldAst, key: &str) -> Option<Loc> {
    unfold
        .options
        .iter()
        .find(|o| o.key.value == key)
        .map(|o| o.value.loc)
}

/// Why no input length gives a window on the output the length `size` fixes, if none does:
/// `len = (view - 1)*stride - lo - hi + span + output_padding` for some `view >= 1`.
fn output_misfit(window: &Window, len: usize, taps: Option<usize>, name: &str) -> Option<String> {
    let (a, k) = (window.axis, window.window);
    let Pad::Explicit { lo, hi } = window.pad else {
        return None; // `pad = same` is refused on the output where it is written
    };
    let max = match window.mode {
        PadMode::Reflect => Some(len.saturating_sub(1)),
        PadMode::Circular => Some(len),
        _ => None,
    };
    if let Some(max) = max.filter(|&max| lo.max(hi) > max) {
        return Some(format!(
            "{} padding of {} is too large for `{name}.{a}` of length {len} (at most {max}): pad less or use `mode = zeros`",
            window.mode.name(),
            lo.max(hi)
        ));
    }
    let taps = taps?;
    let span = (taps - 1) * window.dilation + 1; // checked above to fit
    let base = span as u128 + window.output_padding as u128;
    let reach = len as u128 + lo as u128 + hi as u128;
    let stride = window.stride as u128;
    if reach >= base && (reach - base) % stride == 0 {
        return None;
    }
    let below = if reach >= base {
        Some((reach - base) / stride * stride + base - lo as u128 - hi as u128)
    } else {
        None
    };
    let hint = match below {
        Some(shorter) => format!("{shorter} or {}", shorter + stride),
        None => format!("{}", base.saturating_sub(lo as u128 + hi as u128)),
    };
    Some(format!(
        "no input gives `{name}.{a}` the length {len} fixed here: with stride {}, pads ({lo}, {hi}), \
         window '{k}' spanning {span} and output_padding {}, the output is \
         (in - 1)*{} - {} + {span} + {} long; fix it to {hint}, or change the output_padding",
        window.stride,
        window.output_padding,
        window.stride,
        lo + hi,
        window.output_padding
    ))
}
