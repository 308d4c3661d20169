//! The one place that chooses how each pass runs: a table of rules, each with the path it
//! sends a pass to and the measurement that put it there. The first row whose rule holds
//! wins. `conv-explain --extents` prints the row that applies, and `CONV_KERNELS_VERBOSE`
//! prints it for every call (see [`crate::trace`]).

use super::call::Call;
use super::prepared::{self, Prepared};
use super::product::Product;
use super::single;
use conv_model::ir::Wrt;
use conv_model::kernel::Dtype;
use std::cell::Cell;
use std::fmt;
use std::sync::Arc;

/// Products with fewer multiply-adds than this run as the generated loop nest.
pub(crate) const MIN_MACS: usize = 1 << 14;

thread_local! {
    pub(crate) static THRESHOLD: Cell<usize> = const { Cell::new(MIN_MACS) };
}

/// Sets, for the calling thread, the number of multiply-adds from which a kernel that is a
/// batch of matrix products runs on the fast path (default 16384; 0: always,
/// `usize::MAX`: never). Tests use it to run both ways on the same shapes.
pub fn set_min_macs(macs: usize) {
    THRESHOLD.with(|t| t.set(macs));
}

/// The calling thread's threshold.
pub(crate) fn min_macs() -> usize {
    THRESHOLD.with(Cell::get)
}

/// One pass of a kernel.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Pass {
    Forward,
    /// The gradient of the plan's windowed operand (`A`).
    GradA,
    /// The gradient of the other operand (`B`).
    GradB,
    GradBias,
}

/// How a pass runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Path {
    /// The generated loop nest.
    LoopNest,
    /// The direct kernel: a padded copy, every tap a shifted stretch of it.
    Direct,
    /// The direct kernel's product on Winograd's `F(4x4, 3x3)` tiles: the forward pass,
    /// grad_b, and grad_a as the transposed kernel's forward.
    Winograd,
    /// The direct kernel's padded copy in tiles of 6 positions x 64 columns.
    PositionTiles,
    /// Position tiles over a channels-last layout, channels innermost.
    ChannelsLast,
    /// grad_a as a forward convolution of grad_y, by the direct kernel.
    Transposed,
    /// grad_a of one column through each point's padded copy: the adjoint of the
    /// direct kernel's fill and row sums.
    LocalAdjoint,
    /// Products of one column (depthwise), as multiply-adds along rows.
    SingleColumn,
    /// One matrix product over the rows of every outer point (few rows each).
    Merged,
    /// A matrix product reading the windowless operand in place.
    InPlace,
    /// im2col panels and a register-blocked GEMM (folded back for grad_a).
    Panels,
    /// A vectorised sum over every output axis but the bias's.
    BiasSum,
}

impl Path {
    pub fn name(self) -> &'static str {
        match self {
            Path::LoopNest => "loop nest",
            Path::Direct => "direct",
            Path::Winograd => "Winograd F(4x4, 3x3)",
            Path::PositionTiles => "direct, position tiles",
            Path::ChannelsLast => "direct, channels last",
            Path::Transposed => "transposed direct",
            Path::LocalAdjoint => "direct, adjoint of the copy",
            Path::SingleColumn => "single column",
            Path::Merged => "merged GEMM",
            Path::InPlace => "GEMM in place",
            Path::Panels => "panels + GEMM",
            Path::BiasSum => "bias sum",
        }
    }
}

/// The row of the table that applied.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Choice {
    pub path: Path,
    /// The shape rule that held.
    pub rule: &'static str,
    /// Why that path: the measurement behind the row.
    pub reason: &'static str,
}

impl fmt::Display for Choice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {} ({})", self.path.name(), self.rule, self.reason)
    }
}

