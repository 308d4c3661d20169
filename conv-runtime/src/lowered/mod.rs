//! Kernels that are batches of matrix products run as such: the windowed operand is
//! unrolled block by block into panels (im2col), multiplied by the other operand with a
//! register-blocked SIMD GEMM (the `gemm` crate, which picks AVX-512, AVX2 or plain code
//! at run time), and gradients take the same path backwards. Work is split into blocks
//! with rayon; a block's output region is its own, and partial sums of grad_b are added
//! in a fixed order, so results do not depend on the number of threads.

mod gemm;
mod layout;
mod panel;

use crate::shapes::Extents;
use crate::Element;
use conv_codegen::gemm_plan::GemmPlan;
use conv_codegen::kernel::Kernel;
use gemm::{Matrix, MatrixMut};
use layout::Layout;
use panel::{parts, Panels, Part};
use rayon::prelude::*;
use std::cell::Cell;

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

/// Panels hold about this many elements, so that a block stays in the L2 cache.
const PANEL_ELEMENTS: usize = 1 << 16;
/// grad_b's partial sums: a fixed number, so that the order of additions (and the
/// result) does not depend on the number of threads.
const PARTIALS: usize = 8;

/// A tensor in row-major order.
pub struct Tensor<'a, T> {
    pub data: &'a [T],
    pub shape: &'a [usize],
}

/// The prepared product: layout, panels and the outer points.
struct Product {
    layout: Layout,
    panels: Panels,
    outer_axes: Vec<char>,
    outer: Vec<Part>,
    /// Offsets of each outer point into B (batch axes) and C.
    outer_b: Vec<usize>,
    outer_c: Vec<usize>,
    n_len: usize,
    parts_per_block: usize,
}

impl Product {
    fn new<T>(
        kernel: &Kernel,
        plan: &GemmPlan,
        extents: &Extents,
        a: &Tensor<T>,
        b: &Tensor<T>,
    ) -> Option<Self> {
        let layout = Layout::new(kernel, plan, extents, a.shape, b.shape)?;
        let macs = layout.extent(&plan.m)
            * layout.extent(&plan.n)
            * layout.extent(&plan.k)
            * layout.extent(&plan.batch);
        if macs == 0 || macs < THRESHOLD.with(Cell::get) {
            return None;
        }
        let panels = Panels::new(&layout);
        let outer_axes: Vec<char> = layout
            .batch
            .iter()
            .chain(&layout.m_outer)
            .copied()
            .collect();
        let outer = parts(&layout, &outer_axes, false);
        let points = layout.points(&outer_axes);
        let offset = |t: &layout::TensorLayout, p: &[usize]| -> usize {
            outer_axes
                .iter()
                .zip(p)
                .map(|(&axis, v)| v * t.stride_of(axis))
                .sum()
        };
        let outer_b = points.iter().map(|p| offset(&layout.b, p)).collect();
        let outer_c = points.iter().map(|p| offset(&layout.c, p)).collect();
        let n_len = layout.extent(&layout.n);
        let rows_per_part = panels.rows_per_part();
        let parts_per_block = (PANEL_ELEMENTS / (panels.k_len().max(1) * rows_per_part)).max(1);
        Some(Product {
            layout,
            panels,
            outer_axes,
            outer,
            outer_b,
            outer_c,
            n_len,
            parts_per_block,
        })
    }

    /// Every (outer point, block of row parts): the units of work.
    fn blocks(&self) -> Vec<(usize, std::ops::Range<usize>)> {
        let parts = self.panels.row_parts.len();
        (0..self.outer.len())
            .flat_map(|o| {
                (0..parts)
                    .step_by(self.parts_per_block)
                    .map(move |p| (o, p..(p + self.parts_per_block).min(parts)))
            })
            .collect()
    }

    /// B of outer point `o` packed as `[k][n]`, k in panel order.
    fn pack_b<T: Element>(&self, b: &[T], o: usize) -> Vec<T> {
        let (k_offsets, n_offsets) = self.b_offsets();
        let mut packed = Vec::with_capacity(k_offsets.len() * n_offsets.len());
        for &k in &k_offsets {
            packed.extend(n_offsets.iter().map(|&n| b[self.outer_b[o] + k + n]));
        }
        packed
    }

    /// Offsets into B of every reduction index (panel order) and every column.
    fn b_offsets(&self) -> (Vec<usize>, Vec<usize>) {
        let l = &self.layout;
        let offsets = |axes: &[char]| -> Vec<usize> {
            l.points(axes)
                .iter()
                .map(|p| axes.iter().zip(p).map(|(&a, v)| v * l.b.stride_of(a)).sum())
                .collect()
        };
        (offsets(&self.panels.k_order), offsets(&l.n))
    }

