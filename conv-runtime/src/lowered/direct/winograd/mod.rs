//! Winograd's `F(4x4, 3x3)` for the direct kernel's 3x3 windows of stride 1 (f32): each
//! 4x4 block of outputs of a channel comes from a 6x6 block of `P` (the padded copy)
//! with 36 multiplications per input channel instead of 144 (Lavin and Gray 2015).
//! With dilation `D` along an axis, a tile's outputs and inputs are `D` apart along it:
//! the outputs of one phase (positions `p + D * i`) are a dense convolution of that
//! phase's inputs, so tiles are laid out phase by phase.
//!
//! Tiles are processed [`LANES`] at a time, fused so that they stay in cache: the input
//! transform of the block's tiles for every channel (`V`, 36 rows of channels x tiles),
//! then for each of the 36 coefficients the products `M[xi] = U[xi] V[xi]` of every
//! output channel, in the direct kernel's register tile (output channels x 64 lanes,
//! here tiles instead of positions) while `V[xi]` stays in L1, then each output
//! channel's output transform, written straight to the output. `U`, the weights'
//! transform, is computed once per call. The transform matrices are the macro's
//! (`Facts::winograd`, derived by Cook-Toom); `grad_b` runs the weights' gradient on
//! the same tiles.

mod gather;
mod grad_b;
#[cfg(test)]
mod tests;
mod transform;

use super::forward::{tile, tile_zmm};
use super::plan::{Direct, CHANNELS};
use super::OutputBias;
use crate::lowered::product::Product;
use crate::lowered::scratch;
use crate::lowered::simd::vectorized;
use crate::lowered::zmm::{self, MAX_REGS};
use crate::Element;
use conv_model::winograd::Winograd;
use rayon::prelude::*;
use std::ops::Range;
use transform::Transforms;

/// Tiles per block: the lanes of the products' register tile.
const LANES: usize = 64;
/// Input and output channels at least: per tile, the input transform costs about
/// `1/columns` of the products and the output transform about `1/channels` (five
/// multiply-adds per coefficient, 36 coefficients, against 36 per pair of channels), so
/// below 16 the transforms would eat what the products save. A cost estimate: the
/// benchmark's layers have 64 channels or more.
const MIN_CHANNELS: usize = 16;
/// Output channels (columns) at least: measured, a 3-D convolution's grad_x with 16
/// columns and 96 channels (its depth taps included) ran slower on the tiles than
/// direct (1 thread, 107 -> 86-91 GFLOP/s) while its forward pass, 32 columns over
/// 48, ran faster (104 -> 116-139): few columns leave the products' register tile
/// (6 columns x 64 tiles) short of work beside the transforms.
const MIN_COLUMNS: usize = 32;
/// Outputs per tile along each axis, and taps.
const M: usize = 4;
const R: usize = 3;

/// The plan of one product on Winograd's tiles.
pub(crate) struct Tiles {
    /// Output rows and columns of each slice of an outer point; `P`'s row stride.
    rows: usize,
    cols: usize,
    row_stride: usize,
    /// Where each slice's first row is in `P`, from its outer point's: one slice per
    /// position of the axes before the rows (a 3-D convolution's depth), whose window
    /// taps are then more channels of the planar product.
    slices: Vec<usize>,
    /// The windows' dilation along the rows and the columns.
    dilation: [usize; 2],
    channels: usize,
    /// `c * LANES` for every channel: where each channel's row of tiles is in `V[xi]`.
    offsets: Vec<usize>,
    transforms: Transforms,
}

/// One tile of a job: where its 6x6 input starts in `P` (channel 0) and its 4x4 output
/// in the job's part of the output (column 0), and how much of each lies inside.
#[derive(Clone, Copy)]
struct Tile {
    input: usize,
    output: usize,
    in_rows: usize,
    in_cols: usize,
    out_rows: usize,
    out_cols: usize,
}

impl Tile {
    /// Whether all of its input and output lie inside (an `n x n` input).
    fn whole(&self, n: usize) -> bool {
        (self.in_rows, self.in_cols, self.out_rows, self.out_cols) == (n, n, M, M)
    }
}