/// What the rows are decided on, worked out once per call (the product and its direct
/// kernel are prepared once per kernel and shapes, and kept).
pub(crate) struct Situation {
    pass: Pass,
    macs: usize,
    threshold: usize,
    plan: bool,
    /// The prepared product, when the kernel is a batch of products at or above the
    /// threshold whose layout fits.
    pub prepared: Option<Arc<Prepared>>,
    /// The direct kernel applies to this pass's product.
    direct: bool,
    /// Strided windows, as the direct kernel splits them into phases.
    strided: bool,
    /// The direct kernel's tile covers a whole outer point.
    one_tile: bool,
    /// The transposed kernel's prepared product, with a direct kernel or channels-last
    /// position tiles (grad_a only).
    pub transposed: Option<Arc<Prepared>>,
    /// grad_a: the transposed kernel has a direct kernel.
    transposed_direct: bool,
    /// Channels-last position tiles run this pass's product (for grad_a, the transposed
    /// kernel's).
    channels_last: bool,
    /// Winograd's tiles run this pass's product (for grad_a, the transposed kernel's).
    winograd: bool,
    /// The bytes of the product's `B` (reduction x columns).
    b_bytes: usize,
    /// The product has one batch point and more than one column.
    position_tiles: bool,
    /// grad_a: the transposed kernel's product has one direct tile per outer point, one
    /// batch point and more than one column.
    transposed_tiles: bool,
    /// grad_a: one column, through each point's copy of `P` (`Direct::local_adjoint`).
    local_adjoint: bool,
}

impl Situation {
    fn new(call: Call<'_>, pass: Pass) -> Situation {
        let plan = call.plan();
        // The bias's gradient reads every element of grad_y once.
        let macs = match (pass, plan) {
            (Pass::GradBias, _) => call.output_shape().iter().product(),
            (_, Some(plan)) => Product::macs(plan, call.extents),
            (_, None) => 0,
        };
        let threshold = min_macs();
        let mut s = Situation {
            pass,
            macs,
            threshold,
            plan: plan.is_some(),
            prepared: None,
            direct: false,
            strided: false,
            one_tile: false,
            transposed: None,
            transposed_direct: false,
            channels_last: false,
            winograd: false,
            b_bytes: 0,
            position_tiles: false,
            transposed_tiles: false,
            local_adjoint: false,
        };
        if pass == Pass::GradBias {
            return s;
        }
        let Some(plan) = plan.filter(|_| macs > 0 && macs >= threshold) else {
            return s;
        };
        let (a, b) = (call.operand_shape(plan.a), call.operand_shape(plan.b));
        s.prepared = prepared::prepared(call.kernel(), plan, call.extents, &a, &b);
        let Some(p) = &s.prepared else {
            return s;
        };
        let element = match call.kernel().dtype {
            Dtype::F32 => 4,
            Dtype::F64 => 8,
        };
        s.b_bytes = p.product.k_len.saturating_mul(p.product.n_len) * element;
        let out_len = call.output_shape().iter().product();
        if let Some(direct) = p.direct(out_len) {
            s.direct = true;
            s.strided = direct.strided();
            s.one_tile = direct.one_tile();
            s.position_tiles = p.product.batch_points() == 1 && p.product.n_len > 1;
            s.local_adjoint = pass == Pass::GradA
                && direct.local_adjoint(&p.product, a.iter().product(), out_len);
        }
        s.channels_last = pass == Pass::Forward && p.channels_last(out_len).is_some();
        if pass == Pass::GradA {
            let a_len = a.iter().product();
            s.transposed = super::transposed::prepare(call, a_len);
            s.transposed_direct = s
                .transposed
                .as_ref()
                .is_some_and(|t| t.direct(a_len).is_some());
            s.channels_last = s
                .transposed
                .as_ref()
                .is_some_and(|t| t.channels_last(a_len).is_some());
            s.transposed_tiles = s.transposed.as_ref().is_some_and(|t| {
                let one_tile = t.direct(a_len).is_some_and(|d| d.one_tile());
                one_tile && t.product.batch_points() == 1 && t.product.n_len > 1
            });
        }
        if let (Some(w), Dtype::F32) = (&call.facts.winograd, call.kernel().dtype) {
            s.winograd = match (pass, &s.transposed) {
                (Pass::Forward | Pass::GradB, _) => p.winograd(out_len, w).is_some(),
                (Pass::GradA, Some(t)) => t.winograd(a.iter().product(), w).is_some(),
                _ => false,
            };
        }
        s
    }

    fn product(&self) -> Option<&Product> {
        self.prepared.as_ref().map(|p| &p.product)
    }
}

