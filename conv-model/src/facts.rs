//! Everything the macro derives about one kernel, in the form the runtime receives it:
//! the checked declaration and every contraction ([`Program`]), the kernel's roles as a
//! batch of matrix products ([`GemmPlan`]) and the gradient of its windowed operand as a
//! forward convolution ([`Transposed`]). The macro emits these as Rust data; the fast
//! path plans from them and parses nothing.

use crate::gemm_plan::{gemm_plan, GemmPlan};
use crate::ir::Program;
use crate::kernel::{Algorithm, Kernel, Operand, Pad, PadMode, Window};
use crate::winograd::Winograd;

/// One kernel's derived facts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Facts {
    pub program: Program,
    /// The kernel as a batch of matrix products, if it is one.
    pub plan: Option<GemmPlan>,
    /// The gradient of the plan's windowed operand as a forward convolution of `grad_y`,
    /// if every window allows it.
    pub transposed: Option<Transposed>,
    /// For windows on the output: the unfold kernel whose passes are this kernel's.
    pub adjoint: Option<Adjoint>,
    /// Winograd's `F(4, 3)`, for kernels whose two windows may be 3x3 of stride 1
    /// ([`winograd_applies`]); the fast path takes it by shape.
    pub winograd: Option<Winograd>,
}

impl Facts {
    /// Derives the plan and the transposed kernel of a lowered program.
    pub fn derive(program: Program) -> Facts {
        let plan = gemm_plan(&program.kernel);
        let transposed = plan
            .as_ref()
            .and_then(|plan| Transposed::derive(&program.kernel, plan));
        let adjoint = Adjoint::derive(&program.kernel);
        let winograd = plan
            .as_ref()
            .filter(|plan| winograd_applies(&program.kernel, plan))
            .map(|_| Winograd::f4_3());
        Facts {
            program,
            plan,
            transposed,
            adjoint,
            winograd,
        }
    }

    /// The checked declaration.
    pub fn kernel(&self) -> &Kernel {
        &self.program.kernel
    }
}

/// Whether Winograd's `F(4x4, 3x3)` may run the kernel's forward pass and the transposed
/// kernel of its gradient: not opted out (`algorithm direct;`), two windows or more on
/// the plan's `A` (the fast path tiles the two innermost; a 3-D convolution's depth taps
/// are more channels of the planar product), of stride 1 (any dilation: a dilated
/// window's outputs of one phase are a dense convolution of that phase's inputs), whose
/// sizes are 3 or left to run time.
pub fn winograd_applies(kernel: &Kernel, plan: &GemmPlan) -> bool {
    let fits = |w: &Window| {
        w.operand == plan.a && w.stride == 1 && kernel.sizes.get(&w.window).is_none_or(|&n| n == 3)
    };
    kernel.algorithm == Algorithm::Auto
        && kernel.windows.len() >= 2
        && kernel.windows.iter().all(fits)
}

/// A kernel whose windows all sit on its output is the adjoint of an unfold kernel: for
/// `y = fold(x (x) w)`, the kernel `x' = unfold(g) (x) w` with the same windows on `g`
/// (shaped like `y`) and `x'` shaped like `x`. Its passes are this kernel's, roles swapped:
///
/// | this kernel | the adjoint |
/// |---|---|
/// | `forward(x, w)` | `grad_g(w, grad = x)` |
/// | `grad_x(w, grad_y)` | `forward(g = grad_y, w)` |
/// | `grad_w(x, grad_y)` | `grad_w(g = grad_y, grad = x)` |
///
/// so the fast path runs a transposed convolution's forward as a convolution's grad_x,
/// and its grad_x as a convolution's forward.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Adjoint {
    /// The unfold kernel's facts: operand 0 is `g`, operand 1 this kernel's `other`.
    pub facts: Box<Facts>,
    /// The operand of this kernel shaped like the adjoint's output.
    pub image: usize,
    /// The other operand, the adjoint's operand 1.
    pub other: usize,
}

