//! The panels + GEMM strategy: the windowed operand unrolled block by block into panels
//! (im2col) sized for the L2 cache, or read in place when it has no windows, multiplied
//! by the other operand with a register-blocked SIMD GEMM (the `gemm` crate, which picks
//! AVX-512, AVX2 or plain code at run time); gradients take the same path backwards.
//! Work is split with rayon; a block's output region is its own, and partial sums are
//! added in a fixed order, so results do not depend on the number of threads.

use super::by_value;
use super::gemm::{self, Matrix, MatrixMut};
use super::lanes;
use super::layout;
use super::product::Product;
use super::simd::vectorized;
use super::single;
use crate::Element;
use rayon::prelude::*;

/// grad_b's partial sums: a fixed number, so that the order of additions (and the
/// result) does not depend on the number of threads.
const PARTIALS: usize = 4;

/// C = A * B on the GEMM path.
pub(crate) fn multiply_all<T: Element>(
    p: &Product,
    a: &[T],
    packed: &[Vec<T>],
    out: &mut [T],
    threads: usize,
) {
    let c_strides = (p.layout.c_row_stride, p.layout.c_col_stride);
    // Few outer points, C's rows contiguous (channels last): every block's rows are one
    // stretch of C, which the GEMM writes in place.
    if p.outer.len() < 2 * threads && c_strides == (p.n_len, 1) {
        if let Some(jobs) = block_stretches(p, out) {
            jobs.into_par_iter()
                .for_each_init(Vec::new, |panel, (o, parts, c)| {
                    let packed = &packed[p.batch_of(o)];
                    p.multiply(o, parts, a, packed, panel, c, c_strides, 1);
                });
            return;
        }
    }
    match p.chunks(&p.layout.c, &p.outer_c, out.len()) {
        // Each outer point owns a contiguous chunk of C: products write into it directly.
        Some((len, by_chunk)) if p.outer.len() >= 2 * threads => {
            out.par_chunks_mut(len.max(1)).enumerate().for_each_init(
                Vec::new,
                |panel, (chunk, c)| {
                    let o = by_chunk[chunk];
                    for parts in p.blocks_of(o) {
                        let first = p.first_row(parts.start) * c_strides.0;
                        let packed = &packed[p.batch_of(o)];
                        p.multiply(o, parts, a, packed, panel, &mut c[first..], c_strides, 1);
                    }
                },
            );
        }
        // Few outer points: blocks run in parallel into buffers (`[column][row]`),
        // copied into C after, column by column in parallel when C's rows are contiguous.
        _ => {
            let results: Vec<(usize, usize, usize, Vec<T>)> = p
                .blocks()
                .into_par_iter()
                .map_init(Vec::new, |panel, (o, parts)| {
                    let (first, rows) = (p.first_row(parts.start), p.rows(&parts));
                    let mut block = vec![T::zero(); rows * p.n_len];
                    let packed = &packed[p.batch_of(o)];
                    p.multiply(o, parts, a, packed, panel, &mut block, (1, rows), 1);
                    (o, first, rows, block)
                })
                .collect();
            let (row_stride, col_stride) = c_strides;
            let columns = p
                .chunks(&p.layout.c, &p.outer_c, out.len())
                .filter(|(len, _)| {
                    row_stride == 1 && col_stride > 0 && *len == p.n_len * col_stride
                });
            match columns {
                Some((_, by_chunk)) => {
                    out.par_chunks_mut(col_stride)
                        .enumerate()
                        .for_each(|(i, column)| {
                            let (o, n) = (by_chunk[i / p.n_len], i % p.n_len);
                            for (_, first, rows, block) in results.iter().filter(|r| r.0 == o) {
                                column[*first..first + rows]
                                    .copy_from_slice(&block[n * rows..(n + 1) * rows]);
                            }
                        })
                }
                None => {
                    for (o, first, rows, block) in &results {
                        for (n, column) in block.chunks_exact((*rows).max(1)).enumerate() {
                            let at = p.outer_c[*o] + first * row_stride + n * col_stride;
                            for (r, &v) in column.iter().enumerate() {
                                out[at + r * row_stride] = v;
                            }
                        }
                    }
                }
            }
        }
    }
}

/// Every block of rows with its stretch of C (rows of `n_len` contiguous elements), in
/// the order of C; `None` if two would overlap.
#[allow(clippy::type_complexity)]
fn block_stretches<'c, T>(
    p: &Product,
    out: &'c mut [T],
) -> Option<Vec<(usize, std::ops::Range<usize>, &'c mut [T])>> {
    let mut blocks: Vec<(usize, std::ops::Range<usize>, usize)> = p
        .blocks()
        .into_iter()
        .map(|(o, parts)| {
            let start = p.outer_c[o] + p.first_row(parts.start) * p.n_len;
            (o, parts, start)
        })
        .collect();
    blocks.sort_by_key(|b| b.2);
    let (mut rest, mut at) = (out, 0);
    let mut stretches = Vec::with_capacity(blocks.len());
    for (o, parts, start) in blocks {
        let len = p.rows(&parts) * p.n_len;
        let gap = start.checked_sub(at)?;
        if gap + len > rest.len() {
            return None;
        }
        let (mine, tail) = std::mem::take(&mut rest)[gap..].split_at_mut(len);
        stretches.push((o, parts, mine));
        (rest, at) = (tail, start + len);
    }
    Some(stretches)
}

