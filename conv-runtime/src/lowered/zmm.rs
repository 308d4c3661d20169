//! Register tiles held in explicit AVX-512 registers.
//!
//! The direct kernels' tiles are written as plain loops over arrays, which LLVM
//! vectorises. In a default build, code dispatched under AVX-512 gets 512-bit vectors:
//! a tile of 6 rows of 64 f32 is 24 zmm registers. With `-C target-cpu=native` on an
//! Intel CPU with AVX-512, LLVM's tuning for that CPU prefers 256-bit vectors, the same
//! tile needs 48 ymm registers, spills, and the direct kernels ran 2x slower (3x3
//! forward 45 against 95 GFLOP/s, measured side by side). Typed 512-bit registers
//! (pulp's `f32x16`, `f64x8`) keep the tile in zmm registers whatever the build prefers.
//! The sums are the same fused multiply-adds in the same order as the plain loops, so
//! the results are bit for bit the same on every path.

use crate::Element;

#[cfg(target_arch = "x86_64")]
pub use pulp::x86::V4 as Token;

/// No AVX-512 off x86-64: a token that is never made.
#[cfg(not(target_arch = "x86_64"))]
#[derive(Clone, Copy)]
pub enum Token {}

/// The AVX-512 token, if this CPU has AVX-512 (F, VL, DQ, BW, CD) and a test has not
/// turned the explicit registers off.
#[inline(always)]
pub(crate) fn token() -> Option<Token> {
    #[cfg(test)]
    if !ENABLED.load(std::sync::atomic::Ordering::Relaxed) {
        return None;
    }
    #[cfg(target_arch = "x86_64")]
    {
        // Detected once: tiles and copy-out rows ask for it by the thousand per call.
        static DETECTED: std::sync::OnceLock<Option<Token>> = std::sync::OnceLock::new();
        *DETECTED.get_or_init(Token::try_new)
    }
    #[cfg(not(target_arch = "x86_64"))]
    None
}

/// Whether kernels may use the explicit registers: a process-wide switch (the kernels
/// run on rayon's threads), which only the test comparing both paths turns off. Both
/// paths give the same bits, so other tests running meanwhile are unaffected.
#[cfg(test)]
pub(crate) static ENABLED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(true);

/// Runs `f` with AVX-512 enabled; `f` must be `#[inline(always)]`.
#[inline(always)]
pub(crate) fn vectorize<R>(token: Token, f: impl FnOnce() -> R) -> R {
    #[cfg(target_arch = "x86_64")]
    return token.vectorize(f);
    #[cfg(not(target_arch = "x86_64"))]
    match token {}
}

/// An element type as lanes of one AVX-512 register. Implemented for `f32` (16 lanes)
/// and `f64` (8); part of [`Element`], so generic kernels can use it.
pub trait Zmm: Copy {
    /// One register of lanes.
    type Reg: Copy;
    /// Lanes per register.
    const LANES: usize;
    /// Every lane `value`.
    fn splat(token: Token, value: Self) -> Self::Reg;
    /// The first [`Self::LANES`] elements of `from`.
    fn load(token: Token, from: &[Self]) -> Self::Reg;
    /// Writes the lanes to the first [`Self::LANES`] elements of `to`.
    fn store(token: Token, to: &mut [Self], value: Self::Reg);
    /// `a * b + c`, one rounding per lane.
    fn fma(token: Token, a: Self::Reg, b: Self::Reg, c: Self::Reg) -> Self::Reg;
    /// Lane `l` of the result is lane `index(l)` of `a` followed by `b` (one
    /// `vpermt2ps`/`vpermt2pd`; `index` is inlined to constants).
    fn permute2(
        token: Token,
        a: Self::Reg,
        b: Self::Reg,
        index: impl Fn(usize) -> usize,
    ) -> Self::Reg;
    /// The first `count` lanes of `new`, the others of `old`.
    fn select_first(token: Token, count: usize, new: Self::Reg, old: Self::Reg) -> Self::Reg;

    /// Four registers holding four values of each of `LANES` items, item by item
    /// (`a0 b0 c0 d0 a1 b1 ...`), as four registers of one value of every item (`a0 a1
    /// ...`, then the `b`s, ...): eight permutes instead of `4 x LANES` scalar moves.
    #[inline(always)]
    fn deinterleave4(token: Token, regs: [Self::Reg; 4]) -> [Self::Reg; 4] {
        let (n, h) = (Self::LANES, Self::LANES / 2);
        // Per pair of registers (`h` items): values `v` and `v + 1`, a half each.
        let pair = |x, y, v: usize| Self::permute2(token, x, y, |l| 4 * (l % h) + v + l / h);
        let (ab_first, cd_first) = (pair(regs[0], regs[1], 0), pair(regs[0], regs[1], 2));
        let (ab_last, cd_last) = (pair(regs[2], regs[3], 0), pair(regs[2], regs[3], 2));
        let low = |l: usize| if l < h { l } else { n + l - h };
        let high = |l: usize| if l < h { l + h } else { n + l };
        [
            Self::permute2(token, ab_first, ab_last, low),
            Self::permute2(token, ab_first, ab_last, high),
            Self::permute2(token, cd_first, cd_last, low),
            Self::permute2(token, cd_first, cd_last, high),
        ]
    }

