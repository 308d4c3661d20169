//! B copied reduction-major, `[k][n]`, for the kernels that load a row of columns per
//! reduction index. A weight is usually stored the other way round (`d, c, kh, kw`:
//! each column's reduction indices contiguous), so the copy is a transpose: done one
//! element at a time it took 1 ns per element, 13% of the forward pass of a layer with
//! 512 x 4608 weights and 392 positions. With AVX-512 it is done a square block of
//! registers at a time (one register per column, a register transpose, one register per
//! reduction index).

use super::zmm::{self, Token, Zmm};
use crate::Element;

/// `out[k * row_len + j] = b[base + k_offsets[k] + n_offsets[j]]` for every `k` and every
/// `j < n_offsets.len()`; `out` holds `k_offsets.len()` rows of `row_len`.
pub(crate) fn k_major<T: Element>(
    b: &[T],
    base: usize,
    k_offsets: &[usize],
    n_offsets: &[usize],
    out: &mut [T],
    row_len: usize,
) {
    // Columns already consecutive (a channels-last weight, `kh, kw, c, d`): each
    // reduction index's row is one copy (element by element, a layer's 2304 x 512
    // weights took 11% of its forward pass).
    if let Some(&first) = n_offsets.first() {
        if n_offsets.iter().enumerate().all(|(j, &n)| n == first + j) {
            let len = n_offsets.len();
            for (row, &tap) in out.chunks_exact_mut(row_len).zip(k_offsets) {
                let from = base + tap + first;
                row[..len].copy_from_slice(&b[from..from + len]);
            }
            return;
        }
    }
    let lanes = T::LANES;
    // Squares of registers: columns outer, so that each of a square's columns is read
    // as one stream (reduction indices inner, they hopped over every column's page).
    let squares = zmm::token().map_or(0, |_| n_offsets.len() / lanes);
    let contiguous = |k0: usize| {
        let taps = &k_offsets[k0..k0 + lanes];
        taps.windows(2).all(|t| t[1] == t[0] + 1)
    };
    let full: Vec<bool> = (0..k_offsets.len() / lanes)
        .map(|s| squares > 0 && contiguous(s * lanes))
        .collect();
    if let Some(token) = zmm::token().filter(|_| squares > 0) {
        for j0 in (0..squares).map(|s| s * lanes) {
            let columns = &n_offsets[j0..j0 + lanes];
            for (s, _) in full.iter().enumerate().filter(|(_, &full)| full) {
                let k0 = s * lanes;
                let rows = &mut out[k0 * row_len + j0..];
                zmm::vectorize(
                    token,
                    #[inline(always)]
                    || square(token, b, base + k_offsets[k0], columns, rows, row_len),
                );
            }
        }
    }
    // Every element no square wrote.
    for (k, (row, &tap)) in out.chunks_exact_mut(row_len).zip(k_offsets).enumerate() {
        let done = if full.get(k / lanes).copied().unwrap_or(false) {
            squares * lanes
        } else {
            0
        };
        for (v, &n) in row[done..n_offsets.len()]
            .iter_mut()
            .zip(&n_offsets[done..])
        {
            *v = b[base + tap + n];
        }
    }
}

/// One `LANES x LANES` block: column `j` read as one register from `b[first +
/// columns[j]..]`, transposed, reduction index `t` written as one register to
/// `rows[t * row_len..]`.
#[inline(always)]
fn square<T: Element>(
    token: Token,
    b: &[T],
    first: usize,
    columns: &[usize],
    rows: &mut [T],
    row_len: usize,
) {
    let mut block = [T::splat(token, T::zero()); 16];
    for (reg, &n) in block.iter_mut().zip(columns) {
        *reg = T::load(token, &b[first + n..]);
    }
    transpose::<T>(token, &mut block);
    for (t, reg) in block.iter().take(T::LANES).enumerate() {
        T::store(token, &mut rows[t * row_len..], *reg);
    }
}

/// Transposes the square of the first `LANES` registers (lane `l` of register `i` to
/// lane `i` of register `l`): the off-diagonal halves swapped, then the quarters within
/// each half, down to single lanes, each swap a pair of two-register permutes.
#[inline(always)]
pub(crate) fn transpose<T: Zmm>(token: Token, regs: &mut [T::Reg; 16]) {
    let n = T::LANES;
    let mut h = n / 2;
    while h >= 1 {
        for i in (0..n).filter(|i| i & h == 0) {
            let (a, b) = (regs[i], regs[i + h]);
            regs[i] = T::permute2(token, a, b, |l| if l & h == 0 { l } else { n + l - h });
            regs[i + h] = T::permute2(token, a, b, |l| if l & h == 0 { l + h } else { n + l });
        }
        h /= 2;
    }
}

#[cfg(test)]
mod tests {
    use super::k_major;

    /// Every shape of block and remainder, against the definition, element by element,
    /// B laid out `[n][k]` (`k_inner`, as a weight `d, c, kh, kw`) or `[k][n]` (as a
    /// channels-last weight `kh, kw, c, d`).
    fn check<T: crate::Element + From<u16>>(k_inner: bool) {
        for (k_len, n_len) in [(1, 1), (16, 16), (17, 33), (48, 64), (31, 15), (9, 40)] {
            // Inside a larger buffer.
            let base = 3;
            let b: Vec<T> = (0..base + k_len * n_len)
                .map(|i| T::from(i as u16))
                .collect();
            let (k_step, n_step) = if k_inner { (1, k_len) } else { (n_len, 1) };
            let k_offsets: Vec<usize> = (0..k_len).map(|k| k * k_step).collect();
            let n_offsets: Vec<usize> = (0..n_len).map(|n| n * n_step).collect();
            let row_len = n_len + 5;
            let mut out = vec![T::zero(); k_len * row_len];
            k_major(&b, base, &k_offsets, &n_offsets, &mut out, row_len);
            for k in 0..k_len {
                for n in 0..n_len {
                    let want = b[base + n * n_step + k * k_step];
                    assert_eq!(out[k * row_len + n], want, "k {k} n {n}");
                }
                assert!(out[k * row_len + n_len..(k + 1) * row_len]
                    .iter()
                    .all(|&v| v == T::zero()));
            }
        }
    }

    #[test]
    fn k_major_copies_every_element_to_its_place() {
        for k_inner in [true, false] {
            check::<f32>(k_inner);
            check::<f64>(k_inner);
        }
    }
}
