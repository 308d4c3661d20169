//! Writing rows of `P`, the padded copy: all of it at once (`pad`), or only the stretch
//! that one outer point reads (`Local`), which single-column products (depthwise) fill
//! per outer point in a buffer that stays in L1, instead of a whole-tensor copy that
//! is written, then read back from memory.

use super::padded::Kind;
use super::plan::{Direct, SINGLE_REACH};
use crate::lowered::lanes;
use crate::lowered::layout::Layout;
use crate::lowered::simd::vectorized;
use crate::lowered::zmm;
use crate::Element;
use rayon::prelude::*;

/// `P`'s innermost dimension: the longest stretch of padded positions that copies
/// consecutive input positions, the input position it starts at, and every other
/// position with what it reads (`None`: zero).
pub(super) struct LastDim {
    pub(super) interior: std::ops::Range<usize>,
    pub(super) first_source: usize,
    pub(super) edges: Vec<(usize, Option<usize>)>,
}

impl LastDim {
    pub(super) fn new(map: Option<&[Option<usize>]>, len: usize) -> Self {
        let Some(map) = map else {
            return LastDim {
                interior: 0..len,
                first_source: 0,
                edges: Vec::new(),
            };
        };
        let (mut interior, mut first_source) = (0..0, 0);
        let mut q = 0;
        while q < map.len() {
            let Some(start) = map[q] else {
                q += 1;
                continue;
            };
            let mut end = q + 1;
            while end < map.len() && map[end] == Some(start + (end - q)) {
                end += 1;
            }
            if end - q > interior.len() {
                (interior, first_source) = (q..end, start);
            }
            q = end;
        }
        let edges = (0..map.len())
            .filter(|q| !interior.contains(q))
            .map(|q| (q, map[q]))
            .collect();
        LastDim {
            interior,
            first_source,
            edges,
        }
    }
}

impl Direct {
    /// Rows of `P` per outer point's local copy, if single-column products fill one per
    /// outer point: every outer point starts a row, and its copy holds every row its
    /// tiles read, overhang included.
    pub(super) fn local_rows(&self, n_len: usize) -> Option<usize> {
        let last_len = *self.p_shape.last()?;
        if n_len != 1 || last_len == 0 || self.outer.iter().any(|&o| o % last_len != 0) {
            return None;
        }
        let reach = self.taps.iter().max()? + self.span + SINGLE_REACH;
        Some(reach.div_ceil(last_len))
    }

    /// Whether single-column products pad each outer point on its own (see
    /// [`Direct::local_rows`]).
    pub(crate) fn pads_points(&self, n_len: usize) -> bool {
        self.local_rows(n_len).is_some()
    }

    /// `P`'s rows from `first` on, as many as `out` holds (whole rows); rows past `P`'s
    /// end are zeros, as in the overhang of [`Direct::pad`].
    #[inline(always)]
    pub(super) fn fill_rows<T: Element>(&self, l: &Layout, a: &[T], first: usize, out: &mut [T]) {
        let Some((&last_len, leading)) = self.p_shape.split_last() else {
            return;
        };
        let total: usize = leading.iter().product();
        let steps = self.steps(l);
        let mut index = vec![0; self.p_dims.len()];
        let linear = self.linear_runs();
        // The index of the first row, then counted up row by row (an odometer; no
        // division per row, whose cost showed on rows of a few dozen elements).
        let mut rest = first;
        for i in (0..leading.len()).rev() {
            index[i] = rest % leading[i].max(1);
            rest /= leading[i].max(1);
        }
        for (r, out) in out.chunks_exact_mut(last_len.max(1)).enumerate() {
            if r > 0 {
                for i in (0..leading.len()).rev() {
                    index[i] += 1;
                    if index[i] < leading[i] {
                        break;
                    }
                    index[i] = 0;
                }
            }
            match self.row_source(&index, &steps) {
                Some(source) if first + r < total => {
                    let phase = self.row_phase(&index);
                    self.fill_row(a, source, phase, &steps, &linear, out)
                }
                _ => out.fill(T::zero()),
            }
        }
    }

