//! The public functions of a generated module: `output_shape`, `forward`, `backward`,
//! `grad_<operand>`, `grad_bias`, their `*_into` variants, `Grads` and the `Kernel` impl.

use super::kernels::kernel_name;
use super::names::{dim, ident, nd, private};
use crate::ir::{Gradient, Program, Source, Wrt};
use crate::kernel::Kernel;
use crate::text;
use proc_macro2::{Ident, TokenStream};
use quote::{format_ident, quote};

pub(crate) fn api(program: &Program) -> TokenStream {
    let kernel = &program.kernel;
    let grads = program.gradients.iter().map(|g| gradient_fns(program, g));
    let items = [
        output_shape(kernel),
        forward_fns(program),
        quote!(#(#grads)*),
        backward(program),
        kernel_impl(program),
    ];
    quote!(#(#items)*)
}

struct Api<'a> {
    kernel: &'a Kernel,
    elem: TokenStream,
    nd: TokenStream,
    private: TokenStream,
}

impl<'a> Api<'a> {
    fn new(kernel: &'a Kernel) -> Self {
        Api {
            kernel,
            elem: super::elem(kernel),
            nd: nd(),
            private: private(),
        }
    }

    fn operand(&self, i: usize) -> Ident {
        ident(&self.kernel.operands[i].name)
    }

    fn rank(&self, i: usize) -> usize {
        self.kernel.operands[i].physical.len()
    }

    /// `ArrayView<'_, Elem, D>` of operand `i`.
    fn view_type(&self, rank: usize) -> TokenStream {
        let (nd, elem, d) = (&self.nd, &self.elem, dim(rank));
        quote!(#nd::ArrayView<'_, #elem, #d>)
    }

    fn array_type(&self, rank: usize) -> TokenStream {
        let (nd, elem, d) = (&self.nd, &self.elem, dim(rank));
        quote!(#nd::Array<#elem, #d>)
    }

    fn as_array(&self, rank: usize) -> TokenStream {
        let (nd, elem, d) = (&self.nd, &self.elem, dim(rank));
        quote!(impl #nd::AsArray<'a, #elem, #d>)
    }

    fn view_mut(&self, rank: usize) -> TokenStream {
        let (nd, elem, d) = (&self.nd, &self.elem, dim(rank));
        quote!(#nd::ArrayViewMut<'_, #elem, #d>)
    }

    fn out_rank(&self) -> usize {
        self.kernel.output.len()
    }

    /// The output's shape: an axis with a window on the output at the output's length
    /// (`extents.windows[u].len`), the others at their extent.
    fn output_shape(&self) -> TokenStream {
        let kernel = self.kernel;
        let dims = kernel.output.iter().map(|&axis| {
            let folded = kernel
                .windows
                .iter()
                .position(|w| w.operand == kernel.output_slot() && w.axis == axis);
            match folded {
                Some(u) => quote!(extents.windows[#u].len),
                None => quote!(extents.of(#axis)),
            }
        });
        quote!([#(#dims),*])
    }

    /// Checks `grad_y` against the output's shape.
    fn check_grad_y(&self) -> TokenStream {
        let private = &self.private;
        quote!(#private::check_output(&extents, facts().kernel(), grad_y.shape())?;)
    }
}

fn output_shape(kernel: &Kernel) -> TokenStream {
    let api = Api::new(kernel);
    let params = (0..kernel.operands.len()).map(|i| {
        let (name, rank) = (api.operand(i), api.rank(i));
        quote!(#name: [usize; #rank])
    });
    let names = (0..kernel.operands.len()).map(|i| api.operand(i));
    let rank = api.out_rank();
    let shape = api.output_shape();
    quote! {
        /// The shape of `forward`'s result for operands of these shapes.
        pub fn output_shape(#(#params),*) -> ::core::result::Result<[usize; #rank], ::conv_runtime::ShapeError> {
            let extents = extents(&[#(&#names[..]),*])?;
            ::core::result::Result::Ok(#shape)
        }
    }
}

fn forward_fns(program: &Program) -> TokenStream {
    let kernel = &program.kernel;
    let api = Api::new(kernel);
    let (elem, private) = (&api.elem, &api.private);
    let n = kernel.operands.len();
    let names: Vec<Ident> = (0..n).map(|i| api.operand(i)).collect();
    let view_params = (0..n).map(|i| {
        let (name, ty) = (api.operand(i), api.view_type(api.rank(i)));
        quote!(#name: #ty)
    });
    let generic_params: Vec<TokenStream> = (0..n)
        .map(|i| {
            let (name, ty) = (api.operand(i), api.as_array(api.rank(i)));
            quote!(#name: #ty)
        })
        .collect();
    let out_ty = api.array_type(api.out_rank());
    let out_mut = api.view_mut(api.out_rank());
    let out_rank = super::names::lit(api.out_rank());
    let out_axes = &kernel.output;
    let shape = api.output_shape();
    let y = &kernel.output_name;
    let bias = kernel.bias.map(|axis| {
        let (view, generic) = (api.view_type(1), api.as_array(1));
        (
            quote!(bias: ::core::option::Option<#view>,),
            quote!(bias: #generic,),
            quote!(::core::option::Option::Some(bias.into()),),
            quote! {
                if let ::core::option::Option::Some(bias) = &bias {
                    #private::check_tensor(&extents, "bias", &[#axis], bias.shape())?;
                }
                let s_bias: ::std::vec::Vec<#elem> = #private::bias_values(bias, extents.of(#axis))?;
            },
            quote!(&s_bias,),
        )
    });
    let (bias_view, bias_param, bias_arg, bias_prep, bias_pass) = match bias {
        Some((a, b, c, d, e)) => (Some(a), Some(b), Some(c), Some(d), Some(e)),
        None => (None, None, None, None, None),
    };
    let doc = format!(
        " `{}`{}: the forward result, or the first shape mismatch found.",
        text::forward_text(program),
        kernel
            .bias
            .map_or(String::new(), |a| format!(" plus `bias[{a}]`"))
    );
    let kernel_fn = kernel_name(kernel, None);
    quote! {
        /// The core of [`forward`], on views of fixed rank.
        fn forward_views(#(#view_params,)* #bias_view) -> ::core::result::Result<#out_ty, ::conv_runtime::ShapeError> {
            let extents = extents(&[#(#names.shape()),*])?;
            let shape = #shape;
            #bias_prep
            let mut out = #private::Output::new(#y, &shape)?;
            #kernel_fn(&extents, #(#names.view(),)* #bias_pass &mut out, &#private::strides::<#out_rank>(&shape))?;
            #private::into_array(#y, &shape, out.into_vec())
        }

        #[doc = #doc]
        pub fn forward<'a>(#(#generic_params,)* #bias_param) -> ::core::result::Result<#out_ty, ::conv_runtime::ShapeError> {
            forward_views(#(#names.into(),)* #bias_arg)
        }

        /// As [`forward`], writing the result into `out`, which must have its shape.
        pub fn forward_into<'a>(#(#generic_params,)* #bias_param mut out: #out_mut) -> ::core::result::Result<(), ::conv_runtime::ShapeError> {
            let y = forward_views(#(#names.into(),)* #bias_arg)?;
            #private::write_into(&[#(#out_axes),*], &y, &mut out)
        }
    }
}

/// `grad_<operand>` (or `grad_bias`), its `_views` core and its `_into` variant.
fn gradient_fns(program: &Program, gradient: &Gradient) -> TokenStream {
    let kernel = &program.kernel;
    let api = Api::new(kernel);
    let private = &api.private;
    let check_grad_y = api.check_grad_y();
    let grad_y_view = api.view_type(api.out_rank());
    let grad_y_generic = api.as_array(api.out_rank());
    let kernel_fn = kernel_name(kernel, Some(gradient.wrt));
    let doc = format!(
        " `{}`: the gradient of `<y, grad_y>`, derived from the spec.",
        text::gradient_text(kernel, gradient)
    );
    let Wrt::Operand(target) = gradient.wrt else {
        return bias_fns(&api, &doc);
    };
    let n = kernel.operands.len();
    let target_name = api.operand(target);
    let names: Vec<Ident> = (0..n).map(|i| api.operand(i)).collect();
    let rank = api.rank(target);
    let rank_lit = super::names::lit(rank);
    let params = |generic: bool| -> Vec<TokenStream> {
        (0..n)
            .map(|i| {
                let name = api.operand(i);
                if i == target {
                    let r = api.rank(i);
                    quote!(#name: [usize; #r])
                } else if generic {
                    let ty = api.as_array(api.rank(i));
                    quote!(#name: #ty)
                } else {
                    let ty = api.view_type(api.rank(i));
                    quote!(#name: #ty)
                }
            })
            .collect()
    };
    let (view_params, generic_params) = (params(false), params(true));
    let shapes = names.iter().enumerate().map(|(i, name)| {
        if i == target {
            quote!(&#name[..])
        } else {
            quote!(#name.shape())
        }
    });
    let args = gradient
        .contraction
        .inputs
        .iter()
        .map(|input| match input.source {
            Source::Operand(i) => {
                let name = api.operand(i);
                quote!(#name.view())
            }
            Source::GradOutput => quote!(grad_y.view()),
        });
    let converted = names.iter().enumerate().map(|(i, name)| {
        if i == target {
            quote!(#name)
        } else {
            quote!(#name.into())
        }
    });
    let converted: Vec<TokenStream> = converted.collect();
    let (views_fn, public, into) = (
        format_ident!("grad_{}_views", target_name),
        format_ident!("grad_{}", target_name),
        format_ident!("grad_{}_into", target_name),
    );
    let array = api.array_type(rank);
    let out_mut = api.view_mut(rank);
    let result_name = format!("grad_{target_name}");
    let axes = &kernel.operands[target].physical;
    let shape_doc =
        format!(" `{target_name}` is the shape of the operand; its values are not needed.");
    let views_doc = format!(" The core of [`{public}`], on views of fixed rank.");
    let into_doc =
        format!(" As [`{public}`], writing the result into `out`, which must have its shape.");
    quote! {
        #[doc = #views_doc]
        fn #views_fn(#(#view_params,)* grad_y: #grad_y_view) -> ::core::result::Result<#array, ::conv_runtime::ShapeError> {
            let extents = extents(&[#(#shapes),*])?;
            #check_grad_y
            let mut out = #private::Output::new(#result_name, &#target_name)?;
            #kernel_fn(&extents, #(#args,)* &mut out, &#private::strides::<#rank_lit>(&#target_name))?;
            #private::into_array(#result_name, &#target_name, out.into_vec())
        }

        #[doc = #doc]
        #[doc = ""]
        #[doc = #shape_doc]
        pub fn #public<'a>(#(#generic_params,)* grad_y: #grad_y_generic) -> ::core::result::Result<#array, ::conv_runtime::ShapeError> {
            #views_fn(#(#converted,)* grad_y.into())
        }

        #[doc = #into_doc]
        pub fn #into<'a>(#(#generic_params,)* grad_y: #grad_y_generic, mut out: #out_mut) -> ::core::result::Result<(), ::conv_runtime::ShapeError> {
            let grad = #views_fn(#(#converted,)* grad_y.into())?;
            #private::write_into(&[#(#axes),*], &grad, &mut out)
        }
    }
}

/// `grad_bias(grad_y)`: needs no operand, and fails only for a `grad_y` of the wrong
/// rank, which only the dynamic-rank arrays of outputs beyond 6 axes can have.
fn bias_fns(api: &Api<'_>, doc: &str) -> TokenStream {
    let Some(bias_axis) = api.kernel.bias else {
        return TokenStream::new();
    };
    let private = &api.private;
    let out_axes = &api.kernel.output;
    let grad_y_view = api.view_type(api.out_rank());
    let grad_y_generic = api.as_array(api.out_rank());
    let kernel_fn = kernel_name(api.kernel, Some(Wrt::Bias));
    let d = api.view_mut(1);
    let array = api.array_type(1);
    let rank = api.out_rank();
    quote! {
        fn grad_bias_views(grad_y: #grad_y_view) -> ::core::result::Result<#array, ::conv_runtime::ShapeError> {
            #private::fixed_shape::<#rank>("grad_y", grad_y.shape())?;
            let extents = #private::output_extents(&[#(#out_axes),*], grad_y.shape());
            let shape = [extents.of(#bias_axis)];
            let mut out = #private::Output::new("grad_bias", &shape)?;
            #kernel_fn(&extents, grad_y.view(), &mut out, &[1])?;
            ::core::result::Result::Ok(<#array>::from(out.into_vec()))
        }

        #[doc = #doc]
        pub fn grad_bias<'a>(grad_y: #grad_y_generic) -> ::core::result::Result<#array, ::conv_runtime::ShapeError> {
            grad_bias_views(grad_y.into())
        }

        /// As [`grad_bias`], writing the result into `out`, which must have its shape.
        pub fn grad_bias_into<'a>(grad_y: #grad_y_generic, mut out: #d) -> ::core::result::Result<(), ::conv_runtime::ShapeError> {
            #private::write_into(&[#bias_axis], &grad_bias_views(grad_y.into())?, &mut out)
        }
    }
}

/// `backward(operands.., grad_y) -> Grads` and the `Grads` struct.
fn backward(program: &Program) -> TokenStream {
    let kernel = &program.kernel;
    let api = Api::new(kernel);
    let private = &api.private;
    let n = kernel.operands.len();
    let names: Vec<Ident> = (0..n).map(|i| api.operand(i)).collect();
    let generic_params = (0..n).map(|i| {
        let (name, ty) = (api.operand(i), api.as_array(api.rank(i)));
        quote!(#name: #ty)
    });
    let grad_y_generic = api.as_array(api.out_rank());
    let fields = (0..n).map(|i| {
        let (name, ty) = (api.operand(i), api.array_type(api.rank(i)));
        let doc = format!("The gradient of `{name}`, shaped like it.");
        quote!(#[doc = #doc] pub #name: #ty)
    });
    let computed = (0..n).map(|target| {
        let name = api.operand(target);
        let views_fn = format_ident!("grad_{}_views", name);
        let rank = api.rank(target);
        let args = names.iter().enumerate().map(|(i, other)| {
            let label = other.to_string();
            if i == target {
                quote!(#private::fixed_shape::<#rank>(#label, #other.shape())?)
            } else {
                quote!(#other.view())
            }
        });
        quote!(#name: #views_fn(#(#args,)* grad_y.view())?)
    });
    let (bias_field, bias_value) = match kernel.bias {
        Some(_) => {
            let ty = api.array_type(1);
            (
                Some(quote!(/// The gradient of the bias.
                    pub bias: #ty,)),
                Some(quote!(bias: grad_bias_views(grad_y.view())?,)),
            )
        }
        None => (None, None),
    };
    quote! {
        /// The gradients of every operand (fields named like the operands) and of the bias.
        #[derive(Clone, Debug, PartialEq)]
        pub struct Grads {
            #(#fields,)*
            #bias_field
        }

        /// Every gradient of `<y, grad_y>`: one per operand and the bias's.
        pub fn backward<'a>(#(#generic_params,)* grad_y: #grad_y_generic) -> ::core::result::Result<Grads, ::conv_runtime::ShapeError> {
            #(let #names = #names.into();)*
            let grad_y = grad_y.into();
            ::core::result::Result::Ok(Grads {
                #(#computed,)*
                #bias_value
            })
        }
    }
}

/// `impl conv_runtime::Kernel for Kernel`.
fn kernel_impl(program: &Program) -> TokenStream {
    let kernel = &program.kernel;
    let api = Api::new(kernel);
    let (nd, elem, private) = (&api.nd, &api.elem, &api.private);
    let n = kernel.operands.len();
    let names: Vec<Ident> = (0..n).map(|i| api.operand(i)).collect();
    let convert = |skip: Option<usize>| -> Vec<TokenStream> {
        (0..n)
            .filter(|&i| Some(i) != skip)
            .map(|i| {
                let (name, d, label) = (
                    api.operand(i),
                    dim(api.rank(i)),
                    kernel.operands[i].name.clone(),
                );
                quote!(let #name = #private::into_dim::<#elem, #d>(#label, #name.view())?;)
            })
            .collect()
    };
    let all = convert(None);
    let out_d = dim(api.out_rank());
    let check_grad_y = api.check_grad_y();
    let forward_call = match kernel.bias {
        Some(_) => quote! {
            let bias = match bias {
                ::core::option::Option::Some(bias) => ::core::option::Option::Some(#private::into_dim::<#elem, #nd::Ix1>("bias", bias)?),
                ::core::option::Option::None => ::core::option::Option::None,
            };
            forward_views(#(#names,)* bias)
        },
        None => quote! {
            if bias.is_some() {
                return ::core::result::Result::Err(::conv_runtime::ShapeError::OperandCount { expected: #n, actual: #n + 1 });
            }
            forward_views(#(#names),*)
        },
    };
    let arms = program.gradients.iter().map(|g| match g.wrt {
        Wrt::Bias => quote! {
            ::conv_runtime::Wrt::Bias => {
                // Like the interpreter: grad_y must fit the operands.
                #(#all)*
                let extents = extents(&[#(#names.shape()),*])?;
                #check_grad_y
                grad_bias_views(grad_y).map(|g| g.into_dyn())
            }
        },
        Wrt::Operand(target) => {
            let converts = convert(Some(target));
            let (name, rank) = (api.operand(target), api.rank(target));
            let label = kernel.operands[target].name.clone();
            let views_fn = format_ident!("grad_{}_views", name);
            quote! {
                ::conv_runtime::Wrt::Operand(#target) => {
                    let #name = #private::fixed_shape::<#rank>(#label, #name.shape())?;
                    #(#converts)*
                    #views_fn(#(#names,)* grad_y).map(|g| g.into_dyn())
                }
            }
        }
    });
    quote! {
        /// This kernel as a value, for generic code: `conv_runtime::check` runs it against
        /// the reference interpreter and finite differences.
        #[derive(Clone, Copy, Debug, Default)]
        pub struct Kernel;

        impl ::conv_runtime::Kernel for Kernel {
            type Elem = #elem;
            const SOURCE: &'static str = SOURCE;

            fn facts(&self) -> &'static ::conv_runtime::model::facts::Facts {
                facts()
            }

            fn forward_dyn(
                &self,
                operands: &[#nd::ArrayViewD<'_, #elem>],
                bias: ::core::option::Option<#nd::ArrayViewD<'_, #elem>>,
            ) -> ::core::result::Result<#nd::ArrayD<#elem>, ::conv_runtime::ShapeError> {
                let [#(#names),*] = operands else {
                    return ::core::result::Result::Err(::conv_runtime::ShapeError::OperandCount { expected: #n, actual: operands.len() });
                };
                #(#all)*
                #forward_call.map(|y| y.into_dyn())
            }

            fn gradient_dyn(
                &self,
                wrt: ::conv_runtime::Wrt,
                operands: &[#nd::ArrayViewD<'_, #elem>],
                grad_y: #nd::ArrayViewD<'_, #elem>,
            ) -> ::core::result::Result<#nd::ArrayD<#elem>, ::conv_runtime::ShapeError> {
                let [#(#names),*] = operands else {
                    return ::core::result::Result::Err(::conv_runtime::ShapeError::OperandCount { expected: #n, actual: operands.len() });
                };
                let grad_y = #private::into_dim::<#elem, #out_d>("grad_y", grad_y)?;
                match wrt {
                    #(#arms)*
                    #[allow(unreachable_patterns)]
                    _ => ::core::result::Result::Err(::conv_runtime::ShapeError::OperandCount { expected: #n, actual: operands.len() }),
                }
            }
        }
    }
}
