//! Kernels that are batches of matrix products run as such. Windows along the output's
//! contiguous rows take the direct kernel (`direct`: a padded copy, strided windows
//! split into phases, register tiles of broadcast FMAs), for the forward pass, for
//! grad_w and, under zero padding and stride 1, for grad_x as a forward convolution of
//! grad_y (`transposed`); products without windows hand the
//! operand to the GEMM in place; the rest unroll the windowed operand block by block
//! into panels (im2col), multiplied by the other operand with a register-blocked SIMD
//! GEMM (the `gemm` crate, which picks AVX-512, AVX2 or plain code at run time), and
//! gradients take the same path backwards. A product's plan is prepared once per kernel
//! and shapes (`prepared`). Work is split with rayon; a block's output region is its own,
//! and partial sums are added in a fixed order, so results do not depend on the number
//! of threads.

mod bias;
mod direct;
mod gemm;
mod lanes;
mod layout;
mod panel;
mod prepared;
mod product;
mod scratch;
mod simd;
mod single;
#[cfg(test)]
mod tests;
mod transposed;

use crate::shapes::Extents;
use crate::Element;
pub use bias::grad_bias;
use conv_codegen::gemm_plan::GemmPlan;
use conv_codegen::kernel::Kernel;
use gemm::{Matrix, MatrixMut};
use prepared::Prepared;
use product::Product;
use rayon::prelude::*;
use simd::vectorized;
use std::cell::Cell;
use std::sync::Arc;

/// Products with fewer multiply-adds than this run as the generated loop nest, which has
/// no set-up cost.
const MIN_MACS: usize = 1 << 14;

thread_local! {
    static THRESHOLD: Cell<usize> = const { Cell::new(MIN_MACS) };
}

/// Sets, for the calling thread, the number of multiply-adds from which a kernel that is a
/// batch of matrix products runs as one (default 16384; 0: always, `usize::MAX`: never).
/// Tests use it to run both ways on the same shapes.
pub fn set_min_macs(macs: usize) {
    THRESHOLD.with(|t| t.set(macs));
}

/// grad_b's partial sums: a fixed number, so that the order of additions (and the
/// result) does not depend on the number of threads.
const PARTIALS: usize = 4;

/// A tensor in row-major order.
pub struct Tensor<'a, T> {
    pub data: &'a [T],
    pub shape: &'a [usize],
}

/// The prepared product, if the kernel is a batch of products with at least the
/// calling thread's threshold of multiply-adds (decided before any set-up, which small
/// kernels could not amortise).
fn prepare<T>(
    kernel: &Kernel,
    plan: &GemmPlan,
    extents: &Extents,
    a: &Tensor<T>,
    b: &Tensor<T>,
) -> Option<Arc<Prepared>> {
    let macs = Product::macs(plan, extents);
    if macs == 0 || macs < THRESHOLD.with(Cell::get) {
        return None;
    }
    prepared::prepared(kernel, plan, extents, a.shape, b.shape)
}

/// `C = A (x) B` (+ `bias` along its output axis), if the kernel is a batch of products
/// big enough to be worth it; `false` leaves `out` untouched for the loop nest.
#[allow(clippy::too_many_arguments)]
pub fn forward<T: Element>(
    kernel: &Kernel,
    plan: &GemmPlan,
    extents: &Extents,
    a: Tensor<T>,
    b: Tensor<T>,
    bias: Option<(char, &[T])>,
    out: &mut [T],
) -> bool {
    let Some(prepared) = prepare(kernel, plan, extents, &a, &b) else {
        return false;
    };
    let p = &prepared.product;
    let threads = rayon::current_num_threads();
    let direct = prepared
        .direct(out.len())
        .filter(|d| d.runs_forward(p.k_len));
    if let Some(direct) = direct {
        let bias = bias.map(|(axis, values)| direct::OutputBias {
            inner: bias::inner(&kernel.output, &p.layout.len, axis),
            values,
        });
        let packed = p.pack_b_per_batch(b.data, true);
        direct.forward(p, a.data, &packed, bias, out);
        return true;
    }
    let packed = p.pack_b_per_batch(b.data, false);
    if single::applies(p) {
        match p.chunks(&p.layout.c, &p.outer_c, out.len()) {
            Some((len, by_chunk)) => {
                out.par_chunks_mut(len.max(1))
                    .enumerate()
                    .for_each(|(chunk, c)| {
                        let o = by_chunk[chunk];
                        single::forward(p, o, a.data, &packed[p.batch_of(o)], c, chunk * len);
                    })
            }
            None => (0..p.outer.len())
                .for_each(|o| single::forward(p, o, a.data, &packed[p.batch_of(o)], out, 0)),
        }
    } else {
        multiply_all(p, &a, &packed, out, threads);
    }
    if let Some((axis, bias)) = bias {
        bias::add_bias(&kernel.output, &p.layout.len, axis, bias, out);
    }
    true
}

