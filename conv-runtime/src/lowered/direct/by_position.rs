//! The direct kernel's forward pass with its register tile turned around: 6 output
//! positions x 64 columns (four registers of output channels), one broadcast of `P`
//! per position and tap and four loads of B shared by the six. The positions of a tile
//! are any six, each read at its own offset of `P`, so a tile never computes padding
//! lanes and may span outer points: what the 64-position tiles cannot do well when an
//! outer point has few positions (a 7x7 stage: one tile per image, all of B read for
//! it) or its rows are short.
//!
//! B is packed per block of 64 columns, `[block][tap][64]`, so that a tile's loads
//! are one stream; a job (a column block and a run of positions, column block first,
//! so that a thread keeps one block's B in its L2 cache) goes over its tiles 64 taps at
//! a time, their B in L1. Each job sums into its own buffer, which a last parallel
//! pass writes out with the bias. The table in `choose` says where these tiles run.

use super::plan::{Direct, WIDTH};
use super::OutputBias;
use crate::__private::Output;
use crate::lowered::pack;
use crate::lowered::product::Product;
use crate::lowered::scratch;
use crate::lowered::simd::vectorized;
use crate::lowered::zmm::{self, Token, MAX_REGS};
use crate::Element;
use rayon::prelude::*;

/// Positions per register tile.
const POSITIONS: usize = 6;
/// Positions per job: enough tiles to reuse a block of B from L2, few enough for
/// several jobs per thread.
const JOB_POSITIONS: usize = 16 * POSITIONS;

/// Where each output position of the product is read (its offset in `P`) and written
/// (its offset in the output, column 0), outer point by outer point in chunk order.
struct Positions {
    read: Vec<usize>,
    write: Vec<usize>,
    /// Positions per outer point.
    per_outer: usize,
}

impl Positions {
    fn new(d: &Direct, by_chunk: &[usize], chunk_len: usize) -> Self {
        let per_outer = d.rows.len() * d.run_len;
        let mut read = Vec::with_capacity(by_chunk.len() * per_outer);
        let mut write = Vec::with_capacity(read.capacity());
        for (chunk, &o) in by_chunk.iter().enumerate() {
            for (r, &row) in d.rows.iter().enumerate() {
                for i in 0..d.run_len {
                    read.push(d.outer[o] + row + i);
                    write.push(chunk * chunk_len + r * d.run_len + i);
                }
            }
        }
        Positions {
            read,
            write,
            per_outer,
        }
    }
}

impl Direct {
    /// `C = A * B` (+ `bias`) in tiles of positions (see the module's text), for a
    /// product of one batch point: `b` is B as the kernel was given it, the axes
    /// `reversed` read backwards (a transposed kernel's taps).
    pub fn forward_by_position<T: Element>(
        &self,
        p: &Product,
        a: &[T],
        b: &[T],
        reversed: &[char],
        bias: Option<OutputBias<T>>,
        out: &mut Output<T>,
    ) {
        let chunk_len = p.n_len * self.column_stride;
        let Some((_, by_chunk)) = p.chunks(&p.layout.c, &p.outer_c, out.len()) else {
            unreachable!("checked by Direct::new")
        };
        let positions = Positions::new(self, &by_chunk, chunk_len);
        self.sum_positions(p, a, b, reversed, &positions.read, |sums, lanes| {
            write_out(p, self, &positions, sums, lanes, bias, out)
        })
    }

    /// The sums of every position at `read` (in `P`) over every tap against every
    /// column of B, `[block][position][lanes]` with the columns in blocks of `lanes`,
    /// handed to `then` with `lanes`: `P` padded from `a`, B packed from `b` (the axes
    /// `reversed` read backwards), the jobs run in parallel.
    pub(super) fn sum_positions<T: Element, R>(
        &self,
        p: &Product,
        a: &[T],
        b: &[T],
        reversed: &[char],
        read: &[usize],
        then: impl FnOnce(&[T], usize) -> R,
    ) -> R {
        // f64 registers hold half as many lanes.
        let lanes = if std::mem::size_of::<T>() <= 4 {
            WIDTH
        } else {
            WIDTH / 2
        };
        let count = read.len();
        let blocks = p.n_len.div_ceil(lanes);
        scratch::with(|padded| {
            self.pad(&p.layout, a, padded);
            scratch::with(|packed| {
                pack_blocks(p, b, reversed, lanes, blocks, packed);
                scratch::with(|sums: &mut Vec<T>| {
                    sums.resize(blocks * count * lanes, T::zero());
                    let jobs = sums.par_chunks_mut((count * lanes).max(1)).enumerate();
                    let jobs = jobs.flat_map(|(block, sums)| {
                        sums.par_chunks_mut(JOB_POSITIONS * lanes)
                            .enumerate()
                            .map(move |(run, sums)| (block, run * JOB_POSITIONS, sums))
                    });
                    let taps = self.taps.len() * lanes;
                    jobs.for_each(|(block, first, sums)| {
                        let slab = &packed[block * taps..(block + 1) * taps];
                        let read = &read[first..first + sums.len() / lanes];
                        self.positions(padded, slab, read, lanes, sums);
                    });
                    then(sums, lanes)
                })
            })
        })
    }

