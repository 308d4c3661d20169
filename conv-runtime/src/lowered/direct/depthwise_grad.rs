//! The gradient of B of products with few columns (a depthwise convolution, a grouped one)
//! from the direct kernel's padded copy: every tap of every column is one long dot
//! product of that column's grad_y, spread over the virtual positions, with a shifted
//! stretch of `P`.

use super::plan::Direct;
use crate::lowered::product::Product;
use crate::lowered::simd::vectorized;
use crate::lowered::zmm::{self, Token, MAX_REGS};
use crate::Element;
use rayon::prelude::*;

/// Lanes of the partial sums of [`Direct::grad_b_dots`]: one AVX-512 register of f32.
const DOT_LANES: usize = 16;

impl Direct {
    /// The gradient of B for few columns (a depthwise convolution has one; a grouped
    /// one a few per group): for every batch point and column,
    /// `acc[tap] = sum over its outer points and output positions of
    /// grad_y * P[position + tap]`. The column's grad_y is first laid out over the
    /// virtual positions (zeros between rows), so that every tap is one long dot product
    /// with a shifted stretch of `P`, summed in lanes, several taps per load of grad_y.
    /// `P` is the whole padded copy (`padded`), or else (one column) each outer point's
    /// part of it is copied from `a` as it comes. Each (batch point, column) is a job
    /// of its own that sums its outer points in order, so the result does not depend on
    /// the number of threads. Returns, per batch point, the sums as `[tap][column]`.
    pub fn grad_b_dots<T: Element>(
        &self,
        p: &Product,
        a: &[T],
        padded: Option<&[T]>,
        grad_y: &[T],
    ) -> Vec<Vec<T>> {
        let len = self.span.next_multiple_of(DOT_LANES);
        let local_rows = self.local_rows(p.n_len);
        let n_len = p.n_len.max(1);
        let columns: Vec<Vec<T>> = (0..p.batch_points() * n_len)
            .into_par_iter()
            .map_init(
                || (Vec::new(), Vec::new()),
                |(spread, local), job| {
                    let (g, n) = (job / n_len, job % n_len);
                    let mut acc = vec![T::zero(); self.taps.len()];
                    for o in g * p.per_batch..(g + 1) * p.per_batch {
                        spread.clear();
                        spread.resize(len, T::zero());
                        let rows = &grad_y[p.outer_c[o] + n * self.column_stride..];
                        for (r, &at) in self.rows.iter().enumerate() {
                            let row = &rows[r * self.run_len..(r + 1) * self.run_len];
                            spread[at..at + self.run_len].copy_from_slice(row);
                        }
                        let (padded, at) = match (padded, local_rows) {
                            (Some(padded), _) => (padded, self.outer[o]),
                            (None, Some(rows)) => {
                                self.fill_local(&p.layout, a, o, rows, local);
                                (&local[..], 0)
                            }
                            (None, None) => unreachable!("the caller pads when points cannot"),
                        };
                        // In explicit AVX-512 registers: with `-C target-cpu=native`
                        // LLVM gave the plain loops 256-bit vectors (0.74x the
                        // default build in .ci/native-speed).
                        match zmm::token() {
                            Some(token) => zmm::vectorize(
                                token,
                                #[inline(always)]
                                || {
                                    let dots = |t: &[usize], acc: &mut [T]| match t.len() {
                                        n if n >= 9 => {
                                            dots_zmm::<T, 9>(token, t, padded, at, spread, acc)
                                        }
                                        n if n >= 3 => {
                                            dots_zmm::<T, 3>(token, t, padded, at, spread, acc)
                                        }
                                        _ => dots_zmm::<T, 1>(token, t, padded, at, spread, acc),
                                    };
                                    let mut t = 0;
                                    while t < self.taps.len() {
                                        t += dots(&self.taps[t..], &mut acc[t..]);
                                    }
                                },
                            ),
                            None => vectorized(
                                #[inline(always)]
                                || {
                                    let mut t = 0;
                                    while t < self.taps.len() {
                                        let taps = &self.taps[t..];
                                        let acc = &mut acc[t..];
                                        t += match self.taps.len() - t {
                                            left if left >= 9 => {
                                                dots::<T, 9>(taps, padded, at, spread, acc)
                                            }
                                            left if left >= 3 => {
                                                dots::<T, 3>(taps, padded, at, spread, acc)
                                            }
                                            _ => dots::<T, 1>(taps, padded, at, spread, acc),
                                        };
                                    }
                                },
                            ),
                        }
                    }
                    acc
                },
            )
            .collect();
        columns
            .chunks(n_len)
            .map(|of_point| {
                let mut sums = vec![T::zero(); self.taps.len() * n_len];
                for (n, column) in of_point.iter().enumerate() {
                    for (t, &v) in column.iter().enumerate() {
                        sums[t * n_len + n] = v;
                    }
                }
                sums
            })
            .collect()
    }
}

