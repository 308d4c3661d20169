//! The gradient of B (grad_w of a convolution) from the direct kernel's padded copy, for
//! products of several columns: `grad_b[tap][n] = sum over positions of
//! P[position + tap] * grad_y[n][position]`. grad_y is first transposed to
//! `[virtual position][n]` (zeros between rows, by blocks of columns), so that a register
//! tile of taps x columns accumulates, position by position, one broadcast of `P` times a
//! vector of grad_y: the forward's kernel shape with positions as the reduction, and no
//! im2col. Against panels and the GEMM, measured side by side: 3x3 layers 1.1-1.3x
//! faster, conv3d 1.5x, conv1d (no padding between rows, a long reduction that suits the
//! GEMM) 0.9x.

use super::plan::Direct;
use crate::lowered::pack;
use crate::lowered::product::Product;
use crate::lowered::scratch;
use crate::lowered::simd::vectorized;
use crate::lowered::zmm::{self, Token, MAX_REGS};
use crate::Element;
use rayon::prelude::*;

impl Direct {
    /// The gradient of B, added into `out`: for fewer than [`FEW_COLUMNS`] columns
    /// (depthwise, grouped), taps as dot products with shifted stretches of `P`; else
    /// register tiles of taps x columns over its positions.
    pub fn grad_b<T: Element>(&self, p: &Product, a: &[T], grad_y: &[T], out: &mut [T]) {
        let n_len = p.n_len;
        let sums = if self.pads_points(n_len) {
            self.grad_b_dots(p, a, None, grad_y)
        } else {
            scratch::with(|padded| {
                self.pad(&p.layout, a, padded);
                if n_len < FEW_COLUMNS {
                    self.grad_b_dots(p, a, Some(padded), grad_y)
                } else {
                    self.grad_b_columns(p, padded, grad_y)
                }
            })
        };
        p.add_to_b(&sums, out);
    }
}

/// The register tiles of [`Direct::grad_b_columns`] hold at least 16 columns (one
/// AVX-512 register of f32); narrower blocks of columns run one column at a time, in
/// scalars. With fewer columns than this, the dot products over positions use whole
/// registers instead: the grouped ResNeXt layer (4 columns per group) went from 3% of
/// the FMA peak (measured).
const FEW_COLUMNS: usize = 16;

/// Taps per register tile (with [`COLUMNS`]: 24 AVX-512 registers of accumulators).
const TAPS: usize = 6;
/// Columns per register tile, in elements of f32 (four AVX-512 registers).
const COLUMNS: usize = 64;
/// A job's sums stay within this many bytes (in the L2 cache), its taps split if not.
const SUMS_BYTES: usize = 256 << 10;
/// Fewer jobs than this split the outer points as well, into [`SLICES`].
const MIN_JOBS: usize = 8;
const SLICES: usize = 4;
/// Elements of f32 in a cache line.
const ALIGN: usize = 16;
/// Positions per pass over the tiles: the block of transposed grad_y they share
/// (128 x 64 f32, 32 KiB) stays in the L1 cache.
const POSITIONS: usize = 128;

