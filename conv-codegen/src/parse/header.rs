//! `[attrs] [vis] name(op, ...) = "spec" { ... }` or `... = "spec";`

use super::{ends_statement, split_statements, statement, terminate, ParsedKernel, Spans};
use crate::ast::{KernelAst, Located};
use proc_macro2::TokenStream;
use syn::parse::{Parse, ParseStream, Parser};
use syn::punctuated::Punctuated;
use syn::{Attribute, Expr, ExprLit, Ident, Lit, LitStr, Meta, Token, Visibility};

struct Header {
    attrs: Vec<Attribute>,
    vis: Visibility,
    name: Ident,
    operand_list: proc_macro2::Span,
    operands: Vec<Ident>,
    spec: LitStr,
    body: Option<TokenStream>,
}

impl Parse for Header {
    fn parse(input: ParseStream) -> syn::Result<Self> {
        let attrs = input.call(Attribute::parse_outer)?;
        let vis: Visibility = input.parse()?;
        let name: Ident = input.parse()?;
        let content;
        let paren = syn::parenthesized!(content in input);
        let operands = Punctuated::<Ident, Token![,]>::parse_terminated(&content)?;
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
