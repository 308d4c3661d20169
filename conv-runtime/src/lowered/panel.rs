//! Panels of the windowed operand: its elements laid out as the matrix `A[m][k]` of one
//! block of rows (im2col), and the way back, adding a matrix of that shape onto the
//! gradient of the operand (the fold). Both walk the same runs: stretches of one axis
//! along which the operand's offset grows by a constant.

use super::layout::{DimIndex, Layout};
use crate::Element;
use std::ops::Range;

/// Which index of `A` is stored innermost in a panel.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Orientation {
    /// `[k][m]`: runs along the last row axis (the operand's innermost axis is a row axis).
    RowsInner,
    /// `[m][k]`: runs along the last reduction axis (the operand's innermost axis is one).
    ReductionInner,
}

/// The offset of a partial index into the windowed operand, and what it fixes of each
/// window: the view position `a` (rows) or the tap `t` (reduction).
#[derive(Clone, Debug)]
pub(crate) struct Part {
    pub offset: usize,
    pub window_values: Vec<Option<usize>>,
}

/// The runs of one product: the fixed parts of rows and reduction, and the run itself.
pub(crate) struct Panels {
    pub orientation: Orientation,
    /// Reduction axes in panel order (the run axis last when the reduction is inner).
    pub k_order: Vec<char>,
    pub run_len: usize,
    /// The operand's stride along the run, when an axis (not a window) drives it.
    run_stride: usize,
    /// The window whose view position is the run axis, if one is.
    run_window: Option<usize>,
    /// Every combination of the row axes of one product outside the run.
    pub row_parts: Vec<Part>,
    /// Every combination of the reduction axes outside the run.
    pub k_parts: Vec<Part>,
    /// For each reduction part, the interior of the run window's run (see
    /// [`super::layout::WindowTable::interior`]): computed once, not once per run.
    interiors: Vec<(usize, usize, usize)>,
}

impl Panels {
    pub fn new(layout: &Layout) -> Self {
        let innermost = layout.a.dims.last().map(|(d, _)| *d);
        let reduction_run = match innermost {
            Some(DimIndex::Axis(axis)) if layout.k.contains(&axis) => Some(axis),
            _ => None,
        };
        let (orientation, run_axis, k_order) = match reduction_run {
            Some(r) => {
                let mut k: Vec<char> = layout.k.iter().copied().filter(|&a| a != r).collect();
                k.push(r);
                (Orientation::ReductionInner, r, k)
            }
            None => {
                let last = *layout.m_inner.last().expect("a plan has row axes");
                (Orientation::RowsInner, last, layout.k.clone())
            }
        };
        let run_len = layout.len[&run_axis];
        let run_window = layout
            .windows
            .iter()
            .position(|w| w.window.axis == run_axis && orientation == Orientation::RowsInner)
            .filter(|&i| layout.a.dims.iter().any(|(d, _)| *d == DimIndex::Window(i)));
        let run_stride = layout.a.stride_of(run_axis);
        let (row_axes, k_axes): (Vec<char>, Vec<char>) = match orientation {
            Orientation::RowsInner => (
                layout.m_inner[..layout.m_inner.len() - 1].to_vec(),
                k_order.clone(),
            ),
            Orientation::ReductionInner => (
                layout.m_inner.clone(),
                k_order[..k_order.len() - 1].to_vec(),
            ),
        };
        let k_parts = parts(layout, &k_axes, true);
        let interiors = match run_window {
            Some(w) => k_parts
                .iter()
                .map(|k| layout.windows[w].interior(k.window_values[w].unwrap_or(0)))
                .collect(),
            None => Vec::new(),
        };
        Panels {
            orientation,
            row_parts: parts(layout, &row_axes, false),
            k_parts,
            interiors,
            k_order,
            run_len,
            run_stride,
            run_window,
        }
    }

    /// Rows of `A` per row part.
    pub fn rows_per_part(&self) -> usize {
        match self.orientation {
            Orientation::RowsInner => self.run_len,
            Orientation::ReductionInner => 1,
        }
    }

