//! The language model of conv-kernels, shared by the compiler (conv-codegen) and the
//! runtime (conv-runtime): the syntax tree without tokens ([`ast`]), the checks
//! ([`check`]), the checked kernel ([`kernel`]), the IR ([`ir`]), the derivation of every
//! gradient ([`derive`](mod@derive)) and the facts the fast path plans from
//! ([`facts`]).
//!
//! Nothing here knows about tokens: the macro turns its input into an [`ast`] and emits
//! the [`facts::Facts`] it derives as Rust data, which the runtime plans from without
//! parsing anything again.

pub mod ast;
pub mod check;
pub mod derive;
pub mod diag;
pub mod einsum;
pub mod facts;
pub mod gemm_plan;
pub mod ir;
pub mod kernel;
pub mod layout;
pub mod phases;
pub mod source;
pub mod text;
pub mod winograd;

use diag::Diagnostic;
use ir::Program;

/// Checks and lowers a parsed kernel.
pub fn compile(ast: &ast::KernelAst) -> Result<Program, Vec<Diagnostic>> {
    check::check(ast).map(|kernel| derive::lower(&kernel))
}
