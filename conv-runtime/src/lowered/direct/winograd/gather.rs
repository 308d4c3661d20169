//! Moving tiles between planes and lanes: each tile's 6x6 inputs gathered from `P`,
//! its 4x4 values of grad_y gathered from a column's plane, its 4x4 outputs scattered
//! into one. A tile is lane `l` of a block; its value `(i, j)` is row `i * n + j` of
//! the block's rows of [`LANES`].
//!
//! Along a run of whole tiles (consecutive, `M` apart on rows of `P`), value `j` of
//! tile `k` is element `M * k + j` of a row: with AVX-512 and dense columns, a
//! register's worth of tiles is four loads and one [`deinterleave4`] (its inverse to
//! scatter) instead of a scalar move per value; with a dilation of 2, every other
//! element of eight loads first. The gather was 3 of 11.5 ms of the 64-channel 3x3
//! layer's forward pass (1 thread) when it moved scalars.
//!
//! [`deinterleave4`]: crate::lowered::zmm::Zmm::deinterleave4

use super::{Tile, Tiles, LANES, M};
use crate::lowered::zmm::{self, Token};
use crate::Element;
use std::ops::Range;

impl Tiles {
    /// One channel's 6x6 inputs of every tile of `block` into the rows of `d` (zeros
    /// past the padded plane and for lanes without a tile).
    #[inline(always)]
    pub(super) fn gather<T: Element>(
        &self,
        block: &[Tile],
        runs: &[Range<usize>],
        plane: &[T],
        d: &mut [T],
    ) {
        let rows = self.dilation[0] * self.row_stride;
        let inside = |t: &Tile| (t.input, t.in_rows, t.in_cols);
        self.gather_tiles::<T, { M + 2 }>(block, runs, plane, rows, inside, d)
    }

    /// One column's 4x4 values of grad_y (`column`: the column's plane of the first
    /// outer point) of every tile of `block` into the rows of `g`.
    #[inline(always)]
    pub(super) fn gather_gradient<T: Element>(
        &self,
        block: &[Tile],
        runs: &[Range<usize>],
        column: &[T],
        g: &mut [T],
    ) {
        let rows = self.dilation[0] * self.cols;
        let inside = |t: &Tile| (t.output, t.out_rows, t.out_cols);
        self.gather_tiles::<T, M>(block, runs, column, rows, inside, g)
    }

    /// `V x V` values of every tile of `block` into the rows of `out` (`V` values of
    /// `V` rows): from `source`, rows `below` apart and columns the dilation apart,
    /// starting where `inside` says, which also gives how many rows and columns of the
    /// tile lie inside (zeros past them and for lanes without a tile).
    #[inline(always)]
    fn gather_tiles<T: Element, const V: usize>(
        &self,
        block: &[Tile],
        runs: &[Range<usize>],
        source: &[T],
        below: usize,
        inside: impl Fn(&Tile) -> (usize, usize, usize),
        out: &mut [T],
    ) {
        let whole = |t: &Tile| inside(t).1 == V && inside(t).2 == V;
        if block.len() < LANES || !block.iter().all(whole) {
            out.iter_mut().for_each(|x| *x = T::zero());
        }
        specialised(
            self.dilation[1],
            #[inline(always)]
            |right| {
                let token = zmm::token().filter(|_| right <= 2);
                // A register of tiles reads a tile further for values M and M + 1.
                let reach = usize::from(V > M);
                for run in runs {
                    // Consecutive tiles of one row of tiles: every M-th element of the
                    // rows (of the phase's).
                    let first = inside(&block[run.start]).0;
                    for i in 0..V {
                        let row = first + i * below;
                        let mut k = 0;
                        if let Some(token) = token {
                            while k + VECTOR_RUN <= run.len()
                                && row + M * right * (k + T::LANES + reach) <= source.len()
                            {
                                let count = (run.len() - k).min(T::LANES);
                                let from = &source[row + M * right * k..];
                                let values = row_values::<T, V>(token, from, right);
                                for (j, value) in values.into_iter().enumerate() {
                                    let to = &mut out[(i * V + j) * LANES + run.start + k..];
                                    store_lanes(token, to, value, count);
                                }
                                k += count;
                            }
                        }
                        for j in 0..V {
                            let to = &mut out[(i * V + j) * LANES + run.start..][k..run.len()];
                            let from = &source[row + j * right..];
                            for (t, x) in (k..).zip(to.iter_mut()) {
                                *x = from[t * M * right];
                            }
                        }
                    }
                }
                for (l, tile) in block.iter().enumerate().filter(|t| !whole(t.1)) {
                    let (at, rows, cols) = inside(tile);
                    for i in 0..rows {
                        let from = source[at + i * below..].iter().step_by(right);
                        for (j, &x) in from.take(cols).enumerate() {
                            out[(i * V + j) * LANES + l] = x;
                        }
                    }
                }
            },
        );
    }

