//! The direct kernel's forward pass: register tiles of output channels x positions over
//! every tap of `P`.

use super::plan::{Direct, CHANNELS, TAPS_PER_PASS, WIDTH};

/// Columns of a group of a batch of one are a multiple of this on several threads.
const GROUP_STEP: usize = 4;
use super::OutputBias;
use crate::__private::Output;
use crate::lowered::lanes;
use crate::lowered::product::Product;
use crate::lowered::scratch;
use crate::lowered::simd::vectorized;
use crate::lowered::zmm::{self, Token, MAX_REGS};
use crate::Element;
use rayon::prelude::*;

impl Direct {
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
        out: &mut Output<T>,
    ) {
        let per_outer = p.n_len * self.column_stride;
        let Some((_, by_chunk)) = p.chunks(&p.layout.c, &p.outer_c, out.len()) else {
            unreachable!("checked by Direct::new")
        };
        // Few outer points (a batch of one): each one's columns are split in groups,
        // so that every thread has work. A column's sums are the same whatever its
        // group. On several threads, groups are multiples of four columns (blocks of
        // six and four): in multiples of six, a stem's 64 columns split 18, 18, 18, 10
        // and one of two threads did 36 (its profile: 51% of the samples against
        // 43%). On one, blocks of six do the most multiply-adds per load.
        let threads = rayon::current_num_threads();
        let groups = if by_chunk.len() >= 2 * threads {
            1
        } else {
            (2 * threads).div_ceil(by_chunk.len().max(1))
        };
        let group = p
            .n_len
            .div_ceil(groups)
            .next_multiple_of(if threads > 1 { GROUP_STEP } else { CHANNELS })
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
        if let Some(rows) = self.local_rows(p.n_len) {
            // One column: every chunk is one outer point's rows, written whole.
            return out.write_chunks(per_outer, |local: &mut Vec<T>, chunk, c| {
                self.fill_local(&p.layout, a, by_chunk[chunk], rows, local);
                point(local, 0, chunk, 0, c)
            });
        }
        let out = out.as_mut_slice();
        let jobs = out
            .par_chunks_mut(per_outer.max(1))
            .enumerate()
            .flat_map(|(chunk, c)| {
                c.par_chunks_mut((group * self.column_stride).max(1))
                    .enumerate()
                    .map(move |(g, c)| (chunk, g, c))
            });
        scratch::with(|padded| {
            self.pad(&p.layout, a, padded);
            jobs.for_each(|(chunk, g, c)| point(padded, self.outer[by_chunk[chunk]], chunk, g, c))
        })
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
        if p.n_len == 1 {
            let bias = bias.map(|bias| bias[0]);
            return self.single_rows(padded, origin, &b[..self.taps.len()], bias, c);
        }
        // f64 tiles hold half as many positions, in as many registers.
        if std::mem::size_of::<T>() <= 4 {
            self.tiles::<T, WIDTH, { WIDTH / 2 }>(p, padded, origin, b, cols, bias, c)
        } else {
            self.tiles::<T, { WIDTH / 2 }, { WIDTH / 4 }>(p, padded, origin, b, cols, bias, c)
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
                // Eight columns as two blocks of four, not six and two of one.
                d += match cols.end - d {
                    left if left >= CHANNELS && left != 8 => {
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
            match zmm::token() {
                Some(token) => zmm::vectorize(
                    token,
                    #[inline(always)]
                    || {
                        for (n, tile) in acc.chunks_exact(W).enumerate() {
                            let (to, from) = (n * ccs + at, &tile[lo - j..hi - j]);
                            let b = bias.map(|bias| bias[n]);
                            zmm::copy_add(token, &mut c[to..to + hi - lo], from, b);
                        }
                    },
                ),
                None => vectorized(
                    #[inline(always)]
                    || {
                        for (n, tile) in acc.chunks_exact(W).enumerate() {
                            let (to, from) = (n * ccs + at, &tile[lo - j..hi - j]);
                            match bias {
                                Some(bias) => {
                                    lanes::copy_add(&mut c[to..to + hi - lo], from, bias[n])
                                }
                                None => lanes::copy(&mut c[to..to + hi - lo], from),
                            }
                        }
                    },
                ),
            }
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
        let fits = W % T::LANES == 0 && W / T::LANES <= MAX_REGS;
        match zmm::token().filter(|_| fits) {
            Some(token) => zmm::vectorize(
                token,
                #[inline(always)]
                || tile_zmm::<T, N, W>(token, &self.taps, taps, b, n_len, d, padded, at, acc),
            ),
            None => vectorized(
                #[inline(always)]
                || tile::<T, N, W>(&self.taps, taps, b, n_len, d, padded, at, acc),
            ),
        }
        N
    }
}

/// `acc[n][l] += sum over taps of b[tap][d + n] * padded[at + offset(tap) + l]`: the
/// register tile. Written as plain loops over arrays, which LLVM keeps in vector
/// registers and turns into broadcast FMAs.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
pub(super) fn tile<T: Element, const N: usize, const W: usize>(
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

/// [`tile`] in explicit AVX-512 registers (see [`zmm`]): the same multiply-adds in the
/// same order.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
pub(super) fn tile_zmm<T: Element, const N: usize, const W: usize>(
    token: Token,
    offsets: &[usize],
    taps: std::ops::Range<usize>,
    b: &[T],
    n_len: usize,
    d: usize,
    padded: &[T],
    at: usize,
    out: &mut [T],
) {
    let regs = W / T::LANES;
    let mut acc: [[T::Reg; MAX_REGS]; N] =
        std::array::from_fn(|n| zmm::load_row(token, &out[n * W..(n + 1) * W], regs));
    for k in taps {
        let from = at + offsets[k];
        let x = zmm::load_row(token, &padded[from..from + W], regs);
        let w: [T; N] = b[k * n_len + d..k * n_len + d + N]
            .try_into()
            .unwrap_or_else(|_| unreachable!());
        zmm::broadcast_step(token, &mut acc, w, &x, regs);
    }
    for (n, row) in acc.iter().enumerate() {
        zmm::store_row(token, &mut out[n * W..(n + 1) * W], row, regs);
    }
}
