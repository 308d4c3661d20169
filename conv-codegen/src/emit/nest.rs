//! Loop nests: the body of one contraction, forward or gradient, written out for its
//! exact windows. Strides, dilations and explicit pads are literals; window loops of
//! fixed extent are unrolled; folds are gathers whose taps per phase are resolved here.

use super::names::{
    geometry, index, input_len, label, len, lit, pad_lo, padded, position, private, slice, strides,
};
use crate::ir::{Access, Contraction, FoldAxis, Index};
use crate::kernel::{Kernel, Pad, PadMode, Window};
use proc_macro2::TokenStream;
use quote::quote;

/// Window loops of a fixed extent up to this are unrolled.
const UNROLL_LIMIT: usize = 16;
/// Folds whose stride is at most this get one unrolled tap list per phase.
const PHASE_LIMIT: usize = 8;
/// Unrolled window loops nest, so the body is copied the product of their extents
/// times: windows are unrolled in declaration order while that product stays within
/// this (without it, eight windows of 16 taps would make 2^32 copies).
const UNROLL_BUDGET: usize = 256;

enum Level<'a> {
    /// `for i_a in 0..len_a`
    Loop(char),
    /// `for p_k in 0..in_k`: the positions of an input axis a gradient is folded onto.
    Positions(&'a Window),
    /// Binds `p_k`, the input position a window reads, skipping zero padding.
    Read(&'a Window),
    /// Binds `i_a` and `i_k` for every view entry that reads `p_k`.
    Gather(&'a FoldAxis),
}

pub(crate) struct Nest<'a> {
    pub kernel: &'a Kernel,
    /// The name of each input's tensor (operand name or `grad_y`), in input order.
    pub tensors: Vec<String>,
}

impl Nest<'_> {
    /// `out = contraction` (+ `bias` along its axis), into a zeroed row-major `out`.
    pub fn contraction(&self, c: &Contraction, bias: Option<char>) -> TokenStream {
        let outer: Vec<Level> = c.output.iter().map(|&a| Level::Loop(a)).collect();
        let inner: Vec<Level> = summed(c, &c.output).into_iter().map(Level::Loop).collect();
        let out_index: Vec<TokenStream> = c
            .output
            .iter()
            .map(|&a| {
                let i = index(a);
                quote!(#i)
            })
            .collect();
        let add_bias = bias.map(|axis| {
            let i = index(axis);
            quote!(+ s_bias[#i])
        });
        self.emit(c, outer, inner, &out_index, add_bias)
    }

    /// A fold: each position of the tensor with axes `physical` gathers the entries of
    /// the contraction's view (axes `view`) that land on it, through `folds`. The
    /// gradient of an unfolded operand, and the forward pass of a kernel with windows on
    /// its output (plus `bias` along its axis).
    pub fn fold(
        &self,
        c: &Contraction,
        folds: &[FoldAxis],
        physical: &[char],
        view: &[char],
        bias: Option<char>,
    ) -> TokenStream {
        let fold_of = |a: char| folds.iter().find(|f| f.window.axis == a);
        let outer: Vec<Level> = physical
            .iter()
            .map(|&a| match fold_of(a) {
                Some(f) => Level::Positions(&f.window),
                None => Level::Loop(a),
            })
            .collect();
        let mut inner: Vec<Level> = folds.iter().map(Level::Gather).collect();
        inner.extend(summed(c, view).into_iter().map(Level::Loop));
        let out_index: Vec<TokenStream> = physical
            .iter()
            .map(|&a| match fold_of(a) {
                Some(f) => {
                    let p = position(f.window.window);
                    quote!(#p)
                }
                None => {
                    let i = index(a);
                    quote!(#i)
                }
            })
            .collect();
        let add_bias = bias.map(|axis| {
            let i = index(axis);
            quote!(+ s_bias[#i])
        });
        self.emit(c, outer, inner, &out_index, add_bias)
    }

    fn emit<'c>(
        &self,
        c: &'c Contraction,
        mut outer: Vec<Level<'c>>,
        mut inner: Vec<Level<'c>>,
        out_index: &[TokenStream],
        add_bias: Option<TokenStream>,
    ) -> TokenStream {
        place_reads(c, &mut outer, &mut inner);
        let product = self.product(c);
        let elem = super::elem(self.kernel);
        let offset = offset(quote!(st_out), out_index);
        let body = self.wrap(&inner, quote!(acc += #product;));
        // An empty tensor may have huge extents along its other axes: a reduction over
        // an empty axis is skipped, not run as empty loops inside the loops over the
        // others (2^40 iterations of nothing), and so is an empty output.
        let summed: Vec<_> = inner
            .iter()
            .filter_map(|level| match level {
                Level::Loop(a) => Some(len(*a)),
                _ => None,
            })
            .collect();
        let (empty_sum, body) = if summed.is_empty() {
            (None, body)
        } else {
            (
                Some(quote!(let empty_sum = [#(#summed),*].contains(&0);)),
                quote!(if !empty_sum { #body }),
            )
        };
        let center = quote! {
            let mut acc: #elem = 0.0;
            #body
            out[#offset] = acc #add_bias;
        };
        let nest = self.wrap(&outer, center);
        quote! {
            #empty_sum
            if !out.is_empty() { #nest }
        }
    }

    /// `s_x[..] * s_weight[..]`: the product of every input at the current point.
    fn product(&self, c: &Contraction) -> TokenStream {
        let mut factors = c.inputs.iter().zip(&self.tensors).map(|(input, name)| {
            let s = slice(name);
            let indices: Vec<TokenStream> = input.dims.iter().map(dim_index).collect();
            let offset = offset(strides(name), &indices);
            quote!(#s[#offset])
        });
        let first = factors.next().unwrap_or_else(|| quote!(1.0));
        factors.fold(first, |product, factor| quote!(#product * #factor))
    }

    fn wrap(&self, levels: &[Level<'_>], body: TokenStream) -> TokenStream {
        levels
            .iter()
            .rev()
            .fold(body, |body, level| self.level(level, body))
    }

    fn level(&self, level: &Level<'_>, body: TokenStream) -> TokenStream {
        match level {
            Level::Loop(a) => self.axis_loop(*a, body),
            Level::Positions(w) => {
                let (l, p, n) = (label(w.axis), position(w.window), input_len(w.window));
                quote!(#l: for #p in 0..#n { #body })
            }
            Level::Read(w) => read(w, body),
            Level::Gather(f) => self.gather(f, body),
        }
    }

    fn axis_loop(&self, a: char, body: TokenStream) -> TokenStream {
        let i = index(a);
        match self.unrolled(a) {
            Some(n) => {
                let copies = (0..n).map(|v| {
                    let v = lit(v);
                    quote!({ let #i: usize = #v; #body })
                });
                quote!(#(#copies)*)
            }
            None => {
                let (l, n) = (label(a), len(a));
                quote!(#l: for #i in 0..#n { #body })
            }
        }
    }

    /// The fixed extent of a window axis to unroll: small enough, and within the budget
    /// that the windows declared before it left.
    fn unrolled(&self, a: char) -> Option<usize> {
        let mut copies = 1;
        for w in &self.kernel.windows {
            let Some(&n) = self
                .kernel
                .sizes
                .get(&w.window)
                .filter(|&&n| n <= UNROLL_LIMIT)
            else {
                continue;
            };
            let within = copies * n <= UNROLL_BUDGET;
            if w.window == a {
                return within.then_some(n);
            }
            if within {
                copies *= n;
            }
        }
        None
    }

    /// Every `(a, k)` whose padded position `q = a*S + k*D` copies input position `p_k`.
    fn gather(&self, f: &FoldAxis, body: TokenStream) -> TokenStream {
        let w = &f.window;
        let (q, p) = (padded(w.window), position(w.window));
        let taps = self.taps(f, body);
        match (w.mode, w.pad) {
            (PadMode::Zeros, Pad::Explicit { lo, .. }) => {
                let lo = lit(lo);
                quote! { let #q = #p + #lo; #taps }
            }
            (PadMode::Zeros, Pad::Same) => {
                let lo = pad_lo(w.window);
                quote! { let #q = #p + #lo; #taps }
            }
            (mode, _) => {
                let (private, g, mode) = (private(), geometry(w.window), mode_path(mode));
                quote! {
                    for #q in #private::copies(#mode, &#g, #p) { #taps }
                }
            }
        }
    }

    /// The taps `k` reaching `q_k`, each binding `i_k` and `i_a = (q_k - k*D) / S`.
    ///
    /// The maths: padded position `q` is read by view entry `(a, k)` exactly when
    /// `a*S + k*D = q`, that is when `k*D ≡ q (mod S)` and `a = (q - k*D) / S` is a
    /// valid index (`k*D <= q`, `a < len(a)`). With `g = gcd(S, D)`, `S' = S/g` and
    /// `D' = D/g`, a tap exists only if `g` divides `q`, and then
    /// `k*D' ≡ q/g (mod S')`; `D'` and `S'` are coprime, so
    /// `k ≡ (q/g) * inverse(D') (mod S')`: the taps are `k0, k0 + S', k0 + 2S', ...`
    /// with `k0` that residue ([`FoldAxis`] holds `g`, `S'` and the inverse). Since `k0`
    /// depends only on `q mod S`, the phase, three shapes of code result:
    /// - stride 1 and an unrolled window: every tap, `a = q - k*D`;
    /// - an unrolled window and a small stride: a `match` on `q % S` whose arm for
    ///   phase `r` lists the taps of that phase, worked out now (`first_tap(r)`, then
    ///   every `S'`), so no division by the inverse is left at run time;
    /// - otherwise a loop from `k0`, computed at run time, in steps of `S'`, stopping
    ///   once `k*D > q`.
    fn taps(&self, f: &FoldAxis, body: TokenStream) -> TokenStream {
        let w = &f.window;
        let (q, ia, ik, la) = (
            padded(w.window),
            index(w.axis),
            index(w.window),
            len(w.axis),
        );
        let (stride, dilation) = (lit(w.stride), lit(w.dilation));
        let tap = |k: usize| {
            let reach = k * w.dilation;
            let a = match (reach, w.stride) {
                (0, 1) => quote!(#q),
                (0, _) => quote!(#q / #stride),
                (r, 1) => {
                    let r = lit(r);
                    quote!(#q - #r)
                }
                (r, _) => {
                    let r = lit(r);
                    quote!((#q - #r) / #stride)
                }
            };
            let k = lit(k);
            let inner = quote! {
                let #ia = #a;
                if #ia < #la { let #ik: usize = #k; #body }
            };
            if reach == 0 {
                quote!({ #inner })
            } else {
                let r = lit(reach);
                quote!(if #q >= #r { #inner })
            }
        };
        match self.unrolled(w.window) {
            Some(n) if w.stride == 1 => {
                let all = (0..n).map(tap);
                quote!(#(#all)*)
            }
            Some(n) if w.stride <= PHASE_LIMIT => {
                let arms = (0..w.stride).map(|r| {
                    let taps = match f.first_tap(r) {
                        Some(first) => (first..n).step_by(f.step).map(tap).collect(),
                        None => Vec::new(),
                    };
                    let r = lit(r);
                    quote!(#r => { #(#taps)* })
                });
                quote! {
                    match #q % #stride {
                        #(#arms)*
                        _ => {}
                    }
                }
            }
            _ => {
                let lk = len(w.window);
                let (gcd, step, inverse) = (lit(f.gcd), lit(f.step), f.inverse);
                let first = match (f.step, f.gcd) {
                    (1, _) => quote!(0),
                    (_, 1) => quote!(#q % #step * #inverse % #step),
                    _ => quote!(#q / #gcd % #step * #inverse % #step),
                };
                let a = if w.stride == 1 {
                    quote!(#q - #ik * #dilation)
                } else {
                    quote!((#q - #ik * #dilation) / #stride)
                };
                let scan = quote! {
                    for #ik in (#first..#lk).step_by(#step) {
                        if #ik * #dilation > #q { break; }
                        let #ia = #a;
                        if #ia < #la { #body }
                    }
                };
                if f.gcd == 1 {
                    scan
                } else {
                    quote!(if #q % #gcd == 0 { #scan })
                }
            }
        }
    }
}

/// Binds `p_k`: the input position at padded position `i_a*S + i_k*D`, or skips.
fn read(w: &Window, body: TokenStream) -> TokenStream {
    let (ia, ik) = (index(w.axis), index(w.window));
    let (q, p, n) = (padded(w.window), position(w.window), input_len(w.window));
    let scaled = |i: &proc_macro2::Ident, by: usize| {
        if by == 1 {
            quote!(#i)
        } else {
            let by = lit(by);
            quote!(#i * #by)
        }
    };
    let reach = {
        let (a, k) = (scaled(&ia, w.stride), scaled(&ik, w.dilation));
        quote!(#a + #k)
    };
    match (w.mode, w.pad) {
        (PadMode::Zeros, Pad::Explicit { lo: 0, .. }) => quote! {
            let #p = #reach;
            if #p < #n { #body }
        },
        (PadMode::Zeros, pad) => {
            let lo = match pad {
                Pad::Explicit { lo, .. } => {
                    let lo = lit(lo);
                    quote!(#lo)
                }
                Pad::Same => {
                    let lo = pad_lo(w.window);
                    quote!(#lo)
                }
            };
            quote! {
                let #q = #reach;
                if #q >= #lo && #q - #lo < #n { let #p = #q - #lo; #body }
            }
        }
        (mode, _) => {
            let (private, g, mode) = (private(), geometry(w.window), mode_path(mode));
            quote! {
                if let Some(#p) = #private::padded_source(#mode, &#g, #reach) { #body }
            }
        }
    }
}

fn mode_path(mode: PadMode) -> TokenStream {
    let private = private();
    let variant = super::names::ident(match mode {
        PadMode::Zeros => "Zeros",
        PadMode::Reflect => "Reflect",
        PadMode::Replicate => "Replicate",
        PadMode::Circular => "Circular",
    });
    quote!(#private::PadMode::#variant)
}

fn dim_index(index: &Index) -> TokenStream {
    match index {
        Index::Axis(a) => {
            let i = super::names::index(*a);
            quote!(#i)
        }
        Index::Window(w) => {
            let p = position(w.window);
            quote!(#p)
        }
    }
}

/// `i0 * st[0] + i1 * st[1] + ... + i_last` (row-major: the last stride is 1).
fn offset(strides: impl quote::ToTokens, indices: &[TokenStream]) -> TokenStream {
    let n = indices.len();
    if n == 0 {
        return quote!(0);
    }
    let terms = indices.iter().enumerate().map(|(d, i)| {
        if d + 1 == n {
            quote!(#i)
        } else {
            let d = lit(d);
            quote!(#i * #strides[#d])
        }
    });
    quote!(#(#terms)+*)
}

/// Axes of the inputs not in `bound`, in order of first appearance.
fn summed(c: &Contraction, bound: &[char]) -> Vec<char> {
    let mut axes = Vec::new();
    for &a in c.inputs.iter().flat_map(|i: &Access| &i.view) {
        if !bound.contains(&a) && !axes.contains(&a) {
            axes.push(a);
        }
    }
    axes
}

/// Puts a `Read` for every windowed input dimension right after the level that binds the
/// last of its two axes.
fn place_reads<'a>(c: &'a Contraction, outer: &mut Vec<Level<'a>>, inner: &mut Vec<Level<'a>>) {
    let mut windows: Vec<&Window> = Vec::new();
    for input in &c.inputs {
        for dim in &input.dims {
            if let Index::Window(w) = dim {
                windows.push(w);
            }
        }
    }
    for w in windows {
        let binds = |level: &Level, a: char| match level {
            Level::Loop(b) => *b == a,
            Level::Gather(f) => f.window.axis == a || f.window.window == a,
            Level::Positions(_) | Level::Read(_) => false,
        };
        let last = |levels: &[Level]| {
            levels
                .iter()
                .rposition(|l| binds(l, w.axis) || binds(l, w.window))
        };
        let in_outer_both = [w.axis, w.window]
            .iter()
            .all(|&a| outer.iter().any(|l| binds(l, a)));
        if in_outer_both {
            let at = last(outer).map_or(0, |i| i + 1);
            outer.insert(at, Level::Read(w));
        } else {
            let at = last(inner).map_or(0, |i| i + 1);
            inner.insert(at, Level::Read(w));
        }
    }
}
