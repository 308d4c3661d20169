//! `gemm::gemm` for `f32` and `f64` alone.
//!
//! The `gemm` crate's entry point picks the kernels of the element type among gemm-f32,
//! gemm-f64, gemm-c32 and gemm-c64, so depending on it compiles all four, and the complex
//! ones were 31 of the 420 CPU seconds of a clean `cargo build --release --examples`.
//! This crate is that entry point, with the same signature, over gemm-f32 and gemm-f64:
//! conv-runtime depends on it under the name `gemm`, so its calls are unchanged and run
//! the same kernels.

use core::any::TypeId;

pub use gemm_common::Parallelism;

/// `dst := alpha * dst + beta * lhs * rhs` for an `m x n` `dst`, an `m x k` `lhs` and a
/// `k x n` `rhs`, where element `(i, j)` of a matrix is at `i * rs + j * cs` (its row
/// stride and column stride, in elements); `dst` is not read when `read_dst` is false.
/// The `conj_*` flags are accepted for the `gemm` crate's signature and have no effect on
/// real numbers.
///
/// # Safety
///
/// As for `gemm::gemm`: every element of the three matrices must be inside its
/// allocation, `dst` must be valid for writes and not overlap `lhs` or `rhs`, and `lhs`
/// and `rhs` must be valid for reads.
///
/// # Panics
///
/// If `T` is neither `f32` nor `f64`.
#[allow(clippy::too_many_arguments)]
pub unsafe fn gemm<T: 'static>(
    m: usize,
    n: usize,
    k: usize,
    dst: *mut T,
    dst_cs: isize,
    dst_rs: isize,
    read_dst: bool,
    lhs: *const T,
    lhs_cs: isize,
    lhs_rs: isize,
    rhs: *const T,
    rhs_cs: isize,
    rhs_rs: isize,
    alpha: T,
    beta: T,
    conj_dst: bool,
    conj_lhs: bool,
    conj_rhs: bool,
    parallelism: Parallelism,
) {
    let _ = (conj_dst, conj_lhs, conj_rhs);
    let Problem {
        m,
        n,
        k,
        dst,
        lhs,
        rhs,
    } = Problem {
        m,
        n,
        k,
        dst: (dst, dst_cs, dst_rs),
        lhs: (lhs, lhs_cs, lhs_rs),
        rhs: (rhs, rhs_cs, rhs_rs),
    }
    .normalized();
    // SAFETY: `T` is the type whose kernel is called (the `TypeId`s are equal), so the
    // pointer casts and the copies of `alpha` and `beta` change nothing; the matrices are
    // the caller's (which the caller vouches for), transposed or walked from the other
    // end of an axis, which leaves every element where it was.
    unsafe {
        if TypeId::of::<T>() == TypeId::of::<f32>() {
            gemm_f32::gemm::f32::get_gemm_fn()(
                m,
                n,
                k,
                dst.0.cast(),
                dst.1,
                dst.2,
                read_dst,
                lhs.0.cast(),
                lhs.1,
                lhs.2,
                rhs.0.cast(),
                rhs.1,
                rhs.2,
                core::mem::transmute_copy::<T, f32>(&alpha),
                core::mem::transmute_copy::<T, f32>(&beta),
                false,
                false,
                false,
                parallelism,
            )
        } else if TypeId::of::<T>() == TypeId::of::<f64>() {
            gemm_f64::gemm::f64::get_gemm_fn()(
                m,
                n,
                k,
                dst.0.cast(),
                dst.1,
                dst.2,
                read_dst,
                lhs.0.cast(),
                lhs.1,
                lhs.2,
                rhs.0.cast(),
                rhs.1,
                rhs.2,
                core::mem::transmute_copy::<T, f64>(&alpha),
                core::mem::transmute_copy::<T, f64>(&beta),
                false,
                false,
                false,
                parallelism,
            )
        } else {
            panic!("conv-gemm multiplies f32 or f64 matrices only")
        }
    }
}

/// A product's shape and its matrices as (first element, column stride, row stride).
struct Problem<T> {
    m: usize,
    n: usize,
    k: usize,
    dst: (*mut T, isize, isize),
    lhs: (*const T, isize, isize),
    rhs: (*const T, isize, isize),
}

