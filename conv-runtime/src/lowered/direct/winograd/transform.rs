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
    /// `B^T` (`n x n`) and `A^T` (`m x n`), sparse; `G` (`n x r`), dense.
    b_t: Sparse,
    a_t: Sparse,
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
        Transforms {
            b_t: sparse(&f(&w.b_t), n),
            a_t: sparse(&f(&w.a_t), n),
            g: f(&w.g),
            n,
            m: w.m,
            r: w.r,
        }
    }

    /// `U[xi][c][col] = (G g G^T)[xi]` of every channel `c` and column, for `b` packed
    /// `[c][r][r][col]` (the direct kernel's `[k][n]`), in parallel over `xi`.
    pub fn weights<T: Element>(&self, b: &[T], channels: usize, cols: usize) -> Vec<T> {
        use rayon::prelude::*;
        let (n, r) = (self.n, self.r);
        let mut u = vec![T::zero(); n * n * channels * cols];
        u.par_chunks_mut((channels * cols).max(1))
            .enumerate()
            .for_each(|(xi, u)| {
                let (a, bb) = (xi / n, xi % n);
                let coefs: Vec<(usize, T)> = (0..r * r)
                    .map(|t| (t, self.g[a * r + t / r] * self.g[bb * r + t % r]))
                    .filter(|(_, v)| *v != 0.0)
                    .map(|(t, v)| (t, T::from_f64(v)))
                    .collect();
                crate::lowered::simd::vectorized(
                    #[inline(always)]
                    || {
                        for (c, row) in u.chunks_exact_mut(cols.max(1)).enumerate() {
                            for &(t, coef) in &coefs {
                                let from = (c * r * r + t) * cols;
                                for (o, &g) in row.iter_mut().zip(&b[from..from + cols]) {
                                    *o = coef.mul_add(g, *o);
                                }
                            }
                        }
                    },
                )
            });
        u
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