    fn rows(&self, parts: &std::ops::Range<usize>) -> usize {
        parts.len() * self.panels.rows_per_part()
    }

    /// The first row of C that row part `p` writes.
    fn first_row(&self, p: usize) -> usize {
        p * self.panels.rows_per_part()
    }
}

/// `C = A (x) B` (+ bias along column axis `bias`), if the kernel is a batch of
/// products big enough to be worth it; `false` leaves `out` untouched for the nest.
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
    if bias.is_some_and(|(axis, _)| plan.n != [axis]) {
        return false;
    }
    let Some(p) = Product::new(kernel, plan, extents, &a, &b) else {
        return false;
    };
    let packed: Vec<Vec<T>> = (0..p.outer.len()).map(|o| p.pack_b(b.data, o)).collect();
    let k_len = p.panels.k_len();
    let results: Vec<(usize, usize, Vec<T>)> = p
        .blocks()
        .into_par_iter()
        .map(|(o, parts)| {
            let rows = p.rows(&parts);
            let mut panel = vec![T::zero(); rows * k_len];
            p.panels
                .im2col(&p.layout, &p.outer[o], parts.clone(), a.data, &mut panel);
            let (rs, cs) = p.panels.strides(rows);
            let mut block = vec![T::zero(); rows * p.n_len];
            gemm::gemm(
                (rows, p.n_len, k_len),
                MatrixMut {
                    data: &mut block,
                    rows: p.n_len,
                    cols: 1,
                },
                false,
                Matrix {
                    data: &panel,
                    rows: rs,
                    cols: cs,
                },
                Matrix {
                    data: &packed[o],
                    rows: p.n_len,
                    cols: 1,
                },
                1,
            );
            (o, p.first_row(parts.start), block)
        })
        .collect();
    let (row_stride, col_stride) = (p.layout.c_row_stride, p.layout.c_col_stride);
    for (o, first, block) in results {
        for (r, row) in block.chunks_exact(p.n_len.max(1)).enumerate() {
            let at = p.outer_c[o] + (first + r) * row_stride;
            for (n, &v) in row.iter().enumerate() {
                out[at + n * col_stride] = v;
            }
        }
    }
    if let Some((_, bias)) = bias {
        add_bias(&p, bias, out);
    }
    true
}

fn add_bias<T: Element>(p: &Product, bias: &[T], out: &mut [T]) {
    let rows = p.panels.row_parts.len() * p.panels.rows_per_part();
    for &c in &p.outer_c {
        for r in 0..rows {
            let at = c + r * p.layout.c_row_stride;
            for (n, &b) in bias.iter().enumerate().take(p.n_len) {
                out[at + n * p.layout.c_col_stride] = out[at + n * p.layout.c_col_stride] + b;
            }
        }
    }
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
    let b_shape_tensor = Tensor {
        data: &[] as &[T],
        shape: b_shape,
    };
    let Some(p) = Product::new(kernel, plan, extents, &a, &b_shape_tensor) else {
        return false;
    };
    let k_len = p.panels.k_len();
    let batch_points = p.layout.extent(&p.layout.batch);
    let per_batch = p.outer.len() / batch_points.max(1);
    let blocks = p.blocks();
    // Partial sums per (batch point, fixed slice of that batch point's blocks).
    let jobs: Vec<(usize, usize)> = (0..batch_points)
        .flat_map(|g| (0..PARTIALS).map(move |s| (g, s)))
        .collect();
    let partials: Vec<Vec<T>> = jobs
        .par_iter()
        .map(|&(g, slice)| {
            let mut acc = vec![T::zero(); k_len * p.n_len];
            let mine = blocks
                .iter()
                .filter(|(o, _)| o / per_batch.max(1) == g)
                .enumerate();
            for (i, (o, parts)) in mine {
                if i % PARTIALS != slice {
                    continue;
                }
                let rows = p.rows(parts);
                let mut panel = vec![T::zero(); rows * k_len];
                p.panels
                    .im2col(&p.layout, &p.outer[*o], parts.clone(), a.data, &mut panel);
                let (rs, cs) = p.panels.strides(rows);
                let first = p.outer_c[*o] + p.first_row(parts.start) * p.layout.c_row_stride;
                gemm::gemm(
                    (k_len, p.n_len, rows),
                    MatrixMut {
                        data: &mut acc,
                        rows: p.n_len,
                        cols: 1,
                    },
                    true,
                    Matrix {
                        data: &panel,
                        rows: cs,
                        cols: rs,
                    },
                    Matrix {
                        data: &grad_y[first..],
                        rows: p.layout.c_row_stride,
                        cols: p.layout.c_col_stride,
                    },
                    1,
                );
            }
            acc
        })
        .collect();
    let (k_offsets, n_offsets) = p.b_offsets();
    for g in 0..batch_points {
        let base = p.outer_b[g * per_batch.max(1)];
        for slice in 0..PARTIALS {
            let acc = &partials[g * PARTIALS + slice];
            for (ki, &k) in k_offsets.iter().enumerate() {
                for (ni, &n) in n_offsets.iter().enumerate() {
                    let at = base + k + n;
                    out[at] = out[at] + acc[ki * p.n_len + ni];
                }
            }
        }
    }
    true
}

