//! The forward product without panels, for windows along the output's contiguous rows
//! (a convolution in NCHW, conv1d, conv3d, depthwise, of any stride): the windowed
//! operand is copied into a padded buffer `P` in which every window reads inside (a
//! strided window split into its phases, `padded`), and then each tap of the reduction
//! is a shifted contiguous stretch of `P`. A register
//! tile of output channels x positions accumulates over every tap with broadcast
//! multiply-adds, the kernel shape of DESIGN.md section 6, with no im2col and no repacking.
//!
//! Positions are walked as "virtual" offsets into `P`: the output rows of one outer
//! point lie in `P` at increasing offsets, one padded row apart, so blocks of
//! consecutive offsets are full vectors; lanes that fall on padding are computed and
//! dropped (a few percent of the work, bounded by [`MAX_WASTE`]). Single-column
//! products (depthwise) copy each outer point's part of `P` on its own, into a buffer
//! that stays in L1 (`fill`); the bias is added as tiles are copied out (`bias`).

mod bias;
mod depthwise_grad;
mod fill;
mod grad_b;
mod padded;

use super::lanes;
use super::layout::DimIndex;
use super::product::Product;
use super::scratch;
use super::simd::vectorized;
use crate::Element;
pub(crate) use bias::OutputBias;
use fill::LastDim;
use rayon::prelude::*;

/// Output channels per register tile (with [`WIDTH`] positions: 24 AVX-512 registers,
/// each tap 4 vector loads and 6 broadcasts for 24 FMAs). Measured against 12 x 32
/// (2 loads and 12 broadcasts): 15-40% faster on 3x3 layers; 8 channels made LLVM
/// spill the tile (20x slower).
const CHANNELS: usize = 6;
/// Positions per register tile, in elements of f32 (four AVX-512 registers).
const WIDTH: usize = 64;
/// Taps per pass over the channel blocks of a tile: their inputs (four cache lines
/// each) stay in the L1 cache while every block of channels reads them.
const TAPS_PER_PASS: usize = 128;
/// Positions per tile of a single column (depthwise), in elements of f32: more than
/// [`WIDTH`], to spread each tile's fixed cost over more multiply-adds.
const SINGLE_WIDTH: usize = 128;
/// Strided windows' forward pass with this many taps or more goes through panels and
/// the GEMM instead: the phases spread a pass's taps over `stride²` planes of `P`, and
/// a long reduction suits the GEMM. Measured (quick runs, AMD EPYC): the stem (147 taps) 1.7x faster direct,
/// 3x3 stride 2 over 128 channels (1152 taps) 0.9x; their grad_w faster direct (1.5x,
/// 1.07x).
const STRIDED_FORWARD_TAPS: usize = 512;
/// Virtual positions may exceed the real ones by this fraction at most.
const MAX_WASTE: f64 = 0.25;

pub(crate) struct Direct {
    /// Extent of every dimension of `P` (the operand's, padded along windows, strided
    /// windows split into phases) and what each is.
    p_shape: Vec<usize>,
    p_dims: Vec<padded::Dim>,
    /// Offsets in `P` of every outer point, every row part and every tap.
    outer: Vec<usize>,
    rows: Vec<usize>,
    taps: Vec<usize>,
    run_len: usize,
    /// The output's stride from one column to the next.
    column_stride: usize,
    /// Virtual positions of one outer point: from row 0's first to the last row's end.
    span: usize,
    /// Elements of `P`, with room for the last tile's overhang.
    p_len: usize,
    last_dim: LastDim,
}

