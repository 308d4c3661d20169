//! conv-kernels: specialised convolution kernels and their exact gradients, derived from
//! einsum specs with window declarations. This root package holds the examples and the
//! integration tests; everything is re-exported from [`conv_runtime`].

pub use conv_runtime::*;

/// Every Rust snippet of README.md, compiled and run as a doc test (`cargo test --doc`);
/// blocks marked `text`, `sh` or `toml` are not Rust and are left alone.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
