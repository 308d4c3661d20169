//! The private kernel functions of a module: one per contraction, each binding the
//! extents it loops over and the row-major slices it reads, then running its loop nest.

use super::names::{dim, geometry, input_len, len, lit, nd, pad_lo, private, slice, strides};
use super::nest::Nest;
use crate::facts::Facts;
use crate::gemm_plan::gemm_plan;
use crate::ir::{Contraction, FoldAxis, Gradient, Index, Program, Source, Wrt};
use crate::kernel::{Kernel, Pad, PadMode, Window};
use proc_macro2::{Ident, TokenStream};
use quote::{format_ident, quote};

/// `forward_kernel`, `grad_x_kernel`, `grad_bias_kernel`.
pub(crate) fn kernel_name(kernel: &Kernel, wrt: Option<Wrt>) -> Ident {
    match wrt {
        None => format_ident!("forward_kernel"),
        Some(Wrt::Bias) => format_ident!("grad_bias_kernel"),
        Some(Wrt::Operand(i)) => format_ident!("grad_{}_kernel", kernel.operands[i].name),
    }
}

/// The tensors a contraction reads, by name, with their ranks.
fn tensors(kernel: &Kernel, contraction: &Contraction) -> Vec<(String, usize)> {
    contraction
        .inputs
        .iter()
        .map(|input| match input.source {
            Source::Operand(i) => (
                kernel.operands[i].name.clone(),
                kernel.operands[i].physical.len(),
            ),
            Source::GradOutput => ("grad_y".to_string(), kernel.output.len()),
        })
        .collect()
}

