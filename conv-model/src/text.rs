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
    let output = if kernel.folds_output() || kernel.output_name != "y" {
        format!(" -> {}", kernel.output_name)
    } else {
        String::new()
    };
    let _ = writeln!(
        out,
        "kernel {}({}){output} = \"{}\"",
        kernel.name,
        names.join(", "),
        kernel.spec
    );
    let _ = writeln!(out, "dtype {}", kernel.dtype.name());
    if kernel.algorithm != crate::kernel::Algorithm::Auto {
        let _ = writeln!(out, "algorithm {}", kernel.algorithm.name());
    }
    for (i, op) in kernel.operands.iter().enumerate() {
        let _ = writeln!(out, "operand {}: [{}]", op.name, axis_list(&op.physical));
        for window in kernel.windows_on(i) {
            let _ = writeln!(out, "  {}", unfold_text(kernel, window));
            if let Some(same) = same_pad_formula(kernel, window) {
                let _ = writeln!(out, "    {same}");
            }
        }
    }
    if let Some(bias) = kernel.bias {
        let _ = writeln!(out, "bias: [{bias}]");
    }
    let y = &kernel.output_name;
    let _ = writeln!(out, "output {y}: [{}]", axis_list(&kernel.output));
    for window in kernel.output_windows() {
        let _ = writeln!(out, "  {}", unfold_text(kernel, window));
    }
    for &axis in &kernel.output {
        let _ = writeln!(out, "  {axis} = {}", extent_formula(kernel, axis));
        if let Some(window) = kernel.output_windows().find(|w| w.axis == axis) {
            let _ = writeln!(
                out,
                "  {y}.{axis} = {}",
                fold_length_formula(kernel, window)
            );
        }
    }
    for &axis in &kernel.summed_axes() {
        let _ = writeln!(out, "  summed {axis} = {}", extent_formula(kernel, axis));
    }
    let _ = writeln!(out, "forward: {}", forward_text(program));
    for fold in &program.folds {
        let _ = writeln!(out, "  {}", fold_text(kernel, fold));
    }
    if let Some(axis) = kernel.bias {
        let _ = writeln!(out, "  + bias[{axis}]");
    }
    for gradient in &program.gradients {
        let _ = writeln!(out, "{}", gradient_text(kernel, gradient));
        for fold in &gradient.folds {
            let _ = writeln!(out, "  {}", fold_text(kernel, fold));
        }
        if gradient.wrt != Wrt::Bias {
            for window in kernel.output_windows() {
                let _ = writeln!(
                    out,
                    "  grad_{y} read through {}",
                    unfold_text(kernel, window)
                );
            }
        }
        for axis in gradient.contraction.broadcast_axes() {
            let _ = writeln!(out, "  {axis}: broadcast (no input varies along it)");
        }
    }
    out
}

/// `y = "nchwkj,dckj->ndhw"`, or `y = fold_ij("ncij,cdkl->ndijkl")` with windows on the output.
pub fn forward_text(program: &Program) -> String {
    let y = &program.kernel.output_name;
    let einsum = format!("\"{}\"", program.forward.einsum());
    if program.folds.is_empty() {
        format!("{y} = {einsum}")
    } else {
        let axes: String = program.folds.iter().map(|f| f.window.axis).collect();
        format!("{y} = fold_{axes}({einsum})")
    }
}

/// `unfold x.h by k, stride 2, dilation 1, pad (2, 2), zeros`
pub fn unfold_text(kernel: &Kernel, w: &Window) -> String {
    let pad = match w.pad {
        Pad::Explicit { lo, hi } => format!("({lo}, {hi})"),
        Pad::Same => "same".to_string(),
    };
    let output_padding = match w.output_padding {
        0 => String::new(),
        p => format!(", output_padding {p}"),
    };
    format!(
        "unfold {}.{} by {}, stride {}, dilation {}, pad {pad}{output_padding}, {}",
        kernel.tensor_name(w.operand),
        w.axis,
        w.window,
        w.stride,
        w.dilation,
        w.mode.name()
    )
}

