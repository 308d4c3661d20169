//! Products with one column (depthwise convolutions, matrix-vector products): each run of
//! the windowed operand meets one coefficient of B, so they are sums of scaled runs
//! (`axpy`) and dot products, with no panel and no GEMM.

use super::lanes;
use super::panel::{Orientation, Run};
use super::product::Product;
use super::simd::vectorized;
use super::zmm::{self, Token};
use crate::Element;
use std::ops::Range;

/// Whether these products go through this module: one column, rows inner.
pub(crate) fn applies(p: &Product) -> bool {
    p.n_len == 1 && p.panels.orientation == Orientation::RowsInner
}

/// `dst[i * dst_step] += coef * src[offset(i)]` along a run.
#[inline(always)]
fn axpy<T: Element>(run: &Run<'_>, coef: T, src: &[T], dst: &mut [T], dst_step: usize) {
    let Range { start: lo, end: hi } = run.interior;
    if lo == hi {
        // no element of this run reads inside the input
    } else if dst_step == 1 && run.step == 1 {
        lanes::axpy(&mut dst[lo..hi], &src[run.first..run.first + hi - lo], coef);
    } else {
        run.for_each_interior(|i, o| dst[i * dst_step] = dst[i * dst_step] + coef * src[o]);
    }
    run.for_each_border(|i, o| dst[i * dst_step] = dst[i * dst_step] + coef * src[o]);
}

/// `sum_i row[i * row_step] * src[offset(i)]` along a run.
#[inline(always)]
fn dot<T: Element>(run: &Run<'_>, src: &[T], row: &[T], row_step: usize) -> T {
    let Range { start: lo, end: hi } = run.interior;
    let mut sum = T::zero();
    if lo == hi {
        // no element of this run reads inside the input
    } else if row_step == 1 && run.step == 1 {
        sum = lanes::dot(&row[lo..hi], &src[run.first..run.first + hi - lo]);
    } else {
        run.for_each_interior(|i, o| sum = sum + row[i * row_step] * src[o]);
    }
    run.for_each_border(|i, o| sum = sum + row[i * row_step] * src[o]);
    sum
}

/// `grad[offset(i)] += coef * row[i * row_step]` along a run (the fold, for one column).
/// A run of stride 2 (a strided window's) adds a register of products at a time, spread
/// to every other place.
#[inline(always)]
fn scatter<T: Element>(
    run: &Run<'_>,
    coef: T,
    row: &[T],
    row_step: usize,
    grad: &mut [T],
    origin: usize,
    token: Option<Token>,
) {
    let Range { start: lo, end: hi } = run.interior;
    if lo == hi {
        // no element of this run reads inside the input
    } else if row_step == 1 && run.step == 1 {
        let first = run.first - origin;
        lanes::axpy(&mut grad[first..first + hi - lo], &row[lo..hi], coef);
    } else if let (Some(token), 1, 2) = (token, row_step, run.step) {
        let first = run.first - origin;
        let dst = &mut grad[first..first + 2 * (hi - lo) - 1];
        zmm::add_every_other(token, dst, &row[lo..hi], coef);
    } else {
        run.for_each_interior(|i, o| {
            grad[o - origin] = grad[o - origin] + coef * row[i * row_step]
        });
    }
    run.for_each_border(|i, o| grad[o - origin] = grad[o - origin] + coef * row[i * row_step]);
}

/// Every run of outer point `o`, with the offset in C (or grad_y) of the row it belongs
/// to, under the CPU's widest SIMD, with the AVX-512 token if the CPU has it. `visit`
/// must be `#[inline(always)]` (see simd.rs).
#[inline(always)]
fn for_each_run<T>(
    p: &Product,
    o: usize,
    mut visit: impl FnMut(usize, usize, Run<'_>, Option<Token>) -> T,
) {
    match zmm::token() {
        Some(token) => zmm::vectorize(
            token,
            #[inline(always)]
            || runs(p, o, &mut visit, Some(token)),
        ),
        None => vectorized(
            #[inline(always)]
            || runs(p, o, &mut visit, None),
        ),
    }
}

/// The loop of [`for_each_run`], inlined into each of its SIMD contexts.
#[inline(always)]
fn runs<T>(
    p: &Product,
    o: usize,
    visit: &mut impl FnMut(usize, usize, Run<'_>, Option<Token>) -> T,
    token: Option<Token>,
) {
    p.panels.for_each_run_at(
        &p.layout,
        &p.outer[o],
        0..p.panels.row_parts.len(),
        0..p.panels.k_parts.len(),
        #[inline(always)]
        |local, kp, run| {
            let start = p.outer_c[o] + p.first_row(local) * p.layout.c_row_stride;
            visit(start, kp, run, token);
        },
    )
}

/// C of outer point `o` (whose region of C starts at `c_origin` in `c`) += A * B.
pub(crate) fn forward<T: Element>(
    p: &Product,
    o: usize,
    a: &[T],
    packed: &[T],
    c: &mut [T],
    c_origin: usize,
) {
    let step = p.layout.c_row_stride;
    for_each_run(
        p,
        o,
        #[inline(always)]
        |start, kp, run, _| axpy(&run, packed[kp], a, &mut c[start - c_origin..], step),
    );
}

/// grad_B of outer point `o`: `acc[k] += sum over rows of A[m][k] grad_y[m]`.
pub(crate) fn grad_b<T: Element>(p: &Product, o: usize, a: &[T], grad_y: &[T], acc: &mut [T]) {
    let step = p.layout.c_row_stride;
    for_each_run(
        p,
        o,
        #[inline(always)]
        |start, kp, run, _| acc[kp] = acc[kp] + dot(&run, a, &grad_y[start..], step),
    );
}

/// grad_A of outer point `o` (its region starting at `origin`) += grad_y * B^T, folded.
pub(crate) fn grad_a<T: Element>(
    p: &Product,
    o: usize,
    packed: &[T],
    grad_y: &[T],
    grad: &mut [T],
    origin: usize,
) {
    let step = p.layout.c_row_stride;
    for_each_run(
        p,
        o,
        #[inline(always)]
        |start, kp, run, token| {
            let row = &grad_y[start..];
            scatter(&run, packed[kp], row, step, grad, origin, token)
        },
    );
}

/// `C = A * B` for every outer point, in parallel over the chunks of C they own (in
/// order when they do not own one).
pub(crate) fn forward_all<T: Element>(p: &Product, a: &[T], packed: &[Vec<T>], out: &mut [T]) {
    use rayon::prelude::*;
    match p.chunks(&p.layout.c, &p.outer_c, out.len()) {
        Some((len, by_chunk)) => {
            out.par_chunks_mut(len.max(1))
                .enumerate()
                .for_each(|(chunk, c)| {
                    let o = by_chunk[chunk];
                    forward(p, o, a, &packed[p.batch_of(o)], c, chunk * len);
                })
        }
        None => (0..p.outer.len()).for_each(|o| forward(p, o, a, &packed[p.batch_of(o)], out, 0)),
    }
}

/// The gradient of B: one sum per batch point, over its outer points in order, added
/// into `out`.
pub(crate) fn grad_b_all<T: Element>(p: &Product, a: &[T], grad_y: &[T], out: &mut [T]) {
    use rayon::prelude::*;
    let sums: Vec<Vec<T>> = (0..p.batch_points())
        .into_par_iter()
        .map(|g| {
            let mut acc = vec![T::zero(); p.k_len];
            for o in g * p.per_batch..(g + 1) * p.per_batch {
                grad_b(p, o, a, grad_y, &mut acc);
            }
            acc
        })
        .collect();
    p.add_to_b(&sums, out);
}
