//! Panels of the windowed operand: its elements laid out as the matrix `A[m][k]` of one
//! block of rows (im2col), and the way back, adding a matrix of that shape onto the
//! gradient of the operand (the fold). Both walk the same runs: stretches of one axis
//! along which the operand's offset grows by a constant.

use super::layout::{DimIndex, Layout};
use super::simd::vectorized;
use super::zmm::{self, Token};
use crate::Element;
use conv_model::kernel::PadMode;
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
    /// The operand's stride along the dimension each window reads, if it reads one.
    window_strides: Vec<Option<usize>>,
    /// The run of every (row part, reduction part), as an offset from its outer point's,
    /// when every outer point has the same runs (no window along an outer axis) and they
    /// are not too many: worked out once per call instead of once per outer point.
    cached: Option<Vec<CachedRun>>,
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
        let mut panels = Panels {
            window_strides: (0..layout.windows.len())
                .map(|w| window_stride(layout, w))
                .collect(),
            cached: None,
            orientation,
            row_parts: parts(layout, &row_axes, false),
            k_parts,
            interiors,
            k_order,
            run_len,
            run_stride,
            run_window,
        };
        panels.cached = panels.runs_from_origin(layout);
        panels
    }

    /// Every run relative to an outer point at offset 0, if they can be shared (see
    /// [`Panels::cached`]).
    fn runs_from_origin(&self, layout: &Layout) -> Option<Vec<CachedRun>> {
        let outer_window = layout.windows.iter().any(|w| {
            layout.batch.contains(&w.window.axis) || layout.m_outer.contains(&w.window.axis)
        });
        let count = self.row_parts.len().checked_mul(self.k_parts.len())?;
        if outer_window || count > MAX_CACHED_RUNS {
            return None;
        }
        let origin = Part {
            offset: 0,
            window_values: vec![None; layout.windows.len()],
        };
        let mut runs = Vec::with_capacity(count);
        for row in &self.row_parts {
            for (kp, k) in self.k_parts.iter().enumerate() {
                let run = self.run(layout, &origin, row, k, kp);
                runs.push(CachedRun {
                    interior: run.interior,
                    first: run.first,
                    step: run.step,
                    border: run.border.map(|b| (b.base, b.stride, b.window, b.tap)),
                });
            }
        }
        Some(runs)
    }

    /// When `A` needs no panel: without windows, every row and every reduction index
    /// one stride apart in the operand (a 1x1 convolution, a matrix product), the
    /// `(row, column)` strides at which the GEMM reads it in place, from an outer
    /// point's offset.
    pub fn in_place(&self, layout: &Layout) -> Option<(usize, usize)> {
        if !layout.windows.is_empty() {
            return None;
        }
        let (rows, ks): (Vec<usize>, Vec<usize>) = match self.orientation {
            Orientation::RowsInner => (
                self.row_parts
                    .iter()
                    .flat_map(|r| (0..self.run_len).map(move |i| r.offset + i * self.run_stride))
                    .collect(),
                self.k_parts.iter().map(|k| k.offset).collect(),
            ),
            Orientation::ReductionInner => (
                self.row_parts.iter().map(|r| r.offset).collect(),
                self.k_parts
                    .iter()
                    .flat_map(|k| (0..self.run_len).map(move |i| k.offset + i * self.run_stride))
                    .collect(),
            ),
        };
        let uniform = |offsets: &[usize]| -> Option<usize> {
            let step = match offsets {
                [] | [_] => 1,
                [first, second, ..] => second.checked_sub(*first)?,
            };
            offsets
                .iter()
                .enumerate()
                .all(|(i, &o)| o == i * step)
                .then_some(step)
        };
        Some((uniform(&rows)?, uniform(&ks)?))
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

    /// Visits every run of the row parts `parts` and the reduction parts `k` (of the
    /// outer point `outer`): `visit(row part index within parts, reduction part index,
    /// the run)`.
    #[inline(always)]
    pub fn for_each_run_at(
        &self,
        layout: &Layout,
        outer: &Part,
        parts: std::ops::Range<usize>,
        k: std::ops::Range<usize>,
        mut visit: impl FnMut(usize, usize, Run<'_>),
    ) {
        if let Some(cached) = &self.cached {
            let k_count = self.k_parts.len();
            for (local, row) in parts.enumerate() {
                let runs = &cached[row * k_count..(row + 1) * k_count];
                for (kp, run) in runs.iter().enumerate().take(k.end).skip(k.start) {
                    visit(local, kp, run.at(layout, outer.offset, self.run_len));
                }
            }
            return;
        }
        for (local, row) in self.row_parts[parts].iter().enumerate() {
            for (kp, part) in self.k_parts.iter().enumerate().take(k.end).skip(k.start) {
                visit(local, kp, self.run(layout, outer, row, part, kp));
            }
        }
    }

    /// Visits every run of the panel of row parts `parts` (of the outer point `outer`),
    /// under the CPU's widest SIMD: `visit(first index in the panel, stride in the panel,
    /// the run)`, which must be `#[inline(always)]` (see simd.rs).
    #[inline(always)]
    pub fn for_each_run(
        &self,
        layout: &Layout,
        outer: &Part,
        parts: std::ops::Range<usize>,
        k: std::ops::Range<usize>,
        mut visit: impl FnMut(usize, usize, Run<'_>, Option<Token>),
    ) {
        match zmm::token() {
            Some(token) => zmm::vectorize(
                token,
                #[inline(always)]
                || self.runs(layout, outer, parts, k, &mut visit, Some(token)),
            ),
            None => vectorized(
                #[inline(always)]
                || self.runs(layout, outer, parts, k, &mut visit, None),
            ),
        }
    }

    /// The loop of [`Panels::for_each_run`], inlined into each of its SIMD contexts.
    #[inline(always)]
    fn runs(
        &self,
        layout: &Layout,
        outer: &Part,
        parts: std::ops::Range<usize>,
        k: std::ops::Range<usize>,
        visit: &mut impl FnMut(usize, usize, Run<'_>, Option<Token>),
        token: Option<Token>,
    ) {
        let rows = parts.len() * self.rows_per_part();
        let (row_stride, col_stride) = self.strides(rows);
        let (run_len, orientation) = (self.run_len, self.orientation);
        self.for_each_run_at(
            layout,
            outer,
            parts,
            k,
            #[inline(always)]
            |local, kp, run| {
                let (start, step) = match orientation {
                    Orientation::RowsInner => {
                        (kp * col_stride + local * run_len * row_stride, row_stride)
                    }
                    Orientation::ReductionInner => {
                        (local * row_stride + kp * run_len * col_stride, col_stride)
                    }
                };
                visit(start, step, run, token);
            },
        )
    }

    /// The run of row part `row` and reduction part `k` (the `kp`th) of outer point
    /// `outer`: where in the windowed operand its elements are.
    ///
    /// The maths: an element of `A` is a full index of the operand's view, which the
    /// outer point, the row part, the reduction part and the position `i` along the run
    /// fix between them. Axes read directly add `index * stride` to the offset, and the
    /// parts carry that sum already (`offset`). A window's dimension is read at input
    /// position `p = a*S + t*D - lo` (or the position a copying pad mode maps it to),
    /// with the view position `a` from the outer point or the row part and the tap `t`
    /// from the reduction part: the window's table gives `p` (or "in the padding"), and
    /// `p * stride` joins the offset. Every window but the run's is fixed along a run,
    /// so those make a constant `base`; a window padded with zeros at `(a, t)` makes
    /// the whole run zero. Along the run:
    /// - when an axis drives it, element `i` is at `base + i * run_stride`;
    /// - when the run is a window's view position `a = i`, element `i` reads
    ///   `p = i*S + t*D - lo`, inside the input for `i` in an interval
    ///   `[a_lo, a_hi)` that depends on the tap alone (`interiors`, worked out once),
    ///   where the offset grows by `S * stride` from `base + p0 * stride`; outside it,
    ///   the elements read the zero padding or, for the copying modes, the positions
    ///   the table maps them to (`Border`).
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
            let Some(stride) = self.window_strides[w] else {
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
                let stride = self.window_strides[w].unwrap_or(0);
                Run {
                    len: self.run_len,
                    interior: a_lo..a_hi,
                    first: base + p0 * stride,
                    step: table.window.stride * stride,
                    // Zero padding: nothing outside the interior reads the input.
                    border: (table.window.mode != PadMode::Zeros).then_some(Border {
                        base,
                        stride,
                        table,
                        window: w,
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
        self.for_each_run(
            layout,
            outer,
            parts,
            0..self.k_parts.len(),
            #[inline(always)]
            |start, step, run, token| {
                let Range { start: lo, end: hi } = run.interior;
                if step == 1 {
                    panel[start..start + lo].fill(T::zero());
                    panel[start + hi..start + run.len].fill(T::zero());
                } else {
                    for i in (0..lo).chain(hi..run.len) {
                        panel[start + i * step] = T::zero();
                    }
                }
                if lo == hi {
                    // no element of this run reads inside the input
                } else if step == 1 && run.step == 1 {
                    super::lanes::copy(
                        &mut panel[start + lo..start + hi],
                        &source[run.first..run.first + hi - lo],
                    );
                } else if let (Some(token), 1, 2) = (token, step, run.step) {
                    // A strided window's stretch of A: every other element.
                    let from = &source[run.first..run.first + 2 * (hi - lo) - 1];
                    zmm::take_every_other(token, &mut panel[start + lo..start + hi], from);
                } else {
                    run.for_each_interior(|i, o| panel[start + i * step] = source[o]);
                }
                run.for_each_border(|i, o| panel[start + i * step] = source[o]);
            },
        );
    }

    /// Adds the panel (shaped like `A`'s rows of `parts`) onto the operand's gradient, whose
    /// slice `grad` starts at offset `origin` of the operand: the columns of reduction
    /// parts `k`.
    #[allow(clippy::too_many_arguments)]
    pub fn fold<T: Element>(
        &self,
        layout: &Layout,
        outer: &Part,
        parts: std::ops::Range<usize>,
        k: std::ops::Range<usize>,
        panel: &[T],
        grad: &mut [T],
        origin: usize,
    ) {
        self.for_each_run(
            layout,
            outer,
            parts,
            k,
            #[inline(always)]
            |start, step, run, token| {
                let Range { start: lo, end: hi } = run.interior;
                let at = run.first.wrapping_sub(origin);
                if step == 1 && run.step == 1 && lo < hi {
                    super::lanes::add(&mut grad[at..at + hi - lo], &panel[start + lo..start + hi]);
                } else if let (Some(token), 1, 2, true) = (token, step, run.step, lo < hi) {
                    // A strided window's gradient: onto every other element.
                    let grad = &mut grad[at..at + 2 * (hi - lo) - 1];
                    zmm::add_every_other(token, grad, &panel[start + lo..start + hi], T::one());
                } else {
                    run.for_each_interior(|i, o| {
                        grad[o - origin] = grad[o - origin] + panel[start + i * step]
                    });
                }
                run.for_each_border(|i, o| {
                    grad[o - origin] = grad[o - origin] + panel[start + i * step]
                });
            },
        );
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
    window: usize,
    tap: usize,
}

/// Runs that cached runs may hold: about 16 MB.
const MAX_CACHED_RUNS: usize = 1 << 18;

/// A [`Run`] as an offset from its outer point's, kept across outer points.
struct CachedRun {
    interior: Range<usize>,
    first: usize,
    step: usize,
    /// `(base, stride, window, tap)` of its [`Border`].
    border: Option<(usize, usize, usize, usize)>,
}

impl CachedRun {
    /// The run at an outer point at `offset`.
    #[inline(always)]
    fn at<'l>(&self, layout: &'l Layout, offset: usize, len: usize) -> Run<'l> {
        Run {
            len,
            interior: self.interior.clone(),
            first: self.first + offset,
            step: self.step,
            border: self.border.map(|(base, stride, window, tap)| Border {
                base: base + offset,
                stride,
                table: &layout.windows[window],
                window,
                tap,
            }),
        }
    }
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

#[cfg(test)]
mod tests {
    use super::*;
    use conv_model::gemm_plan::gemm_plan;

    /// A run as plain values: length, interior, first, step, border (base, stride, tap).
    type Described = (
        usize,
        Range<usize>,
        usize,
        usize,
        Option<(usize, usize, usize)>,
    );

    fn describe(run: Run<'_>) -> Described {
        let border = run.border.map(|b| (b.base, b.stride, b.tap));
        // `first` means nothing for an empty interior.
        let first = if run.interior.is_empty() {
            0
        } else {
            run.first
        };
        (run.len, run.interior, first, run.step, border)
    }

    /// Every run of every outer point, as `for_each_run_at` visits them (from the cache
    /// when there is one) and as worked out directly.
    fn runs_both_ways(source: &str, shapes: &[&[usize]]) -> (bool, Vec<Described>, Vec<Described>) {
        let kernel = crate::compile_text(source)
            .expect("a valid kernel")
            .remove(0)
            .kernel;
        let plan = gemm_plan(&kernel).expect("a batch of products");
        let extents = crate::shapes::resolve(&kernel, shapes).expect("shapes fit");
        let layout = Layout::new(&kernel, &plan, &extents, shapes[plan.a], shapes[plan.b])
            .expect("a layout");
        let panels = Panels::new(&layout);
        let outer_axes: Vec<char> = layout
            .batch
            .iter()
            .chain(&layout.m_outer)
            .copied()
            .collect();
        let (mut visited, mut direct) = (Vec::new(), Vec::new());
        for outer in parts(&layout, &outer_axes, false) {
            let rows = 0..panels.row_parts.len();
            panels.for_each_run_at(
                &layout,
                &outer,
                rows.clone(),
                0..panels.k_parts.len(),
                |_, _, run| visited.push(describe(run)),
            );
            for row in &panels.row_parts[rows] {
                for (kp, k) in panels.k_parts.iter().enumerate() {
                    direct.push(describe(panels.run(&layout, &outer, row, k, kp)));
                }
            }
        }
        (panels.cached.is_some(), visited, direct)
    }

    #[test]
    fn cached_runs_are_the_runs_of_every_outer_point() {
        let cases: [(&str, &[&[usize]]); 3] = [
            (
                "dw(x, w) = \"nchwkj,ckj->nchw\" { unfold x.h by k, pad = 1; \
                 unfold x.w by j, stride = 2, pad = (2, 1), mode = reflect; size k = 3, j = 3; }",
                &[&[2, 3, 7, 9], &[3, 3, 3]],
            ),
            (
                "conv(x, w) = \"nchwkj,dckj->ndhw\" { unfold x.h by k, stride = 2, pad = 1; \
                 unfold x.w by j, dilation = 2, pad = 2, mode = replicate; }",
                &[&[2, 3, 6, 8], &[4, 3, 3, 2]],
            ),
            (
                "nhwc(x, w) = \"nhwckj,kjcd->nhwd\" { unfold x.h by k, pad = 1; \
                 unfold x.w by j, pad = 1; }",
                &[&[2, 5, 6, 3], &[3, 3, 3, 4]],
            ),
        ];
        for (source, shapes) in cases {
            let (cached, visited, direct) = runs_both_ways(source, shapes);
            assert!(cached, "{source}: runs shared across outer points");
            assert!(!visited.is_empty(), "{source}");
            assert_eq!(visited.len(), direct.len(), "{source}");
            let differ = visited.iter().zip(&direct).position(|(v, d)| v != d);
            assert_eq!(differ, None, "{source}: first differing run");
        }
    }
}