    /// The sums of every position at `read` (in `P`) over every tap, against one block
    /// of columns of B (`slab`, `[tap][lanes]`), into `sums` (`[position][lanes]`):
    /// [`TAPS_PER_CHUNK`] taps at a time over every tile, so that the chunk's B stays
    /// in L1.
    fn positions<T: Element>(
        &self,
        padded: &[T],
        slab: &[T],
        read: &[usize],
        lanes: usize,
        sums: &mut [T],
    ) {
        for first in (0..self.taps.len()).step_by(TAPS_PER_CHUNK) {
            let taps = first..(first + TAPS_PER_CHUNK).min(self.taps.len());
            let chunk = Chunk {
                taps: &self.taps[taps.clone()],
                reach: self.taps[taps.clone()].iter().max().copied().unwrap_or(0),
                slab: &slab[taps.start * lanes..taps.end * lanes],
                add: first > 0,
            };
            let mut t = 0;
            while t < read.len() {
                let read = &read[t..];
                let sums = &mut sums[t * lanes..];
                t += match read.len() {
                    left if left >= POSITIONS => chunk.tile::<POSITIONS>(padded, read, sums),
                    left if left >= 4 => chunk.tile::<4>(padded, read, sums),
                    left if left >= 2 => chunk.tile::<2>(padded, read, sums),
                    _ => chunk.tile::<1>(padded, read, sums),
                };
            }
        }
    }
}

/// Taps per pass over a job's tiles: their B (16 KiB of f32 per 64 columns) stays in L1
/// while every tile reads it.
const TAPS_PER_CHUNK: usize = 64;

/// One chunk of taps: their offsets in `P`, B's rows for them, and whether the tiles
/// add to sums of earlier chunks.
struct Chunk<'c, T> {
    taps: &'c [usize],
    /// The largest of `taps`.
    reach: usize,
    slab: &'c [T],
    add: bool,
}

impl<T: Element> Chunk<'_, T> {
    /// One tile of `N` positions; returns `N`.
    #[inline(always)]
    fn tile<const N: usize>(&self, padded: &[T], read: &[usize], sums: &mut [T]) -> usize {
        let read: [usize; N] = read[..N].try_into().unwrap_or_else(|_| unreachable!());
        match zmm::token() {
            Some(token) => zmm::vectorize(
                token,
                #[inline(always)]
                || tile_zmm::<T, N>(token, self, padded, read, sums),
            ),
            None if std::mem::size_of::<T>() <= 4 => vectorized(
                #[inline(always)]
                || tile::<T, N, WIDTH>(self, padded, read, sums),
            ),
            None => vectorized(
                #[inline(always)]
                || tile::<T, N, { WIDTH / 2 }>(self, padded, read, sums),
            ),
        }
        N
    }
}

/// Registers per row of a tile: `lanes` columns.
const REGS: usize = 4;

/// `sums[q][l] (+)= sum over the chunk's taps of padded[read[q] + tap] * slab[k][l]`,
/// in four explicit AVX-512 registers per position.
#[inline(always)]
fn tile_zmm<T: Element, const N: usize>(
    token: Token,
    chunk: &Chunk<'_, T>,
    padded: &[T],
    read: [usize; N],
    sums: &mut [T],
) {
    let lanes = REGS * T::LANES;
    let mut acc = [[T::splat(token, T::zero()); MAX_REGS]; N];
    if chunk.add {
        for (q, row) in acc.iter_mut().enumerate() {
            *row = zmm::load_row(token, &sums[q * lanes..(q + 1) * lanes], REGS);
        }
    }
    // Indexing `padded` at every tap cost a compare and a branch per position and tap,
    // on the ports the multiply-adds use: side by side, ResNet's 3x3 over 512 channels
    // at 7x7 ran 99-103 GFLOP/s that way and 111-113 with the reads checked once here.
    assert!(read.iter().all(|&r| r + chunk.reach < padded.len()));
    let rows: [*const T; N] = std::array::from_fn(|q| padded.as_ptr().wrapping_add(read[q]));
    for (&tap, w) in chunk.taps.iter().zip(chunk.slab.chunks_exact(lanes)) {
        let w = zmm::load_row(token, w, REGS);
        // SAFETY: `tap <= chunk.reach`, so `read[q] + tap < padded.len()` (asserted
        // above): every read is inside `padded`.
        let x: [T; N] = std::array::from_fn(|q| unsafe { *rows[q].add(tap) });
        zmm::broadcast_step(token, &mut acc, x, &w, REGS);
    }
    for (q, row) in acc.iter().enumerate() {
        zmm::store_row(token, &mut sums[q * lanes..(q + 1) * lanes], row, REGS);
    }
}