    /// The operand's step along each dimension of `P`.
    pub(super) fn steps(&self, l: &Layout) -> Vec<usize> {
        self.p_dims.iter().map(|d| l.a.dims[d.source].1).collect()
    }

    /// A strided window along the rows: per phase, the stretch of a row that reads the
    /// input linearly, worked out once for the first phases (a stride may be as large
    /// as usize::MAX) rather than per element.
    pub(super) fn linear_runs(&self) -> Vec<(usize, usize, usize)> {
        let Some(Kind::Window {
            map,
            phase: Some(p),
            ..
        }) = self.p_dims.last().map(|d| &d.kind)
        else {
            return Vec::new();
        };
        let (stride, last_len) = (self.p_shape[*p], self.p_shape[self.p_shape.len() - 1]);
        (0..stride.min(CACHED_PHASES))
            .map(|phase| linear_run(map, phase, stride, last_len))
            .collect()
    }

    /// Where the row of `P` at `index` (its last entry ignored) starts in the operand,
    /// or `None` if it lies in zero padding.
    pub(super) fn row_source(&self, index: &[usize], steps: &[usize]) -> Option<usize> {
        let mut source = 0;
        for (i, d) in self.p_dims[..self.p_dims.len() - 1].iter().enumerate() {
            source += match &d.kind {
                Kind::Axis(_) => index[i] * steps[i],
                Kind::Phase => 0,
                Kind::Window { map, phase, .. } => {
                    let (phase, stride) = phase.map_or((0, 1), |p| (index[p], self.p_shape[p]));
                    map.get(phase + stride * index[i]).copied().flatten()? * steps[i]
                }
            };
        }
        Some(source)
    }

    /// The phase of the row of `P` at `index` along a strided window of the rows (0 if
    /// the rows have none).
    pub(super) fn row_phase(&self, index: &[usize]) -> usize {
        match self.p_dims.last().map(|d| &d.kind) {
            Some(Kind::Window { phase: Some(p), .. }) => index[*p],
            _ => 0,
        }
    }

    /// Writes a row of `P` of phase `phase` (see [`Direct::row_phase`]), which starts at
    /// `source` in `a`.
    #[inline(always)]
    pub(super) fn fill_row<T: Element>(
        &self,
        a: &[T],
        source: usize,
        phase: usize,
        steps: &[usize],
        linear: &[(usize, usize, usize)],
        out: &mut [T],
    ) {
        let step = steps[steps.len() - 1];
        match &self.p_dims[self.p_dims.len() - 1].kind {
            // A strided window along the rows: this phase's positions, a gather.
            Kind::Window {
                map,
                phase: Some(p),
                ..
            } => {
                let stride = self.p_shape[*p];
                let (lo, hi, first) = phase_run(linear, map, phase, stride, out.len());
                for i in (0..lo).chain(hi..out.len()) {
                    let q = phase + stride * i;
                    out[i] = map
                        .get(q)
                        .copied()
                        .flatten()
                        .map_or(T::zero(), |p| a[source + p * step]);
                }
                if hi > lo {
                    // Every `stride`-th element of the input, read in one pass.
                    let from = source + first * step;
                    let src = &a[from..=from + (hi - lo - 1) * stride * step];
                    every_other(&mut out[lo..hi], src, stride * step);
                }
            }
            _ => {
                let LastDim {
                    interior,
                    first_source,
                    edges,
                } = &self.last_dim;
                let from = source + first_source * step;
                lanes::copy(&mut out[interior.clone()], &a[from..from + interior.len()]);
                for &(q, s) in edges {
                    out[q] = s.map_or(T::zero(), |s| a[source + s * step]);
                }
            }
        }
    }

