//! The error a kernel returns for arguments of the wrong shape.

use std::fmt;

/// Why arguments do not fit a kernel. Every variant names the operand and, where one
/// is at fault, the axis, with the expected and the actual extent.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ShapeError {
    /// The kernel takes `expected` operands but was given `actual`.
    OperandCount { expected: usize, actual: usize },
    /// An argument has the wrong number of axes.
    Rank {
        operand: String,
        expected: usize,
        actual: usize,
    },
    /// An axis has the wrong extent; `because` says where the expected extent comes from.
    Extent {
        operand: String,
        axis: char,
        expected: usize,
        actual: usize,
        because: String,
    },
    /// The padded input is shorter than one window.
    WindowTooLong {
        operand: String,
        axis: char,
        window: char,
        span: usize,
        padded: usize,
    },
    /// A window axis of extent 0.
    EmptyWindow {
        operand: String,
        axis: char,
        window: char,
    },
    /// A reflect, circular or replicate pad that the input is too short for.
    PadTooLarge {
        operand: String,
        axis: char,
        mode: &'static str,
        pad: usize,
        len: usize,
    },
    /// A length or element count that does not fit in memory (or in usize).
    TooLarge { operand: String, what: String },
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
            ShapeError::TooLarge { operand, what } => write!(f, "{operand}: {what} is too large"),
        }
    }
}

impl std::error::Error for ShapeError {}