impl<T> Problem<T> {
    /// The same product as the `gemm` crate hands it to the kernels: they prefer a
    /// column-major `dst`, so a row-major one is computed as `dst^T = rhs^T lhs^T`; then
    /// the strides along the rows and columns of `dst` and along the reduction are made
    /// non-negative by starting each such axis from its other end.
    fn normalized(mut self) -> Self {
        if self.dst.1.unsigned_abs() < self.dst.2.unsigned_abs() {
            core::mem::swap(&mut self.m, &mut self.n);
            core::mem::swap(&mut self.dst.1, &mut self.dst.2);
            let (lhs, rhs) = (self.lhs, self.rhs);
            self.lhs = (rhs.0, rhs.2, rhs.1);
            self.rhs = (lhs.0, lhs.2, lhs.1);
        }
        // The offset of an axis's last element. Wrapping pointer arithmetic, as in the
        // `gemm` crate: an operand may have no elements (`k == 0`), and then its pointer
        // is never read.
        let last = |len: usize, stride: isize| (len as isize - 1).wrapping_mul(stride);
        if self.dst.2 < 0 && self.m > 0 {
            self.dst.0 = self.dst.0.wrapping_offset(last(self.m, self.dst.2));
            self.dst.2 = -self.dst.2;
            self.lhs.0 = self.lhs.0.wrapping_offset(last(self.m, self.lhs.2));
            self.lhs.2 = -self.lhs.2;
        }
        if self.dst.1 < 0 && self.n > 0 {
            self.dst.0 = self.dst.0.wrapping_offset(last(self.n, self.dst.1));
            self.dst.1 = -self.dst.1;
            self.rhs.0 = self.rhs.0.wrapping_offset(last(self.n, self.rhs.1));
            self.rhs.1 = -self.rhs.1;
        }
        if self.lhs.1 < 0 && self.k > 0 {
            self.lhs.0 = self.lhs.0.wrapping_offset(last(self.k, self.lhs.1));
            self.lhs.1 = -self.lhs.1;
            self.rhs.0 = self.rhs.0.wrapping_offset(last(self.k, self.rhs.2));
            self.rhs.2 = -self.rhs.2;
        }
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `(first element, column stride, row stride)` of an `rows x cols` matrix stored in
    /// a buffer of `rows * cols` elements, row- or column-major, each axis forwards or
    /// backwards.
    fn layout(
        rows: usize,
        cols: usize,
        column_major: bool,
        flip: (bool, bool),
    ) -> (isize, isize, isize) {
        let (r, c) = (rows as isize, cols as isize);
        let (mut cs, mut rs) = if column_major { (r, 1) } else { (1, c) };
        let mut first = 0;
        if flip.0 && rows > 0 {
            first += (r - 1) * rs;
            rs = -rs;
        }
        if flip.1 && cols > 0 {
            first += (c - 1) * cs;
            cs = -cs;
        }
        (first, cs, rs)
    }

    fn at(buffer: &[f64], (first, cs, rs): (isize, isize, isize), i: usize, j: usize) -> f64 {
        buffer[(first + i as isize * rs + j as isize * cs) as usize]
    }

    #[test]
    fn products_match_the_definition_for_every_layout_type_and_parallelism() {
        let (m, n, k) = (7, 5, 3);
        let lhs: Vec<f64> = (0..m * k).map(|v| v as f64 * 0.5 - 3.0).collect();
        let rhs: Vec<f64> = (0..k * n).map(|v| 2.0 - v as f64 * 0.25).collect();
        let old: Vec<f64> = (0..m * n).map(|v| v as f64).collect();
        for case in 0..1 << 9 {
            let bit = |b: usize| case >> b & 1 == 1;
            let l = layout(m, k, bit(0), (bit(1), bit(2)));
            let r = layout(k, n, bit(3), (false, bit(4)));
            let d = layout(m, n, bit(5), (bit(6), bit(7)));
            let read_dst = bit(8);
            let expected: Vec<Vec<f64>> = (0..m)
                .map(|i| {
                    (0..n)
                        .map(|j| {
                            let product: f64 =
                                (0..k).map(|p| at(&lhs, l, i, p) * at(&rhs, r, p, j)).sum();
                            let old = if read_dst {
                                2.0 * at(&old, d, i, j)
                            } else {
                                0.0
                            };
                            old + 3.0 * product
                        })
                        .collect()
                })
                .collect();
            for parallelism in [Parallelism::None, Parallelism::Rayon(2)] {
                let mut dst = old.clone();
                // SAFETY: `layout` places every element inside its buffer.
                unsafe {
                    gemm(
                        m,
                        n,
                        k,
                        dst.as_mut_ptr().offset(d.0),
                        d.1,
                        d.2,
                        read_dst,
                        lhs.as_ptr().offset(l.0),
                        l.1,
                        l.2,
                        rhs.as_ptr().offset(r.0),
                        r.1,
                        r.2,
                        2.0,
                        3.0,
                        false,
                        false,
                        false,
                        parallelism,
                    );
                }
                let dst32: Vec<f32> = {
                    let to32 = |v: &[f64]| v.iter().map(|&x| x as f32).collect::<Vec<f32>>();
                    let (lhs, rhs, mut dst) = (to32(&lhs), to32(&rhs), to32(&old));
                    // SAFETY: as above.
                    unsafe {
                        gemm(
                            m,
                            n,
                            k,
                            dst.as_mut_ptr().offset(d.0),
                            d.1,
                            d.2,
                            read_dst,
                            lhs.as_ptr().offset(l.0),
                            l.1,
                            l.2,
                            rhs.as_ptr().offset(r.0),
                            r.1,
                            r.2,
                            2.0f32,
                            3.0f32,
                            false,
                            false,
                            false,
                            parallelism,
                        );
                    }
                    dst
                };
                for (i, row) in expected.iter().enumerate() {
                    for (j, &e) in row.iter().enumerate() {
                        assert_eq!(at(&dst, d, i, j), e, "f64, case {case:#b}, ({i}, {j})");
                        let got32 =
                            f64::from(dst32[(d.0 + i as isize * d.2 + j as isize * d.1) as usize]);
                        assert!(
                            (got32 - e).abs() <= 1e-4 * e.abs().max(1.0),
                            "f32, case {case:#b}, ({i}, {j}): {got32} vs {e}"
                        );
                    }
                }
            }
        }
    }

    #[test]
    #[should_panic(expected = "f32 or f64")]
    fn other_types_panic() {
        let (mut dst, src) = ([0i32; 1], [1i32; 1]);
        // SAFETY: 1 x 1 x 1 matrices inside their one-element buffers.
        unsafe {
            gemm(
                1,
                1,
                1,
                dst.as_mut_ptr(),
                1,
                1,
                false,
                src.as_ptr(),
                1,
                1,
                src.as_ptr(),
                1,
                1,
                1,
                1,
                false,
                false,
                false,
                Parallelism::None,
            );
        }
    }
}