impl Direct {
    /// `grad_b` of every batch point, `[k][n]`. Each job owns a block of columns and a
    /// chunk of taps and sums over the batch point's outer points in order (or over a
    /// fixed slice of them, the slices then added in order): the same result whatever
    /// the number of threads.
    pub fn grad_b_columns<T: Element>(
        &self,
        p: &Product,
        padded: &[T],
        grad_y: &[T],
    ) -> Vec<Vec<T>> {
        // f64 tiles hold half as many columns, in as many registers.
        let widest = COLUMNS * 4 / std::mem::size_of::<T>();
        let blocks = column_blocks(p.n_len, widest);
        // Sums of at most SUMS_BYTES per job; then, if that leaves few jobs, the outer
        // points split into SLICES, whose sums are added in order (the shapes alone
        // decide, not the number of threads).
        let max_taps = (SUMS_BYTES / (widest * std::mem::size_of::<T>())).max(TAPS);
        // With fewer outer points than slices (a batch of one), the taps are split
        // instead, each chunk of tiles its own job.
        let few = (2 * MIN_JOBS)
            .div_ceil(p.batch_points() * blocks.len())
            .min(p.k_len.div_ceil(TAPS));
        let chunks = p.k_len.div_ceil(max_taps).max(1);
        let chunks = if p.per_batch < SLICES {
            chunks.max(few)
        } else {
            chunks
        };
        let chunk_taps = p.k_len.div_ceil(chunks).next_multiple_of(TAPS);
        let regions: Vec<Region> = (0..p.batch_points())
            .flat_map(|g| blocks.iter().map(move |&b| (g, b)))
            .flat_map(|(g, b)| {
                (0..p.k_len)
                    .step_by(chunk_taps)
                    .map(move |k| (g, b, k..(k + chunk_taps).min(p.k_len)))
            })
            .collect();
        let slices = if regions.len() < MIN_JOBS {
            SLICES.min(p.per_batch)
        } else {
            1
        };
        let mut partials: Vec<Vec<T>> = scratch::with(|buffer| {
            let job = Job {
                direct: self,
                padded,
                y: self.transpose(p, grad_y, &blocks, buffer),
                points: self.outer.len(),
            };
            (0..regions.len() * slices)
                .into_par_iter()
                .map(|j| {
                    let (g, block, taps) = regions[j / slices].clone();
                    let points = (g * p.per_batch..(g + 1) * p.per_batch).skip(j % slices);
                    let points = points.step_by(slices);
                    if widest == COLUMNS {
                        job.run::<COLUMNS, { COLUMNS / 2 }, { COLUMNS / 4 }>(points, block, taps)
                    } else {
                        job.run::<{ COLUMNS / 2 }, { COLUMNS / 4 }, { COLUMNS / 8 }>(
                            points, block, taps,
                        )
                    }
                })
                .collect()
        });
        let mut sums = vec![vec![T::zero(); p.k_len * p.n_len]; p.batch_points()];
        for ((g, (n, width), taps), partials) in regions.iter().zip(partials.chunks_mut(slices)) {
            let (sum, rest) = partials.split_first_mut().unwrap_or_else(|| unreachable!());
            for other in rest {
                sum.iter_mut()
                    .zip(other.iter())
                    .for_each(|(s, &v)| *s = *s + v);
            }
            for (k, row) in taps.clone().zip(sum.chunks_exact(*width)) {
                sums[*g][k * p.n_len + n..][..*width].copy_from_slice(row);
            }
        }
        sums
    }

    /// grad_y (for each outer point `[n][row][column]`, columns `column_stride` apart)
    /// by blocks of columns: the block of `width` columns from `n` is
    /// `[outer point][virtual position][width]` at `n * points * span`, zero where no
    /// output position lies. A tile's columns are then contiguous (rows of all `n_len`
    /// columns would put a block's positions a power of two apart, into a few sets of
    /// the L1 cache: 10% slower than the GEMM with 256 columns, measured).
    fn transpose<'b, T: Element>(
        &self,
        p: &Product,
        grad_y: &[T],
        blocks: &[(usize, usize)],
        buffer: &'b mut Vec<T>,
    ) -> &'b [T] {
        let len = self.outer.len() * self.span;
        // Starting on a cache line, so that no vector of a tile straddles two. Every
        // element is written below (rows, and zeros between them), so the buffer is
        // not cleared.
        buffer.resize(len * p.n_len + ALIGN, T::zero());
        let start = buffer
            .as_ptr()
            .align_offset(ALIGN * std::mem::size_of::<T>())
            .min(ALIGN);
        let out = &mut buffer[start..start + len * p.n_len];
        // Each outer point's part of a block, split into stretches of whole rows, a
        // few per thread: one part per point and block left a batch of one (a stem)
        // transposing on one thread while the other waited (a quarter of its grad_w
        // on 2 threads).
        let parts = self.outer.len() * blocks.len();
        let pieces = (4 * rayon::current_num_threads())
            .div_ceil(parts)
            .clamp(1, self.rows.len().max(1));
        let rows_per_piece = self.rows.len().div_ceil(pieces).max(1);
        let mut tasks: Vec<Piece<'_, T>> = Vec::new();
        let mut rest = &mut out[..];
        for &(n, width) in blocks {
            for o in 0..self.outer.len() {
                let mut at = 0;
                for first in (0..self.rows.len()).step_by(rows_per_piece) {
                    let last = (first + rows_per_piece).min(self.rows.len());
                    let end = self.rows.get(last).copied().unwrap_or(self.span);
                    let (piece, tail) = std::mem::take(&mut rest).split_at_mut((end - at) * width);
                    rest = tail;
                    tasks.push((o, (n, width), first..last, at, piece));
                    at = end;
                }
            }
        }
        let run: Vec<usize> = (0..self.run_len).collect();
        tasks
            .into_par_iter()
            .for_each(|(o, (n, width), rows, at, piece)| {
                let columns: Vec<usize> = (0..width).map(|c| c * self.column_stride).collect();
                let base = p.outer_c[o] + n * self.column_stride;
                let mut done = at;
                for r in rows {
                    let row = self.rows[r];
                    piece[(done - at) * width..(row - at) * width].fill(T::zero());
                    let to = &mut piece[(row - at) * width..(row - at + self.run_len) * width];
                    pack::k_major(grad_y, base + r * self.run_len, &run, &columns, to, width);
                    done = row + self.run_len;
                }
                piece[(done - at) * width..].fill(T::zero());
            });
        &*out
    }
}