impl Direct {
    /// The plan, if the product has this shape and its output (`out_len` elements) is
    /// laid out as `[outer points][columns][rows]`.
    pub fn new(p: &Product, out_len: usize) -> Option<Self> {
        let l = &p.layout;
        let run_axis = *l.m_inner.last()?;
        let outer_axes: Vec<char> = l.batch.iter().chain(&l.m_outer).copied().collect();
        // Every window slides along a row axis and its taps are reduction indices.
        let windows_fit = l.windows.iter().all(|w| {
            l.m_inner.contains(&w.window.axis) && p.panels.k_order.contains(&w.window.window)
        });
        let rows_total = p.panels.row_parts.len() * p.panels.run_len;
        // One column (a depthwise convolution) has no column stride: its rows follow.
        let ccs = if p.n_len == 1 {
            rows_total
        } else {
            l.c_col_stride
        };
        let c_fits = l.c_row_stride == 1
            && ccs >= rows_total
            && p.chunks(&l.c, &p.outer_c, out_len).map(|(len, _)| len) == Some(p.n_len * ccs);
        // Without windows (a 1x1 convolution) the padded copy would be a plain copy,
        // which the GEMM path does without.
        if l.windows.is_empty() || !windows_fit || !c_fits || p.n_len == 0 || p.k_len == 0 {
            return None;
        }
        // The run axis must be `P`'s innermost dimension (read with step 1 there: a
        // strided window is split into phases).
        let (last, _) = *l.a.dims.last()?;
        let run_last = match last {
            DimIndex::Axis(a) => a == run_axis,
            DimIndex::Window(w) => l.windows[w].window.axis == run_axis,
        };
        if !run_last {
            return None;
        }
        let p_dims = padded::dims(l)?;
        let p_shape: Vec<usize> = p_dims.iter().map(|d| d.len).collect();
        let strides = crate::__private::row_major(&p_shape);
        let row_axes = &l.m_inner[..l.m_inner.len() - 1];
        let rows = padded::offsets(l, &p_dims, &strides, row_axes, false);
        let run_len = l.len[&run_axis];
        let ordered = rows.windows(2).all(|r| r[1] >= r[0] + run_len);
        let span = rows.last().map_or(0, |&last| last + run_len);
        let real = rows.len() * run_len;
        if !ordered || rows.first() != Some(&0) || span as f64 > real as f64 * (1.0 + MAX_WASTE) {
            return None;
        }
        let outer = padded::offsets(l, &p_dims, &strides, &outer_axes, false);
        let taps = padded::offsets(l, &p_dims, &strides, &p.panels.k_order, true);
        // The last tile of the widest kind may reach past `span` by up to its width.
        let tiles = span + WIDTH.max(SINGLE_WIDTH);
        let reach = outer.iter().max()? + taps.iter().max()? + tiles;
        let p_len = p_shape.iter().product::<usize>().max(reach);
        let last_dim = match &p_dims.last()?.kind {
            padded::Kind::Window {
                map, phase: None, ..
            } => LastDim::new(Some(map), map.len()),
            _ => LastDim::new(None, *p_shape.last()?),
        };
        Some(Direct {
            p_shape,
            p_dims,
            outer,
            rows,
            taps,
            run_len,
            column_stride: ccs,
            span,
            p_len,
            last_dim,
        })
    }

    /// Whether the forward pass (of `k_len` taps) is worth the direct kernel.
    pub fn runs_forward(&self, k_len: usize) -> bool {
        let strided = self
            .p_dims
            .iter()
            .any(|d| matches!(d.kind, padded::Kind::Phase));
        !strided || k_len < STRIDED_FORWARD_TAPS
    }

