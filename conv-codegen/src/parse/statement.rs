//! One statement of a kernel's block, up to and including its `;`.

use super::Spans;
use crate::ast::{Located, OptionAst, OptionValue, SizeAst, Statement, UnfoldAst};
use proc_macro2::Span;
use syn::ext::IdentExt;
use syn::parse::ParseStream;
use syn::{Ident, LitInt, Token};

pub(super) fn parse(input: ParseStream, spans: &mut Spans) -> syn::Result<Statement> {
    let keyword = input.call(Ident::parse_any).map_err(|e| {
        syn::Error::new(
            e.span(),
            "expected a statement: `unfold`, `size`, `bias`, `dtype` or `algorithm`",
        )
    })?;
    let at = spans.loc(keyword.span());
    let mut more = "";
    let statement = match keyword.to_string().as_str() {
        "unfold" => {
            more = "`,` and another option, or ";
            Statement::Unfold(unfold(input, spans, at)?)
        }
        "size" => {
            more = "`,` and another `axis = extent`, or ";
            let mut entries = vec![size_entry(input, spans)?];
            while input.peek(Token![,]) {
                input.parse::<Token![,]>()?;
                entries.push(size_entry(input, spans)?);
            }
            Statement::Size(entries)
        }
        "bias" => Statement::Bias {
            keyword: at,
            axis: word(input, spans, "the bias axis, e.g. `bias d;`")?,
        },
        "dtype" => Statement::Dtype {
            keyword: at,
            name: word(input, spans, "`f32` or `f64`")?,
        },
        "algorithm" => Statement::Algorithm {
            keyword: at,
            name: word(input, spans, "`direct` or `auto`")?,
        },
        other => {
            return Err(syn::Error::new(
                keyword.span(),
                format!("unknown statement `{other}`: write `unfold`, `size`, `bias`, `dtype` or `algorithm`"),
            ))
        }
    };
    if !input.peek(Token![;]) {
        return Err(input.error(format!("expected {more}`;` to end this statement")));
    }
    input.parse::<Token![;]>()?;
    if !input.is_empty() {
        return Err(input.error("unexpected tokens after `;`"));
    }
    Ok(statement)
}

/// `OP.A by K [, key = value]*` after `unfold`.
fn unfold(
    input: ParseStream,
    spans: &mut Spans,
    keyword: crate::ast::Loc,
) -> syn::Result<UnfoldAst> {
    let operand = word(
        input,
        spans,
        "the operand to unfold, e.g. `unfold x.h by k`",
    )?;
    input
        .parse::<Token![.]>()
        .map_err(|e| syn::Error::new(e.span(), "expected `.` and an axis, e.g. `x.h`"))?;
    let axis = word(input, spans, "the axis to unfold, e.g. `x.h`")?;
    let by = input.call(Ident::parse_any);
    if !matches!(&by, Ok(by) if by == "by") {
        return Err(syn::Error::new(
            by.map_or_else(|e| e.span(), |i| i.span()),
            "expected `by` and the window axis, e.g. `unfold x.h by k`",
        ));
    }
    let window = word(input, spans, "the window axis, e.g. `unfold x.h by k`")?;
    let mut options = Vec::new();
    while input.peek(Token![,]) {
        input.parse::<Token![,]>()?;
        let key = word(
            input,
            spans,
            "an option: `stride`, `dilation`, `pad` or `mode`",
        )?;
        input.parse::<Token![=]>().map_err(|e| {
            syn::Error::new(
                e.span(),
                format!("expected `=` and a value, e.g. `{} = 2`", key.value),
            )
        })?;
        let value = option_value(input, spans)?;
        options.push(OptionAst { key, value });
    }
    Ok(UnfoldAst {
        keyword,
        operand,
        axis,
        window,
        options,
    })
}

fn option_value(input: ParseStream, spans: &mut Spans) -> syn::Result<Located<OptionValue>> {
    if input.peek(LitInt) {
        let (n, span) = integer(input)?;
        return Ok(Located::new(OptionValue::Int(n), spans.loc(span)));
    }
    if input.peek(syn::token::Paren) {
        let content;
        let paren = syn::parenthesized!(content in input);
        let (lo, _) = integer(&content)?;
        content.parse::<Token![,]>()?;
        let (hi, _) = integer(&content)?;
        if !content.is_empty() {
            return Err(content.error("expected `(lo, hi)`"));
        }
        return Ok(Located::new(
            OptionValue::Pair(lo, hi),
            spans.loc(paren.span.join()),
        ));
    }
    let ident = input.call(Ident::parse_any).map_err(|e| {
        syn::Error::new(
            e.span(),
            "expected a value: an integer, `(lo, hi)` or a word such as `same` or `reflect`",
        )
    })?;
    Ok(Located::new(
        OptionValue::Word(ident.to_string()),
        spans.loc(ident.span()),
    ))
}

fn size_entry(input: ParseStream, spans: &mut Spans) -> syn::Result<SizeAst> {
    let axis = word(input, spans, "an axis and its extent, e.g. `size k = 3`")?;
    input.parse::<Token![=]>().map_err(|e| {
        syn::Error::new(
            e.span(),
            format!("expected `=` and an extent, e.g. `size {} = 3`", axis.value),
        )
    })?;
    let (extent, span) = integer(input)?;
    Ok(SizeAst {
        axis,
        extent: Located::new(extent, spans.loc(span)),
    })
}

fn word(input: ParseStream, spans: &mut Spans, expected: &str) -> syn::Result<Located<String>> {
    let ident = input
        .call(Ident::parse_any)
        .map_err(|e| syn::Error::new(e.span(), format!("expected {expected}")))?;
    Ok(Located::new(ident.to_string(), spans.loc(ident.span())))
}

/// A plain non-negative integer that fits in u64.
fn integer(input: ParseStream) -> syn::Result<(u64, Span)> {
    let lit: LitInt = input
        .parse()
        .map_err(|e| syn::Error::new(e.span(), "expected a non-negative integer"))?;
    if !lit.suffix().is_empty() {
        return Err(syn::Error::new(
            lit.span(),
            "write a plain integer, without a type suffix",
        ));
    }
    if lit.base10_digits().starts_with('-') {
        return Err(syn::Error::new(
            lit.span(),
            "this integer is negative: extents, strides, dilations and pads are 0 or more",
        ));
    }
    let value = lit.base10_parse::<u64>().map_err(|_| {
        syn::Error::new(
            lit.span(),
            "this integer is too large: extents, strides and pads must fit in 64 bits",
        )
    })?;
    Ok((value, lit.span()))
}