/// The length of the output along an axis a window slides over, PyTorch's for a
/// transposed convolution: `(x.i - 1)*2 - 2 + (k - 1) + 1 + 1`.
fn fold_length_formula(kernel: &Kernel, w: &Window) -> String {
    if let Some(n) = kernel.sizes.get(&w.axis) {
        return format!("{n} (size)");
    }
    let view = match kernel
        .operands
        .iter()
        .find(|op| op.physical.contains(&w.axis))
    {
        Some(op) => format!("{}.{}", op.name, w.axis),
        None => format!("len({})", w.axis),
    };
    let Pad::Explicit { lo, hi } = w.pad else {
        unreachable!("`pad = same` is refused on the output")
    };
    let scaled = match w.stride {
        1 => format!("({view} - 1)"),
        s => format!("({view} - 1)*{s}"),
    };
    let pads = match lo as u128 + hi as u128 {
        0 => String::new(),
        p => format!(" - {p}"),
    };
    let padding = match w.output_padding {
        0 => String::new(),
        p => format!(" + {p}"),
    };
    format!("{scaled}{pads} + {} + 1{padding}", window_span(kernel, w))
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

/// How one position of the input gathers its gradient, e.g.
/// `fold x.h by k: position p_k gathers h = (q_k - k) / 2 for k ≡ q_k (mod 2), q_k = p_k + 2, 0 <= h < len(h)`:
/// input position `p_k` is copied to padded position `q_k`, which tap `k` of view
/// position `h` reads when `q_k = h*stride + k*dilation`. The positions are named after
/// the window, as in the generated code: unlike `p` and `q` they cannot be taken for
/// axes (single letters), and each unfold has its own window.
pub fn fold_text(kernel: &Kernel, fold: &FoldAxis) -> String {
    let w = &fold.window;
    let (a, k) = (w.axis, w.window);
    let (p, q) = (format!("p_{k}"), format!("q_{k}"));
    let name = &kernel.tensor_name(w.operand);
    let offset = match w.dilation {
        1 => format!("{k}"),
        d => format!("{k}*{d}"),
    };
    let position = match w.stride {
        1 => format!("{a} = {q} - {offset}"),
        s => format!("{a} = ({q} - {offset}) / {s}"),
    };
    let inv = match fold.inverse {
        1 => String::new(),
        i => format!("{i}*"),
    };
    let taps = match (fold.step, fold.gcd) {
        (1, 1) => format!("every {k}"),
        (1, g) => format!("every {k} if {q} ≡ 0 (mod {g})"),
        (s, 1) => format!("{k} ≡ {inv}{q} (mod {s})"),
        (s, g) => format!("{k} ≡ {inv}({q} / {g}) (mod {s}) if {q} ≡ 0 (mod {g})"),
    };
    let copies = copies_text(kernel, w);
    format!(
        "fold {name}.{a} by {k}: position {p} gathers {position} for {taps}, {copies}, 0 <= {a} < len({a})"
    )
}

/// The padded positions `q_k` that hold a copy of input position `p_k`: `q_k = p_k + lo`
/// and, for modes other than zeros, the border positions that repeat `p_k`, each with
/// the condition on `p_k` under which it exists (e.g. `q_k = 2 - p_k (1 <= p_k <= 2)` for
/// reflect). `pad = same` writes the pads as `pad_lo(x.h)` and `pad_hi(x.h)` (see
/// [`same_pad_formula`]).
fn copies_text(kernel: &Kernel, w: &Window) -> String {
    let k = w.window;
    let (p, q) = (format!("p_{k}"), format!("q_{k}"));
    let input = format!("{}.{}", kernel.tensor_name(w.operand), w.axis);
    let len = match kernel.sizes.get(&w.axis) {
        Some(&n) => Lin::constant(n as i128),
        None => Lin::symbol(&input),
    };
    let (lo, hi) = match w.pad {
        Pad::Explicit { lo, hi } => (Lin::constant(lo as i128), Lin::constant(hi as i128)),
        Pad::Same => (
            Lin::symbol(&format!("pad_lo({input})")),
            Lin::symbol(&format!("pad_hi({input})")),
        ),
    };
    let at = Lin::position();
    let one = Lin::constant(1);
    let show = |e: &Lin| e.render(&p);
    let mut copies = vec![format!("{q} = {}", show(&at.plus(&lo)))];
    // A side with no padding has no border to copy from.
    let (below, above) = (!lo.is_zero(), !hi.is_zero());
    match w.mode {
        PadMode::Zeros => {}
        PadMode::Reflect => {
            if below {
                let lo_ = show(&lo);
                copies.push(format!(
                    "{q} = {} (1 <= {p} <= {lo_})",
                    show(&lo.minus(&at))
                ));
            }
            if above {
                // q = lo + 2*(len - 1) - p, for len - 1 - hi <= p <= len - 2.
                let to = lo.plus(&len.times(2)).minus(&Lin::constant(2)).minus(&at);
                let first = show(&len.minus(&one).minus(&hi));
                let last = show(&len.minus(&Lin::constant(2)));
                copies.push(format!("{q} = {} ({first} <= {p} <= {last})", show(&to)));
            }
        }
        PadMode::Replicate => {
            if below {
                copies.push(format!("0 <= {q} < {} ({p} = 0)", show(&lo)));
            }
            if above {
                let end = len.plus(&lo);
                let (from, to) = (show(&end), show(&end.plus(&hi)));
                let last = show(&len.minus(&one));
                copies.push(format!("{from} <= {q} < {to} ({p} = {last})"));
            }
        }
        PadMode::Circular => {
            if below {
                let to = show(&at.plus(&lo).minus(&len));
                copies.push(format!("{q} = {to} ({p} >= {})", show(&len.minus(&lo))));
            }
            if above {
                let to = show(&at.plus(&lo).plus(&len));
                copies.push(format!("{q} = {to} ({p} < {})", show(&hi)));
            }
        }
    }
    copies.join(" or ")
}

/// How `pad = same` splits the padding of an unfolded axis, as TensorFlow does:
/// `pad(x.h) = ..., pad_lo(x.h) = floor(pad(x.h) / 2), pad_hi(x.h) = pad(x.h) - pad_lo(x.h)`
/// with `pad(x.h)` the total padding that makes the output `ceil(len / stride)` long. `None`
/// for explicit pads.
pub fn same_pad_formula(kernel: &Kernel, w: &Window) -> Option<String> {
    if w.pad != Pad::Same {
        return None;
    }
    let a = format!("{}.{}", kernel.tensor_name(w.operand), w.axis);
    let input = input_length(kernel, w);
    let span = window_span(kernel, w);
    let total = match w.stride {
        1 => span,
        s => format!("max(0, (ceil({input} / {s}) - 1)*{s} + {span} + 1 - {input})"),
    };
    Some(format!(
        "pad({a}) = {total}, pad_lo({a}) = floor(pad({a}) / 2), pad_hi({a}) = pad({a}) - pad_lo({a})"
    ))
}

/// The input length along an unfolded axis: its `size` or the operand's extent.
fn input_length(kernel: &Kernel, w: &Window) -> String {
    match kernel.sizes.get(&w.axis) {
        Some(n) => format!("{n}"),
        None => format!("{}.{}", kernel.tensor_name(w.operand), w.axis),
    }
}

/// `dilation * (window - 1)`: how far the last tap of a window is from the first.
fn window_span(kernel: &Kernel, w: &Window) -> String {
    let taps = match kernel.sizes.get(&w.window) {
        Some(n) => format!("{n}"),
        None => w.window.to_string(),
    };
    match w.dilation {
        1 => format!("({taps} - 1)"),
        d => format!("{d}*({taps} - 1)"),
    }
}

/// A small linear expression in the input position and named lengths, for the fold
/// text: `p_k + 2`, `2*x.h - 1 - p_k`. The position comes first when it is added, last
/// when it is subtracted.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Lin {
    /// The coefficient of the input position.
    position: i128,
    terms: Vec<(i128, String)>,
    constant: i128,
}

