//! Winograd's transforms over [`LANES`] tiles at once: every row is one value of each
//! of the block's tiles, so each term of a transform is a multiply-add along a row,
//! which LLVM vectorises. The matrices are the macro's (`Facts::winograd`), sparse: only
//! their nonzero coefficients are applied.

use super::LANES;
use crate::Element;
use conv_model::winograd::Winograd;

/// The nonzero coefficients of each row of a matrix: `(column, value)`.
type Sparse = Vec<Vec<(usize, f64)>>;

pub(super) struct Transforms {
    /// `B^T` (`n x n`), `A^T` (`m x n`) and `A` (`n x m`), sparse; `G` (`n x r`), dense.
    b_t: Sparse,
    a_t: Sparse,
    a: Sparse,
    g: Vec<f64>,
    pub n: usize,
    pub m: usize,
    pub r: usize,
}

fn sparse(values: &[f64], cols: usize) -> Sparse {
    values
        .chunks(cols)
        .map(|row| {
            row.iter()
                .enumerate()
                .filter(|(_, v)| **v != 0.0)
                .map(|(j, &v)| (j, v))
                .collect()
        })
        .collect()
}

/// `out = sum of coef * rows[from + i * step]` over the terms (zero with none), summed
/// in registers.
#[inline(always)]
fn combine<T: Element>(
    out: &mut [T],
    terms: &[(usize, f64)],
    rows: &[T],
    from: usize,
    step: usize,
) {
    let mut acc = [T::zero(); LANES];
    for &(i, coef) in terms {
        let at = (from + i * step) * LANES;
        let row: &[T; LANES] = rows[at..at + LANES]
            .try_into()
            .unwrap_or_else(|_| unreachable!());
        let coef = T::from_f64(coef);
        for l in 0..LANES {
            acc[l] = coef.mul_add(row[l], acc[l]);
        }
    }
    out[..LANES].copy_from_slice(&acc);
}

impl Transforms {
    pub fn new(w: &Winograd) -> Transforms {
        let f =
            |v: &[conv_model::winograd::Ratio]| v.iter().map(|x| x.to_f64()).collect::<Vec<_>>();
        let n = w.n();
        let a_t = f(&w.a_t);
        let a: Vec<f64> = (0..n * w.m).map(|i| a_t[(i % w.m) * n + i / w.m]).collect();
        Transforms {
            b_t: sparse(&f(&w.b_t), n),
            a_t: sparse(&a_t, n),
            a: sparse(&a, w.m),
            g: f(&w.g),
            n,
            m: w.m,
            r: w.r,
        }
    }

    /// `U[xi][c][col] = (G g G^T)[xi]` of every channel `c` and column, for `b` packed
    /// `[c][r][r][col]` (the direct kernel's `[k][n]`), into `u` (its contents
    /// overwritten), in parallel over channels. Each job writes its channels' rows of
    /// every `xi`, reading their taps once while they stay in L1: parallel over `xi`,
    /// every job read all of `b` (36 times 2.4 MB for 256 x 256 channels, from L3: a
    /// fifth of the forward pass, measured).
    pub fn weights<T: Element>(&self, b: &[T], channels: usize, cols: usize, u: &mut Vec<T>) {
        use rayon::prelude::*;
        let (n, r) = (self.n, self.r);
        let cols = cols.max(1);
        u.resize(n * n * channels * cols, T::zero());
        // The nonzero coefficients of `G g G^T` for each `xi`: `(tap, coefficient)`.
        let coefs: Vec<Vec<(usize, T)>> = (0..n * n)
            .map(|xi| {
                let (a, bb) = (xi / n, xi % n);
                (0..r * r)
                    .map(|t| (t, self.g[a * r + t / r] * self.g[bb * r + t % r]))
                    .filter(|(_, v)| *v != 0.0)
                    .map(|(t, v)| (t, T::from_f64(v)))
                    .collect()
            })
            .collect();
        let per_job = channels.div_ceil(4 * rayon::current_num_threads()).max(1);
        let mut jobs: Vec<Vec<&mut [T]>> = (0..channels.div_ceil(per_job))
            .map(|_| Vec::with_capacity(n * n))
            .collect();
        for plane in u.chunks_exact_mut((channels * cols).max(1)) {
            for (job, rows) in jobs.iter_mut().zip(plane.chunks_mut(per_job * cols)) {
                job.push(rows);
            }
        }
        jobs.into_par_iter()
            .enumerate()
            .for_each(|(j, mut planes)| {
                crate::lowered::simd::vectorized(
                    #[inline(always)]
                    || {
                        let rows = planes.first().map_or(0, |p| p.len() / cols);
                        for local in 0..rows {
                            let taps = &b[(j * per_job + local) * r * r * cols..];
                            for (plane, coefs) in planes.iter_mut().zip(&coefs) {
                                let row = &mut plane[local * cols..(local + 1) * cols];
                                row.fill(T::zero());
                                for &(t, coef) in coefs {
                                    let taps = &taps[t * cols..(t + 1) * cols];
                                    for (o, &g) in row.iter_mut().zip(taps) {
                                        *o = coef.mul_add(g, *o);
                                    }
                                }
                            }
                        }
                    },
                )
            });
    }