    /// The length of the reduction.
    pub fn k_len(&self) -> usize {
        match self.orientation {
            Orientation::RowsInner => self.k_parts.len(),
            Orientation::ReductionInner => self.k_parts.len() * self.run_len,
        }
    }

    /// `(row stride, column stride)` of a panel holding `rows` rows of `A`.
    pub fn strides(&self, rows: usize) -> (usize, usize) {
        match self.orientation {
            Orientation::RowsInner => (1, rows),
            Orientation::ReductionInner => (self.k_len(), 1),
        }
    }

    /// Visits every run of the row parts `parts` (of the outer point `outer`):
    /// `visit(row part index within parts, reduction part index, the run)`.
    pub fn for_each_run_at(
        &self,
        layout: &Layout,
        outer: &Part,
        parts: std::ops::Range<usize>,
        mut visit: impl FnMut(usize, usize, Run<'_>),
    ) {
        for (local, row) in self.row_parts[parts].iter().enumerate() {
            for (kp, k) in self.k_parts.iter().enumerate() {
                visit(local, kp, self.run(layout, outer, row, k, kp));
            }
        }
    }

    /// Visits every run of the panel of row parts `parts` (of the outer point `outer`):
    /// `visit(first index in the panel, stride in the panel, the run)`.
    pub fn for_each_run(
        &self,
        layout: &Layout,
        outer: &Part,
        parts: std::ops::Range<usize>,
        mut visit: impl FnMut(usize, usize, Run<'_>),
    ) {
        let rows = parts.len() * self.rows_per_part();
        let (row_stride, col_stride) = self.strides(rows);
        let run_len = self.run_len;
        let orientation = self.orientation;
        self.for_each_run_at(layout, outer, parts, |local, kp, run| {
            let (start, step) = match orientation {
                Orientation::RowsInner => {
                    (kp * col_stride + local * run_len * row_stride, row_stride)
                }
                Orientation::ReductionInner => {
                    (local * row_stride + kp * run_len * col_stride, col_stride)
                }
            };
            visit(start, step, run);
        });
    }

    fn run<'l>(
        &self,
        layout: &'l Layout,
        outer: &Part,
        row: &Part,
        k: &Part,
        kp: usize,
    ) -> Run<'l> {
        let mut base = outer.offset + row.offset + k.offset;
        for (w, table) in layout.windows.iter().enumerate() {
            if Some(w) == self.run_window {
                continue;
            }
            let Some(stride) = window_stride(layout, w) else {
                continue;
            };
            let a = outer.window_values[w].or(row.window_values[w]).unwrap_or(0);
            let t = k.window_values[w].unwrap_or(0);
            match table.positions[a * table.taps + t] {
                Some(p) => base += p * stride,
                None => return Run::zeros(self.run_len),
            }
        }
        match self.run_window {
            None => Run {
                len: self.run_len,
                interior: 0..self.run_len,
                first: base,
                step: self.run_stride,
                border: None,
            },
            Some(w) => {
                let table = &layout.windows[w];
                let tap = k.window_values[w].unwrap_or(0);
                let (a_lo, a_hi, p0) = self.interiors[kp];
                let stride = window_stride(layout, w).unwrap_or(0);
                Run {
                    len: self.run_len,
                    interior: a_lo..a_hi,
                    first: base + p0 * stride,
                    step: table.window.stride * stride,
                    border: Some(Border {
                        base,
                        stride,
                        table,
                        tap,
                    }),
                }
            }
        }
    }

    /// Fills `panel` with the rows of `A` of row parts `parts`.
    pub fn im2col<T: Element>(
        &self,
        layout: &Layout,
        outer: &Part,
        parts: std::ops::Range<usize>,
        source: &[T],
        panel: &mut [T],
    ) {
        self.for_each_run(layout, outer, parts, |start, step, run| {
            let Range { start: lo, end: hi } = run.interior;
            for i in (0..lo).chain(hi..run.len) {
                panel[start + i * step] = T::zero();
            }
            if lo == hi {
                // no element of this run reads inside the input
            } else if step == 1 && run.step == 1 {
                panel[start + lo..start + hi]
                    .copy_from_slice(&source[run.first..run.first + hi - lo]);
            } else {
                run.for_each_interior(|i, o| panel[start + i * step] = source[o]);
            }
            run.for_each_border(|i, o| panel[start + i * step] = source[o]);
        });
    }

