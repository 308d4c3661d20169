//! Folds the gradient of an unfolded view back onto its tensor, in gather form: every
//! input position owns its result and sums the view entries that read it.

use super::contract::geometry_of;
use super::dense::{for_each_point, Dense};
use crate::padding;
use crate::shapes::Extents;
use crate::ShapeError;
use conv_model::ir::FoldAxis;
use conv_model::kernel::{Geometry, Kernel, Operand};

/// The view entries `(a, k)` that read input position `p`, from the phase table of the fold.
fn readers(fold: &FoldAxis, g: &Geometry, p: usize) -> Vec<(usize, usize)> {
    let w = &fold.window;
    let mut pairs = Vec::new();
    for q in padding::copies(w.mode, g, p) {
        let Some(first) = fold.first_tap(q) else {
            continue;
        };
        for k in (first..g.window).step_by(fold.step) {
            let Some(rest) = q.checked_sub(k * w.dilation) else {
                break;
            };
            let a = rest / w.stride;
            if a < g.out {
                pairs.push((a, k));
            }
        }
    }
    pairs
}

/// One folded axis: its slot among the physical axes, the view slots of `(a, k)`, and
/// the readers of every input position.
struct FoldTable {
    physical: usize,
    view_axis: usize,
    view_window: usize,
    readers: Vec<Vec<(usize, usize)>>,
}

/// `grad[physical] = sum of view_grad over the (a, k) of each folded axis that read it`.
pub(crate) fn fold(
    view_grad: &Dense,
    operand: &Operand,
    shape: Vec<usize>,
    folds: &[FoldAxis],
    kernel: &Kernel,
    extents: &Extents,
    name: &str,
) -> Result<Dense, ShapeError> {
    let view_slot = |axis: char| operand.view.iter().position(|&a| a == axis).unwrap_or(0);
    let tables: Vec<FoldTable> = folds
        .iter()
        .map(|fold| {
            let g = geometry_of(kernel, extents, &fold.window);
            FoldTable {
                physical: operand
                    .physical
                    .iter()
                    .position(|&a| a == fold.window.axis)
                    .unwrap_or(0),
                view_axis: view_slot(fold.window.axis),
                view_window: view_slot(fold.window.window),
                readers: (0..g.len).map(|p| readers(fold, &g, p)).collect(),
            }
        })
        .collect();
    let plain: Vec<(usize, usize)> = operand
        .physical
        .iter()
        .enumerate()
        .filter(|(_, a)| !folds.iter().any(|f| f.window.axis == **a))
        .map(|(i, &a)| (i, view_slot(a)))
        .collect();
    let mut grad = Dense::zeros(shape, name)?;
    let grad_strides = grad.strides.clone();
    for_each_point(&grad.shape.clone(), |point| {
        let base: usize = plain
            .iter()
            .map(|&(phys, view)| point[phys] * view_grad.strides[view])
            .sum();
        let lists: Vec<&Vec<(usize, usize)>> = tables
            .iter()
            .map(|t| &t.readers[point[t.physical]])
            .collect();
        let mut sum = 0.0;
        for_each_point(
            &lists.iter().map(|l| l.len()).collect::<Vec<_>>(),
            |choice| {
                let mut offset = base;
                for ((table, list), &c) in tables.iter().zip(&lists).zip(choice) {
                    let (a, k) = list[c];
                    offset += a * view_grad.strides[table.view_axis]
                        + k * view_grad.strides[table.view_window];
                }
                sum += view_grad.data[offset];
            },
        );
        let at: usize = point.iter().zip(&grad_strides).map(|(p, s)| p * s).sum();
        grad.data[at] = sum;
    });
    Ok(grad)
}
