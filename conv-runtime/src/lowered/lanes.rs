//! The inner loops of the single-column products over contiguous stretches, written in
//! blocks of [`LANES`] so that LLVM keeps them in full vector registers: a stretch of 56
//! elements is 3 full vectors and a short tail, where a plain loop, unrolled by the
//! vectoriser to 64 elements, would run all 56 as scalars.

use crate::Element;

/// Elements per block: one AVX-512 register of f32.
const LANES: usize = 16;

/// `dst[i] += coef * src[i]` over the shorter of the two.
#[inline(always)]
pub(crate) fn axpy<T: Element>(dst: &mut [T], src: &[T], coef: T) {
    let n = dst.len().min(src.len());
    let (dst, src) = (&mut dst[..n], &src[..n]);
    let whole = n - n % LANES;
    let half = if n - whole >= LANES / 2 { LANES / 2 } else { 0 };
    for (d, s) in dst[..whole]
        .chunks_exact_mut(LANES)
        .zip(src[..whole].chunks_exact(LANES))
    {
        block_axpy::<T, LANES>(d, s, coef);
    }
    // A half block: one AVX2 register (or half an AVX-512 one) instead of 8 scalars.
    if half > 0 {
        block_axpy::<T, { LANES / 2 }>(&mut dst[whole..whole + half], &src[whole..], coef);
    }
    for (d, &s) in dst[whole + half..].iter_mut().zip(&src[whole + half..]) {
        *d = *d + coef * s;
    }
}

/// `dst[..N] += coef * src[..N]`, on copies: once inlined, LLVM cannot always prove that
/// `dst` and `src` do not overlap, and then keeps the element-wise loop scalar.
#[inline(always)]
fn block_axpy<T: Element, const N: usize>(dst: &mut [T], src: &[T], coef: T) {
    let mut d: [T; N] = dst[..N].try_into().unwrap_or_else(|_| unreachable!());
    let s: [T; N] = src[..N].try_into().unwrap_or_else(|_| unreachable!());
    for l in 0..N {
        d[l] = coef.mul_add(s[l], d[l]);
    }
    dst[..N].copy_from_slice(&d);
}

/// `dst[i] = src[i]` over the shorter of the two, in registers: runs are short, and a
/// call to `memcpy` per run costs as much as the copy.
#[inline(always)]
pub(crate) fn copy<T: Element>(dst: &mut [T], src: &[T]) {
    let n = dst.len().min(src.len());
    let whole = n - n % LANES;
    for (d, s) in dst[..whole]
        .chunks_exact_mut(LANES)
        .zip(src[..whole].chunks_exact(LANES))
    {
        let block: [T; LANES] = s.try_into().unwrap_or_else(|_| unreachable!());
        d.copy_from_slice(&block);
    }
    for (d, &s) in dst[whole..n].iter_mut().zip(&src[whole..n]) {
        *d = s;
    }
}

/// `dst[i] = src[i] + b` over the shorter of the two, in registers like [`copy`].
#[inline(always)]
pub(crate) fn copy_add<T: Element>(dst: &mut [T], src: &[T], b: T) {
    let n = dst.len().min(src.len());
    let whole = n - n % LANES;
    for (d, s) in dst[..whole]
        .chunks_exact_mut(LANES)
        .zip(src[..whole].chunks_exact(LANES))
    {
        let mut block: [T; LANES] = s.try_into().unwrap_or_else(|_| unreachable!());
        for v in &mut block {
            *v = *v + b;
        }
        d.copy_from_slice(&block);
    }
    for (d, &s) in dst[whole..n].iter_mut().zip(&src[whole..n]) {
        *d = s + b;
    }
}

