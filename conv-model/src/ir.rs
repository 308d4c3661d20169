//! The IR: contractions whose inputs are read through affine (window) accesses, and the
//! program of one kernel: its forward contraction and every derived gradient.

use crate::kernel::{Kernel, Window};

/// What an input of a contraction reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Source {
    /// An operand of the kernel, by position.
    Operand(usize),
    /// The upstream gradient, shaped like the forward output (and read through the
    /// output's windows, if it has any).
    GradOutput,
}

/// How one physical dimension of an input is indexed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Index {
    /// By the value of an axis.
    Axis(char),
    /// Through a window: `axis*stride + window*dilation - pad_lo`, with the border
    /// filled as `mode` says.
    Window(Window),
}

/// One input of a contraction.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Access {
    pub source: Source,
    /// Its subscript in the contraction (the axes of its view).
    pub view: Vec<char>,
    /// How each dimension of the tensor in memory is indexed.
    pub dims: Vec<Index>,
}

/// `output[out] = sum over the other axes of the product of the inputs`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Contraction {
    pub inputs: Vec<Access>,
    /// The result's axes. An axis that no input has is a broadcast: the result does not
    /// vary along it and its extent comes from the tensor the result stands for.
    pub output: Vec<char>,
}

impl Contraction {
    /// The einsum text, e.g. `"ndhw,dckj->nchwkj"`.
    pub fn einsum(&self) -> String {
        let inputs: Vec<String> = self
            .inputs
            .iter()
            .map(|a| a.view.iter().collect())
            .collect();
        format!(
            "{}->{}",
            inputs.join(","),
            self.output.iter().collect::<String>()
        )
    }

    /// Result axes that no input has.
    pub fn broadcast_axes(&self) -> Vec<char> {
        self.output
            .iter()
            .copied()
            .filter(|a| !self.inputs.iter().any(|i| i.view.contains(a)))
            .collect()
    }
}

/// Folding a gradient of a view back onto the tensor it was unfolded from, in gather
/// form: each input position `p` sums the view entries `(a, k)` whose padded position
/// `a*stride + k*dilation` is a copy of `p`. Because `stride` and `dilation` are known,
/// the taps `k` that can meet a padded position `q` depend only on `q mod stride`:
/// they are `k ≡ inverse * (q / gcd) (mod step)` when `gcd` divides `q`, none otherwise.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FoldAxis {
    pub window: Window,
    /// gcd(stride, dilation).
    pub gcd: usize,
    /// stride / gcd: the distance between taps of one phase.
    pub step: usize,
    /// The inverse of dilation / gcd modulo step.
    pub inverse: usize,
}

impl FoldAxis {
    /// The first tap that reaches padded position `q`, if any (the others follow every `step`).
    pub fn first_tap(&self, q: usize) -> Option<usize> {
        if q % self.gcd != 0 {
            return None;
        }
        let residue = (q / self.gcd) % self.step;
        Some(((residue as u128 * self.inverse as u128) % self.step as u128) as usize)
    }
}

/// What a derived contraction computes: the gradient with respect to an operand or to
/// the bias.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Wrt {
    /// The operand at this position of the kernel's operand list (from 0).
    Operand(usize),
    /// The bias, for a kernel that declares one.
    Bias,
}

/// The gradient of the loss with respect to one operand or the bias.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Gradient {
    pub wrt: Wrt,
    /// For an unfolded operand, the gradient of its view (output = its view subscript).
    /// For a kernel with windows on its output, `grad_y` is read through them: the
    /// gradient of an input of a fold is an unfold.
    pub contraction: Contraction,
    /// The folds back through the operand's unfolds, one per unfolded axis.
    pub folds: Vec<FoldAxis>,
}

/// One kernel, lowered: forward and every gradient.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Program {
    pub kernel: Kernel,
    /// The forward contraction; its result is the output's view.
    pub forward: Contraction,
    /// For windows on the output: the folds of the forward contraction's result onto the
    /// output, one per window (empty otherwise).
    pub folds: Vec<FoldAxis>,
    pub gradients: Vec<Gradient>,
}

impl Program {
    pub fn gradient(&self, wrt: Wrt) -> Option<&Gradient> {
        self.gradients.iter().find(|g| g.wrt == wrt)
    }
}
