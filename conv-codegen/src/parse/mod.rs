//! The parse layer: tokens (from the macro or from kernel text) into [`KernelAst`]s.
//!
//! This is the only part of the front end that knows about tokens. It recovers from a
//! syntax error at the next kernel or the next statement, so one invocation reports all
//! its mistakes together.

mod header;
mod statement;

pub use header::MAX_ATTRIBUTE_TOKENS;

use crate::ast::{KernelAst, Loc};
use proc_macro2::{Delimiter, Span, TokenStream, TokenTree};

/// One kernel declaration: its syntax tree and the pieces only code generation needs.
pub struct ParsedKernel {
    pub ast: KernelAst,
    /// Every outer attribute, doc comments included, to be put on the generated module.
    pub attrs: Vec<syn::Attribute>,
    pub vis: syn::Visibility,
}

/// The kernels of one invocation, the syntax errors met, and the spans behind every [`Loc`].
#[derive(Default)]
pub struct Parsed {
    pub kernels: Vec<ParsedKernel>,
    pub errors: Vec<syn::Error>,
    pub spans: Spans,
}

/// Maps each [`Loc`] of the syntax trees back to the span it was made from.
#[derive(Default, Clone)]
pub struct Spans(Vec<Span>);

impl Spans {
    pub fn loc(&mut self, span: Span) -> Loc {
        self.0.push(span);
        Loc(u32::try_from(self.0.len() - 1).expect("fewer than 2^32 tokens"))
    }

    pub fn span(&self, loc: Loc) -> Span {
        self.0[loc.0 as usize]
    }
}

/// How deep brackets may nest in an invocation. A kernel needs two levels (`{ pad = (1, 2); }`)
/// and its attributes a few more; syn's parsers recurse once per level, so a text nested
/// thousands deep would overflow the stack instead of getting an error.
pub const MAX_NESTING: usize = 32;

/// Parses the body of a `conv_kernel! { ... }` invocation.
pub fn parse_tokens(tokens: TokenStream) -> Parsed {
    let mut parsed = Parsed::default();
    if let Some(span) = too_deep(&tokens) {
        parsed.errors.push(syn::Error::new(
            span,
            format!("brackets nest more than {MAX_NESTING} deep here: a kernel needs a few levels at most"),
        ));
        return parsed;
    }
    for chunk in split_kernels(tokens) {
        let (chunk, unterminated) = terminate(chunk, ends_kernel);
        match header::parse_kernel(chunk, &mut parsed.spans) {
            Ok((kernel, errors)) => {
                parsed.kernels.push(kernel);
                if let Some(last) = unterminated {
                    parsed.errors.push(syn::Error::new(
                        last,
                        "expected a `{ ... }` block of declarations or `;` after the spec",
                    ));
                }
                parsed.errors.extend(errors);
            }
            Err(error) => parsed.errors.push(error),
        }
    }
    parsed
}

/// The opening bracket of the first group nested deeper than [`MAX_NESTING`], found
/// without recursion.
fn too_deep(tokens: &TokenStream) -> Option<Span> {
    let mut open = vec![tokens.clone().into_iter()];
    while let Some(level) = open.last_mut() {
        match level.next() {
            Some(TokenTree::Group(group)) => {
                if open.len() > MAX_NESTING {
                    return Some(group.span_open());
                }
                open.push(group.stream().into_iter());
            }
            Some(_) => {}
            None => {
                open.pop();
            }
        }
    }
    None
}

/// Parses kernel text: the same grammar as inside the macro.
pub fn parse_text(text: &str) -> Parsed {
    // proc_macro2's lexer, not `syn::parse_str`, which would walk the nested groups of
    // the text recursively before `parse_tokens` could bound their depth.
    match text.parse::<TokenStream>() {
        Ok(tokens) => parse_tokens(tokens),
        Err(error) => Parsed {
            errors: vec![syn::Error::from(error)],
            ..Parsed::default()
        },
    }
}

/// Splits an invocation into kernels: each ends with its `{ ... }` block or with `;`.
fn split_kernels(tokens: TokenStream) -> Vec<TokenStream> {
    split_after(tokens, ends_kernel)
}

fn ends_kernel(tree: &TokenTree) -> bool {
    match tree {
        TokenTree::Group(g) => g.delimiter() == Delimiter::Brace,
        TokenTree::Punct(p) => p.as_char() == ';',
        _ => false,
    }
}

/// Splits a block into statements, each with its closing `;` (but maybe the last).
fn split_statements(tokens: TokenStream) -> Vec<TokenStream> {
    split_after(tokens, ends_statement)
}

fn ends_statement(tree: &TokenTree) -> bool {
    matches!(tree, TokenTree::Punct(p) if p.as_char() == ';')
}

/// A chunk that does not end as `ends` says (the last of its kind, written without its
/// `;`) gets a `;` that carries the span of its last token, which comes back beside it.
/// Parsed as it is, an incomplete chunk would report "unexpected end of input" at the
/// whole invocation (`syn::parse2`'s call site); parsed this way, every error at its
/// end points at its last token.
fn terminate(chunk: TokenStream, ends: impl Fn(&TokenTree) -> bool) -> (TokenStream, Option<Span>) {
    let Some(last) = chunk.clone().into_iter().last() else {
        return (chunk, None);
    };
    if ends(&last) {
        return (chunk, None);
    }
    let mut semicolon = proc_macro2::Punct::new(';', proc_macro2::Spacing::Alone);
    semicolon.set_span(last.span());
    let mut chunk = chunk;
    chunk.extend([TokenTree::Punct(semicolon)]);
    (chunk, Some(last.span()))
}

fn split_after(tokens: TokenStream, ends: impl Fn(&TokenTree) -> bool) -> Vec<TokenStream> {
    let mut chunks = Vec::new();
    let mut current = Vec::new();
    for tree in tokens {
        let end = ends(&tree);
        current.push(tree);
        if end {
            chunks.push(current.drain(..).collect());
        }
    }
    if !current.is_empty() {
        chunks.push(current.into_iter().collect());
    }
    chunks
}

#[cfg(test)]
mod tests;
