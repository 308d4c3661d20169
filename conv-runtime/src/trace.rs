//! Verbose mode, as oneDNN's `ONEDNN_VERBOSE`: with `CONV_KERNELS_VERBOSE` set to
//! anything but `0` or empty, every pass of every generated kernel prints one line to
//! stderr when it ends:
//!
//! ```text
//! conv_kernels: conv2d grad_x path=transposed direct extents=c=64,d=64,h=56,j=3,k=3,n=8,w=56 time=12.345ms
//! ```
//!
//! The variable is read once, on the first kernel call.

use crate::lowered::Path;
use crate::shapes::Extents;
use conv_model::facts::Facts;
use conv_model::ir::Wrt;
use std::cell::Cell;
use std::fmt::Write;
use std::sync::OnceLock;
use std::time::Instant;

/// The environment variable that turns verbose mode on.
pub const VARIABLE: &str = "CONV_KERNELS_VERBOSE";

thread_local! {
    /// The path the fast path's dispatcher chose for the pass running on this thread.
    static LAST: Cell<Option<Path>> = const { Cell::new(None) };
}

fn enabled() -> bool {
    static ENABLED: OnceLock<bool> = OnceLock::new();
    *ENABLED.get_or_init(|| std::env::var_os(VARIABLE).is_some_and(|v| !v.is_empty() && v != "0"))
}

/// Notes the path chosen for the pass running on this thread.
pub(crate) fn record(path: Path) {
    if enabled() {
        LAST.with(|last| last.set(Some(path)));
    }
}

/// One pass of a generated kernel, timed while verbose mode is on; the line is printed
/// when it is dropped (after the pass, whether it succeeded or not).
pub struct Trace<'a> {
    started: Option<(Instant, &'a Facts, Option<Wrt>, &'a Extents)>,
}

impl<'a> Trace<'a> {
    /// Starts timing pass `wrt` (`None`: the forward pass) of a kernel.
    pub fn start(facts: &'a Facts, wrt: Option<Wrt>, extents: &'a Extents) -> Self {
        if !enabled() {
            return Trace { started: None };
        }
        LAST.with(|last| last.set(None));
        Trace {
            started: Some((Instant::now(), facts, wrt, extents)),
        }
    }
}

impl Drop for Trace<'_> {
    fn drop(&mut self) {
        let Some((start, facts, wrt, extents)) = self.started else {
            return;
        };
        let elapsed = start.elapsed();
        let path = LAST.with(Cell::take).unwrap_or(Path::LoopNest);
        eprintln!("{}", line(facts, wrt, extents, path, elapsed.as_secs_f64()));
    }
}

/// `conv_kernels: <kernel> <pass> path=<path> extents=<a=n,...> time=<ms>ms`.
pub(crate) fn line(
    facts: &Facts,
    wrt: Option<Wrt>,
    extents: &Extents,
    path: Path,
    seconds: f64,
) -> String {
    let kernel = facts.kernel();
    let mut text = format!(
        "conv_kernels: {} {} path={} extents=",
        kernel.name,
        pass_name(facts, wrt),
        path.name()
    );
    let axes: Vec<String> = extents
        .axes
        .iter()
        .map(|(a, n)| format!("{a}={n}"))
        .collect();
    text.push_str(&axes.join(","));
    let _ = write!(text, " time={:.3}ms", seconds * 1e3);
    text
}

/// `forward`, `grad_<operand>` or `grad_bias`.
pub fn pass_name(facts: &Facts, wrt: Option<Wrt>) -> String {
    match wrt {
        None => "forward".into(),
        Some(Wrt::Bias) => "grad_bias".into(),
        Some(Wrt::Operand(i)) => format!("grad_{}", facts.kernel().operands[i].name),
    }
}
