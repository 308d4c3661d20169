//! The fast path: kernels that are batches of matrix products, at or above a size
//! threshold, run as one instead of as their generated loop nest. This module is the
//! dispatcher: `choose` picks each pass's path from the kernel's facts and the call's
//! extents, from one table of rules with their measured reasons, and each path is a
//! module of its own:
//!
//! - `direct`: windows along the output's contiguous rows, for the forward pass and
//!   grad_w: a padded copy (strided windows split into phases), every tap a shifted
//!   stretch of it, register tiles of broadcast FMAs (64 positions x 6 columns, or, for
//!   few positions per image, any 6 positions x 64 columns);
//! - `transposed`: grad_x of stride-1 zero-padded windows as a forward convolution of
//!   grad_y, by the direct kernel;
//! - `single`: products of one column (depthwise);
//! - `by_value`: grad_a of one outer point through panels, split over the values of
//!   `A`'s leading reduction axis;
//! - `gemm_path`: products without windows reading the operand in place, and the rest as
//!   im2col panels and a register-blocked SIMD GEMM, gradients backwards;
//! - `merged`: products whose outer points have few rows each, as one GEMM over all of
//!   them (rows read in place or as im2col panels);
//! - `pack`: B copied reduction-major, a register square transposed at a time;
//! - `bias`: the bias added, and its gradient summed;
//! - `adjoint`: kernels with windows on their output, as their adjoint's passes.
//!
//! A product's plan is prepared once per kernel and shapes (`prepared`). Work is split
//! with rayon; a block's output region is its own, and partial sums are added in a fixed
//! order, so results do not depend on the number of threads.

mod adjoint;
mod bias;
mod by_value;
mod call;
mod choose;
mod direct;
mod gemm;
mod gemm_path;
mod lanes;
mod layout;
mod merged;
mod pack;
mod panel;
mod prepared;
mod product;
mod scratch;
mod simd;
mod single;
#[cfg(test)]
mod tests;
mod transposed;
pub mod zmm;

use crate::__private::Output;
use crate::Element;
pub use call::{Call, Tensor};
use choose::{decide, Pass};
pub use choose::{explain, set_min_macs, Choice, Path};

/// `C = A (x) B` (+ `bias` along its output axis) on the fast path; `false` leaves `out`
/// to the loop nest, zeroed or not yet written. Paths that write every element write
/// `out` with no zeros first.
pub fn forward<T: Element>(
    call: Call<'_>,
    a: Tensor<T>,
    b: Tensor<T>,
    bias: Option<&[T]>,
    out: &mut Output<T>,
) -> bool {
    let (choice, situation) = decide(call, Pass::Forward);
    let Some(prepared) = situation.prepared else {
        return false;
    };
    let p = &prepared.product;
    let kernel = call.kernel();
    let bias = kernel.bias.zip(bias);
    let output_bias = |(axis, values)| direct::OutputBias {
        inner: bias::inner(&kernel.output, &p.layout.len, axis),
        values,
    };
    match choice.path {
        Path::Direct | Path::PositionTiles => {
            let Some(direct) = prepared.direct(out.len()) else {
                unreachable!("these rows apply only with a direct kernel")
            };
            let bias = bias.map(output_bias);
            if choice.path == Path::PositionTiles {
                direct.forward_by_position(p, a.data, b.data, &[], bias, out);
            } else {
                let packed = p.pack_b_per_batch(b.data, true);
                direct.forward(p, a.data, &packed, bias, out);
            }
            return true;
        }
        Path::ChannelsLast => {
            let Some(tiles) = prepared.channels_last(out.len()) else {
                unreachable!("the choice checked the channels-last plan")
            };
            let on_columns = kernel.bias.is_some_and(|axis| p.layout.n.contains(&axis));
            let bias = bias.map(|bias| (output_bias(bias), on_columns));
            tiles.forward(p, a.data, b.data, &[], bias, out);
            return true;
        }
        Path::Winograd => {
            let (direct, tiles) =
                prepared.direct_and_tiles(out.len(), call.facts.winograd.as_ref());
            let packed = p.pack_b_per_batch(b.data, true);
            let bias = bias.map(output_bias);
            tiles.forward(direct, p, a.data, &packed[0], bias, out.as_mut_slice());
            return true;
        }
        _ => {}
    }
    let out = out.as_mut_slice();
    match choice.path {
        Path::SingleColumn => {
            let packed = p.pack_b_per_batch(b.data, false);
            single::forward_all(p, a.data, &packed, out);
        }
        Path::Merged => merged::forward(p, a.data, b.data, out),
        Path::InPlace | Path::Panels => {
            let packed = p.pack_b_per_batch(b.data, false);
            gemm_path::multiply_all(p, a.data, &packed, out, rayon::current_num_threads());
        }
        _ => return false,
    }
    if let Some((axis, values)) = bias {
        bias::add_bias(&kernel.output, &p.layout.len, axis, values, out);
    }
    true
}