/// The runs of whole tiles of `block` that follow each other along a row of tiles,
/// `step` apart (`M` times the columns' dilation).
fn runs(block: &[Tile], n: usize, step: usize, runs: &mut Vec<Range<usize>>) {
    runs.clear();
    for (l, tile) in block.iter().enumerate() {
        if !tile.whole(n) {
            continue;
        }
        match runs.last_mut() {
            Some(run)
                if run.end == l
                    && block[l - 1].input + step == tile.input
                    && block[l - 1].output + step == tile.output =>
            {
                run.end += 1
            }
            _ => runs.push(l..l + 1),
        }
    }
}

/// A thread's buffers: a block's `V` (36 rows of channels x tiles), one channel's
/// gathered inputs and a transform's intermediate rows, the products of a few columns
/// and their outputs.
#[derive(Default)]
struct Work<T> {
    v: Vec<T>,
    d: Vec<T>,
    t: Vec<T>,
    m: Vec<T>,
    y: Vec<T>,
    tiles: Vec<Tile>,
    runs: Vec<Range<usize>>,
}

impl Tiles {
    /// The plan, if `direct` runs a product of 3x3 windows of stride 1 on its two
    /// innermost axes, one batch point (no groups), its taps `[channel][row][column]`
    /// in `P` (channels: the reduction's other indices, a 3-D window's depth taps
    /// included), each window's taps equally spaced (its dilation).
    pub fn new(direct: &Direct, p: &Product, w: &Winograd) -> Option<Tiles> {
        let transforms = Transforms::new(w);
        let fits = (w.m, w.r) == (M, R)
            && p.k_len % (R * R) == 0
            && p.k_len / (R * R) >= MIN_CHANNELS
            && p.n_len >= MIN_COLUMNS
            && p.batch_points() == 1
            && !direct.strided()
            && p.layout.windows.len() >= 2;
        if !fits {
            return None;
        }
        let cols = direct.run_len;
        // The taps of channel 0 give the dilations: a column apart, a row apart.
        let (dw, below) = match direct.taps[..] {
            [t0, t1, _, t3, ..] if t1 > t0 && t3 > t0 => (t1 - t0, t3 - t0),
            _ => return None,
        };
        let row_stride = match direct.rows[..] {
            [first, second, ..] => second - first,
            _ => cols + dw * (R - 1),
        };
        if row_stride == 0 || below % row_stride != 0 {
            return None;
        }
        let dh = below / row_stride;
        // Rows a row apart, slice after slice.
        let rows = (direct.rows.iter().enumerate())
            .take_while(|&(r, &at)| at == r * row_stride)
            .count();
        let slices: Vec<usize> = direct.rows.iter().step_by(rows.max(1)).copied().collect();
        let rows_fit = row_stride >= cols + dw * (R - 1)
            && rows > 0
            && direct.rows.len() % rows == 0
            && (direct.rows.chunks_exact(rows))
                .all(|slice| (0..rows).all(|r| slice[r] == slice[0] + r * row_stride));
        let taps_fit = direct
            .taps
            .chunks_exact(R * R)
            .all(|t| (0..R * R).all(|k| t[k] == t[0] + (k / R) * dh * row_stride + (k % R) * dw));
        if !rows_fit || !taps_fit || rows == 0 || cols == 0 {
            return None;
        }
        let channels = p.k_len / (R * R);
        Some(Tiles {
            rows,
            cols,
            row_stride,
            slices,
            dilation: [dh, dw],
            channels,
            offsets: (0..channels).map(|c| c * LANES).collect(),
            transforms,
        })
    }

    /// Per phase of the rows and of the columns: its first output position, its
    /// outputs, and its tiles (phases without outputs left out).
    fn phases(len: usize, dilation: usize) -> impl Iterator<Item = (usize, usize, usize)> {
        (0..dilation.min(len)).map(move |phase| {
            let outputs = (len - phase).div_ceil(dilation);
            (phase, outputs, outputs.div_ceil(M))
        })
    }

    /// Tiles of one outer point.
    pub fn per_point(&self) -> usize {
        let [dh, dw] = self.dilation;
        let tiles = |len, d| Self::phases(len, d).map(|(_, _, t)| t).sum::<usize>();
        self.slices.len() * tiles(self.rows, dh) * tiles(self.cols, dw)
    }

