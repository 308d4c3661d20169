//! The runtime of conv-kernels: the [`conv_kernel!`] macro, the [`Kernel`] trait every
//! generated kernel implements, [`ShapeError`], the reference [`Interpreter`] that
//! executes any kernel given as text, independent gradient [`check`]s and what the
//! explain tool shows ([`expanded_code`], [`explain`]).
//!
//! A convolution is an einsum once the input is viewed through sliding windows.
//! `conv_kernel!` takes such a spec, derives every gradient from it at compile time and
//! generates specialised loop nests for the forward pass and each gradient. A crate that
//! uses it depends on `conv-runtime` (and on `ndarray` 0.17 for the arrays) and nothing
//! else: generated code reaches what it needs through `::conv_runtime`.
//!
//! # Example
//!
//! ```
//! use conv_runtime::conv_kernel;
//! use ndarray::{Array1, Array4};
//!
//! conv_kernel! {
//!     /// 3x3 convolution, stride 2, zero padding 1, with a bias.
//!     pub conv2d(x, weight) = "nchwkj,dckj->ndhw" {
//!         unfold x.h by k, stride = 2, pad = 1;
//!         unfold x.w by j, stride = 2, pad = 1;
//!         bias d;
//!     }
//! }
//!
//! # fn main() -> Result<(), conv_runtime::ShapeError> {
//! let x = Array4::<f32>::ones((1, 3, 8, 8));
//! let weight = Array4::<f32>::ones((4, 3, 3, 3));
//! let bias = Array1::<f32>::zeros(4);
//! let y = conv2d::forward(&x, &weight, &bias)?;
//! // floor((8 + 1 + 1 - (3 - 1) - 1) / 2) + 1 = 4 positions along h and w.
//! assert_eq!(y.shape(), [1, 4, 4, 4]);
//! // A window in the interior sums 3 * 3 * 3 ones; one at the top-left corner reads
//! // 2 * 2 of its taps from x, the others from the zero padding.
//! assert_eq!((y[[0, 0, 1, 1]], y[[0, 0, 0, 0]]), (27.0, 12.0));
//!
//! let grads = conv2d::backward(&x, &weight, &y)?;
//! assert_eq!(grads.x.shape(), x.shape());
//! assert_eq!(grads.weight.shape(), weight.shape());
//! assert_eq!(grads.bias[0], y.sum() / 4.0);
//!
//! // The kernel against the reference interpreter and finite differences.
//! let report = conv_runtime::check::check(&conv2d::Kernel, &[x.shape(), weight.shape()], 7)?;
//! assert!(report.worst() < 1e-3, "{report}");
//! # Ok(())
//! # }
//! ```
//!
//! # Modules
//!
//! - [`check`]: finite differences, the adjoint identity, and [`check::check`], which
//!   holds a generated kernel to both and to the interpreter.
//! - [`interp`]: the reference interpreter ([`Interpreter`], [`Grads`]).
//! - [`kernel_text`]: kernel text compiled at run time ([`compile_text`]).
//! - [`shapes`]: every extent of a kernel from its arguments' shapes.
//! - [`explain`]: errors in kernel text shown as rustc shows them.

#![warn(missing_docs)]

#[doc(hidden)]
#[path = "private/mod.rs"]
pub mod __private;
pub mod check;
mod element;
mod error;
pub mod interp;
mod kernel;
#[cfg(feature = "text")]
pub mod kernel_text;
#[doc(hidden)]
pub mod lowered;
mod padding;
pub mod paths;
pub(crate) mod second_order;
pub mod shapes;
pub mod trace;

pub use conv_macros::conv_kernel;
/// The language model the macro derives kernels' facts in: checked kernels, the IR,
/// every derived contraction ([`model::facts::Facts`], which each generated module's
/// `facts()` returns).
pub use conv_model as model;
pub use conv_model::ir::Wrt;
pub use element::Element;
pub use error::ShapeError;
pub use interp::{Grads, Interpreter};
pub use kernel::{Kernel, Tangent};
#[cfg(feature = "text")]
pub use kernel_text::{compile_text, TextDiagnostic, TextErrors};
pub use second_order::DoubleGrads;
#[cfg(feature = "text")]
mod expand;
#[cfg(feature = "text")]
pub mod explain;
#[cfg(feature = "text")]
pub use expand::expanded_code;

/// Sets, for the calling thread, from how many multiply-adds a kernel that is a batch of
/// matrix products runs on the GEMM path (blocked im2col panels and SIMD GEMMs on rayon
/// threads) rather than as its generated loop nest.
///
/// The default is 16384; 0 sends every such kernel to the GEMM path, `usize::MAX` none.
/// Both paths give the same results up to rounding (they sum in different orders, and
/// the GEMM path multiplies zero padding where the loop nest skips it; see the README's
/// Numerics section). Tests use it to run both ways on the same shapes.
///
/// ```
/// use conv_runtime::conv_kernel;
/// use ndarray::Array2;
///
/// conv_kernel! {
///     matmul(a, b) = "ik,kj->ij";
/// }
///
/// let a = Array2::from_shape_fn((40, 50), |(i, k)| ((i * 7 + k * 3) % 11) as f32 - 5.0);
/// let b = Array2::from_shape_fn((50, 30), |(k, j)| ((k * 5 + j) % 13) as f32 - 6.0);
/// conv_runtime::set_gemm_threshold(0);
/// let gemm = matmul::forward(&a, &b)?;
/// conv_runtime::set_gemm_threshold(usize::MAX);
/// let loops = matmul::forward(&a, &b)?;
/// // Small integers: both sums are exact.
/// assert_eq!(gemm, loops);
/// assert_eq!(gemm, a.dot(&b));
/// # Ok::<(), conv_runtime::ShapeError>(())
/// ```
pub fn set_gemm_threshold(macs: usize) {
    lowered::set_min_macs(macs);
}

/// The examples in the documentation of [`conv_kernel!`], which lives in conv-macros
/// (conv-macros/src/conv_kernel_examples.md): run as doc tests here, since conv-macros'
/// own doc tests cannot link this crate, which the generated code calls.
#[cfg(doctest)]
#[doc = include_str!("../../conv-macros/src/conv_kernel_examples.md")]
pub struct ConvKernelExamples;