/// The gradient of B: `grad_b[k][n] = sum over rows of A[m][k] grad_y[m][n]`, as GEMMs of
/// panels (or of A in place) with grad_y, summed per batch point into [`PARTIALS`]
/// partial sums at fixed places.
pub(crate) fn grad_b<T: Element>(p: &Product, a: &[T], grad_y: &[T], out: &mut [T]) {
    let (k_len, n_len) = (p.k_len, p.n_len);
    let c_strides = (p.layout.c_row_stride, p.layout.c_col_stride);
    let blocks = p.blocks();
    // Partial sums per (batch point, fixed slice of its blocks): the same additions in
    // the same order whatever the number of threads.
    let jobs: Vec<(usize, usize)> = (0..p.batch_points())
        .flat_map(|g| (0..PARTIALS).map(move |s| (g, s)))
        .collect();
    let mut partials: Vec<Vec<T>> = jobs
        .par_iter()
        .map_init(Vec::new, |panel, &(g, slice)| {
            let mut acc = vec![T::zero(); k_len * n_len];
            let mine = blocks.iter().filter(|(o, _)| p.batch_of(*o) == g);
            for (o, parts) in mine.skip(slice).step_by(PARTIALS) {
                let rows = p.rows(parts);
                let lhs = p.a_rows(*o, parts, a, panel);
                let first = p.outer_c[*o] + p.first_row(parts.start) * c_strides.0;
                gemm::gemm(
                    (k_len, n_len, rows),
                    MatrixMut {
                        data: &mut acc,
                        rows: n_len,
                        cols: 1,
                    },
                    true,
                    // A transposed.
                    Matrix {
                        data: lhs.data,
                        rows: lhs.cols,
                        cols: lhs.rows,
                    },
                    Matrix {
                        data: &grad_y[first..],
                        rows: c_strides.0,
                        cols: c_strides.1,
                    },
                    1,
                );
            }
            acc
        })
        .collect();
    let sums: Vec<Vec<T>> = partials
        .chunks_mut(PARTIALS)
        .map(|sums| {
            let (sum, rest) = sums.split_first_mut().unwrap_or_else(|| unreachable!());
            add_in_order(sum, rest);
            std::mem::take(sum)
        })
        .collect();
    p.add_to_b(&sums, out);
}

/// `sum += rest[0] + rest[1] + ...`, element by element in that order, in parallel over
/// stretches: the same additions whatever the number of threads.
fn add_in_order<T: Element>(sum: &mut [T], rest: &[Vec<T>]) {
    const STRETCH: usize = 1 << 14;
    sum.par_chunks_mut(STRETCH)
        .enumerate()
        .for_each(|(i, stretch)| {
            let at = i * STRETCH;
            for other in rest {
                vectorized(
                    #[inline(always)]
                    || lanes::add(stretch, &other[at..]),
                );
            }
        });
}

