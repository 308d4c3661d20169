//! The error a kernel returns for arguments of the wrong shape.

use std::fmt;

/// Why arguments do not fit a kernel. Every variant names the operand and, where one
/// is at fault, the axis, with the expected and the actual extent.
///
/// Generated kernels, the [`Interpreter`](crate::Interpreter) and the
/// [checks](crate::check) return it instead of panicking: a wrong shape, a window longer
/// than its padded input, a reflect pad longer than the input allows, or a result too
/// large to allocate. It implements `Display` (one line, naming what to look at) and
/// `std::error::Error`, so `?` converts it into `Box<dyn Error>`.
///
/// # Example
///
/// ```
/// use conv_runtime::{conv_kernel, ShapeError};
/// use ndarray::Array3;
///
/// conv_kernel! {
///     conv1d(x, weight) = "nclk,dck->ndl" { unfold x.l by k; }
/// }
///
/// // The weight has 2 input channels, x has 3.
/// let x = Array3::<f32>::zeros((1, 3, 10));
/// let weight = Array3::<f32>::zeros((4, 2, 3));
/// let error = conv1d::forward(&x, &weight).unwrap_err();
/// assert_eq!(
///     error,
///     ShapeError::Extent {
///         operand: "weight".into(),
///         axis: 'c',
///         expected: 3,
///         actual: 2,
///         because: "as x.c".into(),
///     }
/// );
/// assert_eq!(
///     error.to_string(),
///     "weight: axis 'c' has extent 2, expected 3 (as x.c)"
/// );
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ShapeError {
    /// The kernel takes `expected` operands but was given `actual`. Only the entry points
    /// that take a slice of operands ([`Kernel`](crate::Kernel)'s methods, the
    /// [`Interpreter`](crate::Interpreter)) can be given the wrong number; a bias given
    /// to a kernel without one counts as one operand too many, and so does asking for
    /// the gradient of a bias or operand the kernel does not have.
    OperandCount {
        /// How many the kernel takes.
        expected: usize,
        /// How many it was given.
        actual: usize,
    },
    /// An argument has the wrong number of axes.
    Rank {
        /// The operand's name in the kernel, or `grad_y`, `bias` or `out`.
        operand: String,
        /// The number of axes it must have (for an operand: its subscript without the
        /// window axes).
        expected: usize,
        /// The number of axes it has.
        actual: usize,
    },
    /// An axis has the wrong extent; `because` says where the expected extent comes from.
    Extent {
        /// The argument at fault: an operand's name, `grad_y`, `bias` or `out`.
        operand: String,
        /// The axis letter, as in the spec.
        axis: char,
        /// The extent the other arguments (or a `size`) imply.
        expected: usize,
        /// The extent the argument has.
        actual: usize,
        /// Where `expected` comes from, e.g. `as x.c`, `as size k = 3`, `as the output
        /// length of x.h unfolded by 'k'` or `the output's extent`.
        because: String,
    },
    /// The padded input is shorter than one window.
    WindowTooLong {
        /// The unfolded operand.
        operand: String,
        /// The unfolded axis.
        axis: char,
        /// The window axis.
        window: char,
        /// How many padded positions one window covers: `dilation * (taps - 1) + 1`.
        span: usize,
        /// The length of the axis with its padding.
        padded: usize,
    },
    /// A window axis of extent 0.
    EmptyWindow {
        /// The unfolded operand.
        operand: String,
        /// The unfolded axis.
        axis: char,
        /// The window axis that has extent 0.
        window: char,
    },
    /// A reflect, circular or replicate pad that the input is too short for.
    PadTooLarge {
        /// The unfolded operand.
        operand: String,
        /// The unfolded axis.
        axis: char,
        /// The padding mode: `reflect` (needs pad < len), `circular` (pad <= len) or
        /// `replicate` (len >= 1).
        mode: &'static str,
        /// The larger of the two pads.
        pad: usize,
        /// The input's length along the axis.
        len: usize,
    },
    /// A window on the output whose pads remove more positions than the windows cover,
    /// which would leave the output a negative length.
    PadsTooLarge {
        /// The output's name.
        operand: String,
        /// The axis the window slides along.
        axis: char,
        /// The positions the windows cover: `(view - 1)*stride + span + output_padding`.
        reach: usize,
        /// The two pads together.
        pads: usize,
    },
    /// A length or element count that does not fit in memory (or in usize).
    TooLarge {
        /// The tensor: an operand's name, `y`, `grad_<operand>`, `bias` or `grad_bias`.
        operand: String,
        /// What is too large, e.g. `a tensor of shape [..]`.
        what: String,
    },
}

impl fmt::Display for ShapeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ShapeError::OperandCount { expected, actual } => {
                write!(f, "expected {expected} operands, got {actual}")
            }
            ShapeError::Rank {
                operand,
                expected,
                actual,
            } => write!(f, "{operand}: expected {expected} axes, got {actual}"),
            ShapeError::Extent {
                operand,
                axis,
                expected,
                actual,
                because,
            } => write!(
                f,
                "{operand}: axis '{axis}' has extent {actual}, expected {expected} ({because})"
            ),
            ShapeError::WindowTooLong {
                operand,
                axis,
                window,
                span,
                padded,
            } => write!(
                f,
                "{operand}: axis '{axis}' is {padded} long with padding, shorter than the window '{window}' spanning {span}"
            ),
            ShapeError::EmptyWindow {
                operand,
                axis,
                window,
            } => write!(
                f,
                "{operand}: the window '{window}' over axis '{axis}' has extent 0, expected at least 1"
            ),
            ShapeError::PadTooLarge {
                operand,
                axis,
                mode,
                pad,
                len,
            } => write!(
                f,
                "{operand}: axis '{axis}' of length {len} is too short for {mode} padding of {pad}"
            ),
            ShapeError::PadsTooLarge {
                operand,
                axis,
                reach,
                pads,
            } => write!(
                f,
                "{operand}: along axis '{axis}' the windows cover {reach} positions and the pads remove {pads}: the input is too short for these pads"
            ),
            ShapeError::TooLarge { operand, what } => write!(f, "{operand}: {what} is too large"),
        }
    }
}

impl std::error::Error for ShapeError {}