/// The gradient of B, `grad_b[k][n] = sum over rows of A[m][k] grad_y[m][n]`, added into
/// the zeroed `out`; `false` leaves it untouched for the loop nest.
pub fn grad_b<T: Element>(call: Call<'_>, a: Tensor<T>, grad_y: &[T], out: &mut [T]) -> bool {
    let (choice, situation) = decide(call, Pass::GradB);
    let Some(prepared) = situation.prepared else {
        return false;
    };
    let p = &prepared.product;
    match choice.path {
        Path::Direct => match prepared.direct(grad_y.len()) {
            Some(direct) => direct.grad_b(p, a.data, grad_y, out),
            None => unreachable!("the direct row applies only with a direct kernel"),
        },
        Path::Winograd => {
            let (direct, tiles) =
                prepared.direct_and_tiles(grad_y.len(), call.facts.winograd.as_ref());
            tiles.grad_b(direct, p, a.data, grad_y, out)
        }
        Path::SingleColumn => single::grad_b_all(p, a.data, grad_y, out),
        Path::Merged => merged::grad_b(p, a.data, grad_y, out),
        Path::InPlace | Path::Panels => gemm_path::grad_b(p, a.data, grad_y, out),
        _ => return false,
    }
    true
}

/// The gradient of A, the windowed operand, written into `out` (see [`forward`]); `false`
/// leaves it untouched for the loop nest.
pub fn grad_a<T: Element>(call: Call<'_>, b: Tensor<T>, grad_y: &[T], out: &mut Output<T>) -> bool {
    let (choice, situation) = decide(call, Pass::GradA);
    let Some(prepared) = situation.prepared else {
        return false;
    };
    match (choice.path, situation.transposed) {
        (
            Path::Transposed | Path::Winograd | Path::PositionTiles | Path::ChannelsLast,
            Some(transposed),
        ) => transposed::grad_a(call, &transposed, choice.path, b.data, grad_y, out),
        (Path::Merged, _) => merged::grad_a(&prepared.product, b.data, grad_y, out.as_mut_slice()),
        (Path::LocalAdjoint, _) => {
            let Some(direct) = prepared.direct(grad_y.len()) else {
                unreachable!("checked by the choice")
            };
            let packed = prepared.product.pack_b_per_batch(b.data, true);
            direct.grad_a_local(&prepared.product, &packed, grad_y, out)
        }
        (Path::SingleColumn | Path::InPlace | Path::Panels, _) => {
            gemm_path::grad_a(&prepared.product, b.data, grad_y, out.as_mut_slice())
        }
        _ => return false,
    }
    true
}

/// The forward pass of a kernel with windows on its output: its adjoint's gradient of
/// the windowed operand, at `grad = image`; `false` leaves `out` untouched.
pub fn fold_forward<T: Element>(
    call: Call<'_>,
    image: Tensor<T>,
    other: Tensor<T>,
    bias: Option<&[T]>,
    out: &mut Output<T>,
) -> bool {
    let Some(adjoint) = adjoint::AdjointCall::new(call) else {
        return false;
    };
    if !grad_a(adjoint.call(), other, image.data, out) {
        return false;
    }
    let kernel = call.kernel();
    if let Some((axis, values)) = kernel.bias.zip(bias) {
        let len = kernel
            .output
            .iter()
            .copied()
            .zip(adjoint.y_shape.iter().copied());
        bias::add_bias(
            &kernel.output,
            &len.collect(),
            axis,
            values,
            out.as_mut_slice(),
        );
    }
    true
}

/// The gradient of the image operand of a kernel with windows on its output: its
/// adjoint's forward pass on `grad_y`.
pub fn fold_grad_image<T: Element>(
    call: Call<'_>,
    other: Tensor<T>,
    grad_y: &[T],
    out: &mut Output<T>,
) -> bool {
    let Some(adjoint) = adjoint::AdjointCall::new(call) else {
        return false;
    };
    forward(adjoint.call(), adjoint.g(grad_y), other, None, out)
}

/// The gradient of the other operand of a kernel with windows on its output: its
/// adjoint's gradient of its other operand, with `grad_y` as the adjoint's first operand
/// and the image as its upstream gradient.
pub fn fold_grad_other<T: Element>(
    call: Call<'_>,
    image: Tensor<T>,
    grad_y: &[T],
    out: &mut [T],
) -> bool {
    let Some(adjoint) = adjoint::AdjointCall::new(call) else {
        return false;
    };
    grad_b(adjoint.call(), adjoint.g(grad_y), image.data, out)
}

/// The gradient of the bias: the sum of `grad_y` over every output axis but the bias's,
/// written into `out`; `false` (and `out` untouched) below the threshold.
pub fn grad_bias<T: Element>(call: Call<'_>, grad_y: &[T], out: &mut [T]) -> bool {
    let kernel = call.kernel();
    let (Some(axis), (choice, _)) = (kernel.bias, decide(call, Pass::GradBias)) else {
        return false;
    };
    choice.path == Path::BiasSum && bias::grad_bias(&kernel.output, axis, call.extents, grad_y, out)
}
