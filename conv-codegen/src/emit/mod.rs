//! Code generation: one module per kernel, or the errors plus stub items.

mod api;
mod facts;
mod higher;
mod kernels;
mod names;
mod nest;
mod stub;

use crate::parse::{parse_tokens, ParsedKernel, Spans};
use crate::{compile, ir::Program, text};
use proc_macro2::TokenStream;
use quote::quote;

/// Expands the body of a `conv_kernel! { ... }` invocation.
pub fn expand(tokens: TokenStream) -> TokenStream {
    let parsed = parse_tokens(tokens);
    let mut errors = parsed.errors;
    let mut items = TokenStream::new();
    let mut names: Vec<String> = Vec::new();
    for kernel in &parsed.kernels {
        let name = &kernel.ast.name;
        if names.contains(&name.value) {
            errors.push(syn::Error::new(
                parsed.spans.span(name.loc),
                format!(
                    "a kernel named `{}` is already declared in this invocation: rename one",
                    name.value
                ),
            ));
            continue;
        }
        names.push(name.value.clone());
        match compile(&kernel.ast) {
            Ok(program) => items.extend(module(kernel, &program)),
            Err(diagnostics) => {
                errors.extend(diagnostics.iter().map(|d| error_at(&parsed.spans, d)));
                items.extend(stub::stub(kernel));
            }
        }
    }
    let errors = errors.iter().map(syn::Error::to_compile_error);
    quote! { #(#errors)* #items }
}

fn error_at(spans: &Spans, diagnostic: &crate::diag::Diagnostic) -> syn::Error {
    syn::Error::new(spans.span(diagnostic.loc), &diagnostic.message)
}

fn module(kernel: &ParsedKernel, program: &Program) -> TokenStream {
    let ParsedKernel { attrs, vis, .. } = kernel;
    let name = syn::Ident::new(&program.kernel.name, proc_macro2::Span::call_site());
    let spec = &program.kernel.spec;
    let source = crate::source::kernel_source(&program.kernel);
    let derivation = text::derivation(program);
    let derived = crate::facts::Facts::derive(program.clone());
    let facts = facts::facts(&derived);
    let derivation_doc = std::iter::once(" ```text".to_string())
        .chain(derivation.lines().map(|line| format!(" {line}")))
        .chain(std::iter::once(" ```".to_string()));
    let elem = elem(&program.kernel);
    let private = names::private();
    let api = api::api(program);
    let higher = higher::higher(&program.kernel);
    let kernels = kernels::kernel_fns(&derived);
    quote! {
        #(#attrs)*
        #[doc = ""]
        #[doc = " # Derivation"]
        #(#[doc = #derivation_doc])*
        #vis mod #name {
            #![allow(unused_labels, non_snake_case)]

            /// The einsum spec this kernel was generated from.
            pub const SPEC: &str = #spec;
            /// The derived forward and gradient contractions, as text.
            pub const DERIVATION: &str = #derivation;
            /// The kernel as kernel text, which the reference interpreter can run.
            pub const SOURCE: &str = #source;
            /// The element type of operands, results and gradients.
            pub type Elem = #elem;

            /// What the macro derived: the checked declaration, every contraction, the
            /// plan as matrix products and the transposed gradient kernel.
            static FACTS: ::std::sync::LazyLock<#private::model::facts::Facts> =
                ::std::sync::LazyLock::new(|| #facts);

            /// What the macro derived about this kernel, which shapes are checked against
            /// and the fast path plans from.
            pub fn facts() -> &'static #private::model::facts::Facts {
                &FACTS
            }

            /// Every extent, from the operands' shapes, or the first mismatch.
            fn extents(shapes: &[&[usize]]) -> ::core::result::Result<::std::sync::Arc<#private::Extents>, ::conv_runtime::ShapeError> {
                #private::resolve(facts(), shapes)
            }

            #api
            #higher
            #kernels
        }
    }
}

/// `f32` or `f64`.
pub(crate) fn elem(kernel: &crate::kernel::Kernel) -> TokenStream {
    match kernel.dtype {
        crate::kernel::Dtype::F32 => quote!(f32),
        crate::kernel::Dtype::F64 => quote!(f64),
    }
}
