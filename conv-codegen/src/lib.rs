//! The compiler behind `conv_kernel!`: parse → check → IR → derive → emit.
//!
//! Only [`parse`] and [`emit`] know about tokens; [`ast`], [`check`], [`kernel`],
//! [`ir`], [`derive`](mod@derive) and [`text`] are plain Rust, testable without the
//! macro boundary.

pub mod ast;
pub mod check;
pub mod derive;
pub mod diag;
pub mod einsum;
pub mod emit;
pub mod gemm_plan;
pub mod ir;
pub mod kernel;
pub mod parse;
pub mod source;
pub mod text;

pub use emit::expand;

use diag::Diagnostic;
use ir::Program;

/// Checks and lowers a parsed kernel.
pub fn compile(ast: &ast::KernelAst) -> Result<Program, Vec<Diagnostic>> {
    check::check(ast).map(|kernel| derive::lower(&kernel))
}
