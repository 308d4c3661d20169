//! A checked kernel written back as kernel text, which parses to the same kernel. Generated
//! modules carry it, so the runtime can rebuild the kernel for shape checks and the
//! interpreter.

use crate::kernel::{Algorithm, Kernel, Pad};
use std::fmt::Write;

pub fn kernel_source(kernel: &Kernel) -> String {
    let names: Vec<&str> = kernel.operands.iter().map(|o| o.name.as_str()).collect();
    let output = if kernel.folds_output() || kernel.output_name != "y" {
        format!(" -> {}", kernel.output_name)
    } else {
        String::new()
    };
    let mut out = format!(
        "{}({}){output} = {:?} {{",
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
            kernel.tensor_name(w.operand),
            w.axis,
            w.window,
            w.stride,
            w.dilation,
            w.mode.name()
        );
        if w.output_padding > 0 {
            out.pop();
            let _ = write!(out, ", output_padding = {};", w.output_padding);
        }
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
    let _ = write!(out, " dtype {};", kernel.dtype.name());
    if kernel.algorithm != Algorithm::Auto {
        let _ = write!(out, " algorithm {};", kernel.algorithm.name());
    }
    out.push_str(" }");
    out
}
