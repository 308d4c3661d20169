//! What generated code calls. Not a stable API: only `conv_kernel!` output uses it.

mod buffers;
pub mod lowered;
mod output;
mod resolve;

pub use crate::kernel::AsPasses;
pub use crate::lowered::{Call, Tensor};
pub use crate::padding::{copies, source as padded_source};
pub use crate::second_order::{double_backward, jvp, Cotangents};
pub use crate::shapes::{check_output, check_tensor, Extents};
pub use crate::trace::Trace;
pub use buffers::{
    bias_values, contiguous, exactly, fixed_rank, fixed_shape, flat, into_array, into_dim,
    write_into,
};
pub use conv_model as model;
pub use conv_model::kernel::{Geometry, PadMode};
pub use conv_model::layout::row_major_array as strides;
pub use ndarray;
pub use output::Output;
pub use resolve::{output_extents, resolve};
