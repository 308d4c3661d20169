//! The forward pass of single-column products (depthwise): each output row is summed in
//! registers from the shifted stretches of `P` that its taps read, and stored once,
//! straight into the output. A depthwise convolution does a few multiply-adds per
//! element it reads and writes, so what it costs is moving memory: the register tiles
//! that many columns share went through an accumulator buffer and a copy-out, and
//! computed lanes on the padding between rows. Measured against them, side by side:
//! the depthwise layer's forward 4.1-5.2 -> 5.5-6.3 GB/s on 1 thread, 9.1-11.5 ->
//! 12.5-14.6 on 2.

use super::plan::Direct;
use crate::lowered::simd::vectorized;
use crate::lowered::zmm::{self, Token};
use crate::Element;

/// Registers summed at once along a row: independent accumulators to hide the
/// multiply-adds' latency.
const BLOCK: usize = 4;

impl Direct {
    /// Every output row of one outer point: `c[r][l] = sum over taps k of
    /// w[k] * padded[origin + rows[r] + taps[k] + l]` (+ `bias`), the taps summed in order
    /// from zero as the register tiles sum them.
    pub(super) fn single_rows<T: Element>(
        &self,
        padded: &[T],
        origin: usize,
        w: &[T],
        bias: Option<T>,
        c: &mut [T],
    ) {
        let rows = c.chunks_exact_mut(self.run_len.max(1)).zip(&self.rows);
        match zmm::token() {
            Some(token) => zmm::vectorize(
                token,
                #[inline(always)]
                || {
                    for (out, &row) in rows {
                        row_zmm(token, &self.taps, w, padded, origin + row, bias, out);
                    }
                },
            ),
            None => vectorized(
                #[inline(always)]
                || {
                    for (out, &row) in rows {
                        row_plain(&self.taps, w, padded, origin + row, bias, out);
                    }
                },
            ),
        }
    }
}

/// One output row in AVX-512 registers, [`BLOCK`] registers at a time. A row that is not
/// whole registers ends with one that ends at the row's end, overlapping the one before
/// it with the same values; a row shorter than a register is copied out of one computed
/// past its end (`P` has room for it).
#[inline(always)]
fn row_zmm<T: Element>(
    token: Token,
    taps: &[usize],
    w: &[T],
    padded: &[T],
    at: usize,
    bias: Option<T>,
    out: &mut [T],
) {
    let (len, lanes) = (out.len(), T::LANES);
    if len < lanes {
        let [sum] = sums_zmm(token, taps, w, padded, at, [0], bias);
        let mut lanes_of = [T::zero(); 16];
        T::store(token, &mut lanes_of, sum);
        out.copy_from_slice(&lanes_of[..len]);
        return;
    }
    let regs = len.div_ceil(lanes);
    let start = |r: usize| (r * lanes).min(len - lanes);
    let mut r = 0;
    while r < regs {
        let block = (regs - r).min(BLOCK);
        match block {
            4 => block_zmm::<T, 4>(token, taps, w, padded, at, r, start, bias, out),
            3 => block_zmm::<T, 3>(token, taps, w, padded, at, r, start, bias, out),
            2 => block_zmm::<T, 2>(token, taps, w, padded, at, r, start, bias, out),
            _ => block_zmm::<T, 1>(token, taps, w, padded, at, r, start, bias, out),
        }
        r += block;
    }
}

/// Registers `first..first + R` of a row, at positions `start(register)`.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn block_zmm<T: Element, const R: usize>(
    token: Token,
    taps: &[usize],
    w: &[T],
    padded: &[T],
    at: usize,
    first: usize,
    start: impl Fn(usize) -> usize,
    bias: Option<T>,
    out: &mut [T],
) {
    let starts: [usize; R] = std::array::from_fn(|i| start(first + i));
    let sums = sums_zmm(token, taps, w, padded, at, starts, bias);
    for (&s, sum) in starts.iter().zip(sums) {
        T::store(token, &mut out[s..], sum);
    }
}

/// `R` registers of sums from `padded[at + starts[i]..]`, the bias added last
/// (`v * 1 + b`, one rounding, as the tiles' copy-out adds it).
#[inline(always)]
fn sums_zmm<T: Element, const R: usize>(
    token: Token,
    taps: &[usize],
    w: &[T],
    padded: &[T],
    at: usize,
    starts: [usize; R],
    bias: Option<T>,
) -> [T::Reg; R] {
    let mut acc = [T::splat(token, T::zero()); R];
    for (&tap, &coef) in taps.iter().zip(w) {
        let coef = T::splat(token, coef);
        let from = &padded[at + tap..];
        for (acc, &s) in acc.iter_mut().zip(&starts) {
            *acc = T::fma(token, coef, T::load(token, &from[s..]), *acc);
        }
    }
    if let Some(bias) = bias {
        let (one, bias) = (T::splat(token, T::one()), T::splat(token, bias));
        for acc in &mut acc {
            *acc = T::fma(token, *acc, one, bias);
        }
    }
    acc
}

/// [`row_zmm`] as plain loops, for LLVM to vectorise: the same multiply-adds in the same
/// order.
#[inline(always)]
fn row_plain<T: Element>(
    taps: &[usize],
    w: &[T],
    padded: &[T],
    at: usize,
    bias: Option<T>,
    out: &mut [T],
) {
    out.fill(T::zero());
    for (&tap, &coef) in taps.iter().zip(w) {
        let from = &padded[at + tap..at + tap + out.len()];
        for (o, &x) in out.iter_mut().zip(from) {
            *o = coef.mul_add(x, *o);
        }
    }
    if let Some(bias) = bias {
        for o in out.iter_mut() {
            *o = o.mul_add(T::one(), bias);
        }
    }
}