/// A stretch of the transposed grad_y: outer point, block of columns `(first, width)`,
/// rows, the virtual position it starts at, and its elements.
type Piece<'a, T> = (
    usize,
    (usize, usize),
    std::ops::Range<usize>,
    usize,
    &'a mut [T],
);

/// A job's share of grad_b: batch point, block of columns `(first, width)`, taps.
type Region = (usize, (usize, usize), std::ops::Range<usize>);

/// The blocks of columns of the tiles, `(first, width)`: `widest` columns, then half
/// and a quarter of that, then one.
fn column_blocks(n_len: usize, widest: usize) -> Vec<(usize, usize)> {
    let mut blocks = Vec::new();
    let mut n = 0;
    while n < n_len {
        let width = match n_len - n {
            left if left >= widest => widest,
            left if left >= widest / 2 => widest / 2,
            left if left >= widest / 4 => widest / 4,
            _ => 1,
        };
        blocks.push((n, width));
        n += width;
    }
    blocks
}

/// What every job reads: `P`, the transposed grad_y, and how outer points group into
/// batch points.
struct Job<'a, T> {
    direct: &'a Direct,
    padded: &'a [T],
    y: &'a [T],
    points: usize,
}

impl<T: Element> Job<'_, T> {
    /// `grad_b[taps][block]` summed over outer points `points` (`[tap][width]`): tiles
    /// of [`TAPS`] taps over blocks of [`POSITIONS`] positions of every outer point in
    /// turn, the block of transposed grad_y staying in the L1 cache while they read it.
    /// Tiles are `W`, `H` or `Q` columns wide, or 1.
    fn run<const W: usize, const H: usize, const Q: usize>(
        &self,
        points: impl Iterator<Item = usize>,
        (n, width): (usize, usize),
        taps: std::ops::Range<usize>,
    ) -> Vec<T> {
        let direct = self.direct;
        let span = direct.span;
        let block = &self.y[n * self.points * span..(n + width) * self.points * span];
        let mut sums = vec![T::zero(); taps.len() * width];
        for o in points {
            let y = &block[o * span * width..(o + 1) * span * width];
            let at = direct.outer[o];
            for lo in (0..span).step_by(POSITIONS) {
                let positions = lo..(lo + POSITIONS).min(span);
                let y = &y[positions.start * width..positions.end * width];
                let mut k = taps.start;
                while k < taps.end {
                    let count = match taps.end - k {
                        left if left >= TAPS => TAPS,
                        left if left >= 3 => 3,
                        _ => 1,
                    };
                    let tile = Tile {
                        offsets: &direct.taps[k..k + count],
                        padded: self.padded,
                        at: at + positions.start,
                        y,
                    };
                    let sums = &mut sums[(k - taps.start) * width..];
                    vectorized(
                        #[inline(always)]
                        || match (count, width) {
                            (TAPS, w) if w == W => tile.run::<TAPS, W>(sums),
                            (TAPS, w) if w == H => tile.run::<TAPS, H>(sums),
                            (TAPS, w) if w == Q => tile.run::<TAPS, Q>(sums),
                            (TAPS, _) => tile.run::<TAPS, 1>(sums),
                            (3, w) if w == W => tile.run::<3, W>(sums),
                            (3, w) if w == H => tile.run::<3, H>(sums),
                            (3, w) if w == Q => tile.run::<3, Q>(sums),
                            (3, _) => tile.run::<3, 1>(sums),
                            (_, w) if w == W => tile.run::<1, W>(sums),
                            (_, w) if w == H => tile.run::<1, H>(sums),
                            (_, w) if w == Q => tile.run::<1, Q>(sums),
                            _ => tile.run::<1, 1>(sums),
                        },
                    );
                    k += count;
                }
            }
        }
        sums
    }
}

