//! The bias: added along its axis of the output, and its gradient, the sum of `grad_y`
//! over every other axis. Both are memory-bound passes over the output, vectorised and
//! split over threads; the gradient's sums are split at fixed places, so its result does
//! not depend on the number of threads.

use super::lanes;
use super::simd::vectorized;
use crate::shapes::Extents;
use crate::Element;
use rayon::prelude::*;
use std::collections::BTreeMap;

/// Elements of the output per task (and per partial sum of the gradient): enough to
/// outweigh a task's cost.
const PER_TASK: usize = 1 << 15;

/// The output seen as `[outer][bias axis][inner]`: the lengths of the bias axis and of
/// the axes inside it.
fn split(output: &[char], len: &BTreeMap<char, usize>, axis: char) -> (usize, usize) {
    let at = output.iter().position(|&a| a == axis).unwrap_or(0);
    let inner = output[at + 1..].iter().map(|a| len[a]).product();
    (len[&axis], inner)
}

/// Elements of the row-major output from one index of `axis` to the next.
pub(crate) fn inner(output: &[char], len: &BTreeMap<char, usize>, axis: char) -> usize {
    split(output, len, axis).1
}

/// Adds `bias[i]` to every element of the row-major output whose index along `axis` is `i`.
pub(crate) fn add_bias<T: Element>(
    output: &[char],
    len: &BTreeMap<char, usize>,
    axis: char,
    bias: &[T],
    out: &mut [T],
) {
    let (_, inner) = split(output, len, axis);
    let block = (inner * bias.len()).max(1);
    out.par_chunks_mut(block * PER_TASK.div_ceil(block))
        .for_each(|task| {
            for block in task.chunks_mut(block) {
                if inner == 1 {
                    // The bias axis innermost (channels last): one stretch per block.
                    vectorized(
                        #[inline(always)]
                        || lanes::add(block, bias),
                    );
                } else {
                    for (run, &b) in block.chunks_mut(inner).zip(bias) {
                        run.iter_mut().for_each(|v| *v = *v + b);
                    }
                }
            }
        });
}

/// The gradient of the bias along `axis` of the output (axes `output`, extents
/// `extents`): `out[i]` = the sum of the row-major `grad_y` over every index whose
/// `axis` is `i`. `false` (and `out` untouched) when the shapes do not agree.
pub fn grad_bias<T: Element>(
    output: &[char],
    axis: char,
    extents: &Extents,
    grad_y: &[T],
    out: &mut [T],
) -> bool {
    let (len, inner) = split(output, &extents.axes, axis);
    let block = len * inner;
    if block == 0 || out.len() != len || grad_y.len() % block != 0 {
        return false;
    }
    // One partial sum per stretch of whole blocks, added in order at the end.
    let partials: Vec<Vec<T>> = grad_y
        .par_chunks(block * PER_TASK.div_ceil(block))
        .map(|stretch| {
            let mut acc = vec![T::zero(); len];
            vectorized(
                #[inline(always)]
                || {
                    for block in stretch.chunks_exact(block) {
                        if inner == 1 {
                            lanes::add(&mut acc, block);
                        } else {
                            for (a, run) in acc.iter_mut().zip(block.chunks_exact(inner)) {
                                *a = *a + lanes::sum(run);
                            }
                        }
                    }
                },
            );
            acc
        })
        .collect();
    out.iter_mut().for_each(|v| *v = T::zero());
    for acc in &partials {
        lanes::add(out, acc);
    }
    true
}
