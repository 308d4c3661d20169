//! conv-kernels: specialised convolution kernels and their exact gradients, derived from
//! einsum specs with window declarations. This root package holds the examples and the
//! integration tests; everything is re-exported from [`conv_runtime`].

pub use conv_runtime::*;
