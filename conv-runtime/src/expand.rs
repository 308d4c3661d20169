//! The code `conv_kernel!` generates for kernel text, pretty-printed.

/// The module the macro would generate for `text`, formatted like `cargo expand` shows it
/// (or the errors, as `compile_error!` items, for a bad kernel).
pub fn expanded_code(text: &str) -> Result<String, String> {
    let tokens: proc_macro2::TokenStream = text.parse().map_err(|e| format!("{e}"))?;
    let expanded = conv_codegen::expand(tokens);
    let file: syn::File =
        syn::parse2(expanded).map_err(|e| format!("generated code does not parse: {e}"))?;
    Ok(prettyplease::unparse(&file))
}
