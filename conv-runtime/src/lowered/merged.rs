//! Products whose outer points have few rows each, such as a 1x1 or 3x3 convolution over
//! 7x7 positions with 512 channels: one product over the rows of every outer point at
//! once. Per outer point, the GEMM packs all of B again for a few dozen rows (and grad_b
//! sums products of a few dozen rows' depth into B's whole gradient), and the direct
//! kernel reads all of B for a single tile of positions; gathering the rows (read in
//! place, or im2col panels) into one matrix costs a copy of A and C instead, which is
//! smaller when `rows * (k + n) < k * n`.

use super::gemm::{self, Matrix, MatrixMut};
use super::product::Product;
use super::scratch;
use crate::Element;
use rayon::prelude::*;

/// Rows of one outer point.
fn rows_per_outer(p: &Product) -> usize {
    p.panels.row_parts.len() * p.panels.rows_per_part()
}

/// Whether the product runs merged: one batch point of several outer points, and
/// copying every row of A and C costs less than packing B per outer point. For the
/// gradient of A through panels, no window may slide along an outer axis (outer points
/// would share elements of A).
pub(crate) fn applies(p: &Product, grad_a: bool) -> bool {
    let rows = rows_per_outer(p);
    let shared = (p.layout.windows.iter()).any(|w| p.layout.m_outer.contains(&w.window.axis));
    !(grad_a && shared)
        && p.batch_points() == 1
        && p.outer.len() > 1
        && rows > 0
        && rows.saturating_mul(p.k_len.saturating_add(p.n_len)) < p.k_len.saturating_mul(p.n_len)
}

/// The rows of every outer point, numbered outer point by outer point: where each lies
/// in A and in C.
struct Rows<'p> {
    p: &'p Product,
    per_outer: usize,
}

impl<'p> Rows<'p> {
    fn new(p: &'p Product) -> Self {
        Rows {
            p,
            per_outer: rows_per_outer(p),
        }
    }

    fn total(&self) -> usize {
        self.per_outer * self.p.outer.len()
    }

    /// `(offset, step)` of row `r` of the merged matrix in A.
    fn in_a(&self, r: usize) -> (usize, usize) {
        let (rs, cs) = self.p.a_in_place.unwrap_or((0, 0));
        let (o, m) = (r / self.per_outer, r % self.per_outer);
        (self.p.outer[o].offset + m * rs, cs)
    }

    /// `(offset, step)` of row `r` of the merged matrix in C (and grad_y).
    fn in_c(&self, r: usize) -> (usize, usize) {
        let l = &self.p.layout;
        let (o, m) = (r / self.per_outer, r % self.per_outer);
        (self.p.outer_c[o] + m * l.c_row_stride, l.c_col_stride)
    }

    /// The merged matrix `[row][len]` of `source`, row `r` read at `at(r)`, into
    /// `merged` (a kept buffer: allocating one per call cost a page fault per 4 KiB).
    fn gather<'m, T: Element>(
        &self,
        source: &[T],
        len: usize,
        at: impl Fn(&Self, usize) -> (usize, usize) + Sync,
        merged: &'m mut Vec<T>,
    ) -> &'m [T] {
        let merged = sized(merged, self.total() * len);
        merged
            .par_chunks_mut(len.max(1))
            .enumerate()
            .for_each(|(r, row)| {
                let (first, step) = at(self, r);
                for (i, v) in row.iter_mut().enumerate() {
                    *v = source[first + i * step];
                }
            });
        merged
    }

    /// Writes the merged matrix `[row][len]` into `dest` (laid out as `t`, its outer
    /// points at `offsets`), row `r` at `at(r)`: in parallel over outer points when each
    /// owns a contiguous chunk of `dest`.
    fn scatter<T: Element>(
        &self,
        merged: &[T],
        len: usize,
        dest: &mut [T],
        (t, offsets): (&super::layout::TensorLayout, &[usize]),
        at: impl Fn(&Self, usize) -> (usize, usize) + Sync,
    ) {
        let write = |r: usize, row: &[T], dest: &mut [T], origin: usize| {
            let (first, step) = at(self, r);
            for (i, &v) in row.iter().enumerate() {
                dest[first - origin + i * step] = v;
            }
        };
        let per_outer = self.per_outer * len;
        match self.p.chunks(t, offsets, dest.len()) {
            Some((chunk_len, by_chunk)) if per_outer > 0 => dest
                .par_chunks_mut(chunk_len.max(1))
                .enumerate()
                .for_each(|(chunk, dest)| {
                    let o = by_chunk[chunk];
                    let rows = merged[o * per_outer..(o + 1) * per_outer].chunks_exact(len);
                    for (m, row) in rows.enumerate() {
                        write(o * self.per_outer + m, row, dest, chunk * chunk_len);
                    }
                }),
            _ => {
                for (r, row) in merged.chunks_exact(len.max(1)).enumerate() {
                    write(r, row, dest, 0);
                }
            }
        }
    }
}

