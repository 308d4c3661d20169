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

/// Which algorithms the fast path may use (`algorithm ...;`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Algorithm {
    /// Chosen by shape, Winograd's included (the default).
    Auto,
    /// Never Winograd: every product sums its terms as the definition does.
    Direct,
}

impl Algorithm {
    pub fn name(self) -> &'static str {
        match self {
            Algorithm::Auto => "auto",
            Algorithm::Direct => "direct",
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

/// `unfold T.axis by window, stride, dilation, pad, mode[, output_padding]`:
/// `view[.., a, .., k, ..] = padded[.., a*stride + k*dilation, ..]`.
///
/// On an operand the view is read (an unfold); on the output it is written, and where
/// windows overlap their values add up (a fold, the adjoint of an unfold).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Window {
    /// The tensor it slides over: an operand by position, or the output, whose slot is
    /// `operands.len()` ([`Kernel::output_slot`]).
    pub operand: usize,
    pub axis: char,
    pub window: char,
    pub stride: usize,
    pub dilation: usize,
    pub pad: Pad,
    pub mode: PadMode,
    /// On the output only: positions added after the last window's reach, as PyTorch's
    /// transposed convolution's `output_padding` (less than `max(stride, dilation)`).
    pub output_padding: usize,
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
    /// The output's name: `y` unless the header names it (`-> out`).
    pub output_name: String,
    /// The output's subscript in the spec: the axes of its view, window axes included
    /// when windows sit on it.
    pub output_view: Vec<char>,
    /// The axes of the output tensor: `output_view` without the window axes.
    pub output: Vec<char>,
    /// Every unfold, in declaration order, on the operands and on the output.
    pub windows: Vec<Window>,
    /// Extents fixed by `size`; for an unfolded axis this is the input length.
    pub sizes: BTreeMap<char, usize>,
    pub bias: Option<char>,
    pub dtype: Dtype,
    pub algorithm: Algorithm,
}

impl Kernel {
    /// The unfold whose window axis is `window`, if any.
    pub fn window_of(&self, window: char) -> Option<&Window> {
        self.windows.iter().find(|w| w.window == window)
    }

    /// The unfolds of operand `operand` (or of the output, for [`Kernel::output_slot`]),
    /// in declaration order.
    pub fn windows_on(&self, operand: usize) -> impl Iterator<Item = &Window> {
        self.windows.iter().filter(move |w| w.operand == operand)
    }

    /// The slot of the output in [`Window::operand`]: after every operand.
    pub fn output_slot(&self) -> usize {
        self.operands.len()
    }

    /// The windows on the output, in declaration order.
    pub fn output_windows(&self) -> impl Iterator<Item = &Window> {
        self.windows_on(self.output_slot())
    }

    /// Whether windows sit on the output: its forward pass is a fold.
    pub fn folds_output(&self) -> bool {
        self.output_windows().next().is_some()
    }

    /// The name of the tensor in slot `slot`: an operand's or the output's.
    pub fn tensor_name(&self, slot: usize) -> &str {
        match self.operands.get(slot) {
            Some(op) => &op.name,
            None => &self.output_name,
        }
    }

    /// Every axis of the spec, in order of first appearance.
    pub fn axes(&self) -> Vec<char> {
        let mut axes = Vec::new();
        for axis in self
            .operands
            .iter()
            .flat_map(|op| &op.view)
            .chain(&self.output_view)
        {
            if !axes.contains(axis) {
                axes.push(*axis);
            }
        }
        axes
    }

    /// Axes that are summed: in some input, not in the output's view.
    pub fn summed_axes(&self) -> Vec<char> {
        self.axes()
            .into_iter()
            .filter(|a| !self.output_view.contains(a))
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
    PadTooLarge { pad: usize, max: usize, len: usize },
    /// On the output: the pads remove more than the windows cover (a negative length).
    PadsTooLarge { reach: usize, pads: usize },
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
        self.mode_fits(len, lo, hi)?;
        Ok(Geometry {
            len,
            window,
            lo,
            hi,
            span,
            out,
        })
    }

    /// The geometry of a window on the output whose view is `view` long: the output's
    /// length is PyTorch's for a transposed convolution,
    /// `(view - 1)*stride - lo - hi + dilation*(window - 1) + 1 + output_padding`.
    /// `out` is `view`, which may be one less than an unfold of that length would give
    /// when `output_padding >= stride` (the positions past the last window's reach are
    /// never read).
    pub fn fold_geometry(&self, view: usize, window: usize) -> Result<Geometry, Misfit> {
        if window == 0 {
            return Err(Misfit::EmptyWindow);
        }
        let Pad::Explicit { lo, hi } = self.pad else {
            unreachable!("`pad = same` is refused on the output");
        };
        let span = (window - 1)
            .checked_mul(self.dilation)
            .and_then(|s| s.checked_add(1))
            .ok_or(Misfit::Overflow)?;
        let reach = view
            .saturating_sub(1)
            .checked_mul(self.stride)
            .and_then(|r| r.checked_add(span))
            .and_then(|r| r.checked_add(self.output_padding))
            .ok_or(Misfit::Overflow)?;
        let pads = lo.checked_add(hi).ok_or(Misfit::Overflow)?;
        let len = match reach.checked_sub(pads) {
            Some(len) if view > 0 => len,
            _ if view == 0 => 0,
            _ => return Err(Misfit::PadsTooLarge { reach, pads }),
        };
        self.mode_fits(len, lo, hi)?;
        Ok(Geometry {
            len,
            window,
            lo,
            hi,
            span,
            out: view,
        })
    }

    /// PyTorch's limits: reflect needs pad < len, circular pad <= len, replicate len >= 1.
    fn mode_fits(&self, len: usize, lo: usize, hi: usize) -> Result<(), Misfit> {
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
                    len,
                });
            }
        }
        Ok(())
    }
}
