//! The runtime of conv-kernels: the `conv_kernel!` macro, shape errors, the reference
//! interpreter that executes any kernel given as text, and independent gradient checks.

#[doc(hidden)]
#[path = "private.rs"]
pub mod __private;
pub mod check;
mod element;
mod error;
pub mod interp;
mod kernel;
pub mod kernel_text;
#[doc(hidden)]
pub mod lowered;
mod padding;
pub mod shapes;

pub use conv_codegen::ir::Wrt;
pub use conv_macros::conv_kernel;
pub use element::Element;
pub use error::ShapeError;
pub use interp::{Grads, Interpreter};
pub use kernel::Kernel;
pub use kernel_text::{compile_text, TextDiagnostic, TextErrors};
pub use lowered::set_min_macs as set_gemm_threshold;
mod expand;
pub mod explain;
pub use expand::expanded_code;