impl Adjoint {
    /// `None` unless the kernel has two operands, windows on its output and none on its
    /// operands, and the adjoint is a batch of matrix products whose windowed operand is `g`.
    pub fn derive(kernel: &Kernel) -> Option<Adjoint> {
        let on_operands = kernel
            .windows
            .iter()
            .any(|w| w.operand != kernel.output_slot());
        if kernel.operands.len() != 2 || !kernel.folds_output() || on_operands {
            return None;
        }
        (0..2).find_map(|image| {
            let other = 1 - image;
            let adjoint = Kernel {
                name: format!("{}_adjoint", kernel.name),
                docs: Vec::new(),
                spec: String::new(),
                operands: vec![
                    Operand {
                        name: "g".into(),
                        view: kernel.output_view.clone(),
                        physical: kernel.output.clone(),
                    },
                    kernel.operands[other].clone(),
                ],
                output_name: kernel.operands[image].name.clone(),
                output_view: kernel.operands[image].physical.clone(),
                output: kernel.operands[image].physical.clone(),
                windows: kernel
                    .windows
                    .iter()
                    .map(|w| Window {
                        operand: 0,
                        output_padding: 0,
                        ..*w
                    })
                    .collect(),
                sizes: Default::default(),
                bias: None,
                dtype: kernel.dtype,
                algorithm: kernel.algorithm,
            };
            let adjoint = Kernel {
                spec: format!(
                    "{},{}->{}",
                    adjoint.operands[0].view.iter().collect::<String>(),
                    adjoint.operands[1].view.iter().collect::<String>(),
                    adjoint.output.iter().collect::<String>()
                ),
                ..adjoint
            };
            gemm_plan(&adjoint).filter(|p| p.a == 0)?;
            Some(Adjoint {
                facts: Box::new(Facts::derive(crate::derive::lower(&adjoint))),
                image,
                other,
            })
        })
    }
}

/// For windows of stride 1 along output axes,
/// `grad_a[.., h, ..] = sum over d, k of grad_y[.., d, h + lo - k*dil, ..] * b[d, .., k]`:
/// `grad_y` padded by `span - 1 - lo` before and `span - 1 - hi` after, unfolded with the
/// same dilation, correlated with the taps of `b` reversed. A forward convolution, which
/// the direct kernel runs with no panel and no fold. A window of stride S splits into S
/// such convolutions, one per phase of `grad_a`'s positions (see [`crate::phases`]).
///
/// The pads depend on each window's geometry (its span, and `pad = same`), known once
/// the extents are: [`Transposed::phases`] fills them in.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Transposed {
    /// `grad_y (x) b -> a`: operand 0 is `grad_y` (the output's axes, unfolded along
    /// every window's axis), operand 1 is `b`; its windows' pads are placeholders.
    pub kernel: Kernel,
    /// Its plan, whose `a` is `grad_y` and `b` the original `b`.
    pub plan: GemmPlan,
}

impl Transposed {
    /// The transposed kernel of `kernel`, whose plan is `plan`; `None` unless every
    /// window is on the plan's `a` and slides along an output axis. Strided windows are
    /// split by phase when the extents are known ([`Transposed::phases`]).
    pub fn derive(kernel: &Kernel, plan: &GemmPlan) -> Option<Transposed> {
        let a = &kernel.operands[plan.a];
        let b = &kernel.operands[plan.b];
        let fits = |w: &Window| w.operand == plan.a && kernel.output.contains(&w.axis);
        if kernel.windows.is_empty() || !kernel.windows.iter().all(fits) {
            return None;
        }
        let windows = kernel
            .windows
            .iter()
            .map(|w| Window {
                operand: 0,
                stride: 1,
                pad: Pad::Explicit { lo: 0, hi: 0 },
                mode: PadMode::Zeros,
                ..*w
            })
            .collect();
        let mut view = kernel.output.clone();
        view.extend(kernel.windows.iter().map(|w| w.window));
        let transposed = Kernel {
            name: format!("{}_grad_{}", kernel.name, a.name),
            docs: Vec::new(),
            spec: format!(
                "{},{}->{}",
                view.iter().collect::<String>(),
                b.view.iter().collect::<String>(),
                a.physical.iter().collect::<String>()
            ),
            operands: vec![
                Operand {
                    name: "grad_y".into(),
                    physical: kernel.output.clone(),
                    view,
                },
                b.clone(),
            ],
            output_name: a.name.clone(),
            output_view: a.physical.clone(),
            output: a.physical.clone(),
            windows,
            sizes: Default::default(),
            bias: None,
            dtype: kernel.dtype,
            algorithm: kernel.algorithm,
        };
        let plan = gemm_plan(&transposed).filter(|p| (p.a, p.b) == (0, 1))?;
        Some(Transposed {
            kernel: transposed,
            plan,
        })
    }
}
