//! Which kernels run as matrix products: a two-operand contraction is a batch of GEMMs
//! `C[b][m][n] = sum_k A[b][m][k] * B[b][k][n]` once every axis has one role. The operand
//! read through windows (if any) is `A`; its windows are unrolled into panels (im2col),
//! and its gradient is folded back from the product of `grad_y` with `B`.

use crate::kernel::Kernel;

/// The roles of every axis in `y = A (x) B`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GemmPlan {
    /// The operand read through windows (or the first operand when none is).
    pub a: usize,
    /// The other operand.
    pub b: usize,
    /// Axes of A, B and the output: independent products.
    pub batch: Vec<char>,
    /// Axes of A and the output (unfolded axes among them): the rows of the product.
    pub m: Vec<char>,
    /// Axes of B and the output: the columns (none for a depthwise convolution: one column).
    pub n: Vec<char>,
    /// Axes of A and B, summed (window axes among them): the reduction.
    pub k: Vec<char>,
}

/// The plan for a kernel, or `None` when its contraction is not a batch of GEMMs (one or
/// three operands, windows on both operands, an axis only one operand has, ...).
pub fn gemm_plan(kernel: &Kernel) -> Option<GemmPlan> {
    if kernel.operands.len() != 2 || kernel.folds_output() {
        return None;
    }
    let windowed: Vec<usize> = (0..2)
        .filter(|&i| kernel.windows_on(i).next().is_some())
        .collect();
    let (a, b) = match windowed.as_slice() {
        [] => (0, 1),
        [a] => (*a, 1 - *a),
        _ => return None,
    };
    let (va, vb, out) = (
        &kernel.operands[a].view,
        &kernel.operands[b].view,
        &kernel.output,
    );
    let mut plan = GemmPlan {
        a,
        b,
        batch: Vec::new(),
        m: Vec::new(),
        n: Vec::new(),
        k: Vec::new(),
    };
    for axis in kernel.axes() {
        let role = match (va.contains(&axis), vb.contains(&axis), out.contains(&axis)) {
            (true, true, true) => &mut plan.batch,
            (true, false, true) => &mut plan.m,
            (false, true, true) => &mut plan.n,
            (true, true, false) => &mut plan.k,
            _ => return None,
        };
        role.push(axis);
    }
    // Rows and columns follow the output's order, so the product can write it in place.
    let in_output = |axes: &mut Vec<char>| axes.sort_by_key(|a| out.iter().position(|o| o == a));
    in_output(&mut plan.m);
    in_output(&mut plan.n);
    in_output(&mut plan.batch);
    let windows_fit = kernel
        .windows
        .iter()
        .all(|w| plan.m.contains(&w.axis) && plan.k.contains(&w.window));
    (windows_fit && !plan.m.is_empty() && !plan.k.is_empty()).then_some(plan)
}