/// The gradient of A: `col = grad_y (x) B^T` block by block (a GEMM per block, or
/// multiply-adds along rows for one column), folded back through the windows onto the
/// slice of A's gradient that the block's outer point owns; written in place when A has
/// no windows.
pub(crate) fn grad_a<T: Element>(p: &Product, b: &[T], grad_y: &[T], out: &mut [T]) {
    let packed = p.pack_b_per_batch(b, true);
    let c_strides = (p.layout.c_row_stride, p.layout.c_col_stride);
    // `grad_y (x) B^T` for the rows of block `parts` of outer point `o`, into `dst`.
    let product = |o: usize, parts: &std::ops::Range<usize>, dst: MatrixMut<'_, T>, threads| {
        let first = p.outer_c[o] + p.first_row(parts.start) * c_strides.0;
        let grad_y = Matrix {
            data: &grad_y[first..],
            rows: c_strides.0,
            cols: c_strides.1,
        };
        let b = Matrix {
            data: &packed[p.batch_of(o)],
            rows: 1,
            cols: p.n_len,
        };
        gemm::gemm(
            (p.rows(parts), p.k_len, p.n_len),
            dst,
            false,
            grad_y,
            b,
            threads,
        );
    };
    // The block's product into `panel` (shaped like A's rows), for the fold.
    let panel_of = |o: usize, parts: &std::ops::Range<usize>, panel: &mut Vec<T>, threads| {
        let rows = p.rows(parts);
        let (rs, cs) = p.panels.strides(rows);
        panel.clear();
        panel.resize(rows * p.k_len, T::zero());
        let dst = MatrixMut {
            data: panel,
            rows: rs,
            cols: cs,
        };
        product(o, parts, dst, threads);
    };
    let all_k = 0..p.panels.k_parts.len();
    let run_blocks = |o: usize,
                      blocks: &mut dyn Iterator<Item = std::ops::Range<usize>>,
                      panel: &mut Vec<T>,
                      grad: &mut [T],
                      origin: usize,
                      threads: usize| {
        for parts in blocks {
            if let Some((rs, cs)) = p.a_in_place {
                // No windows: every element of A is one (row, reduction index) of
                // one block, written once, in place.
                let at = p.outer[o].offset + p.first_row(parts.start) * rs - origin;
                let dst = MatrixMut {
                    data: &mut grad[at..],
                    rows: rs,
                    cols: cs,
                };
                product(o, &parts, dst, threads);
                continue;
            }
            panel_of(o, &parts, panel, threads);
            let (layout, outer) = (&p.layout, &p.outer[o]);
            p.panels
                .fold(layout, outer, parts, all_k.clone(), panel, grad, origin);
        }
    };
    let run_outer =
        |o: usize, panel: &mut Vec<T>, grad: &mut [T], origin: usize, threads: usize| {
            if single::applies(p) {
                single::grad_a(p, o, &packed[p.batch_of(o)], grad_y, grad, origin);
                return;
            }
            run_blocks(o, &mut p.blocks_of(o), panel, grad, origin, threads);
        };
    // A window along an outer axis would make outer points share elements of A.
    let shared = p
        .layout
        .windows
        .iter()
        .any(|w| p.layout.m_outer.contains(&w.window.axis));
    let outer_a: Vec<usize> = p.outer.iter().map(|o| o.offset).collect();
    match p.chunks(&p.layout.a, &outer_a, out.len()) {
        Some((len, by_chunk)) if !shared && p.outer.len() > 1 => {
            out.par_chunks_mut(len.max(1))
                .enumerate()
                .for_each_init(Vec::new, |panel, (chunk, grad)| {
                    run_outer(by_chunk[chunk], panel, grad, chunk * len, 1)
                });
        }
        _ => match leading_values(p, out.len()) {
            Some((chunk_len, parts_per_value)) if !single::applies(p) => {
                // One outer point whose rows lead with an axis that no window reads:
                // the rows of each of its values fold onto their own chunk of A.
                let per_block = p.blocks_of(0).next().map_or(1, |b| b.len());
                out.par_chunks_mut(chunk_len).enumerate().for_each_init(
                    Vec::new,
                    |panel, (value, grad)| {
                        let first = value * parts_per_value;
                        let parts = first..first + parts_per_value;
                        let mut blocks = parts
                            .clone()
                            .step_by(per_block)
                            .map(|b| b..(b + per_block).min(parts.end));
                        run_blocks(0, &mut blocks, panel, grad, value * chunk_len, 1);
                    },
                );
            }
            _ => match (p.outer.len() == 1 && p.a_in_place.is_none() && !single::applies(p))
                .then(|| by_value::leading_reduction(p, out.len()))
                .flatten()
            {
                Some((chunk_len, k_of_value)) => {
                    let panel_of = |parts: &_, panel: &mut _| panel_of(0, parts, panel, 1);
                    by_value::fold(p, chunk_len, &k_of_value, &panel_of, out)
                }
                None => {
                    let mut panel = Vec::new();
                    for o in 0..p.outer.len() {
                        run_outer(o, &mut panel, out, 0, rayon::current_num_threads());
                    }
                }
            },
        },
    }
}

/// For a product of one outer point whose first row axis leads `A` (`total` elements)
/// and is read by no window, so that the rows of each of its values read a chunk of `A`
/// of their own: the chunk's length and the row parts per value.
pub(crate) fn leading_values(p: &Product, total: usize) -> Option<(usize, usize)> {
    let l = &p.layout;
    let axis = *l.m_inner.first()?;
    let (first_dim, chunk_len) = *l.a.dims.first()?;
    let count = l.len[&axis];
    let parts = &p.panels.row_parts;
    let fits = p.outer.len() == 1
        && p.outer[0].offset == 0
        && l.m_inner.len() >= 2
        && first_dim == layout::DimIndex::Axis(axis)
        && l.windows.iter().all(|w| w.window.axis != axis)
        && count > 1
        && chunk_len * count == total
        && chunk_len > 0
        && !parts.is_empty()
        && parts.len() % count == 0;
    if !fits {
        return None;
    }
    let per_value = parts.len() / count;
    let ordered = parts
        .iter()
        .enumerate()
        .all(|(i, part)| part.offset / chunk_len == i / per_value);
    ordered.then_some((chunk_len, per_value))
}
