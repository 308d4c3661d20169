//! Which path each pass of a kernel takes for given shapes, and why: the row of the fast
//! path's table that applies (`conv-explain --extents` prints it; `CONV_KERNELS_VERBOSE`
//! prints the path of every call as it runs).

use crate::lowered::{self, Call};
use crate::shapes::resolve;
use crate::ShapeError;
use conv_model::facts::Facts;
use std::fmt;

/// How one pass runs for given shapes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PassPath {
    /// `forward`, `grad_<operand>` or `grad_bias`.
    pub pass: String,
    /// The path: `loop nest`, `direct`, `direct, position tiles`, `direct, channels
    /// last`, `Winograd F(4x4, 3x3)`, `transposed direct`, `direct, adjoint of the copy`, `single column`,
    /// `merged GEMM`, `GEMM in place`, `panels + GEMM` or `bias sum`.
    pub path: &'static str,
    /// The shape rule that sent the pass there.
    pub rule: &'static str,
    /// The measurement behind the rule.
    pub reason: &'static str,
}

impl fmt::Display for PassPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: {}\n    when: {}\n    why: {}",
            self.pass, self.path, self.rule, self.reason
        )
    }
}

/// The path of the forward pass and of every gradient of the kernel with these facts
/// (a generated module's `facts()`) on operands of these shapes, with the calling
/// thread's threshold ([`set_gemm_threshold`](crate::set_gemm_threshold)).
///
/// ```
/// use conv_runtime::conv_kernel;
///
/// conv_kernel! {
///     conv(x, weight) = "nchwkj,dckj->ndhw" {
///         unfold x.h by k, pad = 1;
///         unfold x.w by j, pad = 1;
///     }
/// }
///
/// let paths = conv_runtime::paths::paths(conv::facts(), &[&[8, 64, 56, 56], &[64, 64, 3, 3]])?;
/// let names: Vec<(&str, &str)> = paths.iter().map(|p| (p.pass.as_str(), p.path)).collect();
/// let winograd = "Winograd F(4x4, 3x3)";
/// assert_eq!(
///     names,
///     [("forward", winograd), ("grad_x", winograd), ("grad_weight", winograd)]
/// );
/// // Tiny shapes stay on the loop nest.
/// let tiny = conv_runtime::paths::paths(conv::facts(), &[&[1, 2, 5, 5], &[3, 2, 3, 3]])?;
/// assert!(tiny.iter().all(|p| p.path == "loop nest"));
/// # Ok::<(), conv_runtime::ShapeError>(())
/// ```
pub fn paths(facts: &Facts, shapes: &[&[usize]]) -> Result<Vec<PassPath>, ShapeError> {
    let extents = resolve(facts.kernel(), shapes)?;
    let call = Call::new(facts, &extents);
    Ok(lowered::explain(call)
        .into_iter()
        .map(|(wrt, choice)| PassPath {
            pass: crate::trace::pass_name(facts, wrt),
            path: choice.path.name(),
            rule: choice.rule,
            reason: choice.reason,
        })
        .collect())
}
