//! The direct kernel's plan for one product: whether it applies, and the layout of `P`
//! (its dimensions, the offsets of every outer point, row and tap), worked out once per
//! kernel and shapes.

use super::fill::LastDim;
use super::local_fill::LocalFill;
use super::padded;
use crate::lowered::layout::DimIndex;
use crate::lowered::product::Product;

/// Output channels per register tile (with [`WIDTH`] positions: 24 AVX-512 registers,
/// each tap 4 vector loads and 6 broadcasts for 24 FMAs). Measured against 12 x 32
/// (2 loads and 12 broadcasts): 15-40% faster on 3x3 layers; 8 channels made LLVM
/// spill the tile (20x slower).
pub(super) const CHANNELS: usize = 6;
/// Positions per register tile, in elements of f32 (four AVX-512 registers).
pub(super) const WIDTH: usize = 64;
/// Taps per pass over the channel blocks of a tile: their inputs (four cache lines
/// each) stay in the L1 cache while every block of channels reads them.
pub(super) const TAPS_PER_PASS: usize = 128;
/// Elements past an outer point's last row that single-column products read: their row
/// kernel and grad_b's dot products read at most one register (16 f32) beyond it.
pub(super) const SINGLE_REACH: usize = 16;
/// Virtual positions may exceed the real ones by this fraction at most.
pub(super) const MAX_WASTE: f64 = 0.25;

pub(crate) struct Direct {
    /// Extent of every dimension of `P` (the operand's, padded along windows, strided
    /// windows split into phases) and what each is.
    pub(super) p_shape: Vec<usize>,
    pub(super) p_dims: Vec<padded::Dim>,
    /// Offsets in `P` of every outer point, every row part and every tap.
    pub(super) outer: Vec<usize>,
    pub(super) rows: Vec<usize>,
    pub(super) taps: Vec<usize>,
    pub(super) run_len: usize,
    /// The output's stride from one column to the next.
    pub(super) column_stride: usize,
    /// Virtual positions of one outer point: from row 0's first to the last row's end.
    pub(super) span: usize,
    /// Elements of `P`, with room for the last tile's overhang.
    pub(super) p_len: usize,
    pub(super) last_dim: LastDim,
    /// Where single-column products' per-point copies read each row.
    pub(super) local: Option<LocalFill>,
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
        let p_dims = padded::dims(l, true)?;
        let p_shape: Vec<usize> = p_dims.iter().map(|d| d.len).collect();
        let strides = conv_model::layout::row_major(&p_shape)?;
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
        // The last tile may reach past `span` by up to its width.
        let tiles = span + WIDTH.max(SINGLE_REACH);
        let reach = outer.iter().max()? + taps.iter().max()? + tiles;
        let p_len = p_shape.iter().product::<usize>().max(reach);
        let last_dim = match &p_dims.last()?.kind {
            padded::Kind::Window {
                map, phase: None, ..
            } => LastDim::new(Some(map), map.len()),
            _ => LastDim::new(None, *p_shape.last()?),
        };
        let mut direct = Direct {
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
            local: None,
        };
        if let Some(rows) = direct.local_rows(p.n_len) {
            direct.local = LocalFill::new(&direct, l, &outer_axes, rows);
        }
        Some(direct)
    }

    /// Whether one tile of [`WIDTH`] positions covers an outer point: the direct kernel
    /// then reads all of B for that one tile, with no reuse.
    pub fn one_tile(&self) -> bool {
        self.span <= WIDTH
    }

    /// Whether a window is strided (split into phases in `P`).
    pub fn strided(&self) -> bool {
        self.p_dims
            .iter()
            .any(|d| matches!(d.kind, padded::Kind::Phase))
    }
}
