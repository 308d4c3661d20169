//! Products with one column (depthwise convolutions, matrix-vector products): each run of
//! the windowed operand meets one coefficient of B, so they are sums of scaled runs
//! (`axpy`) and dot products, with no panel and no GEMM.

use super::panel::{Orientation, Run};
use super::product::Product;
use crate::Element;

/// Whether these products go through this module: one column, rows inner.
pub(crate) fn applies(p: &Product) -> bool {
    p.n_len == 1 && p.panels.orientation == Orientation::RowsInner
}

/// `dst[i * dst_step] += coef * src[offset(i)]` along a run.
fn axpy<T: Element>(run: &Run<'_>, coef: T, src: &[T], dst: &mut [T], dst_step: usize) {
    match *run {
        Run::Zeros { .. } => {}
        Run::Strided { base, stride, len } => {
            if stride == 1 && dst_step == 1 {
                for (d, &s) in dst[..len].iter_mut().zip(&src[base..base + len]) {
                    *d = *d + coef * s;
                }
            } else {
                (0..len).for_each(|i| {
                    dst[i * dst_step] = dst[i * dst_step] + coef * src[base + i * stride]
                });
            }
        }
        Run::Window {
            base,
            stride,
            table,
            tap,
            interior: (a_lo, a_hi, p0),
            len,
        } => {
            let s = table.window.stride * stride;
            let first = base + p0 * stride;
            if a_lo == a_hi {
                // no tap of this run reads inside the input
            } else if s == 1 && dst_step == 1 {
                let n = a_hi - a_lo;
                for (d, &v) in dst[a_lo..a_hi].iter_mut().zip(&src[first..first + n]) {
                    *d = *d + coef * v;
                }
            } else {
                for a in a_lo..a_hi {
                    dst[a * dst_step] = dst[a * dst_step] + coef * src[first + (a - a_lo) * s];
                }
            }
            for a in (0..a_lo).chain(a_hi..len) {
                if let Some(p) = table.positions[a * table.taps + tap] {
                    dst[a * dst_step] = dst[a * dst_step] + coef * src[base + p * stride];
                }
            }
        }
    }
}

/// `sum_i row[i * row_step] * src[offset(i)]` along a run.
fn dot<T: Element>(run: &Run<'_>, src: &[T], row: &[T], row_step: usize) -> T {
    let mut sum = T::zero();
    match *run {
        Run::Zeros { .. } => {}
        Run::Strided { base, stride, len } => {
            (0..len).for_each(|i| sum = sum + row[i * row_step] * src[base + i * stride]);
        }
        Run::Window {
            base,
            stride,
            table,
            tap,
            interior: (a_lo, a_hi, p0),
            len,
        } => {
            let s = table.window.stride * stride;
            let first = base + p0 * stride;
            if a_lo == a_hi {
                // no tap of this run reads inside the input
            } else if s == 1 && row_step == 1 {
                let n = a_hi - a_lo;
                for (&r, &v) in row[a_lo..a_hi].iter().zip(&src[first..first + n]) {
                    sum = sum + r * v;
                }
            } else {
                (a_lo..a_hi)
                    .for_each(|a| sum = sum + row[a * row_step] * src[first + (a - a_lo) * s]);
            }
            for a in (0..a_lo).chain(a_hi..len) {
                if let Some(p) = table.positions[a * table.taps + tap] {
                    sum = sum + row[a * row_step] * src[base + p * stride];
                }
            }
        }
    }
    sum
}

/// `grad[offset(i)] += coef * row[i * row_step]` along a run (the fold, for one column).
fn scatter<T: Element>(
    run: &Run<'_>,
    coef: T,
    row: &[T],
    row_step: usize,
    grad: &mut [T],
    origin: usize,
) {
    match *run {
        Run::Zeros { .. } => {}
        Run::Strided { base, stride, len } => {
            for i in 0..len {
                let o = base + i * stride - origin;
                grad[o] = grad[o] + coef * row[i * row_step];
            }
        }
        Run::Window {
            base,
            stride,
            table,
            tap,
            interior: (a_lo, a_hi, p0),
            len,
        } => {
            let s = table.window.stride * stride;
            let first = base + p0 * stride - origin;
            if a_lo == a_hi {
                // no tap of this run reads inside the input
            } else if s == 1 && row_step == 1 {
                let n = a_hi - a_lo;
                for (g, &r) in grad[first..first + n].iter_mut().zip(&row[a_lo..a_hi]) {
                    *g = *g + coef * r;
                }
            } else {
                for a in a_lo..a_hi {
                    let o = first + (a - a_lo) * s;
                    grad[o] = grad[o] + coef * row[a * row_step];
                }
            }
            for a in (0..a_lo).chain(a_hi..len) {
                if let Some(p) = table.positions[a * table.taps + tap] {
                    let o = base + p * stride - origin;
                    grad[o] = grad[o] + coef * row[a * row_step];
                }
            }
        }
    }
}

/// The rows of outer point `o`'s part range of C (or grad_y), as `(slice start, step)`.
fn row_start(p: &Product, o: usize, part: usize) -> usize {
    p.outer_c[o] + p.first_row(part) * p.layout.c_row_stride
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
    let parts = 0..p.panels.row_parts.len();
    let step = p.layout.c_row_stride;
    p.panels
        .for_each_run_at(&p.layout, &p.outer[o], parts, |local, kp, run| {
            let start = row_start(p, o, local) - c_origin;
            axpy(&run, packed[kp], a, &mut c[start..], step);
        });
}

/// grad_B of outer point `o`: `acc[k] += sum over rows of A[m][k] grad_y[m]`.
pub(crate) fn grad_b<T: Element>(p: &Product, o: usize, a: &[T], grad_y: &[T], acc: &mut [T]) {
    let parts = 0..p.panels.row_parts.len();
    let step = p.layout.c_row_stride;
    p.panels
        .for_each_run_at(&p.layout, &p.outer[o], parts, |local, kp, run| {
            let start = row_start(p, o, local);
            acc[kp] = acc[kp] + dot(&run, a, &grad_y[start..], step);
        });
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
    let parts = 0..p.panels.row_parts.len();
    let step = p.layout.c_row_stride;
    p.panels
        .for_each_run_at(&p.layout, &p.outer[o], parts, |local, kp, run| {
            let start = row_start(p, o, local);
            scatter(&run, packed[kp], &grad_y[start..], step, grad, origin);
        });
}
