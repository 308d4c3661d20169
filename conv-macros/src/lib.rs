//! The `conv_kernel!` procedural macro of conv-kernels: a shim over
//! `conv_codegen::expand`, which parses, checks, derives and emits.
//!
//! Use the macro through `conv_runtime::conv_kernel` (depend on `conv-runtime`, not on
//! this crate): the code it generates calls into `conv_runtime` by absolute paths.
//!
//! The examples in the macro's documentation (src/conv_kernel_examples.md) need
//! `conv_runtime`, which this crate's doc tests cannot link (it depends on this crate).
//! They are left out of this crate's doc tests (`cfg(doctest)`) and run as doc tests of
//! conv-runtime, which includes the same file.

#![warn(missing_docs)]

/// Generates specialised forward and backward kernels from einsum specs with windows.
///
/// Use it as `conv_runtime::conv_kernel!`: the generated code calls into `conv_runtime`.
/// The README of the repository has a tutorial and the full language reference.
///
/// # Grammar
///
/// ```text
/// conv_kernel! { KERNEL... }
///
/// KERNEL    = [#[attribute]...] [VISIBILITY] NAME ( OPERAND, ... ) = "SPEC" { STATEMENT... }
///           | [#[attribute]...] [VISIBILITY] NAME ( OPERAND, ... ) = "SPEC" ;
/// STATEMENT = unfold OPERAND.AXIS by WINDOW [, stride = S] [, dilation = D] [, pad = P] [, mode = M] ;
///           | size AXIS = N [, AXIS = N]... ;
///           | bias AXIS ;
///           | dtype f32 ;  |  dtype f64 ;
/// P         = INTEGER | (LO, HI) | valid | same
/// M         = zeros | reflect | replicate | circular
/// ```
///
/// - `SPEC` is an einsum: one subscript per operand, `->`, the output's subscript. Axes
///   are single ASCII letters (spaces are ignored); each output axis must occur in an
///   input; axes that occur only in inputs are summed; an axis appears at most once per
///   subscript.
/// - `unfold x.h by k` views operand `x` through sliding windows along its axis `h`:
///   `view[.., a, .., k, ..] = padded[.., a*S + k*D, ..]`. The array passed for `x` has
///   the axes of its subscript without `k`. Along `h` the view has the length
///   `floor((len + pad_lo + pad_hi - D*(K-1) - 1) / S) + 1` for a window of `K` taps.
///   `S` and `D` default to 1, `P` to 0; `pad = same` gives the length `ceil(len / S)`,
///   the total padding split as TensorFlow splits it (`lo = total / 2`). The window's
///   extent comes from another operand that has the axis (the weight) or from `size`.
/// - `size A = N` fixes an extent at compile time (for an unfolded axis: its input
///   length); window loops of fixed extent are unrolled and arguments are checked
///   against it.
/// - `bias A` adds a one-dimensional bias along output axis `A`.
/// - `dtype` picks the element type, `f32` by default.
///
/// Every mistake is a compile error at the token at fault, and all of an invocation's
/// errors are reported at once.
///
/// # What it generates
///
/// A module per kernel, named like it and with its attributes (doc comments included)
/// and visibility, holding `SPEC`, `SOURCE`, `DERIVATION`, `type Elem`,
/// `output_shape`, `forward`, `backward` and its `Grads`, `grad_<operand>` for every
/// operand, `grad_bias` for a kernel with a bias, the `*_into` variants of each, and a
/// unit type `Kernel` implementing `conv_runtime::Kernel`. The module's documentation
/// shows the derivation of every gradient.
///
/// Arguments are anything ndarray converts to a view of the operand's rank (`&array`,
/// `array.view()`, transposed or sliced views); results are standard-layout arrays. A
/// shape that does not fit is an `Err(conv_runtime::ShapeError)`, never a panic.
///
#[cfg_attr(not(doctest), doc = include_str!("conv_kernel_examples.md"))]
#[proc_macro]
pub fn conv_kernel(input: proc_macro::TokenStream) -> proc_macro::TokenStream {
    conv_codegen::expand(input.into()).into()
}