    /// The inverse of [`Zmm::deinterleave4`].
    #[inline(always)]
    fn interleave4(token: Token, regs: [Self::Reg; 4]) -> [Self::Reg; 4] {
        let (n, h, q) = (Self::LANES, Self::LANES / 2, Self::LANES / 4);
        // Values `v` and `v + 1` of half of the items (`w`), item by item.
        let pair = |x, y, w: usize| Self::permute2(token, x, y, |l| (l % 2) * n + w * h + l / 2);
        let ab = [pair(regs[0], regs[1], 0), pair(regs[0], regs[1], 1)];
        let cd = [pair(regs[2], regs[3], 0), pair(regs[2], regs[3], 1)];
        let out = |v: usize| {
            let index = |l: usize| (l % 4 / 2) * n + 2 * ((v % 2) * q + l / 4) + l % 2;
            Self::permute2(token, ab[v / 2], cd[v / 2], index)
        };
        [out(0), out(1), out(2), out(3)]
    }
}

macro_rules! zmm_for {
    (
        $t:ty, $reg:ident, $lanes:literal, $splat:ident, $fma:ident,
        $raw:ident, $index:ty, $permute:ident, $select:ident, $mask:ident, $bits:ty
    ) => {
        #[cfg(target_arch = "x86_64")]
        impl Zmm for $t {
            type Reg = pulp::$reg;
            const LANES: usize = $lanes;
            #[inline(always)]
            fn splat(token: Token, value: Self) -> Self::Reg {
                token.$splat(value)
            }
            #[inline(always)]
            fn load(_: Token, from: &[Self]) -> Self::Reg {
                let lanes: [Self; $lanes] =
                    from[..$lanes].try_into().unwrap_or_else(|_| unreachable!());
                pulp::bytemuck::cast(lanes)
            }
            #[inline(always)]
            fn store(_: Token, to: &mut [Self], value: Self::Reg) {
                let lanes: [Self; $lanes] = pulp::bytemuck::cast(value);
                to[..$lanes].copy_from_slice(&lanes);
            }
            #[inline(always)]
            fn fma(token: Token, a: Self::Reg, b: Self::Reg, c: Self::Reg) -> Self::Reg {
                token.$fma(a, b, c)
            }
            #[inline(always)]
            fn permute2(
                token: Token,
                a: Self::Reg,
                b: Self::Reg,
                index: impl Fn(usize) -> usize,
            ) -> Self::Reg {
                use pulp::bytemuck::cast;
                let mut lanes = [0 as $index; $lanes];
                for (l, lane) in lanes.iter_mut().enumerate() {
                    *lane = index(l) as $index;
                }
                let r: std::arch::x86_64::$raw = token.avx512f.$permute(
                    cast(a),
                    cast::<_, std::arch::x86_64::__m512i>(lanes),
                    cast(b),
                );
                cast(r)
            }
            #[inline(always)]
            fn select_first(
                token: Token,
                count: usize,
                new: Self::Reg,
                old: Self::Reg,
            ) -> Self::Reg {
                let mask = if count >= $lanes {
                    <$bits>::MAX
                } else {
                    (1 << count) - 1
                };
                token.$select(pulp::$mask(mask), new, old)
            }
        }

        #[cfg(not(target_arch = "x86_64"))]
        impl Zmm for $t {
            type Reg = ();
            const LANES: usize = $lanes;
            fn splat(token: Token, _: Self) -> Self::Reg {
                match token {}
            }
            fn load(token: Token, _: &[Self]) -> Self::Reg {
                match token {}
            }
            fn store(token: Token, _: &mut [Self], _: Self::Reg) {
                match token {}
            }
            fn fma(token: Token, _: Self::Reg, _: Self::Reg, _: Self::Reg) -> Self::Reg {
                match token {}
            }
            fn permute2(
                token: Token,
                _: Self::Reg,
                _: Self::Reg,
                _: impl Fn(usize) -> usize,
            ) -> Self::Reg {
                match token {}
            }
            fn select_first(token: Token, _: usize, _: Self::Reg, _: Self::Reg) -> Self::Reg {
                match token {}
            }
        }
    };
}
zmm_for!(
    f32,
    f32x16,
    16,
    splat_f32x16,
    mul_add_f32x16,
    __m512,
    i32,
    _mm512_permutex2var_ps,
    select_f32x16,
    b16,
    u16
);
zmm_for!(
    f64,
    f64x8,
    8,
    splat_f64x8,
    mul_add_f64x8,
    __m512d,
    i64,
    _mm512_permutex2var_pd,
    select_f64x8,
    b8,
    u8
);

