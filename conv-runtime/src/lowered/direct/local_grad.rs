//! grad_x of single-column products (depthwise) through each point's copy of `P`, the
//! adjoint of the forward's fill and row sums: every output row of grad_y, times each
//! tap's coefficient, is added to the stretch of the copy that the tap reads, and the
//! copy is then added back onto the point's part of grad_x through the table of where
//! each of its rows starts. A strided window's phases make every tap's stretch
//! contiguous, so the products are whole registers; added straight to every other
//! element of grad_x, run by run, MobileNet's stride-2 grad_x ran at 16% of a copy's
//! bandwidth.

use super::fill::{phase_run, LastDim};
use super::local_fill::LocalFill;
use super::padded::Kind;
use super::plan::Direct;
use crate::__private::Output;
use crate::lowered::lanes;
use crate::lowered::product::Product;
use crate::lowered::simd::vectorized;
use crate::lowered::zmm;
use crate::Element;

impl Direct {
    /// Whether [`Direct::grad_a_local`] runs grad_A of `p` (its operand of `a_len`
    /// elements, the output of `y_len`): one column, each point's copy filled from a
    /// table, and both grad_y and grad_x in one chunk per point.
    pub fn local_adjoint(&self, p: &Product, a_len: usize, y_len: usize) -> bool {
        let outer_a: Vec<usize> = p.outer.iter().map(|o| o.offset).collect();
        self.local.is_some()
            && self.local_rows(p.n_len).is_some()
            && p.chunks(&p.layout.c, &p.outer_c, y_len).is_some()
            && p.chunks(&p.layout.a, &outer_a, a_len).is_some()
    }

    /// `out = grad_A` for a single-column product, `b` packed per batch point (see
    /// [`Direct::local_adjoint`]).
    pub fn grad_a_local<T: Element>(
        &self,
        p: &Product,
        packed: &[Vec<T>],
        grad_y: &[T],
        out: &mut Output<T>,
    ) {
        let outer_a: Vec<usize> = p.outer.iter().map(|o| o.offset).collect();
        let (Some(table), Some(rows), Some((_, y_chunks)), Some((len, x_chunks))) = (
            &self.local,
            self.local_rows(p.n_len),
            p.chunks(&p.layout.c, &p.outer_c, grad_y.len()),
            p.chunks(&p.layout.a, &outer_a, out.len()),
        ) else {
            unreachable!("checked by Direct::local_adjoint")
        };
        let mut y_chunk_of = vec![0; p.outer.len()];
        for (chunk, &o) in y_chunks.iter().enumerate() {
            y_chunk_of[o] = chunk;
        }
        let last_len = self.p_shape.last().copied().unwrap_or(1).max(1);
        let per_outer = self.column_stride;
        // Each point's part of grad_x is written whole, from a chunk in L1 (an output
        // zeroed first in memory, then added to, cost a pass over it: 6% of the
        // MobileNet layer's samples in memset).
        out.write_chunks(len, |local: &mut Vec<T>, chunk, grad| {
            let o = x_chunks[chunk];
            let y = &grad_y[y_chunk_of[o] * per_outer..];
            let w = &packed[p.batch_of(o)][..self.taps.len()];
            local.clear();
            local.resize(rows * last_len, T::zero());
            vectorized(
                #[inline(always)]
                || {
                    self.spread_rows(y, w, local);
                    grad.fill(T::zero());
                    table.unfill(self, local, o, chunk * len, grad);
                },
            )
        });
    }

    /// `local[rows[r] + taps[k] + l] += w[k] * y[r][l]`: the adjoint of the row sums.
    #[inline(always)]
    fn spread_rows<T: Element>(&self, y: &[T], w: &[T], local: &mut [T]) {
        for (r, &row) in self.rows.iter().enumerate() {
            let y = &y[r * self.run_len..][..self.run_len];
            for (&tap, &coef) in self.taps.iter().zip(w) {
                lanes::axpy(&mut local[row + tap..][..self.run_len], y, coef);
            }
        }
    }
}

impl LocalFill {
    /// Adds the rows of a point's copy of `P` (`local`) to the elements of the operand
    /// they copy, `grad` holding the operand from `origin` on: the adjoint of
    /// [`LocalFill::fill`] (rows in padding add nothing).
    #[inline(always)]
    pub(super) fn unfill<T: Element>(
        &self,
        direct: &Direct,
        local: &[T],
        o: usize,
        origin: usize,
        grad: &mut [T],
    ) {
        let last_len = direct.p_shape.last().copied().unwrap_or(1).max(1);
        let Some(base) = self.bases[o].checked_sub(origin) else {
            return;
        };
        let step = self.steps[self.steps.len() - 1];
        for (r, row) in local.chunks_exact(last_len).enumerate() {
            let Some(&Some((source, phase))) = self.rows.get(r) else {
                continue;
            };
            let at = base + source;
            match &direct.p_dims[direct.p_dims.len() - 1].kind {
                Kind::Window {
                    map,
                    phase: Some(p),
                    ..
                } => {
                    let stride = direct.p_shape[*p];
                    let (lo, hi, first) = phase_run(&self.linear, map, phase, stride, last_len);
                    for i in (0..lo).chain(hi..last_len) {
                        if let Some(&Some(q)) = map.get(phase + stride * i) {
                            grad[at + q * step] = grad[at + q * step] + row[i];
                        }
                    }
                    if hi > lo {
                        let from = at + first * step;
                        let span = (hi - lo - 1) * stride * step;
                        let dst = &mut grad[from..=from + span];
                        add_every(dst, &row[lo..hi], stride * step);
                    }
                }
                _ => {
                    let LastDim {
                        interior,
                        first_source,
                        edges,
                    } = &direct.last_dim;
                    let from = at + first_source * step;
                    let dst = &mut grad[from..from + interior.len()];
                    lanes::axpy(dst, &row[interior.clone()], T::one());
                    for &(q, s) in edges {
                        if let Some(s) = s {
                            grad[at + s * step] = grad[at + s * step] + row[q];
                        }
                    }
                }
            }
        }
    }
}

/// `dst[i * step] += src[i]`: a register of products spread to every other element
/// with AVX-512 when the step is 2.
#[inline(always)]
fn add_every<T: Element>(dst: &mut [T], src: &[T], step: usize) {
    if let (2, Some(token)) = (step, zmm::token()) {
        return zmm::add_every_other(token, dst, src, T::one());
    }
    for (i, &v) in src.iter().enumerate() {
        dst[i * step] = dst[i * step] + v;
    }
}
