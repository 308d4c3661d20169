//! Stand-ins for the module of a kernel with errors (as thiserror's fallback does), so
//! that code using it type-checks and the user sees the kernel's errors, not a cascade
//! of "cannot find function `forward`".

use super::names::{ident, nd};
use crate::ast::Statement;
use crate::parse::ParsedKernel;
use proc_macro2::TokenStream;
use quote::{format_ident, quote};

pub(crate) fn stub(kernel: &ParsedKernel) -> TokenStream {
    let vis = &kernel.vis;
    let ast = &kernel.ast;
    let name = ident(&ast.name.value);
    let nd = nd();
    let has_bias = ast
        .statements
        .iter()
        .any(|s| matches!(s, Statement::Bias { .. }));
    let elem = match ast.statements.iter().find_map(|s| match s {
        Statement::Dtype { name, .. } => Some(name.value.as_str()),
        _ => None,
    }) {
        Some("f64") => quote!(f64),
        _ => quote!(f32),
    };
    // Every function takes every operand: beyond the most a kernel may have (an error
    // already), the stubs take the first ones, or they would grow with the square of
    // thousands of operands.
    let declared = &ast.operands[..ast.operands.len().min(crate::check::MAX_OPERANDS)];
    let generics: Vec<_> = (0..declared.len())
        .map(|i| format_ident!("T{}", i))
        .collect();
    let params: Vec<TokenStream> = (0..declared.len())
        .map(|i| {
            let (arg, t) = (format_ident!("arg{}", i), &generics[i]);
            quote!(#arg: #t)
        })
        .collect();
    // Field and function names: each operand name once, none that clashes with the bias.
    let mut operands = Vec::new();
    for name in declared {
        let ident = ident(&name.value);
        if name.value != "bias" && name.value != "grad_y" && !operands.contains(&ident) {
            operands.push(ident);
        }
    }
    let bias_param = has_bias.then(|| quote!(bias: B,));
    let bias_generic = has_bias.then(|| quote!(B,));
    let bias_field = has_bias.then(|| quote!(pub bias: #nd::ArrayD<#elem>,));
    let grads = operands.iter().map(|o| {
        let f = format_ident!("grad_{}", o);
        quote! {
            pub fn #f<#(#generics,)* G>(#(#params,)* grad_y: G) -> Result {
                unreachable!()
            }
        }
    });
    let grad_bias = has_bias.then(|| {
        quote! {
            pub fn grad_bias<G>(grad_y: G) -> #nd::ArrayD<#elem> {
                unreachable!()
            }
        }
    });
    quote! {
        #[allow(unused_variables, dead_code, clippy::all)]
        #vis mod #name {
            type Result<T = #nd::ArrayD<#elem>> = ::core::result::Result<T, ::conv_runtime::ShapeError>;
            pub const SPEC: &str = "";
            pub const DERIVATION: &str = "";
            pub const SOURCE: &str = "";
            pub type Elem = #elem;
            pub struct Grads { #(pub #operands: #nd::ArrayD<#elem>,)* #bias_field }
            pub struct Kernel;
            pub fn forward<#(#generics,)* #bias_generic>(#(#params,)* #bias_param) -> Result {
                unreachable!()
            }
            pub fn backward<#(#generics,)* G>(#(#params,)* grad_y: G) -> Result<Grads> {
                unreachable!()
            }
            #(#grads)*
            #grad_bias
        }
    }
}