    /// Fills `padded` (resized to `P`'s length) with `P`: the operand with every
    /// window's padding written out, in parallel over `P`'s first dimension. Every
    /// element is written, so the buffer may be reused from call to call.
    pub fn pad<T: Element>(&self, l: &Layout, a: &[T], padded: &mut Vec<T>) {
        padded.resize(self.p_len, T::zero());
        let Some((&last_len, leading)) = self.p_shape.split_last() else {
            return;
        };
        let rows_end = leading.iter().product::<usize>() * last_len;
        let (rows, overhang) = padded.split_at_mut(rows_end);
        overhang.fill(T::zero());
        // Tasks of whole rows, a few per thread: one per image left a batch of one
        // (a stem) padding on one thread while the other waited.
        let rows_total = leading.iter().product::<usize>();
        let rows_per_task = rows_total
            .div_ceil(4 * rayon::current_num_threads())
            .max(PAD_ROWS_PER_TASK);
        rows.par_chunks_mut(rows_per_task * last_len.max(1))
            .enumerate()
            .for_each(|(task, chunk)| {
                vectorized(
                    #[inline(always)]
                    || self.fill_rows(l, a, task * rows_per_task, chunk),
                )
            });
    }

    /// Fills `local` with the rows of `P` that outer point `o` reads (`rows` of them,
    /// from [`Direct::local_rows`]), the point's first row first.
    pub(super) fn fill_local<T: Element>(
        &self,
        l: &Layout,
        a: &[T],
        o: usize,
        rows: usize,
        local: &mut Vec<T>,
    ) {
        let last_len = self.p_shape.last().copied().unwrap_or(1).max(1);
        local.resize(rows * last_len, T::zero());
        match &self.local {
            Some(table) => vectorized(
                #[inline(always)]
                || table.fill(self, a, o, local),
            ),
            None => vectorized(
                #[inline(always)]
                || self.fill_rows(l, a, self.outer[o] / last_len, local),
            ),
        }
    }
}

/// The fewest rows of `P` a task of [`Direct::pad`] fills.
const PAD_ROWS_PER_TASK: usize = 64;

/// Phases whose linear stretch is worked out once per fill.
const CACHED_PHASES: usize = 64;

/// [`linear_run`] of `phase`, from `cached` (see [`Direct::linear_runs`]) when it holds it.
pub(super) fn phase_run(
    cached: &[(usize, usize, usize)],
    map: &[Option<usize>],
    phase: usize,
    stride: usize,
    len: usize,
) -> (usize, usize, usize) {
    match cached.get(phase) {
        Some(&run) => run,
        None => linear_run(map, phase, stride, len),
    }
}

/// The longest stretch `lo..hi` of a strided window's phase row (row positions `i`,
/// padded positions `phase + stride * i`) whose input positions are `first + stride * (i
/// - lo)`: the part of the row read linearly, `(lo, hi, first)`; `(0, 0, 0)` if none.
pub(super) fn linear_run(
    map: &[Option<usize>],
    phase: usize,
    stride: usize,
    len: usize,
) -> (usize, usize, usize) {
    let at = |i: usize| map.get(phase + stride * i).copied().flatten();
    let (mut best, mut i) = ((0, 0, 0), 0);
    while i < len {
        let Some(first) = at(i) else {
            i += 1;
            continue;
        };
        let mut j = i + 1;
        while j < len && at(j) == Some(first + stride * (j - i)) {
            j += 1;
        }
        if j - i > best.1 - best.0 {
            best = (i, j, first);
        }
        i = j;
    }
    best
}

/// `out[i] = src[i * step]`. Stride 2 (the strided layers of real networks) is a
/// permute per register with AVX-512 (as pairs, which LLVM turned into shuffles, it was
/// still a quarter of MobileNet's depthwise stride-2 forward pass), else written as
/// pairs; a run-time step leaves it a scalar gather (80% of that pass).
#[inline(always)]
fn every_other<T: Element>(out: &mut [T], src: &[T], step: usize) {
    if let (2, Some(token)) = (step, zmm::token()) {
        return zmm::take_every_other(token, out, src);
    }
    if step == 2 {
        // `src` ends at the last element read: its last pair is a single.
        let (pairs, last) = src.split_at(src.len() - 1);
        let (head, tail) = out.split_at_mut(out.len() - 1);
        for (v, pair) in head.iter_mut().zip(pairs.chunks_exact(2)) {
            *v = pair[0];
        }
        tail[0] = last[0];
        return;
    }
    for (v, &x) in out.iter_mut().zip(src.iter().step_by(step)) {
        *v = x;
    }
}