    /// `V = B^T d B` of one channel of the block: `d` holds its `n x n` rows of tiles,
    /// `t` is room for as many; row `xi` of `V` goes to `v[xi * stride..]`.
    #[inline(always)]
    pub fn input<T: Element>(&self, d: &[T], t: &mut [T], v: &mut [T], stride: usize) {
        let n = self.n;
        for a in 0..n {
            for j in 0..n {
                combine(&mut t[(a * n + j) * LANES..], &self.b_t[a], d, j, n);
            }
        }
        for a in 0..n {
            for b in 0..n {
                let at = (a * n + b) * stride;
                combine(&mut v[at..], &self.b_t[b], t, a * n, 1);
            }
        }
    }

    /// `Y = A^T M A` of one column of the block: row `xi` of `M` at `m[xi * stride..]`
    /// (`stride` in rows of tiles); `t` is room for `m x n` rows, `y` gets `m x m`.
    #[inline(always)]
    pub fn output<T: Element>(&self, m: &[T], stride: usize, t: &mut [T], y: &mut [T]) {
        let (n, mm) = (self.n, self.m);
        for i in 0..mm {
            for b in 0..n {
                combine(
                    &mut t[(i * n + b) * LANES..],
                    &self.a_t[i],
                    m,
                    b * stride,
                    n * stride,
                );
            }
        }
        for i in 0..mm {
            for j in 0..mm {
                combine(&mut y[(i * mm + j) * LANES..], &self.a_t[j], t, i * n, 1);
            }
        }
    }
}

impl Transforms {
    /// `Q = A g A^T` of one column's `m x m` rows of tiles of grad_y (`g`), the
    /// gradient of `M` in `Y = A^T M A`; `t` is room for `n x m` rows, row `xi` of `Q`
    /// goes to `q[xi * LANES..]`.
    #[inline(always)]
    pub fn gradient<T: Element>(&self, g: &[T], t: &mut [T], q: &mut [T]) {
        let (n, mm) = (self.n, self.m);
        for a in 0..n {
            for j in 0..mm {
                combine(&mut t[(a * mm + j) * LANES..], &self.a[a], g, j, mm);
            }
        }
        for a in 0..n {
            for b in 0..n {
                combine(&mut q[(a * n + b) * LANES..], &self.a[b], t, a * mm, 1);
            }
        }
    }

    /// The gradient of the weights from the gradient of `U`, `G^T S G`: `s` holds
    /// `S[xi]` as `[xi][row][col]` (`rows x cols` each); returns `[row][r][r][col]`, in
    /// parallel over rows (a part that ran on one thread while the other waited).
    pub fn weights_back<T: Element>(&self, s: &[T], rows: usize, cols: usize) -> Vec<T> {
        use rayon::prelude::*;
        let (n, r) = (self.n, self.r);
        let mut out = vec![T::zero(); rows * r * r * cols];
        out.par_chunks_mut((r * r * cols).max(1))
            .enumerate()
            .for_each(|(row, out)| {
                crate::lowered::simd::vectorized(
                    #[inline(always)]
                    || {
                        for t in 0..r * r {
                            let (kh, kw) = (t / r, t % r);
                            let out = &mut out[t * cols..(t + 1) * cols];
                            for xi in 0..n * n {
                                let coef = self.g[(xi / n) * r + kh] * self.g[(xi % n) * r + kw];
                                if coef == 0.0 {
                                    continue;
                                }
                                let coef = T::from_f64(coef);
                                let from = &s[(xi * rows + row) * cols..][..cols];
                                for (o, &v) in out.iter_mut().zip(from) {
                                    *o = coef.mul_add(v, *o);
                                }
                            }
                        }
                    },
                )
            });
        out
    }
}