    /// `C = A * B` (+ `bias`), as [`Direct::forward`] computes it.
    pub fn forward<T: Element>(
        &self,
        direct: &Direct,
        p: &Product,
        a: &[T],
        b: &[T],
        bias: Option<OutputBias<T>>,
        out: &mut [T],
    ) {
        let per_outer = p.n_len * direct.column_stride;
        let Some((_, by_chunk)) = p.chunks(&p.layout.c, &p.outer_c, out.len()) else {
            unreachable!("checked by Direct::new")
        };
        // U in a buffer kept from call to call (9.4 MB for 256 x 256 channels) rather
        // than zeroed and written afresh on every call.
        scratch::with(|u: &mut Vec<T>| {
            self.transforms.weights(b, self.channels, p.n_len, u);
            let u = &u[..];
            // The bias of each column, added as tiles are written, when every outer point's
            // columns have the same (a bias along the columns); otherwise added after.
            let columns = bias.as_ref().and_then(|bias| {
                let columns = bias.of_columns(0, direct, p)?;
                let same = (0..by_chunk.len())
                    .all(|k| bias.of_columns(k * per_outer, direct, p).as_ref() == Some(&columns));
                same.then_some(columns)
            });
            let threads = rayon::current_num_threads();
            let chunks = by_chunk.len();
            let job = |work: &mut Work<T>,
                       padded: &[T],
                       first: usize,
                       count: usize,
                       cols: Range<usize>,
                       c: &mut [T]| {
                self.job(
                    direct,
                    work,
                    padded,
                    &by_chunk[first..first + count],
                    cols,
                    u,
                    p.n_len,
                    columns.as_deref(),
                    per_outer,
                    c,
                )
            };
            scratch::with(|padded: &mut Vec<T>| {
                direct.pad(&p.layout, a, padded);
                let padded = &padded[..];
                if chunks >= threads {
                    // An outer point per job at least, so its inputs are transformed once
                    // (U-Net's 2 images at 112x112 on 2 threads: 223-238 -> 267-279 GFLOP/s
                    // against splitting their columns); several when theirs are fewer tiles
                    // than a block (lanes left empty are work lost), as long as every
                    // thread has a job.
                    let per_job = (LANES / self.per_point().max(1)).clamp(1, chunks / threads);
                    out.par_chunks_mut(per_outer * per_job)
                        .enumerate()
                        .for_each_init(Work::default, |work, (j, c)| {
                            job(
                                work,
                                padded,
                                j * per_job,
                                c.len() / per_outer,
                                0..p.n_len,
                                c,
                            )
                        });
                } else {
                    // Few outer points: their columns split in groups, so every thread has
                    // work (each group transforms the inputs again).
                    let groups = (2 * threads).div_ceil(chunks.max(1));
                    let group = p
                        .n_len
                        .div_ceil(groups)
                        .next_multiple_of(CHANNELS)
                        .min(p.n_len);
                    out.par_chunks_mut(per_outer)
                        .enumerate()
                        .flat_map(|(k, c)| {
                            c.par_chunks_mut(group * direct.column_stride)
                                .enumerate()
                                .map(move |(g, c)| (k, g, c))
                        })
                        .for_each_init(Work::default, |work, (k, g, c)| {
                            let cols = g * group..(g * group + group).min(p.n_len);
                            job(work, padded, k, 1, cols, c)
                        });
                }
            });
            if let (Some(bias), None) = (&bias, &columns) {
                bias.add(0, out);
            }
        })
    }