    /// `C = A * B` (+ `bias`) for every outer point: `a` the windowed operand, `b`
    /// packed `[k][n]` per batch point, `out` row-major with the outer axes leading and,
    /// per outer point, `n_len` rows of `c_col_stride`. Single-column products pad each
    /// outer point's part of `A` on its own; the others pad all of it first.
    pub fn forward<T: Element>(
        &self,
        p: &Product,
        a: &[T],
        b: &[Vec<T>],
        bias: Option<OutputBias<T>>,
        out: &mut [T],
    ) {
        let per_outer = p.n_len * self.column_stride;
        let Some((_, by_chunk)) = p.chunks(&p.layout.c, &p.outer_c, out.len()) else {
            unreachable!("checked by Direct::new")
        };
        // Few outer points (a batch of one): each one's columns are split in groups of
        // whole channel blocks, so that every thread has work. A column's sums are the
        // same whatever its group.
        let threads = rayon::current_num_threads();
        let groups = if by_chunk.len() >= 2 * threads {
            1
        } else {
            (2 * threads).div_ceil(by_chunk.len().max(1))
        };
        let group = p
            .n_len
            .div_ceil(groups)
            .next_multiple_of(CHANNELS)
            .min(p.n_len)
            .max(1);
        let point = |padded: &[T], origin: usize, chunk: usize, g: usize, c: &mut [T]| {
            let o = by_chunk[chunk];
            let start = chunk * per_outer + g * group * self.column_stride;
            let cols = g * group..(g * group + group).min(p.n_len);
            let columns = bias
                .as_ref()
                .map(|bias| bias.of_columns(chunk * per_outer, self, p));
            let fused = columns
                .as_ref()
                .and_then(|c| c.as_deref())
                .map(|c| &c[cols.clone()]);
            self.outer_point(p, padded, origin, &b[p.batch_of(o)], cols, fused, c);
            if let (Some(bias), Some(None)) = (&bias, &columns) {
                bias.add(start, c);
            }
        };
        let jobs = out
            .par_chunks_mut(per_outer.max(1))
            .enumerate()
            .flat_map(|(chunk, c)| {
                c.par_chunks_mut((group * self.column_stride).max(1))
                    .enumerate()
                    .map(move |(g, c)| (chunk, g, c))
            });
        match self.local_rows(p.n_len) {
            Some(rows) => jobs.for_each_init(Vec::new, |local, (chunk, g, c)| {
                self.fill_local(&p.layout, a, by_chunk[chunk], rows, local);
                point(local, 0, chunk, g, c)
            }),
            None => scratch::with(|padded| {
                self.pad(&p.layout, a, padded);
                jobs.for_each(|(chunk, g, c)| {
                    point(padded, self.outer[by_chunk[chunk]], chunk, g, c)
                })
            }),
        }
    }

    /// The tiles of columns `cols` of one outer point (written to `c`, from the first
    /// of them), of the width for `T` and the number of columns.
    #[allow(clippy::too_many_arguments)]
    fn outer_point<T: Element>(
        &self,
        p: &Product,
        padded: &[T],
        origin: usize,
        b: &[T],
        cols: std::ops::Range<usize>,
        bias: Option<&[T]>,
        c: &mut [T],
    ) {
        // f64 tiles hold half as many positions, in as many registers.
        match (std::mem::size_of::<T>() <= 4, p.n_len == 1) {
            (true, false) => {
                self.tiles::<T, WIDTH, { WIDTH / 2 }>(p, padded, origin, b, cols, bias, c)
            }
            (false, false) => {
                self.tiles::<T, { WIDTH / 2 }, { WIDTH / 4 }>(p, padded, origin, b, cols, bias, c)
            }
            (true, true) => self.tiles::<T, SINGLE_WIDTH, { SINGLE_WIDTH / 2 }>(
                p, padded, origin, b, cols, bias, c,
            ),
            (false, true) => self.tiles::<T, { SINGLE_WIDTH / 2 }, { SINGLE_WIDTH / 4 }>(
                p, padded, origin, b, cols, bias, c,
            ),
        }
    }

    /// Every tile of one outer point, `W` positions at a time, the last `H` (half as
    /// many) if that covers it: fewer lanes computed on nothing when rows are short.
    #[allow(clippy::too_many_arguments)]
    fn tiles<T: Element, const W: usize, const H: usize>(
        &self,
        p: &Product,
        padded: &[T],
        origin: usize,
        b: &[T],
        cols: std::ops::Range<usize>,
        bias: Option<&[T]>,
        c: &mut [T],
    ) {
        let mut acc = vec![T::zero(); cols.len() * W];
        let mut row = 0;
        for j in (0..self.span).step_by(W) {
            if self.span - j <= H {
                self.tile_of_point::<T, H>(
                    p,
                    padded,
                    origin + j,
                    b,
                    cols.clone(),
                    bias,
                    c,
                    j,
                    &mut row,
                    &mut acc,
                );
            } else {
                self.tile_of_point::<T, W>(
                    p,
                    padded,
                    origin + j,
                    b,
                    cols.clone(),
                    bias,
                    c,
                    j,
                    &mut row,
                    &mut acc,
                );
            }
        }
    }

