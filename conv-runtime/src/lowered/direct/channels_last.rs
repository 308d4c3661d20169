//! Position tiles over a channels-last operand (NHWC, NLC): the direct kernel's padded
//! copy `P` keeps the operand's order, channels innermost, so the taps of one window
//! offset are consecutive elements, which every position of a tile reads from the same
//! cache lines. The output's columns (its channels) are innermost too, so a tile's
//! sums, one row of columns per position, are written out as they are, with no
//! transpose. The 64-position tiles cannot run this layout: a position's channels are
//! not a contiguous run of positions.

use super::fill::LastDim;
use super::padded::{self, Kind};
use super::plan::Direct;
use super::OutputBias;
use crate::__private::Output;
use crate::lowered::layout::DimIndex;
use crate::lowered::product::Product;
use crate::Element;
use rayon::prelude::*;

/// Columns per block of position tiles (four AVX-512 registers of f32).
const BLOCK_COLUMNS: usize = 64;

/// A channels-last product's plan: `P`, and where every output position is read in `P`
/// and written in the output, worked out once per kernel and shapes.
pub(crate) struct ChannelsLast {
    direct: Direct,
    /// Per output position, outer point by outer point in the output's order: its offset
    /// in `P` and in the output (its column 0).
    read: Vec<usize>,
    write: Vec<usize>,
    /// Elements of the output per outer point.
    chunk_len: usize,
}

impl ChannelsLast {
    /// The plan, if A's innermost dimension is a reduction axis and the output's
    /// innermost are its columns, contiguous; every window slides along an output row
    /// axis (any stride: `P` keeps strided windows whole), one batch point, and the
    /// columns fill at least three quarters of their blocks of 64.
    pub fn new(p: &Product, out_len: usize) -> Option<Self> {
        let l = &p.layout;
        let innermost_reduction =
            matches!(l.a.dims.last()?, (DimIndex::Axis(a), 1) if l.k.contains(a));
        // The offset in the output of every point of `axes`.
        let offsets_in_c = |axes: &[char]| -> Vec<usize> {
            (l.points(axes).iter())
                .map(|point| {
                    (axes.iter().zip(point))
                        .map(|(&a, v)| v * l.c.stride_of(a))
                        .sum()
                })
                .collect()
        };
        let columns_innermost = offsets_in_c(&l.n).into_iter().eq(0..p.n_len);
        let windows_fit = l.windows.iter().all(|w| {
            l.m_inner.contains(&w.window.axis) && p.panels.k_order.contains(&w.window.window)
        });
        let blocks = p.n_len.div_ceil(BLOCK_COLUMNS);
        let filled = 4 * p.n_len >= 3 * blocks * BLOCK_COLUMNS;
        if !innermost_reduction
            || !columns_innermost
            || !windows_fit
            || !filled
            || l.windows.is_empty()
            || p.batch_points() != 1
            || p.k_len == 0
        {
            return None;
        }
        // Each position is read at its own offset: strided windows need no phases.
        let p_dims = padded::dims(l, false)?;
        let p_shape: Vec<usize> = p_dims.iter().map(|d| d.len).collect();
        let strides = conv_model::layout::row_major(&p_shape)?;
        let rows = padded::offsets(l, &p_dims, &strides, &l.m_inner, false);
        let outer = padded::offsets(l, &p_dims, &strides, &p.outer_axes, false);
        let taps = padded::offsets(l, &p_dims, &strides, &p.panels.k_order, true);
        let writes = offsets_in_c(&l.m_inner);
        let (chunk_len, by_chunk) = p.chunks(&l.c, &p.outer_c, out_len)?;
        let positions = by_chunk.len() * rows.len();
        let (mut read, mut write) = (Vec::with_capacity(positions), Vec::with_capacity(positions));
        for (chunk, &o) in by_chunk.iter().enumerate() {
            read.extend(rows.iter().map(|&row| outer[o] + row));
            write.extend(writes.iter().map(|&at| chunk * chunk_len + at));
        }
        let reach = read.iter().max()? + taps.iter().max()? + 1;
        let p_len = p_shape.iter().product::<usize>().max(reach);
        let last_dim = match &p_dims.last()?.kind {
            Kind::Window {
                map, phase: None, ..
            } => LastDim::new(Some(map), map.len()),
            _ => LastDim::new(None, *p_shape.last()?),
        };
        let direct = Direct {
            span: rows.iter().max()? + 1,
            p_shape,
            p_dims,
            outer,
            rows,
            taps,
            run_len: 1,
            column_stride: 1,
            p_len,
            last_dim,
            local: None,
        };
        Some(ChannelsLast {
            direct,
            read,
            write,
            chunk_len,
        })
    }

    /// `C = A * B` (+ `bias`): `b` is B as the kernel was given it, the axes `reversed`
    /// read backwards (a transposed kernel's taps). With the bias, whether it runs along
    /// a column axis (each column then has one value).
    pub fn forward<T: Element>(
        &self,
        p: &Product,
        a: &[T],
        b: &[T],
        reversed: &[char],
        bias: Option<(OutputBias<T>, bool)>,
        out: &mut Output<T>,
    ) {
        let d = &self.direct;
        d.sum_positions(p, a, b, reversed, &self.read, |sums, lanes| {
            self.write_out(p.n_len, sums, lanes, bias, out.as_mut_slice())
        })
    }

    /// Writes each position's row of columns from the jobs' `sums` (`[block][position]
    /// [lanes]`) into `out`, adding the bias, in parallel over outer points.
    fn write_out<T: Element>(
        &self,
        n_len: usize,
        sums: &[T],
        lanes: usize,
        bias: Option<(OutputBias<T>, bool)>,
        out: &mut [T],
    ) {
        let count = self.read.len();
        let per_outer = self.direct.rows.len();
        // With the bias along a column axis, column n's value wherever it is.
        let per_column: Option<Vec<T>> = match &bias {
            Some((bias, true)) => Some((0..n_len).map(|n| bias.at(self.write[0] + n)).collect()),
            _ => None,
        };
        out.par_chunks_mut(self.chunk_len.max(1))
            .enumerate()
            .for_each(|(chunk, c)| {
                let start = chunk * self.chunk_len;
                for q in chunk * per_outer..(chunk + 1) * per_outer {
                    let row = &mut c[self.write[q] - start..][..n_len];
                    for (block, row) in row.chunks_mut(lanes).enumerate() {
                        let from = &sums[(block * count + q) * lanes..][..row.len()];
                        row.copy_from_slice(from);
                    }
                    if let Some(values) = &per_column {
                        for (v, &add) in row.iter_mut().zip(values) {
                            *v = *v + add;
                        }
                    }
                }
                if let Some((bias, false)) = &bias {
                    bias.add(start, c);
                }
            });
    }
}
