//! grad_a of one outer point (a batch of one, such as a stem's grad_x) through panels,
//! when `A` leads with a reduction axis that no window reads (its input channels): each
//! value's columns of a panel fold onto a chunk of `A` of its own, so the folds split
//! over those values, and the blocks' GEMMs run side by side, one per thread. Folded one
//! block after another on one thread, with each GEMM split over the threads, the stem's
//! grad_x ran slower on 2 threads than on 1 (65-68 against 72 GFLOP/s); so, 93-94.

use super::layout::DimIndex;
use super::product::Product;
use crate::Element;
use rayon::prelude::*;
use std::ops::Range;

/// For a product of one outer point whose `A` (`total` elements) leads with a reduction
/// axis that no window reads (dimensions of one value aside; a stem's input channels),
/// its reduction parts going through that axis's values in order: the length of each
/// value's chunk of `A`, and each value's reduction parts.
pub(crate) fn leading_reduction(p: &Product, total: usize) -> Option<(usize, Vec<Range<usize>>)> {
    let l = &p.layout;
    let extent = |d: &DimIndex| match d {
        DimIndex::Axis(a) => l.len.get(a).copied(),
        DimIndex::Window(_) => None,
    };
    let (dim, chunk_len) = l.a.dims.iter().find(|(d, _)| extent(d) != Some(1))?;
    let DimIndex::Axis(axis) = dim else {
        return None;
    };
    let count = l.len[axis];
    let read_by_window = l.windows.iter().any(|w| w.window.axis == *axis);
    if p.outer.len() != 1
        || p.outer[0].offset != 0
        || !l.k.contains(axis)
        || read_by_window
        || *chunk_len == 0
        || chunk_len.checked_mul(count) != Some(total)
    {
        return None;
    }
    let mut k_of_value = vec![0..0; count];
    let mut last = 0;
    for (kp, part) in p.panels.k_parts.iter().enumerate() {
        let value = part.offset / chunk_len;
        if value < last || value >= count {
            return None;
        }
        last = value;
        let range = &mut k_of_value[value];
        *range = if range.start == range.end {
            kp..kp + 1
        } else {
            range.start..kp + 1
        };
    }
    Some((*chunk_len, k_of_value))
}

/// The gradient of `A` (`out`, zeroed): the blocks' panels (`panel_of`) a wave of one per
/// thread at a time, then their folds in block order, in parallel over the values of
/// `A`'s leading reduction axis (chunks of `chunk_len`, reduction parts `k_of_value`):
/// every element's sums are added in the order one thread adds them.
pub(crate) fn fold<T: Element>(
    p: &Product,
    chunk_len: usize,
    k_of_value: &[Range<usize>],
    panel_of: &(dyn Fn(&Range<usize>, &mut Vec<T>) + Sync),
    out: &mut [T],
) {
    let blocks: Vec<_> = p.blocks_of(0).collect();
    let side_by_side = rayon::current_num_threads().clamp(1, blocks.len().max(1));
    let mut panels = vec![Vec::new(); side_by_side];
    let (layout, outer) = (&p.layout, &p.outer[0]);
    for wave in blocks.chunks(side_by_side) {
        panels
            .par_iter_mut()
            .zip(wave)
            .for_each(|(panel, parts)| panel_of(parts, panel));
        out.par_chunks_mut(chunk_len)
            .zip(k_of_value)
            .enumerate()
            .for_each(|(value, (grad, k))| {
                for (panel, parts) in panels.iter().zip(wave) {
                    let (parts, origin) = (parts.clone(), value * chunk_len);
                    p.panels
                        .fold(layout, outer, parts, k.clone(), panel, grad, origin);
                }
            });
    }
}