/// One row: for which passes, when, which path, and why.
struct Row {
    passes: &'static [Pass],
    path: Path,
    rule: &'static str,
    reason: &'static str,
    applies: fn(&Situation) -> bool,
}

const ALL: &[Pass] = &[Pass::Forward, Pass::GradA, Pass::GradB, Pass::GradBias];
const PRODUCTS: &[Pass] = &[Pass::Forward, Pass::GradA, Pass::GradB];

/// The table, in order: the first row that applies wins.
const ROWS: &[Row] = &[
    Row {
        passes: PRODUCTS,
        path: Path::LoopNest,
        rule: "not a batch of matrix products (one or three operands, windows on both, \
               an axis of one operand only)",
        reason: "only the generated loop nest runs any contraction",
        applies: |s| !s.plan,
    },
    Row {
        passes: ALL,
        path: Path::LoopNest,
        rule: "fewer multiply-adds (for grad_bias: elements of grad_y) than the threshold \
               (16384 by default, conv_runtime::set_gemm_threshold)",
        reason: "the loop nest has no set-up: the tutorial's tiny cases run 18-26x \
                 PyTorch's speed on it, where packing, padded copies and threads would \
                 cost more than the product",
        applies: |s| s.macs == 0 || s.macs < s.threshold,
    },
    Row {
        passes: &[Pass::GradBias],
        path: Path::BiasSum,
        rule: "a declared bias",
        reason: "a memory-bound sum: vectorised, split over threads at fixed places so \
                 the result does not depend on the number of threads",
        applies: |_| true,
    },
    Row {
        passes: PRODUCTS,
        path: Path::LoopNest,
        rule: "operand layouts the fast path cannot index (an axis repeated within one \
               operand, strides that do not fit)",
        reason: "only the loop nest indexes every layout",
        applies: |s| s.prepared.is_none(),
    },
    Row {
        passes: &[Pass::Forward],
        path: Path::PositionTiles,
        rule: "windows along the output's rows, one batch point, several columns, one \
               64-position tile per outer point, where one GEMM over every outer point's \
               rows would run (few positions: a 7x7 stage)",
        reason: "tiles of any 6 positions x 64 columns read the padded copy in place, \
                 with no im2col and no padding lanes; side by side, 3 alternating quick \
                 runs, ResNet 3x3 over 512 channels at 7x7, forward 105-110 -> 111-129 \
                 GFLOP/s (1 thread), 163-178 -> 208-234 (2) against the merged GEMM. \
                 Elsewhere slower: on long rows than the 64-position tiles (3x3 at 56x56: \
                 118-128 against 152-156), strided than the panels (U-Net's 2x2 stride-2 \
                 up-convolution grad_x 112 -> 77)",
        applies: |s| {
            s.position_tiles
                && s.one_tile
                && s.product()
                    .is_some_and(|p| super::merged::applies(p, false))
        },
    },
    Row {
        passes: &[Pass::GradA],
        path: Path::PositionTiles,
        rule: "grad_a of windows of stride 1 whose transposed kernel (a forward \
               convolution of grad_y) has one 64-position tile per outer point, one batch \
               point and several columns, where one GEMM over every outer point's rows \
               would run",
        reason: "the transposed kernel's forward pass in tiles of 6 positions: no panel \
                 and no fold; side by side, 2 alternating quick runs, ResNet 3x3 over 512 \
                 channels at 7x7, grad_x 104-106 -> 111-115 GFLOP/s (1 thread), 210-212 -> \
                 218-225 (2) against the merged GEMM",
        applies: |s| {
            s.transposed_tiles && s.product().is_some_and(|p| super::merged::applies(p, true))
        },
    },
    Row {
        passes: &[Pass::Forward, Pass::GradA],
        path: Path::ChannelsLast,
        rule: "channels last: the windowed operand's channels innermost and the output's \
               columns, windows along the output's rows (any stride; grad_a: stride 1, \
               through the transposed kernel, a forward convolution of grad_y), one batch \
               point, the columns filling three quarters of their blocks of 64",
        reason: "each tap's channels are consecutive in the padded copy, read by every \
                 position of a tile from the same cache lines, and a tile's rows of \
                 columns are the output's, with no im2col and no transpose; side by side, \
                 alternating quick runs against the panels, GFLOP/s on 1 thread / 2: \
                 NHWC 3x3 at 56x56, 64 channels, forward 119-120 -> 126-131 / 232-241 -> \
                 243-246, grad_x 109-110 -> 129-140 / 215-218 -> 243-250; at 28x28, 128 \
                 channels, grad_x 109-113 -> 144-152 / 197-205 -> 261-280; at 7x7, 512 \
                 channels, forward 43 -> 133-137 / 55-56 -> 265-284; stride 2 from 14x14, \
                 256 -> 512 channels, forward 55-56 -> 136 / 67-69 -> 237-258. Slower on \
                 stride 2 from 56x56 with 64 channels in (forward 124-127 -> 122-127 / \
                 232-241 -> 192-200): the padded copy is 4x the output's positions",
        applies: |s| s.channels_last,
    },
    Row {
        passes: PRODUCTS,
        path: Path::Merged,
        rule: "several outer points of few rows: rows x (k + n) < k x n, and with windows \
               one direct tile per outer point (and none along an outer axis)",
        reason: "a GEMM per outer point packs all of B for its few rows, grad_b's \
                 products are as shallow, the direct kernel reads all of B per tile; one \
                 GEMM over every outer point's rows copies A (im2col, or the fold) and C \
                 once instead",
        applies: |s| {
            (!s.direct || s.one_tile)
                && s.product()
                    .is_some_and(|p| super::merged::applies(p, s.pass == Pass::GradA))
        },
    },
    Row {
        passes: PRODUCTS,
        path: Path::Winograd,
        rule: "f32, two 3x3 windows of stride 1 (any dilation) along the output's rows \
               (a third window adds channels; for grad_a, zero padding no wider than 2), 16 \
               channels or more in and 32 out, one batch point, not `algorithm direct`",
        reason: "36 multiplications per 4x4 outputs and pair of channels instead of 144; \
                 on 1 thread, direct -> Winograd, direct-equivalent GFLOP/s: 3x3 over 256 \
                 channels at 14x14 forward 95 -> 141, grad_w 112 -> 140; ResNet 3x3 28 \
                 forward 107 -> 150, grad_w 124 -> 164",
        applies: |s| s.winograd,
    },
    Row {
        passes: &[Pass::Forward],
        path: Path::Panels,
        rule: "strided windows whose B (taps x columns) takes 512 KiB or more",
        reason: "1 thread, direct against GEMM, GFLOP/s: 3x3 stride 2, 128 -> 256 \
                 channels at 28x28 (B 1.1 MiB) 87 against 97-99 (Intel Xeon; 72 against \
                 83-85 on an AMD EPYC), 64 -> 128 channels at 56x56 (B 288 KiB) 89 against \
                 72; the direct tiles' columns split so that each group's B takes 256 KiB \
                 did not help (81-83)",
        applies: |s| s.direct && s.strided && s.b_bytes >= STRIDED_B_BYTES,
    },
    Row {
        passes: &[Pass::Forward, Pass::GradB],
        path: Path::Direct,
        rule: "windows along the output's contiguous rows",
        reason: "no im2col: register tiles of 6 channels x 64 positions over shifted \
                 stretches of one padded copy; measured against panels + GEMM: stem \
                 forward 1.7x, 3x3 grad_w 1.1-1.3x, conv3d grad_w 1.5x",
        applies: |s| s.direct,
    },
    Row {
        passes: &[Pass::GradA],
        path: Path::Transposed,
        rule: "windows of stride 1 along output axes, zero padding no wider than the \
               window's span less one (strided windows: split by phase, measured slower \
               than the panels)",
        reason: "grad_y convolved with the taps reversed is a forward convolution: the \
                 direct kernel runs it with no panel and no fold (which writes every \
                 window's column and adds it back)",
        applies: |s| s.transposed_direct,
    },
    Row {
        passes: &[Pass::GradA],
        path: Path::LocalAdjoint,
        rule: "one column (depthwise) whose points' padded copies the forward fills from \
               a table of row starts (any stride, any padding mode)",
        reason: "grad_y's rows times each tap added to the stretch of the copy the tap \
                 reads, contiguous whatever the stride, then the copy added back onto \
                 grad_x row by row, each point's part written once from L1: MobileNet's \
                 stride-2 grad_x 3.3-3.5 -> 4.1-4.4 GFLOP/s on 1 thread, 6.6-6.7 -> 8.1 on \
                 2, against the single-column path's spread of every run",
        applies: |s| s.local_adjoint,
    },
    Row {
        passes: PRODUCTS,
        path: Path::SingleColumn,
        rule: "one column (depthwise), rows innermost",
        reason: "a GEMM of one column leaves its register tile empty; multiply-adds \
                 along contiguous rows use every lane",
        applies: |s| s.product().is_some_and(single::applies),
    },
    Row {
        passes: PRODUCTS,
        path: Path::InPlace,
        rule: "no windows, or only windows of one tap, stride 1 and no padding (a 1x1 \
               convolution however it is spelled, a matrix product)",
        reason: "the operand already is the matrix: the GEMM reads and writes it in \
                 place, with no panel copy",
        applies: |s| s.product().is_some_and(|p| p.a_in_place.is_some()),
    },
    Row {
        passes: PRODUCTS,
        path: Path::Panels,
        rule: "any other batch of products",
        reason: "im2col panels sized for the L2 cache and a register-blocked SIMD GEMM \
                 run any window geometry and layout",
        applies: |_| true,
    },
];