/// The gradient of A: `col = grad_y (x) B^T` block by block, folded back through the windows.
pub fn grad_a<T: Element>(
    kernel: &Kernel,
    plan: &GemmPlan,
    extents: &Extents,
    a_shape: &[usize],
    b: Tensor<T>,
    grad_y: &[T],
    out: &mut [T],
) -> bool {
    let a_shape_tensor = Tensor {
        data: &[] as &[T],
        shape: a_shape,
    };
    let Some(p) = Product::new(kernel, plan, extents, &a_shape_tensor, &b) else {
        return false;
    };
    let k_len = p.panels.k_len();
    let packed: Vec<Vec<T>> = (0..p.outer.len()).map(|o| p.pack_b(b.data, o)).collect();
    // Each outer point owns the slice of A's gradient its leading axes select, when the
    // outer axes lead A's layout; otherwise one task does all.
    let leading: Vec<char> = p
        .layout
        .a
        .dims
        .iter()
        .take(p.outer_axes.len())
        .filter_map(|(d, _)| match d {
            layout::DimIndex::Axis(axis) => Some(*axis),
            layout::DimIndex::Window(_) => None,
        })
        .collect();
    let owns_slices = leading.len() == p.outer_axes.len()
        && p.outer_axes.iter().all(|a| leading.contains(a))
        && !p
            .layout
            .windows
            .iter()
            .any(|w| p.layout.m_outer.contains(&w.window.axis));
    let run_outer = |o: usize, grad: &mut [T], origin: usize, threads: usize| {
        let parts = p.panels.row_parts.len();
        for start in (0..parts).step_by(p.parts_per_block) {
            let block = start..(start + p.parts_per_block).min(parts);
            let rows = p.rows(&block);
            let (rs, cs) = p.panels.strides(rows);
            let mut panel = vec![T::zero(); rows * k_len];
            let first = p.outer_c[o] + p.first_row(block.start) * p.layout.c_row_stride;
            gemm::gemm(
                (rows, k_len, p.n_len),
                MatrixMut {
                    data: &mut panel,
                    rows: rs,
                    cols: cs,
                },
                false,
                Matrix {
                    data: &grad_y[first..],
                    rows: p.layout.c_row_stride,
                    cols: p.layout.c_col_stride,
                },
                Matrix {
                    data: &packed[o],
                    rows: 1,
                    cols: p.n_len,
                },
                threads,
            );
            p.panels
                .fold(&p.layout, &p.outer[o], block, &panel, grad, origin);
        }
    };
    if owns_slices && p.outer.len() > 1 {
        let slice_len: usize = a_shape[leading.len()..].iter().product();
        // Outer points in A's leading order: the chunk index decodes to the outer values.
        let leading_points = p.layout.points(&leading);
        let outer_index = |values: &[usize]| -> usize {
            let reordered: Vec<usize> = p
                .outer_axes
                .iter()
                .map(|a| values[leading.iter().position(|l| l == a).unwrap_or(0)])
                .collect();
            reordered
                .iter()
                .zip(&p.outer_axes)
                .fold(0, |acc, (v, a)| acc * p.layout.len[a] + v)
        };
        out.par_chunks_mut(slice_len.max(1))
            .zip(leading_points.par_iter())
            .enumerate()
            .for_each(|(chunk, (grad, values))| {
                run_outer(outer_index(values), grad, chunk * slice_len, 1)
            });
    } else {
        let threads = rayon::current_num_threads();
        for o in 0..p.outer.len() {
            run_outer(o, out, 0, threads);
        }
    }
    true
}