    /// One column's 4x4 outputs of every tile of `block` (`y`, rows of lanes) plus
    /// `bias`, into the column's part of the output `c`.
    #[inline(always)]
    pub(super) fn scatter<T: Element>(
        &self,
        block: &[Tile],
        runs: &[Range<usize>],
        y: &[T],
        bias: T,
        c: &mut [T],
    ) {
        let n = self.transforms.n;
        specialised(
            self.dilation[1],
            #[inline(always)]
            |right| {
                let below = self.dilation[0] * self.cols;
                let token = zmm::token().filter(|_| right == 1);
                for run in runs {
                    let first = block[run.start].output;
                    for i in 0..M {
                        let row = first + i * below;
                        let mut k = 0;
                        if let Some(token) = token {
                            let (one, add) = (T::splat(token, T::one()), T::splat(token, bias));
                            while k + VECTOR_RUN <= run.len() {
                                let count = (run.len() - k).min(T::LANES);
                                let value = |j: usize| {
                                    load_lanes(
                                        token,
                                        &y[(i * M + j) * LANES + run.start + k..],
                                        count,
                                    )
                                };
                                let values = [value(0), value(1), value(2), value(3)];
                                // `v * 1 + bias` is `v + bias`, rounded once.
                                let outputs = T::interleave4(token, values)
                                    .map(|v| T::fma(token, v, one, add));
                                let to = &mut c[row + M * k..];
                                for (r, output) in outputs.into_iter().enumerate() {
                                    let count = (M * count).saturating_sub(r * T::LANES);
                                    if count > 0 {
                                        store_lanes(token, &mut to[r * T::LANES..], output, count);
                                    }
                                }
                                k += count;
                            }
                        }
                        let to = c[row + M * right * k..].chunks_mut(M * right);
                        for (t, out) in (k..run.len()).zip(to) {
                            for j in 0..M {
                                out[j * right] = y[(i * M + j) * LANES + run.start + t] + bias;
                            }
                        }
                    }
                }
                for (l, tile) in block.iter().enumerate().filter(|(_, t)| !t.whole(n)) {
                    for i in 0..tile.out_rows {
                        let to = c[tile.output + i * below..].iter_mut().step_by(right);
                        for (j, o) in to.take(tile.out_cols).enumerate() {
                            *o = y[(i * M + j) * LANES + l] + bias;
                        }
                    }
                }
            },
        );
    }
}

/// Runs `f` with `right`, the columns' dilation, known to the compiler when it is 1:
/// its loops over dense columns are then contiguous copies.
#[inline(always)]
fn specialised(right: usize, mut f: impl FnMut(usize)) {
    if right == 1 {
        f(1)
    } else {
        f(right)
    }
}

/// Tiles moved a register at a time from this many on: a row's register of values
/// costs about 40 instructions (loads, permutes, blends), a tile's six values 12 moves,
/// so fewer (a 14x14 image's runs of 3) move one value at a time.
const VECTOR_RUN: usize = 4;

/// Values `0..V` (`M` or `M + 2`) of `T::LANES` consecutive whole tiles of a row that
/// starts at `from`, its values `right` (1 or 2, the dilation) apart: values `0..M` of
/// each tile, then values `M` and `M + 1`, the next tile's first two.
#[inline(always)]
fn row_values<T: Element, const V: usize>(token: Token, from: &[T], right: usize) -> [T::Reg; V] {
    let load = |from: &[T]| match right {
        1 => load4(token, from),
        _ => load4_even(token, from),
    };
    let first = T::deinterleave4(token, load(from));
    let next = match V > M {
        true => T::deinterleave4(token, load(&from[M * right..])),
        false => first,
    };
    let mut values = [first[0]; V];
    for (j, value) in values.iter_mut().enumerate() {
        *value = if j < M { first[j] } else { next[j - M] };
    }
    values
}

/// Four registers from `from`, one after the other.
#[inline(always)]
fn load4<T: Element>(token: Token, from: &[T]) -> [T::Reg; 4] {
    let load = |r: usize| T::load(token, &from[r * T::LANES..]);
    [load(0), load(1), load(2), load(3)]
}

/// Every other element of eight registers from `from`: four registers.
#[inline(always)]
fn load4_even<T: Element>(token: Token, from: &[T]) -> [T::Reg; 4] {
    let even = |r: usize| {
        let (a, b) = (&from[2 * r * T::LANES..], &from[(2 * r + 1) * T::LANES..]);
        T::permute2(token, T::load(token, a), T::load(token, b), |l| 2 * l)
    };
    [even(0), even(1), even(2), even(3)]
}

/// The first `count` lanes of `value` into `to` (at most `T::LANES`): a whole register
/// blended with what `to` holds past them, or lane by lane at the end of `to`.
#[inline(always)]
fn store_lanes<T: Element>(token: Token, to: &mut [T], value: T::Reg, count: usize) {
    let count = count.min(T::LANES);
    if to.len() >= T::LANES {
        let old = T::load(token, to);
        T::store(token, to, T::select_first(token, count, value, old));
    } else {
        let mut lanes = [T::zero(); 16];
        T::store(token, &mut lanes, value);
        to[..count].copy_from_slice(&lanes[..count]);
    }
}

/// `count` elements of `from` as the first lanes of a register (the others: whatever
/// follows them, or zeros at the end of `from`).
#[inline(always)]
fn load_lanes<T: Element>(token: Token, from: &[T], count: usize) -> T::Reg {
    if from.len() >= T::LANES {
        T::load(token, from)
    } else {
        let mut lanes = [T::zero(); 16];
        lanes[..count].copy_from_slice(&from[..count]);
        T::load(token, &lanes)
    }
}
