//! The identifiers of generated code, so every part agrees on them.

use proc_macro2::{Ident, Span, TokenStream};
use quote::{format_ident, quote};

/// The identifier written as `name`, which may be raw (`r#type`): the stub of a kernel
/// whose raw name the checks rejected still needs it.
pub(crate) fn ident(name: &str) -> Ident {
    match name.strip_prefix("r#") {
        Some(raw) => Ident::new_raw(raw, Span::call_site()),
        None => Ident::new(name, Span::call_site()),
    }
}

/// Loop index of an axis: `i_h`.
pub(crate) fn index(axis: char) -> Ident {
    format_ident!("i_{}", axis)
}

/// Extent of an axis: `len_h`.
pub(crate) fn len(axis: char) -> Ident {
    format_ident!("len_{}", axis)
}

/// Input length of the axis unfolded by window `k`: `in_k`.
pub(crate) fn input_len(window: char) -> Ident {
    format_ident!("in_{}", window)
}

/// Low padding of the unfold by window `k` when it is only known at run time: `lo_k`.
pub(crate) fn pad_lo(window: char) -> Ident {
    format_ident!("lo_{}", window)
}

/// Geometry of the unfold by `k`, for the padding modes that copy borders: `geo_k`.
pub(crate) fn geometry(window: char) -> Ident {
    format_ident!("geo_{}", window)
}

/// Padded position `a*stride + k*dilation` of the unfold by `k`: `q_k`.
pub(crate) fn padded(window: char) -> Ident {
    format_ident!("q_{}", window)
}

/// Position in the input that the unfold by `k` reads: `p_k`.
pub(crate) fn position(window: char) -> Ident {
    format_ident!("p_{}", window)
}

/// Loop label of an axis: `'h`.
pub(crate) fn label(axis: char) -> syn::Lifetime {
    syn::Lifetime::new(&format!("'{axis}"), Span::call_site())
}

/// Row-major slice of a tensor: `s_x`.
pub(crate) fn slice(name: &str) -> Ident {
    format_ident!("s_{}", name)
}

/// Row-major strides of a tensor: `st_x`.
pub(crate) fn strides(name: &str) -> Ident {
    format_ident!("st_{}", name)
}

/// `::conv_runtime::__private`, the runtime support of generated code.
pub(crate) fn private() -> TokenStream {
    quote!(::conv_runtime::__private)
}

/// `::conv_runtime::__private::ndarray`.
pub(crate) fn nd() -> TokenStream {
    quote!(::conv_runtime::__private::ndarray)
}

/// `Dim<[usize; R]>` for ranks ndarray has fixed types for, `IxDyn` beyond.
pub(crate) fn dim(rank: usize) -> TokenStream {
    let nd = nd();
    if rank <= 6 {
        let rank = lit(rank);
        quote!(#nd::Dim<[usize; #rank]>)
    } else {
        quote!(#nd::IxDyn)
    }
}

/// A usize literal without suffix noise.
pub(crate) fn lit(n: usize) -> proc_macro2::Literal {
    proc_macro2::Literal::usize_unsuffixed(n)
}