/// `dst[i] += src[i]` over the shorter of the two.
#[inline(always)]
pub(crate) fn add<T: Element>(dst: &mut [T], src: &[T]) {
    let n = dst.len().min(src.len());
    let whole = n - n % LANES;
    for (d, s) in dst[..whole]
        .chunks_exact_mut(LANES)
        .zip(src[..whole].chunks_exact(LANES))
    {
        let mut block: [T; LANES] = d.try_into().unwrap_or_else(|_| unreachable!());
        let s: [T; LANES] = s.try_into().unwrap_or_else(|_| unreachable!());
        for l in 0..LANES {
            block[l] = block[l] + s[l];
        }
        d.copy_from_slice(&block);
    }
    for (d, &s) in dst[whole..n].iter_mut().zip(&src[whole..n]) {
        *d = *d + s;
    }
}

/// `sum_i a[i] * b[i]` over the shorter of the two, summed in [`LANES`] partial sums
/// (a fixed order, whatever the CPU or the thread).
#[inline(always)]
pub(crate) fn dot<T: Element>(a: &[T], b: &[T]) -> T {
    let n = a.len().min(b.len());
    let whole = n - n % LANES;
    let mut partial = [T::zero(); LANES];
    for (x, y) in a[..whole]
        .chunks_exact(LANES)
        .zip(b[..whole].chunks_exact(LANES))
    {
        let x: [T; LANES] = x.try_into().unwrap_or_else(|_| unreachable!());
        let y: [T; LANES] = y.try_into().unwrap_or_else(|_| unreachable!());
        for l in 0..LANES {
            partial[l] = x[l].mul_add(y[l], partial[l]);
        }
    }
    let mut sum = partial.iter().fold(T::zero(), |s, &p| s + p);
    for (&x, &y) in a[whole..n].iter().zip(&b[whole..n]) {
        sum = sum + x * y;
    }
    sum
}

/// `sum_i a[i]`, summed in [`LANES`] partial sums (a fixed order, as [`dot`]).
#[inline(always)]
pub(crate) fn sum<T: Element>(a: &[T]) -> T {
    let whole = a.len() - a.len() % LANES;
    let mut partial = [T::zero(); LANES];
    for x in a[..whole].chunks_exact(LANES) {
        let x: [T; LANES] = x.try_into().unwrap_or_else(|_| unreachable!());
        for l in 0..LANES {
            partial[l] = partial[l] + x[l];
        }
    }
    let sum = partial.iter().fold(T::zero(), |s, &p| s + p);
    a[whole..].iter().fold(sum, |s, &x| s + x)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_and_tails_match_the_plain_loops() {
        for n in [0, 1, 15, 16, 17, 56, 64, 100] {
            let src: Vec<f64> = (0..n).map(|i| (i % 7) as f64 - 2.5).collect();
            let mut dst: Vec<f64> = (0..n + 3).map(|i| i as f64).collect();
            let expected: Vec<f64> = dst
                .iter()
                .enumerate()
                .map(|(i, &d)| if i < n { d + 0.5 * src[i] } else { d })
                .collect();
            axpy(&mut dst, &src, 0.5);
            assert_eq!(dst, expected, "axpy over {n}");
            let mut sum = dst.clone();
            add(&mut sum, &src);
            let added: Vec<f64> = (0..n + 3)
                .map(|i| dst[i] + src.get(i).unwrap_or(&0.0))
                .collect();
            assert_eq!(sum, added, "add over {n}");
            let mut copied = dst.clone();
            copy(&mut copied, &src);
            assert_eq!(&copied[..n], &src[..], "copy over {n}");
            assert_eq!(&copied[n..], &dst[n..], "copy over {n}");
            let mut shifted = dst.clone();
            copy_add(&mut shifted, &src, 0.25);
            let plus: Vec<f64> = src.iter().map(|s| s + 0.25).collect();
            assert_eq!(&shifted[..n], &plus[..], "copy_add over {n}");
            assert_eq!(&shifted[n..], &dst[n..], "copy_add over {n}");
            // Small integers: every summation order gives the exact sum.
            let plain: f64 = src.iter().zip(&dst).map(|(a, b)| a * b).sum();
            assert_eq!(dot(&src, &dst), plain, "dot over {n}");
            assert_eq!(super::sum(&src), src.iter().sum::<f64>(), "sum over {n}");
        }
    }
}
