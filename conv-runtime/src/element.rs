//! The element types kernels run on.

use std::fmt::{Debug, Display};

/// `f32` or `f64`: what an operand, a result or a gradient holds.
///
/// A kernel's `dtype` statement picks one (`f32` unless it says `dtype f64;`); the
/// generated module names it `Elem`, and [`Kernel::Elem`](crate::Kernel::Elem) is it.
/// The [`Interpreter`](crate::Interpreter) runs on either and accumulates in f64, and
/// the [checks](crate::check) convert through [`to_f64`](Element::to_f64) and
/// [`from_f64`](Element::from_f64). The trait is implemented for `f32` and `f64` only.
///
/// # Example
///
/// Code generic over the element type, as the checks are:
///
/// ```
/// use conv_runtime::Element;
///
/// /// The sum of the values, accumulated in f64, rounded back to `T`.
/// fn sum<T: Element>(values: &[T]) -> T {
///     T::from_f64(values.iter().map(|v| v.to_f64()).sum())
/// }
///
/// assert_eq!(sum(&[0.5f64, 0.25]), 0.75);
/// // Summed in f32, 2^24 + 1 + 1 would round to 2^24 at each step.
/// assert_eq!(sum(&[16_777_216.0f32, 1.0, 1.0]), 16_777_218.0);
/// assert_eq!(<f32 as Element>::NAME, "f32");
/// ```
pub trait Element:
    ndarray::LinalgScalar
    + Default
    + PartialOrd
    + Debug
    + Display
    + Send
    + Sync
    + 'static
    + crate::lowered::zmm::Zmm
{
    /// `"f32"` or `"f64"`, as written after `dtype`.
    const NAME: &'static str;
    /// Rounds an f64 to this type (the interpreter accumulates in f64).
    fn from_f64(value: f64) -> Self;
    /// The value as an f64, exactly (both types widen to f64 without rounding).
    fn to_f64(self) -> f64;
    /// `self * a + b` with one rounding (a fused multiply-add): what the fast kernels
    /// accumulate with, so that their results are the same on every CPU.
    fn mul_add(self, a: Self, b: Self) -> Self;
}

impl Element for f32 {
    const NAME: &'static str = "f32";
    fn from_f64(value: f64) -> Self {
        value as f32
    }
    fn to_f64(self) -> f64 {
        f64::from(self)
    }
    #[inline(always)]
    fn mul_add(self, a: Self, b: Self) -> Self {
        f32::mul_add(self, a, b)
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
    #[inline(always)]
    fn mul_add(self, a: Self, b: Self) -> Self {
        f64::mul_add(self, a, b)
    }
}
