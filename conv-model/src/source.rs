//! A checked kernel written back as kernel text, which parses to the same kernel. Generated
//! modules carry it, so the runtime can rebuild the kernel for shape checks and the
//! interpreter.

use crate::kernel::{Kernel, Pad};
use std::fmt::Write;

pub fn kernel_source(kernel: &Kernel) -> String {
    let names: Vec<&str> = kernel.operands.iter().map(|o| o.name.as_str()).collect();
    let mut out = format!(
        "{}({}) = {:?} {{",
        kernel.name,
        names.join(", "),
        kernel.spec
    );
    for w in &kernel.windows {
        let pad = match w.pad {
            Pad::Explicit { lo, hi } => format!("({lo}, {hi})"),
            Pad::Same => "same".into(),
        };
        let _ = write!(
            out,
            " unfold {}.{} by {}, stride = {}, dilation = {}, pad = {pad}, mode = {};",
            kernel.operands[w.operand].name,
            w.axis,
            w.window,
            w.stride,
            w.dilation,
            w.mode.name()
        );
    }
    if !kernel.sizes.is_empty() {
        let sizes: Vec<String> = kernel
            .sizes
            .iter()
            .map(|(a, n)| format!("{a} = {n}"))
            .collect();
        let _ = write!(out, " size {};", sizes.join(", "));
    }
    if let Some(axis) = kernel.bias {
        let _ = write!(out, " bias {axis};");
    }
    let _ = write!(out, " dtype {}; }}", kernel.dtype.name());
    out
}