/// Strided windows' forward pass goes through panels when B (taps x columns) takes this
/// many bytes or more: between the two layers measured on each side (288 KiB direct
/// faster, 1.1 MiB the GEMM), about where B and an outer point's phase planes, which
/// every direct tile reads, outgrow a 1-2 MiB L2 cache.
const STRIDED_B_BYTES: usize = 512 * 1024;

/// The path of `pass` for this call, and what it was decided on.
pub(crate) fn decide(call: Call<'_>, pass: Pass) -> (Choice, Situation) {
    let situation = Situation::new(call, pass);
    let choice = ROWS
        .iter()
        .find(|row| row.passes.contains(&pass) && (row.applies)(&situation))
        .map(|row| Choice {
            path: row.path,
            rule: row.rule,
            reason: row.reason,
        })
        .unwrap_or_else(|| unreachable!("the last rows apply to every pass"));
    crate::trace::record(choice.path);
    (choice, situation)
}

/// The pass that computes the gradient `wrt` of a kernel with this plan.
pub(crate) fn pass_of(call: Call<'_>, wrt: Option<Wrt>) -> Pass {
    match (wrt, call.plan()) {
        (None, _) => Pass::Forward,
        (Some(Wrt::Bias), _) => Pass::GradBias,
        (Some(Wrt::Operand(i)), Some(plan)) if i == plan.b => Pass::GradB,
        (Some(Wrt::Operand(_)), _) => Pass::GradA,
    }
}

