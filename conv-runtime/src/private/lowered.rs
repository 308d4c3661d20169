//! The fast path as generated code calls it. `crate::lowered` is generic over the
//! element type, so every crate expanding `conv_kernel!` would compile its own copy of it
//! (rayon, pulp and all) at opt-level 3, some 3 CPU seconds per example in release:
//! these hand each call to [`Lowered`], whose f32 implementation is compiled once, in
//! this crate.

use super::Output;
use crate::lowered::{Call, Tensor};
use crate::Element;

/// [`crate::lowered::forward`].
pub fn forward<T: Lowered>(
    call: Call<'_>,
    a: Tensor<T>,
    b: Tensor<T>,
    bias: Option<&[T]>,
    out: &mut Output<T>,
) -> bool {
    T::forward(call, a, b, bias, out)
}

/// [`crate::lowered::grad_a`].
pub fn grad_a<T: Lowered>(call: Call<'_>, b: Tensor<T>, grad_y: &[T], out: &mut Output<T>) -> bool {
    T::grad_a(call, b, grad_y, out)
}

/// [`crate::lowered::grad_b`].
pub fn grad_b<T: Lowered>(call: Call<'_>, a: Tensor<T>, grad_y: &[T], out: &mut [T]) -> bool {
    T::grad_b(call, a, grad_y, out)
}

/// [`crate::lowered::fold_forward`].
pub fn fold_forward<T: Lowered>(
    call: Call<'_>,
    image: Tensor<T>,
    other: Tensor<T>,
    bias: Option<&[T]>,
    out: &mut Output<T>,
) -> bool {
    T::fold_forward(call, image, other, bias, out)
}

/// [`crate::lowered::fold_grad_image`].
pub fn fold_grad_image<T: Lowered>(
    call: Call<'_>,
    other: Tensor<T>,
    grad_y: &[T],
    out: &mut Output<T>,
) -> bool {
    T::fold_grad_image(call, other, grad_y, out)
}

/// [`crate::lowered::fold_grad_other`].
pub fn fold_grad_other<T: Lowered>(
    call: Call<'_>,
    image: Tensor<T>,
    grad_y: &[T],
    out: &mut [T],
) -> bool {
    T::fold_grad_other(call, image, grad_y, out)
}

/// [`crate::lowered::grad_bias`]: generic, as it is small.
pub fn grad_bias<T: Element>(call: Call<'_>, grad_y: &[T], out: &mut [T]) -> bool {
    crate::lowered::grad_bias(call, grad_y, out)
}

/// An element type and its fast paths.
pub trait Lowered: Element {
    fn forward(
        call: Call<'_>,
        a: Tensor<Self>,
        b: Tensor<Self>,
        bias: Option<&[Self]>,
        out: &mut Output<Self>,
    ) -> bool;
    fn grad_a(call: Call<'_>, b: Tensor<Self>, grad_y: &[Self], out: &mut Output<Self>) -> bool;
    fn grad_b(call: Call<'_>, a: Tensor<Self>, grad_y: &[Self], out: &mut [Self]) -> bool;
    fn fold_forward(
        call: Call<'_>,
        image: Tensor<Self>,
        other: Tensor<Self>,
        bias: Option<&[Self]>,
        out: &mut Output<Self>,
    ) -> bool;
    fn fold_grad_image(
        call: Call<'_>,
        other: Tensor<Self>,
        grad_y: &[Self],
        out: &mut Output<Self>,
    ) -> bool;
    fn fold_grad_other(
        call: Call<'_>,
        image: Tensor<Self>,
        grad_y: &[Self],
        out: &mut [Self],
    ) -> bool;
}

/// The implementations. f32's are `#[inline(never)]`: compiled here, once, and not
/// inlined into (and so instantiated again in) the caller's crate; one more call per
/// kernel run. f64's are `#[inline]`, compiled where f64 kernels are: the tests use them,
/// the examples and the benchmark do not, and compiling them here too took 4 more CPU
/// seconds of conv-runtime, which every example of a release build waits for.
macro_rules! lowered_for {
    ($t:ty, #[$inline:meta]) => {
        impl Lowered for $t {
            #[$inline]
            fn forward(
                call: Call<'_>,
                a: Tensor<Self>,
                b: Tensor<Self>,
                bias: Option<&[Self]>,
                out: &mut Output<Self>,
            ) -> bool {
                crate::lowered::forward(call, a, b, bias, out)
            }
            #[$inline]
            fn grad_a(
                call: Call<'_>,
                b: Tensor<Self>,
                grad_y: &[Self],
                out: &mut Output<Self>,
            ) -> bool {
                crate::lowered::grad_a(call, b, grad_y, out)
            }
            #[$inline]
            fn grad_b(call: Call<'_>, a: Tensor<Self>, grad_y: &[Self], out: &mut [Self]) -> bool {
                crate::lowered::grad_b(call, a, grad_y, out)
            }
            #[$inline]
            fn fold_forward(
                call: Call<'_>,
                image: Tensor<Self>,
                other: Tensor<Self>,
                bias: Option<&[Self]>,
                out: &mut Output<Self>,
            ) -> bool {
                crate::lowered::fold_forward(call, image, other, bias, out)
            }
            #[$inline]
            fn fold_grad_image(
                call: Call<'_>,
                other: Tensor<Self>,
                grad_y: &[Self],
                out: &mut Output<Self>,
            ) -> bool {
                crate::lowered::fold_grad_image(call, other, grad_y, out)
            }
            #[$inline]
            fn fold_grad_other(
                call: Call<'_>,
                image: Tensor<Self>,
                grad_y: &[Self],
                out: &mut [Self],
            ) -> bool {
                crate::lowered::fold_grad_other(call, image, grad_y, out)
            }
        }
    };
}
lowered_for!(f32, #[inline(never)]);
lowered_for!(f64, #[inline]);
