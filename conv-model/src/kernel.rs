//! The checked kernel: what a declaration means once every rule holds.

use std::collections::BTreeMap;

/// Element type of every operand, the result and the gradients.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dtype {
    F32,
    F64,
}

impl Dtype {
    pub fn name(self) -> &'static str {
        match self {
            Dtype::F32 => "f32",
            Dtype::F64 => "f64",
        }
    }
}

/// Padding of one unfolded axis.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Pad {
    /// `pad = P` (lo = hi = P), `pad = (lo, hi)` or `pad = valid` (0, 0).
    Explicit { lo: usize, hi: usize },
    /// `pad = same`: output length `ceil(len / stride)`, padding split as TensorFlow does.
    Same,
}

/// How the padded border is filled.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PadMode {
    Zeros,
    /// PyTorch's reflect: the edge element is not repeated.
    Reflect,
    Replicate,
    Circular,
}

impl PadMode {
    pub const ALL: [PadMode; 4] = [
        PadMode::Zeros,
        PadMode::Reflect,
        PadMode::Replicate,
        PadMode::Circular,
    ];

    pub fn name(self) -> &'static str {
        match self {
            PadMode::Zeros => "zeros",
            PadMode::Reflect => "reflect",
            PadMode::Replicate => "replicate",
            PadMode::Circular => "circular",
        }
    }
}

/// `unfold OP.axis by window, stride, dilation, pad, mode`:
/// `view[.., a, .., k, ..] = padded[.., a*stride + k*dilation, ..]`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Window {
    pub operand: usize,
    pub axis: char,
    pub window: char,
    pub stride: usize,
    pub dilation: usize,
    pub pad: Pad,
    pub mode: PadMode,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Operand {
    pub name: String,
    /// The operand's subscript in the spec: the axes of its (unfolded) view.
    pub view: Vec<char>,
    /// The axes of the tensor the caller passes: `view` without the window axes.
    pub physical: Vec<char>,
}

/// A kernel whose declaration passed every check.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Kernel {
    pub name: String,
    pub docs: Vec<String>,
    pub spec: String,
    pub operands: Vec<Operand>,
    pub output: Vec<char>,
    pub windows: Vec<Window>,
    /// Extents fixed by `size`; for an unfolded axis this is the input length.
    pub sizes: BTreeMap<char, usize>,
    pub bias: Option<char>,
    pub dtype: Dtype,
}

impl Kernel {
    /// The unfold whose window axis is `window`, if any.
    pub fn window_of(&self, window: char) -> Option<&Window> {
        self.windows.iter().find(|w| w.window == window)
    }

    /// The unfolds of operand `operand`, in declaration order.
    pub fn windows_on(&self, operand: usize) -> impl Iterator<Item = &Window> {
        self.windows.iter().filter(move |w| w.operand == operand)
    }

    /// Every axis of the spec, in order of first appearance.
    pub fn axes(&self) -> Vec<char> {
        let mut axes = Vec::new();
        for axis in self
            .operands
            .iter()
            .flat_map(|op| &op.view)
            .chain(&self.output)
        {
            if !axes.contains(axis) {
                axes.push(*axis);
            }
        }
        axes
    }

    /// Axes that are summed: in some input, not in the output.
    pub fn summed_axes(&self) -> Vec<char> {
        self.axes()
            .into_iter()
            .filter(|a| !self.output.contains(a))
            .collect()
    }
}

/// The geometry of one unfold for a given input length and window extent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Geometry {
    pub len: usize,
    pub window: usize,
    pub lo: usize,
    pub hi: usize,
    /// `dilation * (window - 1) + 1`: how many padded positions one window covers.
    pub span: usize,
    /// The view's length along the unfolded axis.
    pub out: usize,
}

/// Why an unfold does not fit an input.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Misfit {
    /// The window has no taps.
    EmptyWindow,
    /// An intermediate length does not fit in usize.
    Overflow,
    /// The padded input is shorter than one window.
    TooShort { padded: usize, span: usize },
    /// A reflect or circular pad longer than the input allows.
    PadTooLarge { pad: usize, max: usize },
}

impl Window {
    /// Padding, span and output length for an input of length `len` and a window of `window`
    /// taps: `out = floor((len + lo + hi - dilation*(window-1) - 1) / stride) + 1`.
    pub fn geometry(&self, len: usize, window: usize) -> Result<Geometry, Misfit> {
        if window == 0 {
            return Err(Misfit::EmptyWindow);
        }
        let span = (window - 1)
            .checked_mul(self.dilation)
            .and_then(|s| s.checked_add(1))
            .ok_or(Misfit::Overflow)?;
        let (lo, hi, out) = match self.pad {
            Pad::Explicit { lo, hi } => {
                let padded = len
                    .checked_add(lo)
                    .and_then(|l| l.checked_add(hi))
                    .ok_or(Misfit::Overflow)?;
                if padded < span {
                    return Err(Misfit::TooShort { padded, span });
                }
                (lo, hi, (padded - span) / self.stride + 1)
            }
            Pad::Same => {
                let out = len.div_ceil(self.stride);
                let reach = match out.checked_sub(1) {
                    None => 0,
                    Some(last) => last
                        .checked_mul(self.stride)
                        .and_then(|r| r.checked_add(span))
                        .ok_or(Misfit::Overflow)?,
                };
                let total = reach.saturating_sub(len);
                (total / 2, total - total / 2, out)
            }
        };
        // PyTorch's limits: reflect needs pad < len, circular pad <= len, replicate len >= 1.
        let max = match self.mode {
            PadMode::Reflect => Some(len.saturating_sub(1)),
            PadMode::Circular => Some(len),
            PadMode::Replicate if len == 0 => Some(0),
            PadMode::Zeros | PadMode::Replicate => None,
        };
        if let Some(max) = max {
            if lo.max(hi) > max {
                return Err(Misfit::PadTooLarge {
                    pad: lo.max(hi),
                    max,
                });
            }
        }
        Ok(Geometry {
            len,
            window,
            lo,
            hi,
            span,
            out,
        })
    }
}
