//! The `conv_kernel!` macro. Use it through `conv_runtime::conv_kernel`, which documents it.

/// Generates specialised forward and backward kernels from einsum specs with windows.
/// See `conv_runtime::conv_kernel` for the language.
#[proc_macro]
pub fn conv_kernel(input: proc_macro::TokenStream) -> proc_macro::TokenStream {
    conv_codegen::expand(input.into()).into()
}