/// `fn forward_kernel(extents, x, weight, s_bias, out)` and one per gradient.
pub(crate) fn kernel_fns(facts: &Facts) -> TokenStream {
    let program = &facts.program;
    let mut fns = vec![kernel_fn(facts, None)];
    fns.extend(program.gradients.iter().map(|g| kernel_fn(facts, Some(g))));
    quote!(#(#fns)*)
}

fn kernel_fn(facts: &Facts, gradient: Option<&Gradient>) -> TokenStream {
    let program = &facts.program;
    let kernel = &program.kernel;
    let (private, nd) = (private(), nd());
    let elem = super::elem(kernel);
    let name = kernel_name(kernel, gradient.map(|g| g.wrt));
    let contraction = gradient.map_or(&program.forward, |g| &g.contraction);
    let tensors = tensors(kernel, contraction);
    let params = tensors.iter().map(|(t, rank)| {
        let (t, d) = (format_ident!("{}", t), dim(*rank));
        quote!(#t: #nd::ArrayView<'_, #elem, #d>)
    });
    let out_rank = lit(match gradient.map(|g| g.wrt) {
        None => kernel.output.len(),
        Some(Wrt::Operand(i)) => kernel.operands[i].physical.len(),
        Some(Wrt::Bias) => 1,
    });
    let slices = tensors.iter().map(|(t, rank)| {
        let (s, st, name, rank) = (slice(t), strides(t), t, lit(*rank));
        let strides = match fixed_strides(kernel, t) {
            Some(fixed) => {
                let fixed = fixed.into_iter().map(lit);
                quote!([#(#fixed),*])
            }
            None => {
                let t = format_ident!("{}", t);
                quote!(#private::strides::<#rank>(#t.shape()))
            }
        };
        let t = format_ident!("{}", t);
        quote! {
            let #t = #private::contiguous(#name, #t)?;
            let #s = #private::flat(&#t);
            let #st: [usize; #rank] = #strides;
        }
    });
    let folds = gradient.map_or(&program.folds, |g| &g.folds);
    let extents = extent_bindings(kernel, contraction, gradient, folds);
    let nest = Nest {
        kernel,
        tensors: tensors.iter().map(|(t, _)| t.clone()).collect(),
    };
    let (bias_param, body, doc) = match gradient {
        None => (
            kernel.bias.map(|_| quote!(s_bias: &[#elem],)),
            forward_body(&nest, program),
            crate::text::forward_text(program),
        ),
        Some(gradient) => (
            None,
            gradient_body(&nest, gradient),
            crate::text::gradient_text(kernel, gradient),
        ),
    };
    let lowered = lowered_call(program, facts, gradient);
    let doc = format!(
        " Computes `{doc}` into the row-major `out` (zeros first, unless the fast path \
         writes every element); `TooLarge` when an argument that is not in row-major \
         order cannot be copied into it."
    );
    let wrt = match gradient.map(|g| g.wrt) {
        None => quote!(::core::option::Option::None),
        Some(Wrt::Bias) => quote!(::core::option::Option::Some(::conv_runtime::Wrt::Bias)),
        Some(Wrt::Operand(i)) => {
            quote!(::core::option::Option::Some(::conv_runtime::Wrt::Operand(#i)))
        }
    };
    quote! {
        #[doc = #doc]
        #[allow(unused_variables, clippy::too_many_arguments, clippy::identity_op)]
        fn #name(extents: &#private::Extents, #(#params,)* #bias_param out: &mut #private::Output<#elem>, st_out: &[usize; #out_rank]) -> ::core::result::Result<(), ::conv_runtime::ShapeError> {
            let _trace = #private::Trace::start(facts(), #wrt, extents);
            #(#slices)*
            #lowered
            let out: &mut [#elem] = out.as_mut_slice();
            #extents
            #body
            ::core::result::Result::Ok(())
        }
    }
}

/// The strides of operand `name` when `size` fixes its whole shape (checked against the
/// arguments before the kernel runs), so that offsets fold into constants.
fn fixed_strides(kernel: &Kernel, name: &str) -> Option<Vec<usize>> {
    let operand = kernel.operands.iter().find(|o| o.name == name)?;
    // Along an axis with a window on the output, `size` fixes the output's length, not
    // the operand's.
    let folded = |a: &char| kernel.output_windows().any(|w| w.axis == *a);
    let shape: Vec<usize> = operand
        .physical
        .iter()
        .map(|a| kernel.sizes.get(a).copied().filter(|_| !folded(a)))
        .collect::<Option<_>>()?;
    crate::layout::row_major(&shape)
}

/// For a kernel that is a batch of matrix products (or a gradient of a bias): the call
/// that runs this contraction on the fast path (returning early), before the loop nest
/// that runs when it declines.
fn lowered_call(
    program: &Program,
    facts: &Facts,
    gradient: Option<&Gradient>,
) -> Option<TokenStream> {
    let kernel = &program.kernel;
    let private = private();
    let call = quote!(#private::Call::new(facts(), extents));
    let tensor = |operand: usize| {
        let name = &kernel.operands[operand].name;
        let (s, t) = (slice(name), format_ident!("{}", name));
        quote!(#private::Tensor { data: #s, shape: #t.shape() })
    };
    let lowered = match gradient.map(|g| g.wrt) {
        // A sum over every output axis but the bias's, whatever the kernel.
        Some(Wrt::Bias) => {
            quote!(#private::lowered::grad_bias(#call, s_grad_y, out.as_mut_slice()))
        }
        wrt if facts.adjoint.is_some() => {
            let adjoint = facts.adjoint.as_ref()?;
            let (image, other) = (tensor(adjoint.image), tensor(adjoint.other));
            match wrt {
                None => {
                    let bias = match kernel.bias {
                        Some(_) => quote!(::core::option::Option::Some(s_bias)),
                        None => quote!(::core::option::Option::None),
                    };
                    quote!(#private::lowered::fold_forward(#call, #image, #other, #bias, out))
                }
                Some(Wrt::Operand(i)) if i == adjoint.image => {
                    quote!(#private::lowered::fold_grad_image(#call, #other, s_grad_y, out))
                }
                _ => quote!(#private::lowered::fold_grad_other(
                    #call,
                    #image,
                    s_grad_y,
                    out.as_mut_slice()
                )),
            }
        }
        wrt => {
            let plan = gemm_plan(kernel)?;
            match wrt {
                None => {
                    let (a, b) = (tensor(plan.a), tensor(plan.b));
                    let bias = match kernel.bias {
                        Some(_) => quote!(::core::option::Option::Some(s_bias)),
                        None => quote!(::core::option::Option::None),
                    };
                    quote!(#private::lowered::forward(#call, #a, #b, #bias, out))
                }
                Some(Wrt::Operand(i)) if i == plan.a => {
                    let b = tensor(plan.b);
                    quote!(#private::lowered::grad_a(#call, #b, s_grad_y, out))
                }
                _ => {
                    let a = tensor(plan.a);
                    quote!(#private::lowered::grad_b(#call, #a, s_grad_y, out.as_mut_slice()))
                }
            }
        }
    };
    Some(quote! {
        if #lowered {
            return ::core::result::Result::Ok(());
        }
    })
}

fn forward_body(nest: &Nest<'_>, program: &Program) -> TokenStream {
    let kernel = &program.kernel;
    if program.folds.is_empty() {
        return nest.contraction(&program.forward, kernel.bias);
    }
    let (physical, view) = (&kernel.output, &kernel.output_view);
    nest.fold(
        &program.forward,
        &program.folds,
        physical,
        view,
        kernel.bias,
    )
}

fn gradient_body(nest: &Nest<'_>, gradient: &Gradient) -> TokenStream {
    match gradient.wrt {
        Wrt::Operand(i) if !gradient.folds.is_empty() => {
            let operand = &nest.kernel.operands[i];
            let c = &gradient.contraction;
            nest.fold(c, &gradient.folds, &operand.physical, &operand.view, None)
        }
        _ => nest.contraction(&gradient.contraction, None),
    }
}

/// `let len_n = extents.of('n');` for every axis (a literal where `size` fixed it), and
/// the input length, run-time low pad and geometry of every unfold that needs them.
fn extent_bindings(
    kernel: &Kernel,
    c: &Contraction,
    gradient: Option<&Gradient>,
    folds: &[FoldAxis],
) -> TokenStream {
    let unfolded = |a: char| kernel.windows.iter().any(|w| w.axis == a);
    let mut used: Vec<char> = c.output.clone();
    for a in c.inputs.iter().flat_map(|i| &i.view) {
        if !used.contains(a) {
            used.push(*a);
        }
    }
    let windows_used = |w: &Window| {
        c.inputs
            .iter()
            .flat_map(|i| &i.dims)
            .any(|d| *d == Index::Window(*w))
            || folds.iter().any(|f| f.window == *w)
    };
    let axes = used.into_iter().map(|a| {
        let l = len(a);
        // grad_bias reads its extents off grad_y alone, so it takes no fixed size on trust.
        let trusted = gradient.is_none_or(|g| g.wrt != Wrt::Bias);
        match kernel.sizes.get(&a) {
            Some(&n) if trusted && !unfolded(a) => {
                let n = lit(n);
                quote!(let #l: usize = #n;)
            }
            _ => quote!(let #l = extents.of(#a);),
        }
    });
    let windows = kernel
        .windows
        .iter()
        .enumerate()
        .filter(|(_, w)| windows_used(w))
        .map(|(i, w)| {
            let i = lit(i);
            let n = input_len(w.window);
            let input = match kernel.sizes.get(&w.axis) {
                Some(&fixed) => {
                    let fixed = lit(fixed);
                    quote!(let #n: usize = #fixed;)
                }
                None => quote!(let #n = extents.windows[#i].len;),
            };
            let lo = (w.pad == Pad::Same).then(|| {
                let lo = pad_lo(w.window);
                quote!(let #lo = extents.windows[#i].lo;)
            });
            let geo = (w.mode != PadMode::Zeros).then(|| {
                let g = geometry(w.window);
                quote!(let #g = extents.windows[#i];)
            });
            quote!(#input #lo #geo)
        });
    quote!(#(#axes)* #(#windows)*)
}