    /// Adds the panel (shaped like `A`'s rows of `parts`) onto the operand's gradient, whose
    /// slice `grad` starts at offset `origin` of the operand.
    pub fn fold<T: Element>(
        &self,
        layout: &Layout,
        outer: &Part,
        parts: std::ops::Range<usize>,
        panel: &[T],
        grad: &mut [T],
        origin: usize,
    ) {
        self.for_each_run(layout, outer, parts, |start, step, run| {
            run.for_each_read(|i, o| grad[o - origin] = grad[o - origin] + panel[start + i * step]);
        });
    }
}

/// A stretch of `A` along the run axis, as offsets into the windowed operand: elements
/// `interior` read `first + (i - interior.start) * step`; the others read the zero
/// padding, or the input position a copying padding mode puts there (`border`).
pub(crate) struct Run<'l> {
    pub len: usize,
    pub interior: Range<usize>,
    pub first: usize,
    pub step: usize,
    border: Option<Border<'l>>,
}

/// How the elements of a run outside its interior read the input: through the window's
/// table of positions.
struct Border<'l> {
    base: usize,
    stride: usize,
    table: &'l super::layout::WindowTable,
    tap: usize,
}

impl Run<'_> {
    /// A run whose every element reads the zero padding.
    fn zeros(len: usize) -> Self {
        Run {
            len,
            interior: 0..0,
            first: 0,
            step: 0,
            border: None,
        }
    }

    /// `f(i, offset)` for every element of the interior.
    #[inline]
    pub fn for_each_interior(&self, mut f: impl FnMut(usize, usize)) {
        let start = self.interior.start;
        for i in self.interior.clone() {
            f(i, self.first + (i - start) * self.step);
        }
    }

    /// `f(i, offset)` for every element outside the interior that reads the input.
    #[inline]
    pub fn for_each_border(&self, mut f: impl FnMut(usize, usize)) {
        let Some(b) = &self.border else { return };
        for i in (0..self.interior.start).chain(self.interior.end..self.len) {
            if let Some(p) = b.table.positions[i * b.table.taps + b.tap] {
                f(i, b.base + p * b.stride);
            }
        }
    }

    /// `f(i, offset)` for every element that reads the input.
    #[inline]
    pub fn for_each_read(&self, mut f: impl FnMut(usize, usize)) {
        self.for_each_interior(&mut f);
        self.for_each_border(f);
    }
}

/// The operand's stride along the dimension read through window `w`.
fn window_stride(layout: &Layout, w: usize) -> Option<usize> {
    layout
        .a
        .dims
        .iter()
        .find(|(d, _)| *d == DimIndex::Window(w))
        .map(|(_, s)| *s)
}

/// Every combination of values of `axes`, with its offset into the windowed operand and
/// the window positions (`taps` false) or taps (`taps` true) it fixes.
pub(crate) fn parts(layout: &Layout, axes: &[char], taps: bool) -> Vec<Part> {
    layout
        .points(axes)
        .into_iter()
        .map(|values| {
            let value = |axis: char| axes.iter().position(|&a| a == axis).map(|i| values[i]);
            let offset = layout
                .a
                .dims
                .iter()
                .filter_map(|(d, s)| match d {
                    DimIndex::Axis(axis) => value(*axis).map(|v| v * s),
                    DimIndex::Window(_) => None,
                })
                .sum();
            let window_values = layout
                .windows
                .iter()
                .map(|w| value(if taps { w.window.window } else { w.window.axis }))
                .collect();
            Part {
                offset,
                window_values,
            }
        })
        .collect()
}
