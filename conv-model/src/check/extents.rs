//! Rules that need the whole declaration: where each window's extent comes from, and
//! whether fixed windows and pads fit fixed inputs.

use super::{plural, SizeLocs};
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
            if let Some((at_pad, error)) = output_misfit(window, len, fixed_window, name) {
                let pad = option_loc(unfold, "pad").filter(|_| at_pad);
                errors.push(pad.unwrap_or(size_locs[&a]), error);
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
/// `len = (n - 1)*stride - lo - hi + span + output_padding` for some input length `n >= 1`;
/// and whether the pad is to blame (too large for the mode) rather than the length.
fn output_misfit(
    window: &Window,
    len: usize,
    taps: Option<usize>,
    name: &str,
) -> Option<(bool, String)> {
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
        return Some((
            true,
            format!(
                "{} padding of {} is too large for `{name}.{a}` of length {len} (at most {max}): pad less or use `mode = zeros`",
                window.mode.name(),
                lo.max(hi)
            ),
        ));
    }
    let taps = taps?;
    let span = (taps - 1) * window.dilation + 1; // checked above to fit
    let (stride, padding) = (window.stride as i128, window.output_padding as i128);
    let pads = lo as i128 + hi as i128;
    // The output is `stride*n + offset` long for an input of length `n`.
    let offset = |padding: i128| span as i128 + padding - stride - pads;
    let target = len as i128;
    let fits = |padding: i128| {
        let rest = target - offset(padding);
        rest >= stride && rest % stride == 0
    };
    if fits(padding) {
        return None;
    }
    let c = offset(padding);
    // The shortest input that gives a non-empty output, then the nearest lengths.
    let n_min = ((1 - c).div_euclid(stride) + i128::from((1 - c).rem_euclid(stride) != 0)).max(1);
    let n_up = ((target - c).div_euclid(stride) + 1).max(n_min);
    let n_down = (target - c - 1).div_euclid(stride);
    let size = |n: i128| format!("`size {a} = {}`", stride * n + c);
    let mut fixes = if n_down >= n_min {
        format!("write {} or {}", size(n_down), size(n_up))
    } else {
        format!("write {}, the shortest it can be", size(n_up))
    };
    // The output_padding that gives exactly this length, if one does: one below the
    // stride, if any (a larger one gives the same lengths with a shorter input).
    match (0..stride).find(|&p| fits(p)) {
        Some(0) => fixes.push_str(", or remove the output_padding"),
        Some(fix) => fixes.push_str(&format!(", or `output_padding = {fix}`")),
        None => {}
    }
    let mut params = vec![format!("stride {}", window.stride)];
    if pads > 0 {
        params.push(format!("pads ({lo}, {hi})"));
    }
    if window.dilation > 1 {
        params.push(format!(
            "window '{k}' of {taps} tap{} at dilation {} (spanning {span})",
            plural(taps),
            window.dilation
        ));
    } else {
        params.push(format!("window '{k}' of {taps} tap{}", plural(taps)));
    }
    params.push(format!("output_padding {}", window.output_padding));
    let last = params.pop().unwrap_or_default();
    let mut formula = if stride == 1 {
        "(n - 1)".to_string()
    } else {
        format!("(n - 1)*{stride}")
    };
    if pads > 0 {
        formula.push_str(&format!(" - {pads}"));
    }
    formula.push_str(&format!(" + {span}"));
    if padding > 0 {
        formula.push_str(&format!(" + {padding}"));
    }
    let slope = if stride == 1 {
        "n".to_string()
    } else {
        format!("{stride}n")
    };
    let simple = match c {
        0 => slope,
        c if c > 0 => format!("{slope} + {c}"),
        c => format!("{slope} - {}", -c),
    };
    Some((false, format!(
        "no input gives `{name}.{a}` the length {len} fixed here: with {} and {last}, an input of length n \
         gives it the length {formula} = {simple}; {fixes}",
        params.join(", "),
    )))
}
