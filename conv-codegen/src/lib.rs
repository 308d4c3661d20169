//! The compiler behind `conv_kernel!`: parse → check → IR → derive → emit.
//!
//! Only [`parse`] and [`emit`] know about tokens. The plain-Rust front end (the syntax
//! tree, the checks, the checked kernel, the IR, the derivation and the facts emitted for
//! the runtime) lives in conv-model, re-exported here under the same module names.

pub mod emit;
pub mod parse;

pub use conv_model::{
    ast, check, compile, derive, diag, einsum, facts, gemm_plan, ir, kernel, layout, source, text,
    winograd,
};
pub use emit::expand;
