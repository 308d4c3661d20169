//! The token-level helpers of the parse layer; the grammar itself is tested through
//! `parse_text` in `tests/parse.rs` and the `tests/errors_*.rs` files.

use super::{ends_kernel, ends_statement, split_kernels, split_statements, terminate};
use proc_macro2::TokenStream;

fn tokens(text: &str) -> TokenStream {
    text.parse().unwrap()
}

fn texts(chunks: Vec<TokenStream>) -> Vec<String> {
    chunks.iter().map(|c| c.to_string()).collect()
}

#[test]
fn kernels_end_at_their_block_or_semicolon() {
    let chunks = split_kernels(tokens(
        r#"#[doc = "a"] pub a(x) = "i->i" { bias i; } b(x) = "i->i"; c(x) = "i->i""#,
    ));
    assert_eq!(
        texts(chunks),
        [
            r#"# [doc = "a"] pub a (x) = "i->i" { bias i ; }"#,
            r#"b (x) = "i->i" ;"#,
            r#"c (x) = "i->i""#,
        ]
    );
}

#[test]
fn statements_end_at_semicolons_not_inside_groups() {
    let chunks = split_statements(tokens("unfold x.h by k, pad = (1, 2); size k = 3; bias d"));
    assert_eq!(
        texts(chunks),
        [
            "unfold x . h by k , pad = (1 , 2) ;",
            "size k = 3 ;",
            "bias d"
        ]
    );
}

#[test]
fn terminate_appends_a_semicolon_only_when_missing() {
    let (chunk, last) = terminate(tokens("bias d ;"), ends_statement);
    assert_eq!(
        (chunk.to_string(), last.is_some()),
        ("bias d ;".into(), false)
    );
    let (chunk, last) = terminate(tokens("a(x) = \"i->i\" {}"), ends_kernel);
    assert_eq!(chunk.to_string(), "a (x) = \"i->i\" { }");
    assert!(last.is_none());
    let (chunk, last) = terminate(tokens("bias d"), ends_statement);
    assert_eq!(chunk.to_string(), "bias d ;");
    assert!(last.is_some());
    let (chunk, last) = terminate(TokenStream::new(), ends_statement);
    assert!(chunk.is_empty() && last.is_none());
}