/// The first `G` taps' stretches of `len` elements (`padded[at + offsets[t]..]`), in
/// chunks of [`DOT_LANES`]: each sliced once, then walked a chunk at a time (indexed per
/// chunk, the address and bounds arithmetic took half of the depthwise grad_w).
#[inline(always)]
fn stretches<'p, T: Element, const G: usize>(
    offsets: &[usize],
    padded: &'p [T],
    at: usize,
    len: usize,
) -> [std::slice::ChunksExact<'p, T>; G] {
    std::array::from_fn(|t| padded[at + offsets[t]..][..len].chunks_exact(DOT_LANES))
}

/// `acc[t] += sum_i y[i] * padded[at + offsets[t] + i]` for the first `G` taps, in
/// [`DOT_LANES`] partial sums per tap (a fixed order); returns `G`.
#[inline(always)]
fn dots<T: Element, const G: usize>(
    offsets: &[usize],
    padded: &[T],
    at: usize,
    y: &[T],
    acc: &mut [T],
) -> usize {
    let mut sums = [[T::zero(); DOT_LANES]; G];
    let len = y.len() / DOT_LANES * DOT_LANES;
    let mut stretches = stretches::<T, G>(offsets, padded, at, len);
    for y in y[..len].chunks_exact(DOT_LANES) {
        let y: [T; DOT_LANES] = y.try_into().unwrap_or_else(|_| unreachable!());
        for (sum, stretch) in sums.iter_mut().zip(&mut stretches) {
            let x: [T; DOT_LANES] = stretch
                .next()
                .and_then(|x| x.try_into().ok())
                .unwrap_or_else(|| unreachable!());
            for l in 0..DOT_LANES {
                sum[l] = x[l].mul_add(y[l], sum[l]);
            }
        }
    }
    for (a, sum) in acc.iter_mut().zip(&sums) {
        *a = sum.iter().fold(*a, |s, &v| s + v);
    }
    G
}

/// [`dots`] in explicit AVX-512 registers: the same multiply-adds per lane, the lanes
/// summed in the same order.
#[inline(always)]
fn dots_zmm<T: Element, const G: usize>(
    token: Token,
    offsets: &[usize],
    padded: &[T],
    at: usize,
    y: &[T],
    acc: &mut [T],
) -> usize {
    let regs = DOT_LANES / T::LANES;
    let mut sums = [[T::splat(token, T::zero()); MAX_REGS]; G];
    let len = y.len() / DOT_LANES * DOT_LANES;
    let mut stretches = stretches::<T, G>(offsets, padded, at, len);
    for y in y[..len].chunks_exact(DOT_LANES) {
        let y = zmm::load_row(token, y, regs);
        for (sum, stretch) in sums.iter_mut().zip(&mut stretches) {
            let x = stretch.next().unwrap_or_else(|| unreachable!());
            let x = zmm::load_row(token, x, regs);
            for r in 0..regs {
                sum[r] = T::fma(token, x[r], y[r], sum[r]);
            }
        }
    }
    for (a, sum) in acc.iter_mut().zip(&sums) {
        let mut lanes = [T::zero(); DOT_LANES];
        zmm::store_row(token, &mut lanes, sum, regs);
        *a = lanes.iter().fold(*a, |s, &v| s + v);
    }
    G
}
