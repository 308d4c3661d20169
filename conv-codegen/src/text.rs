//! The canonical text of a lowered kernel: the operands and their unfolds, the output
//! shape formula and every derived contraction. Generated modules carry it as
//! `DERIVATION`; the explain tool prints it.

use crate::ir::{FoldAxis, Gradient, Program, Wrt};
use crate::kernel::{Kernel, Pad, PadMode, Window};
use std::fmt::Write;

/// The whole derivation, one item per line.
pub fn derivation(program: &Program) -> String {
    let kernel = &program.kernel;
    let mut out = String::new();
    let names: Vec<&str> = kernel.operands.iter().map(|o| o.name.as_str()).collect();
    let _ = writeln!(
        out,
        "kernel {}({}) = \"{}\"",
        kernel.name,
        names.join(", "),
        kernel.spec
    );
    let _ = writeln!(out, "dtype {}", kernel.dtype.name());
    for (i, op) in kernel.operands.iter().enumerate() {
        let _ = writeln!(out, "operand {}: [{}]", op.name, axis_list(&op.physical));
        for window in kernel.windows_on(i) {
            let _ = writeln!(out, "  {}", unfold_text(kernel, window));
        }
    }
    if let Some(bias) = kernel.bias {
        let _ = writeln!(out, "bias: [{bias}]");
    }
    let _ = writeln!(out, "output y: [{}]", axis_list(&kernel.output));
    for &axis in &kernel.output {
        let _ = writeln!(out, "  {axis} = {}", extent_formula(kernel, axis));
    }
    for &axis in &kernel.summed_axes() {
        let _ = writeln!(out, "  summed {axis} = {}", extent_formula(kernel, axis));
    }
    let _ = writeln!(out, "forward: y = \"{}\"", program.forward.einsum());
    if let Some(axis) = kernel.bias {
        let _ = writeln!(out, "  + bias[{axis}]");
    }
    for gradient in &program.gradients {
        let _ = writeln!(out, "{}", gradient_text(kernel, gradient));
        for fold in &gradient.folds {
            let _ = writeln!(out, "  {}", fold_text(kernel, fold));
        }
        for axis in gradient.contraction.broadcast_axes() {
            let _ = writeln!(out, "  {axis}: broadcast (no input varies along it)");
        }
    }
    out
}

/// `unfold x.h by k, stride 2, dilation 1, pad (2, 2), zeros`
pub fn unfold_text(kernel: &Kernel, w: &Window) -> String {
    let pad = match w.pad {
        Pad::Explicit { lo, hi } => format!("({lo}, {hi})"),
        Pad::Same => "same".to_string(),
    };
    format!(
        "unfold {}.{} by {}, stride {}, dilation {}, pad {pad}, {}",
        kernel.operands[w.operand].name,
        w.axis,
        w.window,
        w.stride,
        w.dilation,
        w.mode.name()
    )
}

/// `grad_x = fold("ndhw,dckj->nchwkj")`, `grad_weight = "nchwkj,ndhw->dckj"`, `grad_bias = "ndhw->d"`.
pub fn gradient_text(kernel: &Kernel, gradient: &Gradient) -> String {
    let einsum = format!("\"{}\"", gradient.contraction.einsum());
    match gradient.wrt {
        Wrt::Bias => format!("grad_bias = {einsum}"),
        Wrt::Operand(i) if gradient.folds.is_empty() => {
            format!("grad_{} = {einsum}", kernel.operands[i].name)
        }
        Wrt::Operand(i) => {
            let axes: String = gradient.folds.iter().map(|f| f.window.axis).collect();
            format!("grad_{} = fold_{axes}({einsum})", kernel.operands[i].name)
        }
    }
}

/// How one position `p` of the input gathers its gradient, e.g.
/// `fold x.h by k: p gathers h = (q - k) / 2 for k ≡ q (mod 2), q = p + 2`.
pub fn fold_text(kernel: &Kernel, fold: &FoldAxis) -> String {
    let w = &fold.window;
    let (a, k) = (w.axis, w.window);
    let name = &kernel.operands[w.operand].name;
    let offset = match w.dilation {
        1 => format!("{k}"),
        d => format!("{k}*{d}"),
    };
    let position = match w.stride {
        1 => format!("{a} = q - {offset}"),
        s => format!("{a} = (q - {offset}) / {s}"),
    };
    let inv = match fold.inverse {
        1 => String::new(),
        i => format!("{i}*"),
    };
    let taps = match (fold.step, fold.gcd) {
        (1, 1) => format!("every {k}"),
        (1, g) => format!("every {k} if q ≡ 0 (mod {g})"),
        (s, 1) => format!("{k} ≡ {inv}q (mod {s})"),
        (s, g) => format!("{k} ≡ {inv}(q / {g}) (mod {s}) if q ≡ 0 (mod {g})"),
    };
    let copies = match (w.mode, w.pad) {
        (PadMode::Zeros, Pad::Explicit { lo, .. }) => format!("q = p + {lo}"),
        (PadMode::Zeros, Pad::Same) => "q = p + pad_lo".to_string(),
        (mode, _) => format!(
            "q = every padded position that is a {} copy of p",
            mode.name()
        ),
    };
    format!(
        "fold {name}.{a} by {k}: position p gathers {position} for {taps}, {copies}, 0 <= {a} < len({a})"
    )
}

/// The extent of an axis in terms of the arguments' shapes, e.g.
/// `floor((x.h + 4 - (k - 1) - 1) / 2) + 1` for an unfolded axis.
pub fn extent_formula(kernel: &Kernel, axis: char) -> String {
    if let Some(window) = kernel.windows.iter().find(|w| w.axis == axis) {
        let input = match kernel.sizes.get(&axis) {
            Some(n) => format!("{n}"),
            None => format!("{}.{axis}", kernel.operands[window.operand].name),
        };
        let k = window.window;
        let taps = match kernel.sizes.get(&k) {
            Some(n) => format!("{n}"),
            None => k.to_string(),
        };
        let span = match window.dilation {
            1 => format!("({taps} - 1)"),
            d => format!("{d}*({taps} - 1)"),
        };
        return match window.pad {
            Pad::Same if window.stride == 1 => input,
            Pad::Same => format!("ceil({input} / {})", window.stride),
            Pad::Explicit { lo, hi } => {
                let padded = match lo + hi {
                    0 => input,
                    p => format!("{input} + {p}"),
                };
                match window.stride {
                    1 => format!("{padded} - {span}"),
                    s => format!("floor(({padded} - {span} - 1) / {s}) + 1"),
                }
            }
        };
    }
    if let Some(n) = kernel.sizes.get(&axis) {
        return format!("{n} (size)");
    }
    match kernel
        .operands
        .iter()
        .find(|op| op.physical.contains(&axis))
    {
        Some(op) => format!("{}.{axis}", op.name),
        None => format!("len({axis})"),
    }
}

fn axis_list(axes: &[char]) -> String {
    axes.iter()
        .map(|a| a.to_string())
        .collect::<Vec<_>>()
        .join(", ")
}