/// C = A * B on the GEMM path.
fn multiply_all<T: Element>(
    p: &Product,
    a: &Tensor<T>,
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
                    p.multiply(o, parts, a.data, packed, panel, c, c_strides, 1);
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
                        p.multiply(
                            o,
                            parts,
                            a.data,
                            packed,
                            panel,
                            &mut c[first..],
                            c_strides,
                            1,
                        );
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
                    p.multiply(o, parts, a.data, packed, panel, &mut block, (1, rows), 1);
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

/// The gradient of B: `grad_b[k][n] = sum over rows of A[m][k] grad_y[m][n]`.
pub fn grad_b<T: Element>(
    kernel: &Kernel,
    plan: &GemmPlan,
    extents: &Extents,
    a: Tensor<T>,
    b_shape: &[usize],
    grad_y: &[T],
    out: &mut [T],
) -> bool {
    let b = Tensor {
        data: &[] as &[T],
        shape: b_shape,
    };
    let Some(prepared) = prepare(kernel, plan, extents, &a, &b) else {
        return false;
    };
    let p = &prepared.product;
    let (k_len, n_len) = (p.k_len, p.n_len);
    let (k_offsets, n_offsets) = p.b_offsets();
    if let Some(direct) = prepared.direct(grad_y.len()) {
        // From a padded copy: depthwise, taps as dot products with its shifted
        // stretches; else register tiles of taps x columns over its positions.
        let sums = if direct.pads_points(n_len) {
            direct.grad_b_single(p, a.data, None, grad_y)
        } else {
            scratch::with(|padded| {
                direct.pad(&p.layout, a.data, padded);
                if n_len == 1 {
                    direct.grad_b_single(p, a.data, Some(padded), grad_y)
                } else {
                    direct.grad_b_columns(p, padded, grad_y)
                }
            })
        };
        for (g, sum) in sums.iter().enumerate() {
            let base = p.outer_b[g * p.per_batch];
            for (&k, row) in k_offsets.iter().zip(sum.chunks_exact(n_len)) {
                for (&n, &v) in n_offsets.iter().zip(row) {
                    out[base + k + n] = out[base + k + n] + v;
                }
            }
        }
        return true;
    }
    if single::applies(p) {
        // One sum per batch point, over its outer points in order.
        let sums: Vec<Vec<T>> = (0..p.batch_points())
            .into_par_iter()
            .map(|g| {
                let mut acc = vec![T::zero(); k_len];
                for o in g * p.per_batch..(g + 1) * p.per_batch {
                    single::grad_b(p, o, a.data, grad_y, &mut acc);
                }
                acc
            })
            .collect();
        for (g, acc) in sums.iter().enumerate() {
            let base = p.outer_b[g * p.per_batch] + n_offsets[0];
            for (&k, &v) in k_offsets.iter().zip(acc) {
                out[base + k] = out[base + k] + v;
            }
        }
        return true;
    }
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
                let lhs = p.a_rows(*o, parts, a.data, panel);
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
    for (g, sums) in partials.chunks_mut(PARTIALS).enumerate() {
        let (sum, rest) = sums.split_first_mut().unwrap_or_else(|| unreachable!());
        add_in_order(sum, rest);
        let base = p.outer_b[g * p.per_batch];
        for (&k, row) in k_offsets.iter().zip(sum.chunks_exact(n_len.max(1))) {
            for (&n, &v) in n_offsets.iter().zip(row) {
                out[base + k + n] = out[base + k + n] + v;
            }
        }
    }
    true
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

/// The gradient of A: `col = grad_y (x) B^T` block by block, folded back through the
/// windows onto the slice of A's gradient that the block's outer point owns.
pub fn grad_a<T: Element>(
    kernel: &Kernel,
    plan: &GemmPlan,
    extents: &Extents,
    a_shape: &[usize],
    b: Tensor<T>,
    grad_y: &[T],
    out: &mut [T],
) -> bool {
    let a = Tensor {
        data: &[] as &[T],
        shape: a_shape,
    };
    let Some(prepared) = prepare(kernel, plan, extents, &a, &b) else {
        return false;
    };
    if transposed::grad_a(kernel, plan, extents, &b, grad_y, out) {
        return true;
    }
    let p = &prepared.product;
    let packed = p.pack_b_per_batch(b.data, true);
    let c_strides = (p.layout.c_row_stride, p.layout.c_col_stride);
    let run_blocks = |o: usize,
                      blocks: &mut dyn Iterator<Item = std::ops::Range<usize>>,
                      panel: &mut Vec<T>,
                      grad: &mut [T],
                      origin: usize,
                      threads: usize| {
        for parts in blocks {
            let rows = p.rows(&parts);
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
            if let Some((rs, cs)) = p.a_in_place {
                // No windows: every element of A is one (row, reduction index) of
                // one block, written once, in place.
                let at = p.outer[o].offset + p.first_row(parts.start) * rs - origin;
                let dst = MatrixMut {
                    data: &mut grad[at..],
                    rows: rs,
                    cols: cs,
                };
                gemm::gemm((rows, p.k_len, p.n_len), dst, false, grad_y, b, threads);
                continue;
            }
            let (rs, cs) = p.panels.strides(rows);
            panel.clear();
            panel.resize(rows * p.k_len, T::zero());
            let dst = MatrixMut {
                data: panel,
                rows: rs,
                cols: cs,
            };
            gemm::gemm((rows, p.k_len, p.n_len), dst, false, grad_y, b, threads);
            p.panels
                .fold(&p.layout, &p.outer[o], parts, panel, grad, origin);
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
            _ => {
                let mut panel = Vec::new();
                for o in 0..p.outer.len() {
                    run_outer(o, &mut panel, out, 0, rayon::current_num_threads());
                }
            }
        },
    }
    true
}

/// For a product of one outer point whose first row axis leads `A` (`total` elements)
/// and is read by no window, so that the rows of each of its values read a chunk of `A`
/// of their own: the chunk's length and the row parts per value.
fn leading_values(p: &Product, total: usize) -> Option<(usize, usize)> {
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