/// The first `len` elements of a kept buffer, of any contents (every caller overwrites
/// them all): zeroing the 7 MB of ResNet's 7x7 stage's A afresh took a memset per call.
fn sized<T: Element>(buffer: &mut Vec<T>, len: usize) -> &mut [T] {
    if buffer.len() < len {
        buffer.resize(len, T::zero());
    }
    &mut buffer[..len]
}

/// A's rows of every outer point as one matrix `[row][k]`, into `merged`: read in place,
/// or each outer point's im2col panel copied in.
fn gather_a<'m, T: Element>(rows: &Rows<'_>, a: &[T], merged: &'m mut Vec<T>) -> &'m [T] {
    let p = rows.p;
    if p.a_in_place.is_some() {
        return rows.gather(a, p.k_len, Rows::in_a, merged);
    }
    let per_outer = rows.per_outer;
    let merged = sized(merged, rows.total() * p.k_len);
    let (rs, cs) = p.panels.strides(per_outer);
    let parts = 0..p.panels.row_parts.len();
    merged
        .par_chunks_mut((per_outer * p.k_len).max(1))
        .enumerate()
        .for_each_init(Vec::new, |panel, (o, block)| {
            p.panel(o, &parts, a, panel);
            for (m, row) in block.chunks_exact_mut(p.k_len.max(1)).enumerate() {
                for (k, v) in row.iter_mut().enumerate() {
                    *v = panel[m * rs + k * cs];
                }
            }
        });
    merged
}

/// The step between consecutive offsets, if they are evenly spaced.
fn even(offsets: &[usize]) -> Option<usize> {
    match offsets {
        [] | [_] => Some(1),
        [first, second, ..] => {
            let step = second.checked_sub(*first)?;
            let even = offsets
                .iter()
                .enumerate()
                .all(|(i, &o)| o == first + i * step);
            even.then_some(step)
        }
    }
}

/// B (one batch point) where it lies: its first element's offset and the steps of its
/// reduction and column indices, when both are even (B then needs no packing).
fn b_in_place(p: &Product) -> Option<(usize, usize, usize)> {
    let (k_offsets, n_offsets) = p.b_offsets();
    let first = p.outer_b[0] + k_offsets.first().unwrap_or(&0) + n_offsets.first().unwrap_or(&0);
    Some((first, even(&k_offsets)?, even(&n_offsets)?))
}

/// `C = A * B`.
pub(crate) fn forward<T: Element>(p: &Product, a: &[T], b: &[T], out: &mut [T]) {
    let packed;
    let rhs = match b_in_place(p) {
        Some((first, k_step, n_step)) => Matrix {
            data: &b[first..],
            rows: k_step,
            cols: n_step,
        },
        None => {
            packed = p.pack_b_per_batch(b, false);
            Matrix {
                data: &packed[0],
                rows: 1,
                cols: p.k_len,
            }
        }
    };
    let rows = Rows::new(p);
    scratch::with(|lhs| {
        let lhs = gather_a(&rows, a, lhs);
        scratch::with(|result: &mut Vec<T>| {
            let result = sized(result, rows.total() * p.n_len);
            gemm::gemm(
                (rows.total(), p.n_len, p.k_len),
                MatrixMut {
                    data: result,
                    rows: p.n_len,
                    cols: 1,
                },
                false,
                Matrix {
                    data: lhs,
                    rows: p.k_len,
                    cols: 1,
                },
                rhs,
                rayon::current_num_threads(),
            );
            rows.scatter(result, p.n_len, out, (&p.layout.c, &p.outer_c), Rows::in_c);
        })
    });
}