/// The path each pass of the kernel takes for these extents: forward, then each gradient
/// in the order of the kernel's gradients, each with the row that chose it.
pub fn explain(call: Call<'_>) -> Vec<(Option<Wrt>, Choice)> {
    if let (Some(facts), Some(adjoint)) =
        (&call.facts.adjoint, super::adjoint::AdjointCall::new(call))
    {
        // Each pass is one of the adjoint's (see `lowered::adjoint`).
        let as_adjoint = |wrt: Option<Wrt>| match wrt {
            None => Some(Pass::GradA),
            Some(Wrt::Operand(i)) if i == facts.image => Some(Pass::Forward),
            Some(Wrt::Operand(_)) => Some(Pass::GradB),
            Some(Wrt::Bias) => None,
        };
        return std::iter::once(None)
            .chain(call.facts.program.gradients.iter().map(|g| Some(g.wrt)))
            .map(|wrt| match as_adjoint(wrt) {
                Some(pass) => (wrt, decide(adjoint.call(), pass).0),
                None => (wrt, decide(call, Pass::GradBias).0),
            })
            .collect();
    }
    std::iter::once(None)
        .chain(call.facts.program.gradients.iter().map(|g| Some(g.wrt)))
        .map(|wrt| (wrt, decide(call, pass_of(call, wrt)).0))
        .collect()
}

/// The path of `pass` for this call.
#[cfg(test)]
pub(crate) fn path_of(call: Call<'_>, pass: Pass) -> Path {
    decide(call, pass).0.path
}