/// Registers per row of a tile: a tile row is at most 128 f32 lanes.
pub(crate) const MAX_REGS: usize = 8;

/// `acc[g][l] += scalars[g] * vectors[l]` for `G` rows of `regs` registers: the step of
/// every register tile (a broadcast of one value per row times shared vectors).
#[inline(always)]
pub(crate) fn broadcast_step<T: Element, const G: usize>(
    token: Token,
    acc: &mut [[T::Reg; MAX_REGS]; G],
    scalars: [T; G],
    vectors: &[T::Reg; MAX_REGS],
    regs: usize,
) {
    for (row, &s) in acc.iter_mut().zip(&scalars) {
        let s = T::splat(token, s);
        for r in 0..regs {
            row[r] = T::fma(token, s, vectors[r], row[r]);
        }
    }
}

/// `regs` registers loaded from `from`, one after the other.
#[inline(always)]
pub(crate) fn load_row<T: Element>(token: Token, from: &[T], regs: usize) -> [T::Reg; MAX_REGS] {
    let mut row = [T::splat(token, T::zero()); MAX_REGS];
    for (r, reg) in row.iter_mut().enumerate().take(regs) {
        *reg = T::load(token, &from[r * T::LANES..]);
    }
    row
}

/// Writes `regs` registers to `to`, one after the other.
#[inline(always)]
pub(crate) fn store_row<T: Element>(
    token: Token,
    to: &mut [T],
    row: &[T::Reg; MAX_REGS],
    regs: usize,
) {
    for (r, reg) in row.iter().enumerate().take(regs) {
        T::store(token, &mut to[r * T::LANES..], *reg);
    }
}

/// `dst[2 i] = dst[2 i] + coef * src[i]`, rounded as those scalar operations are (the
/// product, then the sum): a register of products spread to the even lanes of two by
/// two permutes (zeros added to the odd ones), then the tail one by one (through a copy
/// padded with zeros, the tail's two calls to `memcpy` made the MobileNet layer's
/// grad_x 40% slower). `dst` holds `2 * src.len() - 1` elements.
#[inline(always)]
pub(crate) fn add_every_other<T: Element>(token: Token, dst: &mut [T], src: &[T], coef: T) {
    let n = T::LANES;
    let mut i = 0;
    while i + n <= src.len() && 2 * i + 2 * n <= dst.len() {
        add_spread(token, &mut dst[2 * i..], &src[i..], coef);
        i += n;
    }
    for (j, &s) in src.iter().enumerate().skip(i) {
        dst[2 * j] = dst[2 * j] + coef * s;
    }
}

/// `dst[i] = src[2 i]`: two registers of `src` compressed into one by a permute; the
/// last register of `dst` overlaps the one before (a copy: the overlap is written
/// twice with the same values), and only a `dst` shorter than a register is copied
/// one by one. `src` holds `2 * dst.len() - 1` elements.
#[inline(always)]
pub(crate) fn take_every_other<T: Element>(token: Token, dst: &mut [T], src: &[T]) {
    let n = T::LANES;
    let mut i = 0;
    while i + n <= dst.len() && 2 * i + 2 * n <= src.len() {
        let (low, high) = (
            T::load(token, &src[2 * i..]),
            T::load(token, &src[2 * i + n..]),
        );
        T::store(
            token,
            &mut dst[i..],
            T::permute2(token, low, high, |l| 2 * l),
        );
        i += n;
    }
    if i < dst.len() && dst.len() >= n {
        // The last register: its source ends at `src`'s last element, a single, so its
        // second register is read from `n - 1` on.
        let at = dst.len() - n;
        let (low, high) = (
            T::load(token, &src[2 * at..]),
            T::load(token, &src[2 * at + n - 1..]),
        );
        let index = |l: usize| if 2 * l < n { 2 * l } else { 2 * l + 1 };
        T::store(token, &mut dst[at..], T::permute2(token, low, high, index));
        return;
    }
    for (j, d) in dst.iter_mut().enumerate().skip(i) {
        *d = src[2 * j];
    }
}

