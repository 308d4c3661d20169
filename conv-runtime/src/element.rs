//! The element types kernels run on.

use std::fmt::{Debug, Display};

/// `f32` or `f64`: what an operand, a result or a gradient holds.
pub trait Element:
    ndarray::LinalgScalar + Default + PartialOrd + Debug + Display + Send + Sync + 'static
{
    /// `"f32"` or `"f64"`, as written after `dtype`.
    const NAME: &'static str;
    /// Rounds an f64 to this type (the interpreter accumulates in f64).
    fn from_f64(value: f64) -> Self;
    fn to_f64(self) -> f64;
}

impl Element for f32 {
    const NAME: &'static str = "f32";
    fn from_f64(value: f64) -> Self {
        value as f32
    }
    fn to_f64(self) -> f64 {
        f64::from(self)
    }
}

impl Element for f64 {
    const NAME: &'static str = "f64";
    fn from_f64(value: f64) -> Self {
        value
    }
    fn to_f64(self) -> f64 {
        self
    }
}
