//! Evaluates a contraction of the IR, reading windowed inputs through their padding.

use super::dense::{for_each_point, Dense};
use crate::padding;
use crate::shapes::Extents;
use crate::ShapeError;
use conv_model::ir::{Contraction, Index, Source};
use conv_model::kernel::{Geometry, Kernel, PadMode};

/// How one dimension of an input is indexed by the loop point.
enum Plan {
    Axis(usize),
    Window {
        axis: usize,
        window: usize,
        stride: usize,
        dilation: usize,
        mode: PadMode,
        geometry: Geometry,
    },
}

/// `result[output] = sum over the other axes of the product of the inputs`, in f64;
/// `TooLarge` naming `name` when the result cannot be allocated.
pub(crate) fn contract(
    contraction: &Contraction,
    kernel: &Kernel,
    extents: &Extents,
    operands: &[Dense],
    grad_y: Option<&Dense>,
    name: &str,
) -> Result<Dense, ShapeError> {
    let mut loop_axes = contraction.output.clone();
    for input in &contraction.inputs {
        for &axis in &input.view {
            if !loop_axes.contains(&axis) {
                loop_axes.push(axis);
            }
        }
    }
    let slot = |axis: char| loop_axes.iter().position(|&a| a == axis).unwrap_or(0);
    let plans: Vec<Vec<Plan>> = contraction
        .inputs
        .iter()
        .map(|input| {
            input
                .dims
                .iter()
                .map(|index| match index {
                    Index::Axis(a) => Plan::Axis(slot(*a)),
                    Index::Window(w) => Plan::Window {
                        axis: slot(w.axis),
                        window: slot(w.window),
                        stride: w.stride,
                        dilation: w.dilation,
                        mode: w.mode,
                        geometry: geometry_of(kernel, extents, w),
                    },
                })
                .collect()
        })
        .collect();
    let tensors: Vec<&Dense> = contraction
        .inputs
        .iter()
        .map(|input| match input.source {
            Source::Operand(i) => &operands[i],
            Source::GradOutput => grad_y.expect("gradients are evaluated with grad_y"),
        })
        .collect();
    let mut result = Dense::zeros(extents.shape(&contraction.output), name)?;
    let out_rank = contraction.output.len();
    for_each_point(&extents.shape(&loop_axes), |point| {
        let mut product = 1.0;
        for (tensor, plan) in tensors.iter().zip(&plans) {
            let mut offset = 0;
            for (dim, p) in plan.iter().enumerate() {
                let position = match *p {
                    Plan::Axis(slot) => point[slot],
                    Plan::Window {
                        axis,
                        window,
                        stride,
                        dilation,
                        mode,
                        ref geometry,
                    } => {
                        let q = point[axis] * stride + point[window] * dilation;
                        match padding::source(mode, geometry, q) {
                            Some(position) => position,
                            None => return,
                        }
                    }
                };
                offset += position * tensor.strides[dim];
            }
            product *= tensor.data[offset];
        }
        let offset: usize = (0..out_rank).map(|d| point[d] * result.strides[d]).sum();
        result.data[offset] += product;
    });
    Ok(result)
}

/// The geometry resolved for an unfold of the kernel.
pub(crate) fn geometry_of(
    kernel: &Kernel,
    extents: &Extents,
    window: &conv_model::kernel::Window,
) -> Geometry {
    let index = kernel
        .windows
        .iter()
        .position(|w| w == window)
        .expect("every window of the IR is an unfold of its kernel");
    extents.windows[index]
}