    /// The tile of virtual positions `j..j + W` at `at` in `P`: for each stretch of
    /// [`TAPS_PER_PASS`] taps (whose inputs then stay in L1), every block of `cols`;
    /// then its lanes that are output positions copied to `c` (each column's `bias`
    /// added), from row `row` on.
    #[allow(clippy::too_many_arguments)]
    fn tile_of_point<T: Element, const W: usize>(
        &self,
        p: &Product,
        padded: &[T],
        at: usize,
        b: &[T],
        cols: std::ops::Range<usize>,
        bias: Option<&[T]>,
        c: &mut [T],
        j: usize,
        row: &mut usize,
        acc: &mut [T],
    ) {
        let (n_len, ccs) = (p.n_len, self.column_stride);
        let acc = &mut acc[..cols.len() * W];
        acc.iter_mut().for_each(|v| *v = T::zero());
        for taps in (0..self.taps.len()).step_by(TAPS_PER_PASS) {
            let taps = taps..(taps + TAPS_PER_PASS).min(self.taps.len());
            let mut d = cols.start;
            while d < cols.end {
                let acc = &mut acc[(d - cols.start) * W..];
                d += match cols.end - d {
                    left if left >= CHANNELS => {
                        self.pass::<T, CHANNELS, W>(padded, at, b, n_len, d, taps.clone(), acc)
                    }
                    left if left >= 4 => {
                        self.pass::<T, 4, W>(padded, at, b, n_len, d, taps.clone(), acc)
                    }
                    _ => self.pass::<T, 1, W>(padded, at, b, n_len, d, taps.clone(), acc),
                };
            }
        }
        // Copy the lanes that are output positions, row by row.
        while *row < self.rows.len() && self.rows[*row] + self.run_len <= j {
            *row += 1;
        }
        let mut r = *row;
        while r < self.rows.len() && self.rows[r] < j + W {
            let lo = self.rows[r].max(j);
            let hi = (self.rows[r] + self.run_len).min(j + W);
            let at = r * self.run_len + (lo - self.rows[r]);
            // In registers: a call to `memcpy` per stretch of a few vectors costs as
            // much as the copy (a tenth of the time, measured).
            vectorized(
                #[inline(always)]
                || {
                    for (n, tile) in acc.chunks_exact(W).enumerate() {
                        let (to, from) = (n * ccs + at, &tile[lo - j..hi - j]);
                        match bias {
                            Some(bias) => lanes::copy_add(&mut c[to..to + hi - lo], from, bias[n]),
                            None => lanes::copy(&mut c[to..to + hi - lo], from),
                        }
                    }
                },
            );
            r += 1;
        }
    }

    /// Channels `d..d + N` of one tile over `taps`, added to `acc` (`N` rows of `W`);
    /// returns `N`. One call per pass: the pass's own function keeps the accumulators in
    /// registers (inlined into the loops above, LLVM would store them at every tap).
    #[allow(clippy::too_many_arguments)]
    #[inline(always)]
    fn pass<T: Element, const N: usize, const W: usize>(
        &self,
        padded: &[T],
        at: usize,
        b: &[T],
        n_len: usize,
        d: usize,
        taps: std::ops::Range<usize>,
        acc: &mut [T],
    ) -> usize {
        vectorized(
            #[inline(always)]
            || tile::<T, N, W>(&self.taps, taps, b, n_len, d, padded, at, acc),
        );
        N
    }
}

/// `acc[n][l] += sum over taps of b[tap][d + n] * padded[at + offset(tap) + l]`: the
/// register tile. Written as plain loops over arrays, which LLVM keeps in vector
/// registers and turns into broadcast FMAs.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn tile<T: Element, const N: usize, const W: usize>(
    offsets: &[usize],
    taps: std::ops::Range<usize>,
    b: &[T],
    n_len: usize,
    d: usize,
    padded: &[T],
    at: usize,
    out: &mut [T],
) {
    let mut acc = [[T::zero(); W]; N];
    for (n, lanes) in acc.iter_mut().enumerate() {
        lanes.copy_from_slice(&out[n * W..(n + 1) * W]);
    }
    for k in taps {
        let from = at + offsets[k];
        let x: [T; W] = padded[from..from + W]
            .try_into()
            .unwrap_or_else(|_| unreachable!());
        let w: [T; N] = b[k * n_len + d..k * n_len + d + N]
            .try_into()
            .unwrap_or_else(|_| unreachable!());
        for n in 0..N {
            for l in 0..W {
                acc[n][l] = w[n].mul_add(x[l], acc[n][l]);
            }
        }
    }
    for (n, lanes) in acc.iter().enumerate() {
        out[n * W..(n + 1) * W].copy_from_slice(lanes);
    }
}

#[cfg(test)]
mod tests;
