//! One prepared product: the layout, the panels, the outer points (batch and unmerged row
//! axes) and the blocks of rows that are the units of work.

use super::gemm::{gemm, Matrix, MatrixMut};
use super::layout::{DimIndex, Layout, TensorLayout};
use super::panel::{parts, Panels, Part};
use crate::shapes::Extents;
use crate::Element;
use conv_model::gemm_plan::GemmPlan;
use conv_model::kernel::Kernel;
use std::ops::Range;

/// Panels hold about this many elements, so that a block stays in the L2 cache.
const PANEL_ELEMENTS: usize = 1 << 18;

pub(crate) struct Product {
    pub layout: Layout,
    pub panels: Panels,
    pub outer_axes: Vec<char>,
    /// Every outer point: batch axes first, then unmerged row axes.
    pub outer: Vec<Part>,
    /// Offsets of each outer point into B (its batch axes) and C.
    pub outer_b: Vec<usize>,
    pub outer_c: Vec<usize>,
    /// Outer points per batch point.
    pub per_batch: usize,
    pub n_len: usize,
    pub k_len: usize,
    /// `(row, column)` strides of `A` read in place, when it needs no panel
    /// ([`Panels::in_place`]).
    pub a_in_place: Option<(usize, usize)>,
    parts_per_block: usize,
}

impl Product {
    /// Multiply-adds of the product (`usize::MAX` if they overflow).
    pub fn macs(plan: &GemmPlan, extents: &Extents) -> usize {
        [&plan.batch, &plan.m, &plan.n, &plan.k]
            .iter()
            .flat_map(|a| a.iter())
            .try_fold(1usize, |macs, &a| macs.checked_mul(extents.of(a)))
            .unwrap_or(usize::MAX)
    }

    /// `None` when the layout of operands of shapes `a` and `b` does not fit.
    pub fn new(
        kernel: &Kernel,
        plan: &GemmPlan,
        extents: &Extents,
        a: &[usize],
        b: &[usize],
    ) -> Option<Self> {
        let layout = Layout::new(kernel, plan, extents, a, b)?;
        let panels = Panels::new(&layout);
        let outer_axes: Vec<char> = layout
            .batch
            .iter()
            .chain(&layout.m_outer)
            .copied()
            .collect();
        let outer = parts(&layout, &outer_axes, false);
        let points = layout.points(&outer_axes);
        let offset = |t: &TensorLayout, p: &[usize]| -> usize {
            outer_axes
                .iter()
                .zip(p)
                .map(|(&axis, v)| v * t.stride_of(axis))
                .sum()
        };
        let outer_b = points.iter().map(|p| offset(&layout.b, p)).collect();
        let outer_c = points.iter().map(|p| offset(&layout.c, p)).collect();
        let per_batch = outer.len() / layout.extent(&layout.batch).max(1);
        let n_len = layout.extent(&layout.n);
        let k_len = panels.k_len();
        let parts_per_block = (PANEL_ELEMENTS / (k_len * panels.rows_per_part()).max(1)).max(1);
        let a_in_place = panels.in_place(&layout);
        Some(Product {
            layout,
            panels,
            outer_axes,
            outer,
            outer_b,
            outer_c,
            per_batch: per_batch.max(1),
            n_len,
            k_len,
            a_in_place,
            parts_per_block,
        })
    }

    pub fn batch_of(&self, o: usize) -> usize {
        o / self.per_batch
    }

    pub fn batch_points(&self) -> usize {
        self.outer.len() / self.per_batch
    }