/// One register of [`add_every_other`]: `dst[2 l] += coef * src[l]` for every lane `l`.
#[inline(always)]
fn add_spread<T: Element>(token: Token, dst: &mut [T], src: &[T], coef: T) {
    let (n, h) = (T::LANES, T::LANES / 2);
    let (zero, one) = (T::splat(token, T::zero()), T::splat(token, T::one()));
    let products = T::fma(token, T::splat(token, coef), T::load(token, src), zero);
    for half in 0..2 {
        let index = |l: usize| if l % 2 == 0 { half * h + l / 2 } else { n };
        let spread = T::permute2(token, products, zero, index);
        let at = half * n;
        let sum = T::fma(token, T::load(token, &dst[at..]), one, spread);
        T::store(token, &mut dst[at..], sum);
    }
}

/// `dst[i] = src[i] + b` (or `src[i]`) over the shorter of the two: whole registers,
/// then the tail one by one. `v * 1 + b` is `v + b` rounded once, as the plain loops
/// round it.
#[inline(always)]
pub(crate) fn copy_add<T: Element>(token: Token, dst: &mut [T], src: &[T], b: Option<T>) {
    let n = dst.len().min(src.len());
    let whole = n - n % T::LANES;
    let (one, add) = (
        T::splat(token, T::one()),
        T::splat(token, b.unwrap_or(T::zero())),
    );
    for (d, s) in dst[..whole]
        .chunks_exact_mut(T::LANES)
        .zip(src[..whole].chunks_exact(T::LANES))
    {
        let v = T::load(token, s);
        let v = if b.is_some() {
            T::fma(token, v, one, add)
        } else {
            v
        };
        T::store(token, d, v);
    }
    for (d, &s) in dst[whole..n].iter_mut().zip(&src[whole..n]) {
        *d = match b {
            Some(b) => s + b,
            None => s,
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip<T: Element + From<u16> + std::fmt::Debug>(token: Token) {
        let n = T::LANES;
        let items: Vec<T> = (0..4 * n as u16).map(T::from).collect();
        let regs: [T::Reg; 4] = std::array::from_fn(|r| T::load(token, &items[r * n..]));
        let values = T::deinterleave4(token, regs);
        for (v, reg) in values.iter().enumerate() {
            let mut lanes = vec![T::zero(); n];
            T::store(token, &mut lanes, *reg);
            let want: Vec<T> = (0..n).map(|k| T::from((4 * k + v) as u16)).collect();
            assert_eq!(lanes, want, "value {v} of every item");
        }
        let back = T::interleave4(token, values);
        let mut lanes = vec![T::zero(); 4 * n];
        for (r, reg) in back.iter().enumerate() {
            T::store(token, &mut lanes[r * n..], *reg);
        }
        assert_eq!(lanes, items);
    }

    #[test]
    fn deinterleave4_gathers_every_fourth_lane_and_interleave4_undoes_it() {
        let Some(token) = token() else {
            eprintln!("no AVX-512 on this CPU: nothing to test");
            return;
        };
        round_trip::<f32>(token);
        round_trip::<f64>(token);
    }

    fn every_other<T: Element + From<u16> + std::fmt::Debug>(token: Token) {
        let coef = T::from(3) / T::from(7);
        for len in 1..=3 * T::LANES + 3 {
            let src: Vec<T> = (0..len as u16)
                .map(|v| T::from(v + 1) / T::from(9))
                .collect();
            let start: Vec<T> = (0..2 * len as u16 - 1).map(|v| T::from(v + 5)).collect();
            let mut got = start.clone();
            vectorize(token, || add_every_other(token, &mut got, &src, coef));
            let mut want = start;
            for (j, &s) in src.iter().enumerate() {
                want[2 * j] = want[2 * j] + coef * s;
            }
            assert_eq!(got, want, "{len} products");
        }
    }

    fn even_elements<T: Element + From<u16> + std::fmt::Debug>(token: Token) {
        for len in 1..=3 * T::LANES + 3 {
            let src: Vec<T> = (0..2 * len as u16 - 1).map(|v| T::from(v + 1)).collect();
            let mut got = vec![T::zero(); len];
            vectorize(token, || take_every_other(token, &mut got, &src));
            let want: Vec<T> = (0..len as u16).map(|j| T::from(2 * j + 1)).collect();
            assert_eq!(got, want, "{len} elements");
        }
    }

    #[test]
    fn take_every_other_copies_the_even_elements_at_every_length() {
        let Some(token) = token() else {
            eprintln!("no AVX-512 on this CPU: nothing to test");
            return;
        };
        even_elements::<f32>(token);
        even_elements::<f64>(token);
    }

    #[test]
    fn add_every_other_gives_the_scalar_sums_at_every_length() {
        let Some(token) = token() else {
            eprintln!("no AVX-512 on this CPU: nothing to test");
            return;
        };
        every_other::<f32>(token);
        every_other::<f64>(token);
    }
}