    /// Every tile of the outer points `points` (chunks of `c`, each `per_outer` long),
    /// columns `cols` (`c` starts at the first).
    #[allow(clippy::too_many_arguments)]
    fn job<T: Element>(
        &self,
        direct: &Direct,
        work: &mut Work<T>,
        padded: &[T],
        points: &[usize],
        cols: Range<usize>,
        u: &[T],
        n_len: usize,
        bias: Option<&[T]>,
        per_outer: usize,
        c: &mut [T],
    ) {
        let (n, channels) = (self.transforms.n, self.channels);
        work.tiles = self.tiles(direct, points, per_outer);
        let Work {
            v,
            d,
            t,
            m,
            y,
            tiles,
            runs: block_runs,
        } = work;
        let width = cols.len();
        v.resize(n * n * channels * LANES, T::zero());
        d.resize(n * n * LANES, T::zero());
        t.resize(n * n * LANES, T::zero());
        m.resize(n * n * width * LANES, T::zero());
        y.resize(M * M * LANES, T::zero());
        for block in tiles.chunks(LANES) {
            runs(block, n, M * self.dilation[1], block_runs);
            vectorized(
                #[inline(always)]
                || {
                    for ch in 0..channels {
                        self.gather(block, block_runs, &padded[direct.taps[ch * R * R]..], d);
                        self.transforms
                            .input(d, t, &mut v[ch * LANES..], channels * LANES);
                    }
                },
            );
            // Each `V[xi]` stays in L1 while every block of columns reads it; `M` holds
            // every column's products for the output transform.
            for xi in 0..n * n {
                let u = &u[xi * channels * n_len..(xi + 1) * channels * n_len];
                let v = &v[xi * channels * LANES..(xi + 1) * channels * LANES];
                let m = &mut m[xi * width * LANES..(xi + 1) * width * LANES];
                m.iter_mut().for_each(|x| *x = T::zero());
                let mut col = 0;
                while col < width {
                    let (acc, d) = (&mut m[col * LANES..], cols.start + col);
                    col += match width - col {
                        left if left >= CHANNELS => {
                            self.product::<T, CHANNELS>(u, n_len, d, v, acc)
                        }
                        left if left >= 4 => self.product::<T, 4>(u, n_len, d, v, acc),
                        _ => self.product::<T, 1>(u, n_len, d, v, acc),
                    };
                }
            }
            for col in 0..width {
                vectorized(
                    #[inline(always)]
                    || self.transforms.output(&m[col * LANES..], width, t, y),
                );
                let b = bias.map_or(T::zero(), |b| b[cols.start + col]);
                let c = &mut c[col * direct.column_stride..];
                vectorized(
                    #[inline(always)]
                    || self.scatter(block, block_runs, y, b, c),
                );
            }
        }
    }

    /// Every tile of the outer points `points`, whose outputs follow each other
    /// `per_outer` apart: slice by slice, phase by phase, each phase's tiles row by row.
    fn tiles(&self, direct: &Direct, points: &[usize], per_outer: usize) -> Vec<Tile> {
        let n = self.transforms.n;
        let [dh, dw] = self.dilation;
        let mut tiles = Vec::with_capacity(points.len() * self.per_point());
        let slices = points.iter().enumerate().flat_map(|(k, &o)| {
            (self.slices.iter().enumerate()).map(move |(s, &at)| {
                let output = k * per_outer + s * self.rows * self.cols;
                (direct.outer[o] + at, output)
            })
        });
        for (input, output) in slices {
            for (ph, rows, tiles_h) in Self::phases(self.rows, dh) {
                for (pw, cols, tiles_w) in Self::phases(self.cols, dw) {
                    for ty in 0..tiles_h {
                        for tx in 0..tiles_w {
                            // The tile's first output, in the phase and in the plane.
                            let (i, j) = (ty * M, tx * M);
                            let (h, w) = (ph + i * dh, pw + j * dw);
                            tiles.push(Tile {
                                input: input + h * self.row_stride + w,
                                output: output + h * self.cols + w,
                                in_rows: (rows + R - 1 - i).min(n),
                                in_cols: (cols + R - 1 - j).min(n),
                                out_rows: (rows - i).min(M),
                                out_cols: (cols - j).min(M),
                            });
                        }
                    }
                }
            }
        }
        tiles
    }

    /// `acc[col][lane] = sum over channels of U[channel][col] * V[channel][lane]` for
    /// `W` columns from `col`.
    fn product<T: Element, const W: usize>(
        &self,
        u: &[T],
        n_len: usize,
        col: usize,
        v: &[T],
        acc: &mut [T],
    ) -> usize {
        let fits = LANES % T::LANES == 0 && LANES / T::LANES <= MAX_REGS;
        let taps = 0..self.channels;
        match zmm::token().filter(|_| fits) {
            Some(token) => zmm::vectorize(
                token,
                #[inline(always)]
                || tile_zmm::<T, W, LANES>(token, &self.offsets, taps, u, n_len, col, v, 0, acc),
            ),
            None => vectorized(
                #[inline(always)]
                || tile::<T, W, LANES>(&self.offsets, taps, u, n_len, col, v, 0, acc),
            ),
        }
        W
    }
}