    /// The blocks of row parts of one outer point.
    pub fn blocks_of(&self, _o: usize) -> impl Iterator<Item = Range<usize>> + '_ {
        let parts = self.panels.row_parts.len();
        (0..parts)
            .step_by(self.parts_per_block)
            .map(move |p| p..(p + self.parts_per_block).min(parts))
    }

    /// Every (outer point, block of row parts): the units of work.
    pub fn blocks(&self) -> Vec<(usize, Range<usize>)> {
        (0..self.outer.len())
            .flat_map(|o| self.blocks_of(o).map(move |b| (o, b)))
            .collect()
    }

    pub fn rows(&self, parts: &Range<usize>) -> usize {
        parts.len() * self.panels.rows_per_part()
    }

    /// The first row (of the merged row axes) that row part `p` holds.
    pub fn first_row(&self, p: usize) -> usize {
        p * self.panels.rows_per_part()
    }

    /// When every outer point owns one contiguous chunk of a tensor of `total` elements
    /// laid out as `t` (the outer axes are its leading dimensions), its outer points'
    /// offsets being `offsets`: the chunk length, and for each chunk its outer point.
    pub fn chunks(
        &self,
        t: &TensorLayout,
        offsets: &[usize],
        total: usize,
    ) -> Option<(usize, Vec<usize>)> {
        let count = self.outer.len();
        let leads = t.dims.len() >= self.outer_axes.len()
            && t.dims[..self.outer_axes.len()]
                .iter()
                .all(|(d, _)| matches!(d, DimIndex::Axis(a) if self.outer_axes.contains(a)));
        if !leads || count == 0 || total % count != 0 {
            return None;
        }
        let len = total / count;
        let mut by_chunk = vec![usize::MAX; count];
        for (o, &offset) in offsets.iter().enumerate() {
            let chunk = offset / len.max(1);
            if offset % len.max(1) != 0 || chunk >= count || by_chunk[chunk] != usize::MAX {
                return None;
            }
            by_chunk[chunk] = o;
        }
        Some((len, by_chunk))
    }

    /// B of every batch point packed as `[k][n]` (`n_inner`) or `[n][k]`, k in panel
    /// order. The GEMM repacks a right operand whose rows are not contiguous on every
    /// call; `[n][k]` is the layout it reads in place.
    pub fn pack_b_per_batch<T: Element>(&self, b: &[T], n_inner: bool) -> Vec<Vec<T>> {
        self.pack_b(b, n_inner, &[])
    }

    /// As [`Product::pack_b_per_batch`], with the axes `reversed` read backwards (index
    /// `i` of such an axis reads `len - 1 - i`).
    pub fn pack_b<T: Element>(&self, b: &[T], n_inner: bool, reversed: &[char]) -> Vec<Vec<T>> {
        let (k_offsets, n_offsets) = self.b_offsets_reversing(reversed);
        (0..self.batch_points())
            .map(|g| {
                let base = self.outer_b[g * self.per_batch];
                let mut packed = Vec::with_capacity(k_offsets.len() * n_offsets.len());
                if n_inner {
                    packed.resize(k_offsets.len() * n_offsets.len(), T::zero());
                    let row_len = n_offsets.len();
                    super::pack::k_major(b, base, &k_offsets, &n_offsets, &mut packed, row_len);
                } else {
                    for &n in &n_offsets {
                        packed.extend(k_offsets.iter().map(|&k| b[base + k + n]));
                    }
                }
                packed
            })
            .collect()
    }

    /// Adds the gradient of B summed for each batch point (`sums[g]`, `[k][n]` in panel
    /// order) into `out`, B's gradient in row-major order.
    pub fn add_to_b<T: Element>(&self, sums: &[Vec<T>], out: &mut [T]) {
        let (k_offsets, n_offsets) = self.b_offsets();
        for (g, sum) in sums.iter().enumerate() {
            let base = self.outer_b[g * self.per_batch];
            for (&k, row) in k_offsets.iter().zip(sum.chunks_exact(self.n_len.max(1))) {
                for (&n, &v) in n_offsets.iter().zip(row) {
                    out[base + k + n] = out[base + k + n] + v;
                }
            }
        }
    }

    /// Offsets into B of every reduction index (panel order) and every column.
    pub fn b_offsets(&self) -> (Vec<usize>, Vec<usize>) {
        self.b_offsets_reversing(&[])
    }

    /// As [`Product::b_offsets`], with the axes `reversed` read backwards.
    pub fn b_offsets_reversing(&self, reversed: &[char]) -> (Vec<usize>, Vec<usize>) {
        let l = &self.layout;
        let offsets = |axes: &[char]| -> Vec<usize> {
            l.points(axes)
                .iter()
                .map(|p| {
                    axes.iter()
                        .zip(p)
                        .map(|(&a, &v)| {
                            let v = if reversed.contains(&a) {
                                l.len[&a] - 1 - v
                            } else {
                                v
                            };
                            v * l.b.stride_of(a)
                        })
                        .sum()
                })
                .collect()
        };
        (offsets(&self.panels.k_order), offsets(&l.n))
    }

    /// The panel of A for these row parts, in `panel` (resized).
    pub fn panel<T: Element>(&self, o: usize, parts: &Range<usize>, a: &[T], panel: &mut Vec<T>) {
        panel.resize(self.rows(parts) * self.k_len, T::zero());
        self.panels
            .im2col(&self.layout, &self.outer[o], parts.clone(), a, panel);
    }

    /// A's rows of these row parts as a matrix: read in place when it can be
    /// ([`Product::a_in_place`]), else a panel filled into `panel`.
    pub fn a_rows<'s, T: Element>(
        &self,
        o: usize,
        parts: &Range<usize>,
        a: &'s [T],
        panel: &'s mut Vec<T>,
    ) -> Matrix<'s, T> {
        if let Some((rows, cols)) = self.a_in_place {
            let first = self.outer[o].offset + self.first_row(parts.start) * rows;
            return Matrix {
                data: &a[first..],
                rows,
                cols,
            };
        }
        self.panel(o, parts, a, panel);
        let (rows, cols) = self.panels.strides(self.rows(parts));
        Matrix {
            data: panel,
            rows,
            cols,
        }
    }

    /// `dst = A(rows of parts) * packed B` (B packed `[n][k]`), where `dst` starts at the block's first row and
    /// has strides `(row, column)`.
    #[allow(clippy::too_many_arguments)]
    pub fn multiply<T: Element>(
        &self,
        o: usize,
        parts: Range<usize>,
        a: &[T],
        packed: &[T],
        panel: &mut Vec<T>,
        dst: &mut [T],
        (rows_stride, cols_stride): (usize, usize),
        threads: usize,
    ) {
        let rows = self.rows(&parts);
        let lhs = self.a_rows(o, &parts, a, panel);
        gemm(
            (rows, self.n_len, self.k_len),
            MatrixMut {
                data: dst,
                rows: rows_stride,
                cols: cols_stride,
            },
            false,
            lhs,
            Matrix {
                data: packed,
                rows: 1,
                cols: self.k_len,
            },
            threads,
        );
    }
}
