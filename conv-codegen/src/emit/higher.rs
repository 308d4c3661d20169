//! `jvp` and `double_backward` of a generated module: typed entry points to the runtime's
//! compositions of the module's own derived passes (through its `Kernel` impl).

use super::names::{dim, ident, nd, private};
use crate::kernel::Kernel;
use proc_macro2::{Ident, TokenStream};
use quote::{format_ident, quote};

pub(crate) fn higher(kernel: &Kernel) -> TokenStream {
    let items = [jvp(kernel), double_backward(kernel)];
    quote!(#(#items)*)
}

struct Types {
    elem: TokenStream,
    nd: TokenStream,
}

impl Types {
    fn new(kernel: &Kernel) -> Self {
        Types {
            elem: super::elem(kernel),
            nd: nd(),
        }
    }

    fn as_array(&self, rank: usize) -> TokenStream {
        let (nd, elem, d) = (&self.nd, &self.elem, dim(rank));
        quote!(impl #nd::AsArray<'a, #elem, #d>)
    }

    fn array(&self, rank: usize) -> TokenStream {
        let (nd, elem, d) = (&self.nd, &self.elem, dim(rank));
        quote!(#nd::Array<#elem, #d>)
    }

    fn bias_view(&self) -> TokenStream {
        let (nd, elem) = (&self.nd, &self.elem);
        quote!(::core::option::Option<#nd::ArrayView<'_, #elem, #nd::Ix1>>)
    }
}

fn names(kernel: &Kernel) -> Vec<Ident> {
    kernel.operands.iter().map(|o| ident(&o.name)).collect()
}

/// `[x.into().into_dyn(), ...]`: the arguments as dynamic-rank views.
fn dyn_views(names: &[Ident]) -> TokenStream {
    let nd = nd();
    quote!(&[#({
        let view: #nd::ArrayView<'_, _, _> = #names.into();
        view.into_dyn()
    }),*])
}

fn jvp(kernel: &Kernel) -> TokenStream {
    let (types, private) = (Types::new(kernel), private());
    let names = names(kernel);
    let tangents: Vec<Ident> = names
        .iter()
        .map(|n| format_ident!("tangent_{}", n))
        .collect();
    let params = |names: &[Ident]| -> Vec<TokenStream> {
        names
            .iter()
            .zip(&kernel.operands)
            .map(|(name, op)| {
                let ty = types.as_array(op.physical.len());
                quote!(#name: #ty)
            })
            .collect()
    };
    let (primal_params, tangent_params) = (params(&names), params(&tangents));
    let (bias_param, tangent_bias_param, bias_args) = match kernel.bias {
        Some(_) => {
            let ty = types.bias_view();
            (
                Some(quote!(bias: #ty,)),
                Some(quote!(tangent_bias: #ty,)),
                quote!(
                    bias.map(|b| b.into_dyn()),
                    tangent_bias.map(|b| b.into_dyn())
                ),
            )
        }
        None => (
            None,
            None,
            quote!(::core::option::Option::None, ::core::option::Option::None),
        ),
    };
    let y = types.array(kernel.output.len());
    let (primal_views, tangent_views) = (dyn_views(&names), dyn_views(&tangents));
    let output = &kernel.output_name;
    quote! {
        /// Forward mode, as `jax.jvp`: the forward result and its tangent along one
        /// tangent per operand (each shaped like it) and the bias's, composed from
        /// forward passes (`dy = sum_i f(.., tangent_i, ..) + tangent_bias`).
        #[allow(clippy::too_many_arguments)]
        pub fn jvp<'a>(#(#primal_params,)* #bias_param #(#tangent_params,)* #tangent_bias_param) -> ::core::result::Result<(#y, #y), ::conv_runtime::ShapeError> {
            let primals = #primal_views;
            let tangents = #tangent_views;
            let (bias, tangent_bias) = (#bias_args);
            let (y, dy) = #private::jvp(&#private::AsPasses(&Kernel), primals, bias, tangents, tangent_bias)?;
            ::core::result::Result::Ok((#private::fixed_rank(#output, y)?, #private::fixed_rank(#output, dy)?))
        }
    }
}

fn double_backward(kernel: &Kernel) -> TokenStream {
    let (types, private) = (Types::new(kernel), private());
    let names = names(kernel);
    let n = names.len();
    let params = names.iter().zip(&kernel.operands).map(|(name, op)| {
        let ty = types.as_array(op.physical.len());
        quote!(#name: #ty)
    });
    let grad_y_ty = types.as_array(kernel.output.len());
    let fields = names.iter().zip(&kernel.operands).map(|(name, op)| {
        let ty = types.array(op.physical.len());
        let doc = format!("The gradient of `s` with respect to `{name}`.");
        quote!(#[doc = #doc] pub #name: #ty)
    });
    let y_array = types.array(kernel.output.len());
    let views = dyn_views(&names);
    let labels = kernel.operands.iter().map(|o| o.name.as_str());
    let converted = names
        .iter()
        .zip(labels)
        .map(|(name, label)| quote!(#name: #private::fixed_rank(#label, #name)?));
    let (bias_field, bias_value, bias_cotangent) = match kernel.bias {
        Some(_) => {
            let ty = types.array(1);
            (
                Some(quote!(
                    /// With respect to the bias: zero, as no gradient depends on it.
                    pub bias: #ty,
                )),
                Some(quote!(bias: #private::fixed_rank("bias", dd.bias.unwrap_or_default())?,)),
                quote!(::core::option::Option::Some(
                    cotangents.bias.view().into_dyn()
                )),
            )
        }
        None => (None, None, quote!(::core::option::Option::None)),
    };
    quote! {
        /// What [`double_backward`] returns: the gradient of
        /// `s = sum over operands of <grad_<operand>, cotangent> + <grad_bias, cotangent>`.
        #[derive(Clone, Debug, PartialEq)]
        pub struct DoubleGrads {
            #(#fields,)*
            #bias_field
            /// The gradient of `s` with respect to `grad_y`.
            pub grad_y: #y_array,
        }

        /// The double backward: given the operands, `grad_y` and a cotangent for each
        /// first-order gradient (a [`Grads`]), the gradient of
        /// `s = sum of <grad_i, cotangent_i>` with respect to every operand, the bias
        /// and `grad_y`, composed from the derived gradients and forward pass. What a
        /// loss that depends on this kernel's gradients (a gradient penalty) needs.
        pub fn double_backward<'a>(#(#params,)* grad_y: #grad_y_ty, cotangents: &Grads) -> ::core::result::Result<DoubleGrads, ::conv_runtime::ShapeError> {
            let cot = #private::Cotangents {
                operands: ::std::vec![#(cotangents.#names.view().into_dyn()),*],
                bias: #bias_cotangent,
            };
            let grad_y: #private::ndarray::ArrayView<'_, _, _> = grad_y.into();
            let dd = #private::double_backward(&#private::AsPasses(&Kernel), #views, grad_y.into_dyn(), cot)?;
            let [#(#names),*] = #private::exactly::<_, #n>(dd.operands)?;
            ::core::result::Result::Ok(DoubleGrads {
                #(#converted,)*
                #bias_value
                grad_y: #private::fixed_rank("grad_y", dd.grad_y)?,
            })
        }
    }
}