/// `sums[g] += xs[g] * y` for every tap `g` of one position.
#[inline(always)]
fn step<T: Element, const G: usize, const C: usize>(sums: &mut [[T; C]; G], y: &[T], xs: &[T]) {
    let y: [T; C] = y.try_into().unwrap_or_else(|_| unreachable!());
    for (sum, &x) in sums.iter_mut().zip(xs) {
        for l in 0..C {
            sum[l] = x.mul_add(y[l], sum[l]);
        }
    }
}

/// One register tile's inputs: taps at `offsets` from `at` in `padded`, and a block of
/// transposed grad_y `y` (`[position][columns]`).
struct Tile<'a, T> {
    offsets: &'a [usize],
    padded: &'a [T],
    at: usize,
    y: &'a [T],
}

impl<T: Element> Tile<'_, T> {
    /// `sums[g][c] += sum over positions q of P[at + offsets[g] + q] * y[q][c]` for `G`
    /// taps and `C` columns (`sums` in rows of `C`), with the accumulators in registers.
    #[inline(always)]
    fn run<const G: usize, const C: usize>(&self, sums_out: &mut [T]) {
        let fits = C % T::LANES == 0 && C / T::LANES <= MAX_REGS;
        if let Some(token) = zmm::token().filter(|_| fits) {
            zmm::vectorize(
                token,
                #[inline(always)]
                || self.run_zmm::<G, C>(token, sums_out),
            );
            return;
        }
        let len = self.y.len() / C;
        let x: [&[T]; G] = std::array::from_fn(|g| {
            let from = self.at + self.offsets[g];
            &self.padded[from..from + len]
        });
        let mut sums = [[T::zero(); C]; G];
        for (g, sum) in sums.iter_mut().enumerate() {
            sum.copy_from_slice(&sums_out[g * C..][..C]);
        }
        if let [x0, x1, x2, x3, x4, x5] = x[..] {
            // Zipped, the six streams of P need no bounds check per position.
            let positions = self
                .y
                .chunks_exact(C)
                .zip(x0)
                .zip(x1)
                .zip(x2)
                .zip(x3)
                .zip(x4);
            for ((((((y, &a), &b), &c), &d), &e), &f) in positions.zip(x5) {
                step(&mut sums, y, &[a, b, c, d, e, f]);
            }
        } else {
            for (q, y) in self.y.chunks_exact(C).enumerate() {
                let xs: [T; G] = std::array::from_fn(|g| x[g][q]);
                step(&mut sums, y, &xs);
            }
        }
        for (g, sum) in sums.iter().enumerate() {
            sums_out[g * C..][..C].copy_from_slice(sum);
        }
    }

    /// [`Tile::run`] in explicit AVX-512 registers (see [`zmm`]): the same multiply-adds
    /// in the same order.
    #[inline(always)]
    fn run_zmm<const G: usize, const C: usize>(&self, token: Token, sums_out: &mut [T]) {
        let regs = C / T::LANES;
        let len = self.y.len() / C;
        let x: [&[T]; G] = std::array::from_fn(|g| {
            let from = self.at + self.offsets[g];
            &self.padded[from..from + len]
        });
        let mut sums: [[T::Reg; MAX_REGS]; G] =
            std::array::from_fn(|g| zmm::load_row(token, &sums_out[g * C..][..C], regs));
        for (q, y) in self.y.chunks_exact(C).enumerate() {
            let xs: [T; G] = std::array::from_fn(|g| x[g][q]);
            let y = zmm::load_row(token, y, regs);
            zmm::broadcast_step(token, &mut sums, xs, &y, regs);
        }
        for (g, sum) in sums.iter().enumerate() {
            zmm::store_row(token, &mut sums_out[g * C..][..C], sum, regs);
        }
    }
}