/// [`tile_zmm`] as plain loops over arrays of `W` lanes: the same multiply-adds in the
/// same order.
#[inline(always)]
fn tile<T: Element, const N: usize, const W: usize>(
    chunk: &Chunk<'_, T>,
    padded: &[T],
    read: [usize; N],
    sums: &mut [T],
) {
    let mut acc = [[T::zero(); W]; N];
    if chunk.add {
        for (q, row) in acc.iter_mut().enumerate() {
            row.copy_from_slice(&sums[q * W..(q + 1) * W]);
        }
    }
    for (&tap, w) in chunk.taps.iter().zip(chunk.slab.chunks_exact(W)) {
        let w: &[T; W] = w.try_into().unwrap_or_else(|_| unreachable!());
        for (row, &at) in acc.iter_mut().zip(&read) {
            let x = padded[at + tap];
            for l in 0..W {
                row[l] = x.mul_add(w[l], row[l]);
            }
        }
    }
    for (q, row) in acc.iter().enumerate() {
        sums[q * W..(q + 1) * W].copy_from_slice(row);
    }
}

/// B packed `[block][tap][lanes]` (taps in the panels' order, columns past `n_len` zero)
/// into `packed`, in parallel over blocks.
fn pack_blocks<T: Element>(
    p: &Product,
    b: &[T],
    reversed: &[char],
    lanes: usize,
    blocks: usize,
    packed: &mut Vec<T>,
) {
    let (k_offsets, n_offsets) = p.b_offsets_reversing(reversed);
    let slab = k_offsets.len() * lanes;
    packed.resize(blocks * slab, T::zero());
    packed
        .par_chunks_mut(slab.max(1))
        .enumerate()
        .for_each(|(block, slab)| {
            let columns = &n_offsets[(block * lanes).min(n_offsets.len())..];
            let columns = &columns[..columns.len().min(lanes)];
            pack::k_major(b, p.outer_b[0], &k_offsets, columns, slab, lanes);
            for row in slab.chunks_exact_mut(lanes) {
                row[columns.len()..].fill(T::zero());
            }
        });
}

/// Writes each outer point's positions from the jobs' `sums` (`[block][position][lanes]`)
/// into its chunk of the output, adding the bias, in parallel over outer points and
/// groups of [`WRITE_COLUMNS`] columns.
fn write_out<T: Element>(
    p: &Product,
    d: &Direct,
    positions: &Positions,
    sums: &[T],
    lanes: usize,
    bias: Option<OutputBias<T>>,
    out: &mut Output<T>,
) {
    let chunk_len = p.n_len * d.column_stride;
    let group_len = WRITE_COLUMNS * d.column_stride;
    let count = positions.read.len();
    let out = out.as_mut_slice();
    // Each outer point's bias per column, worked out once (not once per job).
    let chunks = out.len() / chunk_len.max(1);
    let columns: Vec<Option<Option<Vec<T>>>> = (0..chunks)
        .map(|chunk| (bias.as_ref()).map(|bias| bias.of_columns(chunk * chunk_len, d, p)))
        .collect();
    let jobs = out
        .par_chunks_mut(chunk_len.max(1))
        .enumerate()
        .flat_map(|(chunk, c)| {
            c.par_chunks_mut(group_len.max(1))
                .enumerate()
                .map(move |(g, c)| (chunk, g * WRITE_COLUMNS, c))
        });
    jobs.for_each(|(chunk, first_column, c)| {
        let start = chunk * chunk_len;
        let columns = &columns[chunk];
        let per_column = columns.as_ref().and_then(|c| c.as_deref());
        let first = chunk * positions.per_outer;
        let group = first_column..(first_column + WRITE_COLUMNS).min(p.n_len);
        // Sixteen positions at a time: their sums are sixteen lines, read while each
        // column's run of them is written (position by position, the writes a column
        // stride apart fell in one set of the L1 cache when the stride was a multiple
        // of 4 KiB, and missed on every element).
        let mine = first..first + positions.per_outer;
        for run in mine.clone().step_by(WRITE_COLUMNS) {
            let run = run..(run + WRITE_COLUMNS).min(mine.end);
            for n in group.clone() {
                let (block, l) = (n / lanes, n % lanes);
                let add = per_column.map_or(T::zero(), |b| b[n]);
                let column = (n - first_column) * d.column_stride;
                let sums = &sums[block * count * lanes..];
                for q in run.clone() {
                    let at = positions.write[q] - start;
                    c[at + column] = sums[q * lanes + l] + add;
                }
            }
        }
        if let (Some(bias), Some(None)) = (&bias, columns) {
            bias.add(start + first_column * d.column_stride, c);
        }
    });
}

/// Columns per job of [`write_out`]: one cache line of f32 sums per position.
const WRITE_COLUMNS: usize = 16;