impl Lin {
    fn constant(c: i128) -> Lin {
        Lin {
            position: 0,
            terms: Vec::new(),
            constant: c,
        }
    }

    fn symbol(name: &str) -> Lin {
        Lin {
            terms: vec![(1, name.to_string())],
            ..Lin::constant(0)
        }
    }

    fn position() -> Lin {
        Lin {
            position: 1,
            ..Lin::constant(0)
        }
    }

    fn is_zero(&self) -> bool {
        *self == Lin::constant(0)
    }

    fn plus(&self, other: &Lin) -> Lin {
        let mut out = self.clone();
        out.position += other.position;
        for (c, name) in &other.terms {
            match out.terms.iter_mut().find(|(_, n)| n == name) {
                Some(term) => term.0 += c,
                None => out.terms.push((*c, name.clone())),
            }
        }
        out.terms.retain(|(c, _)| *c != 0);
        out.constant += other.constant;
        out
    }

    fn times(&self, k: i128) -> Lin {
        Lin {
            position: self.position * k,
            terms: self.terms.iter().map(|(c, n)| (c * k, n.clone())).collect(),
            constant: self.constant * k,
        }
    }

    fn minus(&self, other: &Lin) -> Lin {
        self.plus(&other.times(-1))
    }

    /// The expression with the input position called `position`.
    fn render(&self, position: &str) -> String {
        let mut parts: Vec<(i128, &str)> = Vec::new();
        if self.position > 0 {
            parts.push((self.position, position));
        }
        parts.extend(self.terms.iter().map(|(c, n)| (*c, n.as_str())));
        if self.constant != 0 {
            parts.push((self.constant, ""));
        }
        if self.position < 0 {
            parts.push((self.position, position));
        }
        if parts.is_empty() {
            return "0".to_string();
        }
        let mut out = String::new();
        for (i, (c, name)) in parts.into_iter().enumerate() {
            out.push_str(match (i, c < 0) {
                (0, true) => "-",
                (0, false) => "",
                (_, true) => " - ",
                (_, false) => " + ",
            });
            match (c.unsigned_abs(), name.is_empty()) {
                (m, true) => out.push_str(&m.to_string()),
                (1, false) => out.push_str(name),
                (m, false) => out.push_str(&format!("{m}*{name}")),
            }
        }
        out
    }
}

/// The extent of an axis in terms of the arguments' shapes, e.g.
/// `floor((x.h + 4 - (k - 1) - 1) / 2) + 1` for an unfolded axis.
pub fn extent_formula(kernel: &Kernel, axis: char) -> String {
    let on_operand = |w: &&Window| w.axis == axis && w.operand != kernel.output_slot();
    if let Some(window) = kernel.windows.iter().find(on_operand) {
        let input = input_length(kernel, window);
        let span = window_span(kernel, window);
        return match window.pad {
            Pad::Same if window.stride == 1 => input,
            Pad::Same => format!("ceil({input} / {})", window.stride),
            Pad::Explicit { lo, hi } => {
                // In u128: two pads near usize::MAX must not overflow the text.
                let padded = match lo as u128 + hi as u128 {
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
    let folded = kernel.output_windows().any(|w| w.axis == axis);
    if let Some(n) = kernel.sizes.get(&axis).filter(|_| !folded) {
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
