//! `[attrs] [vis] name(op, ...) [-> out] = "spec" { ... }` or `... = "spec";`

use super::{ends_statement, split_statements, statement, terminate, ParsedKernel, Spans};
use crate::ast::{KernelAst, Located};
use proc_macro2::TokenStream;
use syn::parse::{Parse, ParseStream, Parser};
use syn::punctuated::Punctuated;
use syn::{
    AttrStyle, Attribute, Expr, ExprLit, Ident, Lit, LitStr, Meta, MetaNameValue, Path, Token,
    Visibility,
};

struct Header {
    attrs: Vec<Attribute>,
    vis: Visibility,
    name: Ident,
    operand_list: proc_macro2::Span,
    operands: Vec<Ident>,
    output: Option<Ident>,
    spec: LitStr,
    body: Option<TokenStream>,
}

impl Parse for Header {
    fn parse(input: ParseStream) -> syn::Result<Self> {
        let attrs = input.call(outer_attributes)?;
        let vis: Visibility = input.parse()?;
        let name: Ident = input.parse()?;
        let content;
        let paren = syn::parenthesized!(content in input);
        let operands = Punctuated::<Ident, Token![,]>::parse_terminated(&content)?;
        let output = if input.peek(Token![->]) {
            input.parse::<Token![->]>()?;
            Some(input.parse::<Ident>().map_err(|e| {
                syn::Error::new(
                    e.span(),
                    "expected the output's name after `->`, e.g. `-> y`",
                )
            })?)
        } else {
            None
        };
        input.parse::<Token![=]>().map_err(|e| {
            syn::Error::new(
                e.span(),
                "expected `=` and the einsum spec, e.g. `= \"ik,kj->ij\"`",
            )
        })?;
        let spec: LitStr = input.parse().map_err(|e| {
            syn::Error::new(
                e.span(),
                "expected the einsum spec as a string, e.g. \"nchwkj,dckj->ndhw\"",
            )
        })?;
        let body = if input.peek(Token![;]) {
            input.parse::<Token![;]>()?;
            None
        } else if input.peek(syn::token::Brace) {
            let block;
            syn::braced!(block in input);
            Some(block.parse::<TokenStream>()?)
        } else {
            return Err(
                input.error("expected a `{ ... }` block of declarations or `;` after the spec")
            );
        };
        if !input.is_empty() {
            return Err(input.error("unexpected tokens after the kernel"));
        }
        Ok(Header {
            attrs,
            vis,
            name,
            operand_list: paren.span.join(),
            operands: operands.into_iter().collect(),
            output,
            spec,
            body,
        })
    }
}

/// One kernel; syntax errors inside its block come back beside it (the kernel keeps the
/// statements that parsed), an error in the header loses the kernel.
pub(super) fn parse_kernel(
    chunk: TokenStream,
    spans: &mut Spans,
) -> syn::Result<(ParsedKernel, Vec<syn::Error>)> {
    let header: Header = syn::parse2(chunk)?;
    let mut statements = Vec::new();
    let mut errors = Vec::new();
    for tokens in split_statements(header.body.unwrap_or_default()) {
        let (tokens, unterminated) = terminate(tokens, ends_statement);
        match (|input: ParseStream| statement::parse(input, spans)).parse2(tokens) {
            Ok(s) => {
                statements.push(s);
                if let Some(last) = unterminated {
                    errors.push(syn::Error::new(last, "expected `;` to end this statement"));
                }
            }
            Err(e) => errors.push(e),
        }
    }
    let docs = header.attrs.iter().filter_map(doc_text).collect();
    let ast = KernelAst {
        docs,
        name: Located::new(header.name.to_string(), spans.loc(header.name.span())),
        operand_list: spans.loc(header.operand_list),
        operands: header
            .operands
            .iter()
            .map(|op| Located::new(op.to_string(), spans.loc(op.span())))
            .collect(),
        output: header
            .output
            .as_ref()
            .map(|o| Located::new(o.to_string(), spans.loc(o.span()))),
        spec: Located::new(header.spec.value(), spans.loc(header.spec.span())),
        statements,
    };
    let kernel = ParsedKernel {
        ast,
        attrs: header.attrs,
        vis: header.vis,
    };
    Ok((kernel, errors))
}

/// The most tokens the value of an attribute `name = value` may have, unless it is one
/// literal. syn's expression parser recurses once per operator or closure
/// (`#[doc = - - - ... 1]`), so a value of thousands of tokens would overflow the stack.
pub const MAX_ATTRIBUTE_TOKENS: usize = 64;

/// Outer attributes, as `Attribute::parse_outer` reads them, but with the value of
/// `name = value` parsed as an expression only when it has at most
/// [`MAX_ATTRIBUTE_TOKENS`] tokens.
fn outer_attributes(input: ParseStream) -> syn::Result<Vec<Attribute>> {
    let mut attrs = Vec::new();
    while input.peek(Token![#]) {
        let pound_token = input.parse()?;
        let content;
        let bracket_token = syn::bracketed!(content in input);
        let ahead = content.fork();
        ahead.call(Path::parse_mod_style)?;
        let meta = if ahead.peek(Token![=]) {
            let path = content.call(Path::parse_mod_style)?;
            let eq_token = content.parse()?;
            let tokens: TokenStream = content.parse()?;
            let value = match syn::parse2::<Lit>(tokens.clone()) {
                Ok(lit) => Expr::Lit(ExprLit {
                    attrs: Vec::new(),
                    lit,
                }),
                Err(_) if token_count(&tokens) > MAX_ATTRIBUTE_TOKENS => {
                    return Err(syn::Error::new_spanned(
                        tokens,
                        format!(
                            "this attribute's value has more than {MAX_ATTRIBUTE_TOKENS} tokens: write a literal, e.g. `#[doc = \"...\"]`"
                        ),
                    ))
                }
                Err(_) => syn::parse2(tokens)?,
            };
            Meta::NameValue(MetaNameValue {
                path,
                eq_token,
                value,
            })
        } else {
            content.parse()?
        };
        attrs.push(Attribute {
            pound_token,
            style: AttrStyle::Outer,
            bracket_token,
            meta,
        });
    }
    Ok(attrs)
}

/// The number of tokens, those inside groups included, counted without recursion.
fn token_count(tokens: &TokenStream) -> usize {
    let mut count = 0;
    let mut open = vec![tokens.clone().into_iter()];
    while let Some(level) = open.last_mut() {
        match level.next() {
            Some(proc_macro2::TokenTree::Group(group)) => {
                count += 1;
                open.push(group.stream().into_iter());
            }
            Some(_) => count += 1,
            None => {
                open.pop();
            }
        }
    }
    count
}

fn doc_text(attr: &Attribute) -> Option<String> {
    match &attr.meta {
        Meta::NameValue(nv) if nv.path.is_ident("doc") => match &nv.value {
            Expr::Lit(ExprLit {
                lit: Lit::Str(s), ..
            }) => Some(s.value()),
            _ => None,
        },
        _ => None,
    }
}