/// `grad_a = grad_y * B^T`, written into `out`.
pub(crate) fn grad_a<T: Element>(p: &Product, b: &[T], grad_y: &[T], out: &mut [T]) {
    let packed;
    let rhs = match b_in_place(p) {
        Some((first, k_step, n_step)) => Matrix {
            data: &b[first..],
            rows: n_step,
            cols: k_step,
        },
        None => {
            packed = p.pack_b_per_batch(b, true);
            Matrix {
                data: &packed[0],
                rows: 1,
                cols: p.n_len,
            }
        }
    };
    let rows = Rows::new(p);
    scratch::with(|lhs| {
        let lhs = rows.gather(grad_y, p.n_len, Rows::in_c, lhs);
        scratch::with(|result: &mut Vec<T>| {
            let result = sized(result, rows.total() * p.k_len);
            gemm::gemm(
                (rows.total(), p.k_len, p.n_len),
                MatrixMut {
                    data: result,
                    rows: p.k_len,
                    cols: 1,
                },
                false,
                Matrix {
                    data: lhs,
                    rows: p.n_len,
                    cols: 1,
                },
                rhs,
                rayon::current_num_threads(),
            );
            let outer_a: Vec<usize> = p.outer.iter().map(|o| o.offset).collect();
            if p.a_in_place.is_some() {
                rows.scatter(result, p.k_len, out, (&p.layout.a, &outer_a), Rows::in_a);
            } else {
                fold(p, result, &outer_a, out);
            }
        })
    });
}

/// Adds each outer point's rows of `result` (`[row][k]`) back through the windows onto
/// `out`, A's gradient: in parallel over outer points when each owns a chunk of it.
fn fold<T: Element>(p: &Product, result: &[T], outer_a: &[usize], out: &mut [T]) {
    let per_outer = rows_per_outer(p);
    let block = per_outer * p.k_len;
    let parts = 0..p.panels.row_parts.len();
    let (rs, cs) = p.panels.strides(per_outer);
    // The fold reads a panel in the panels' own orientation.
    let fold_one = |o: usize, panel: &mut Vec<T>, grad: &mut [T], origin: usize| {
        let rows = &result[o * block..(o + 1) * block];
        let panel: &[T] = if (rs, cs) == (p.k_len, 1) {
            rows
        } else {
            panel.clear();
            panel.resize(block, T::zero());
            for (m, row) in rows.chunks_exact(p.k_len.max(1)).enumerate() {
                for (k, &v) in row.iter().enumerate() {
                    panel[m * rs + k * cs] = v;
                }
            }
            panel
        };
        p.panels.fold(
            &p.layout,
            &p.outer[o],
            parts.clone(),
            0..p.panels.k_parts.len(),
            panel,
            grad,
            origin,
        );
    };
    match p.chunks(&p.layout.a, outer_a, out.len()) {
        Some((len, by_chunk)) if len > 0 => out
            .par_chunks_mut(len)
            .enumerate()
            .for_each_init(Vec::new, |panel, (chunk, grad)| {
                fold_one(by_chunk[chunk], panel, grad, chunk * len)
            }),
        _ => {
            let mut panel = Vec::new();
            for o in 0..p.outer.len() {
                fold_one(o, &mut panel, out, 0);
            }
        }
    }
}

/// `grad_b = A^T * grad_y`, added into `out` (B's gradient, row-major): in place when B's
/// reduction and column indices each step through it evenly, else through a sum.
pub(crate) fn grad_b<T: Element>(p: &Product, a: &[T], grad_y: &[T], out: &mut [T]) {
    let rows = Rows::new(p);
    let in_place = b_in_place(p);
    scratch::with(|a_rows| {
        let a_rows = gather_a(&rows, a, a_rows);
        scratch::with(|g_rows| {
            let g_rows = rows.gather(grad_y, p.n_len, Rows::in_c, g_rows);
            let product = |dst: MatrixMut<'_, T>| {
                gemm::gemm(
                    (p.k_len, p.n_len, rows.total()),
                    dst,
                    true,
                    // A transposed: `[k][row]` read from `[row][k]`.
                    Matrix {
                        data: a_rows,
                        rows: 1,
                        cols: p.k_len,
                    },
                    Matrix {
                        data: g_rows,
                        rows: p.n_len,
                        cols: 1,
                    },
                    rayon::current_num_threads(),
                )
            };
            match in_place {
                Some((first, k_step, n_step)) => product(MatrixMut {
                    data: &mut out[first..],
                    rows: k_step,
                    cols: n_step,
                }),
                _ => {
                    let mut sum = vec![T::zero(); p.k_len * p.n_len];
                    product(MatrixMut {
                        data: &mut sum,
                        rows: p.n_len,
                        cols: 1,
                    });
                    p.add_to_b(&[sum], out);
                }
            }
        })
    });
}
