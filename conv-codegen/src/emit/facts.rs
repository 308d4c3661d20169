//! A kernel's derived [`Facts`] written out as a Rust expression that rebuilds them, so
//! the runtime receives what the macro derived instead of deriving it again.

use super::names::private;
use crate::facts::{Adjoint, Facts, Transposed};
use crate::gemm_plan::GemmPlan;
use crate::ir::{Access, Contraction, FoldAxis, Gradient, Index, Program, Source, Wrt};
use crate::kernel::{Algorithm, Dtype, Kernel, Operand, Pad, PadMode, Window};
use crate::winograd::{Ratio, Winograd};
use proc_macro2::TokenStream;
use quote::quote;

/// The expression `Facts { .. }` for these facts, through `__private::model`.
pub(crate) fn facts(facts: &Facts) -> TokenStream {
    facts.literal()
}

/// A value that can be written as an expression which rebuilds it.
trait Literal {
    fn literal(&self) -> TokenStream;
}

/// `::conv_runtime::__private::model::<path>`.
fn model(path: TokenStream) -> TokenStream {
    let private = private();
    quote!(#private::model::#path)
}

fn vec<T: Literal>(items: &[T]) -> TokenStream {
    let items = items.iter().map(Literal::literal);
    quote!(::std::vec![#(#items),*])
}

fn option<T: Literal>(value: &Option<T>) -> TokenStream {
    match value {
        Some(v) => {
            let v = v.literal();
            quote!(::core::option::Option::Some(#v))
        }
        None => quote!(::core::option::Option::None),
    }
}

impl Literal for char {
    fn literal(&self) -> TokenStream {
        quote!(#self)
    }
}

impl Literal for usize {
    fn literal(&self) -> TokenStream {
        let value = proc_macro2::Literal::usize_unsuffixed(*self);
        quote!(#value)
    }
}

impl Literal for String {
    fn literal(&self) -> TokenStream {
        quote!(::std::string::String::from(#self))
    }
}

impl Literal for Facts {
    fn literal(&self) -> TokenStream {
        let ty = model(quote!(facts::Facts));
        let (program, plan, transposed, adjoint, winograd) = (
            self.program.literal(),
            option(&self.plan),
            option(&self.transposed),
            option(&self.adjoint),
            option(&self.winograd),
        );
        quote!(#ty {
            program: #program,
            plan: #plan,
            transposed: #transposed,
            adjoint: #adjoint,
            winograd: #winograd,
        })
    }
}

impl Literal for Program {
    fn literal(&self) -> TokenStream {
        let ty = model(quote!(ir::Program));
        let (kernel, forward, folds, gradients) = (
            self.kernel.literal(),
            self.forward.literal(),
            vec(&self.folds),
            vec(&self.gradients),
        );
        quote!(#ty { kernel: #kernel, forward: #forward, folds: #folds, gradients: #gradients })
    }
}

impl Literal for Kernel {
    fn literal(&self) -> TokenStream {
        let ty = model(quote!(kernel::Kernel));
        let (name, docs, spec) = (self.name.literal(), vec(&self.docs), self.spec.literal());
        let (operands, output, windows) =
            (vec(&self.operands), vec(&self.output), vec(&self.windows));
        let (output_name, output_view) = (self.output_name.literal(), vec(&self.output_view));
        let sizes = self.sizes.iter().map(|(a, n)| {
            let n = n.literal();
            quote!((#a, #n))
        });
        let (bias, dtype, algorithm) = (
            option(&self.bias),
            self.dtype.literal(),
            self.algorithm.literal(),
        );
        quote!(#ty {
            name: #name,
            docs: #docs,
            spec: #spec,
            operands: #operands,
            output_name: #output_name,
            output_view: #output_view,
            output: #output,
            windows: #windows,
            sizes: ::std::collections::BTreeMap::from([#(#sizes),*]),
            bias: #bias,
            dtype: #dtype,
            algorithm: #algorithm,
        })
    }
}

impl Literal for Dtype {
    fn literal(&self) -> TokenStream {
        match self {
            Dtype::F32 => model(quote!(kernel::Dtype::F32)),
            Dtype::F64 => model(quote!(kernel::Dtype::F64)),
        }
    }
}

impl Literal for Algorithm {
    fn literal(&self) -> TokenStream {
        match self {
            Algorithm::Auto => model(quote!(kernel::Algorithm::Auto)),
            Algorithm::Direct => model(quote!(kernel::Algorithm::Direct)),
        }
    }
}

impl Literal for Ratio {
    fn literal(&self) -> TokenStream {
        let ty = model(quote!(winograd::Ratio));
        let (num, den) = (self.num, self.den);
        quote!(#ty { num: #num, den: #den })
    }
}

impl Literal for Winograd {
    fn literal(&self) -> TokenStream {
        let ty = model(quote!(winograd::Winograd));
        let (m, r) = (self.m.literal(), self.r.literal());
        let (a_t, g, b_t) = (vec(&self.a_t), vec(&self.g), vec(&self.b_t));
        quote!(#ty { m: #m, r: #r, a_t: #a_t, g: #g, b_t: #b_t })
    }
}

impl Literal for Operand {
    fn literal(&self) -> TokenStream {
        let ty = model(quote!(kernel::Operand));
        let (name, view, physical) = (self.name.literal(), vec(&self.view), vec(&self.physical));
        quote!(#ty { name: #name, view: #view, physical: #physical })
    }
}

impl Literal for Window {
    fn literal(&self) -> TokenStream {
        let ty = model(quote!(kernel::Window));
        let Window {
            operand,
            axis,
            window,
            stride,
            dilation,
            pad,
            mode,
            output_padding,
        } = self;
        let (operand, stride, dilation) = (operand.literal(), stride.literal(), dilation.literal());
        let output_padding = output_padding.literal();
        let (pad, mode) = (pad.literal(), mode.literal());
        quote!(#ty {
            operand: #operand,
            axis: #axis,
            window: #window,
            stride: #stride,
            dilation: #dilation,
            pad: #pad,
            mode: #mode,
            output_padding: #output_padding,
        })
    }
}

impl Literal for Pad {
    fn literal(&self) -> TokenStream {
        match self {
            Pad::Explicit { lo, hi } => {
                let ty = model(quote!(kernel::Pad::Explicit));
                let (lo, hi) = (lo.literal(), hi.literal());
                quote!(#ty { lo: #lo, hi: #hi })
            }
            Pad::Same => model(quote!(kernel::Pad::Same)),
        }
    }
}

impl Literal for PadMode {
    fn literal(&self) -> TokenStream {
        match self {
            PadMode::Zeros => model(quote!(kernel::PadMode::Zeros)),
            PadMode::Reflect => model(quote!(kernel::PadMode::Reflect)),
            PadMode::Replicate => model(quote!(kernel::PadMode::Replicate)),
            PadMode::Circular => model(quote!(kernel::PadMode::Circular)),
        }
    }
}

impl Literal for Contraction {
    fn literal(&self) -> TokenStream {
        let ty = model(quote!(ir::Contraction));
        let (inputs, output) = (vec(&self.inputs), vec(&self.output));
        quote!(#ty { inputs: #inputs, output: #output })
    }
}

impl Literal for Access {
    fn literal(&self) -> TokenStream {
        let ty = model(quote!(ir::Access));
        let (source, view, dims) = (self.source.literal(), vec(&self.view), vec(&self.dims));
        quote!(#ty { source: #source, view: #view, dims: #dims })
    }
}

impl Literal for Source {
    fn literal(&self) -> TokenStream {
        match self {
            Source::Operand(i) => {
                let (ty, i) = (model(quote!(ir::Source::Operand)), i.literal());
                quote!(#ty(#i))
            }
            Source::GradOutput => model(quote!(ir::Source::GradOutput)),
        }
    }
}

impl Literal for Index {
    fn literal(&self) -> TokenStream {
        match self {
            Index::Axis(a) => {
                let ty = model(quote!(ir::Index::Axis));
                quote!(#ty(#a))
            }
            Index::Window(w) => {
                let (ty, w) = (model(quote!(ir::Index::Window)), w.literal());
                quote!(#ty(#w))
            }
        }
    }
}

impl Literal for Gradient {
    fn literal(&self) -> TokenStream {
        let ty = model(quote!(ir::Gradient));
        let (wrt, contraction, folds) = (
            self.wrt.literal(),
            self.contraction.literal(),
            vec(&self.folds),
        );
        quote!(#ty { wrt: #wrt, contraction: #contraction, folds: #folds })
    }
}

impl Literal for Wrt {
    fn literal(&self) -> TokenStream {
        match self {
            Wrt::Operand(i) => {
                let (ty, i) = (model(quote!(ir::Wrt::Operand)), i.literal());
                quote!(#ty(#i))
            }
            Wrt::Bias => model(quote!(ir::Wrt::Bias)),
        }
    }
}

impl Literal for FoldAxis {
    fn literal(&self) -> TokenStream {
        let ty = model(quote!(ir::FoldAxis));
        let (window, gcd, step, inverse) = (
            self.window.literal(),
            self.gcd.literal(),
            self.step.literal(),
            self.inverse.literal(),
        );
        quote!(#ty { window: #window, gcd: #gcd, step: #step, inverse: #inverse })
    }
}

impl Literal for GemmPlan {
    fn literal(&self) -> TokenStream {
        let ty = model(quote!(gemm_plan::GemmPlan));
        let (a, b) = (self.a.literal(), self.b.literal());
        let (batch, m, n, k) = (vec(&self.batch), vec(&self.m), vec(&self.n), vec(&self.k));
        quote!(#ty { a: #a, b: #b, batch: #batch, m: #m, n: #n, k: #k })
    }
}

impl Literal for Transposed {
    fn literal(&self) -> TokenStream {
        let ty = model(quote!(facts::Transposed));
        let (kernel, plan) = (self.kernel.literal(), self.plan.literal());
        quote!(#ty { kernel: #kernel, plan: #plan })
    }
}

impl Literal for Adjoint {
    fn literal(&self) -> TokenStream {
        let ty = model(quote!(facts::Adjoint));
        let facts = self.facts.literal();
        let (image, other) = (self.image.literal(), self.other.literal());
        quote!(#ty { facts: ::std::boxed::Box::new(#facts), image: #image, other: #other })
    }
}
