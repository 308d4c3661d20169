//! The code `conv_kernel!` generates for kernel text, pretty-printed.

/// The module the macro would generate for `text`, formatted like `cargo expand` shows it
/// (or the errors, as `compile_error!` items, for a bad kernel).
///
/// `text` is what may stand inside `conv_kernel! { ... }`. The `Err` case is a text that
/// does not split into Rust tokens. `conv-explain` prints this code after the derivation;
/// in a crate that uses the macro, `cargo expand` shows the same.
///
/// # Example
///
/// ```
/// let code = conv_runtime::expanded_code(r#"pub matmul(a, b) = "ik,kj->ij";"#)?;
/// assert!(code.contains("pub mod matmul {"), "{code}");
/// for item in ["pub fn forward<'a>(", "pub fn backward<'a>(", "pub fn grad_a<'a>(", "pub struct Grads"] {
///     assert!(code.contains(item), "no {item} in\n{code}");
/// }
///
/// // A kernel with an error expands to the error and stub items.
/// let code = conv_runtime::expanded_code(r#"k(a, b) = "ik,kz->ij";"#)?;
/// assert!(code.contains("compile_error!"), "{code}");
/// # Ok::<(), String>(())
/// ```
pub fn expanded_code(text: &str) -> Result<String, String> {
    let tokens: proc_macro2::TokenStream = text.parse().map_err(|e| format!("{e}"))?;
    let expanded = conv_codegen::expand(tokens);
    let file: syn::File =
        syn::parse2(expanded).map_err(|e| format!("generated code does not parse: {e}"))?;
    Ok(prettyplease::unparse(&file))
}
