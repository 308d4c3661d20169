//! The one call into the `gemm` crate, behind a safe, bounds-checked signature.

use crate::Element;

/// A matrix inside a slice: element `(i, j)` is `data[i * rows + j * cols]`.
#[derive(Clone, Copy)]
pub(crate) struct Matrix<'a, T> {
    pub data: &'a [T],
    pub rows: usize,
    pub cols: usize,
}

pub(crate) struct MatrixMut<'a, T> {
    pub data: &'a mut [T],
    pub rows: usize,
    pub cols: usize,
}

/// The largest offset an `m x n` matrix with these strides reads, if it has elements.
fn last_offset(m: usize, n: usize, rows: usize, cols: usize) -> Option<usize> {
    if m == 0 || n == 0 {
        return None;
    }
    (m - 1)
        .checked_mul(rows)?
        .checked_add((n - 1).checked_mul(cols)?)
}

fn fits(m: usize, n: usize, rows: usize, cols: usize, len: usize) -> bool {
    m == 0 || n == 0 || last_offset(m, n, rows, cols).is_some_and(|last| last < len)
}

/// `dst (m x n) = [dst +] lhs (m x k) * rhs (k x n)`, on `threads` threads.
///
/// Panics (a bug in the caller, never undefined behaviour) if a matrix does not lie
/// inside its slice.
#[allow(clippy::too_many_arguments)]
pub(crate) fn gemm<T: Element>(
    (m, n, k): (usize, usize, usize),
    dst: MatrixMut<'_, T>,
    accumulate: bool,
    lhs: Matrix<'_, T>,
    rhs: Matrix<'_, T>,
    threads: usize,
) {
    assert!(
        fits(m, n, dst.rows, dst.cols, dst.data.len()),
        "gemm: dst out of bounds"
    );
    assert!(
        fits(m, k, lhs.rows, lhs.cols, lhs.data.len()),
        "gemm: lhs out of bounds"
    );
    assert!(
        fits(k, n, rhs.rows, rhs.cols, rhs.data.len()),
        "gemm: rhs out of bounds"
    );
    if m == 0 || n == 0 {
        return;
    }
    if k == 0 {
        if !accumulate {
            for i in 0..m {
                for j in 0..n {
                    dst.data[i * dst.rows + j * dst.cols] = T::zero();
                }
            }
        }
        return;
    }
    let stride = |s: usize| isize::try_from(s).expect("strides of in-memory slices fit isize");
    let parallelism = if threads > 1 {
        gemm::Parallelism::Rayon(threads)
    } else {
        gemm::Parallelism::None
    };
    // SAFETY: the asserts above prove that every element of the three matrices lies inside
    // its slice; `dst` is borrowed mutably, so it cannot overlap `lhs` or `rhs`; `T` is f32
    // or f64 (`Element` is implemented for nothing else), which `gemm` supports.
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            dst.data.as_mut_ptr(),
            stride(dst.cols),
            stride(dst.rows),
            accumulate,
            lhs.data.as_ptr(),
            stride(lhs.cols),
            stride(lhs.rows),
            rhs.data.as_ptr(),
            stride(rhs.cols),
            stride(rhs.rows),
            T::one(),
            T::one(),
            false,
            false,
            false,
            parallelism,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn naive(m: usize, n: usize, k: usize, a: &[f64], b: &[f64]) -> Vec<f64> {
        let mut c = vec![0.0; m * n];
        for i in 0..m {
            for j in 0..n {
                c[i * n + j] = (0..k).map(|l| a[i * k + l] * b[l * n + j]).sum();
            }
        }
        c
    }

    #[test]
    fn products_match_the_definition_for_every_layout_and_accumulation() {
        let (m, n, k) = (7, 5, 9);
        let a: Vec<f64> = (0..m * k).map(|v| (v % 7) as f64 - 3.0).collect();
        let b: Vec<f64> = (0..k * n).map(|v| (v % 5) as f64 * 0.5).collect();
        let expected = naive(m, n, k, &a, &b);
        // b transposed in memory: element (l, j) at j * k + l.
        let bt: Vec<f64> = (0..n * k).map(|v| b[(v % k) * n + v / k]).collect();
        for threads in [1, 2] {
            let mut c = vec![1.0; m * n];
            let dst = MatrixMut {
                data: &mut c,
                rows: n,
                cols: 1,
            };
            let lhs = Matrix {
                data: &a,
                rows: k,
                cols: 1,
            };
            let rhs = Matrix {
                data: &bt,
                rows: 1,
                cols: k,
            };
            gemm((m, n, k), dst, true, lhs, rhs, threads);
            let got: Vec<f64> = c.iter().map(|v| v - 1.0).collect();
            assert!(got.iter().zip(&expected).all(|(g, e)| (g - e).abs() < 1e-9));
        }
    }

    #[test]
    #[should_panic(expected = "lhs out of bounds")]
    fn a_matrix_outside_its_slice_is_refused() {
        let (a, b, mut c) = (vec![0.0f32; 5], vec![0.0f32; 6], vec![0.0f32; 6]);
        let dst = MatrixMut {
            data: &mut c,
            rows: 3,
            cols: 1,
        };
        gemm(
            (2, 3, 3),
            dst,
            false,
            Matrix {
                data: &a,
                rows: 3,
                cols: 1,
            },
            Matrix {
                data: &b,
                rows: 3,
                cols: 1,
            },
            1,
        );
    }

    #[test]
    fn empty_reductions_zero_or_keep_the_destination() {
        let mut c = vec![5.0f32; 4];
        let dst = MatrixMut {
            data: &mut c,
            rows: 2,
            cols: 1,
        };
        gemm(
            (2, 2, 0),
            dst,
            false,
            Matrix {
                data: &[],
                rows: 0,
                cols: 1,
            },
            Matrix {
                data: &[],
                rows: 2,
                cols: 1,
            },
            1,
        );
        assert_eq!(c, [0.0; 4]);
    }

    // The unsafe call relies on each matrix lying inside its slice (checked below for
    // every matrix, at the exact boundary, and for offsets beyond usize), on strides that
    // fit isize, on `dst` not overlapping `lhs` or `rhs` (a `&mut` borrow: the compiler
    // checks it) and on `T` being f32 or f64 (the gemm crate panics for other types).

    /// `gemm` on (m, n, k) with the given slices and strides, `(rows, cols)` each.
    fn run(
        (m, n, k): (usize, usize, usize),
        (c, c_strides): (&mut [f64], (usize, usize)),
        (a, a_strides): (&[f64], (usize, usize)),
        (b, b_strides): (&[f64], (usize, usize)),
    ) {
        let dst = MatrixMut {
            data: c,
            rows: c_strides.0,
            cols: c_strides.1,
        };
        let lhs = Matrix {
            data: a,
            rows: a_strides.0,
            cols: a_strides.1,
        };
        let rhs = Matrix {
            data: b,
            rows: b_strides.0,
            cols: b_strides.1,
        };
        gemm((m, n, k), dst, false, lhs, rhs, 1);
    }

    #[test]
    fn matrices_ending_on_the_last_element_are_accepted() {
        // 2 x 3 times 3 x 2 with every stride doubled: the last elements are at len - 1.
        let (a, b, mut c) = (vec![1.0; 11], vec![1.0; 11], vec![0.0; 9]);
        run((2, 2, 3), (&mut c, (6, 2)), (&a, (6, 2)), (&b, (4, 2)));
        assert_eq!(c, [3.0, 0.0, 3.0, 0.0, 0.0, 0.0, 3.0, 0.0, 3.0]);
    }

    #[test]
    #[should_panic(expected = "dst out of bounds")]
    fn a_destination_outside_its_slice_is_refused() {
        let (a, b, mut c) = (vec![0.0; 6], vec![0.0; 6], vec![0.0; 5]);
        run((2, 3, 3), (&mut c, (3, 1)), (&a, (3, 1)), (&b, (3, 1)));
    }

    #[test]
    #[should_panic(expected = "rhs out of bounds")]
    fn a_right_operand_outside_its_slice_is_refused() {
        let (a, b, mut c) = (vec![0.0; 6], vec![0.0; 8], vec![0.0; 6]);
        run((2, 3, 3), (&mut c, (3, 1)), (&a, (3, 1)), (&b, (3, 1)));
    }

    #[test]
    #[should_panic(expected = "lhs out of bounds")]
    fn offsets_beyond_usize_are_refused() {
        let (a, b, mut c) = (vec![0.0; 6], vec![0.0; 9], vec![0.0; 6]);
        run(
            (2, 3, 3),
            (&mut c, (3, 1)),
            (&a, (usize::MAX, 1)),
            (&b, (3, 1)),
        );
    }

    #[test]
    #[should_panic(expected = "strides of in-memory slices fit isize")]
    fn strides_beyond_isize_are_refused() {
        // One row: its stride moves no offset, but is still passed to the unsafe call.
        let (a, b, mut c) = (vec![0.0; 3], vec![0.0; 9], vec![0.0; 3]);
        run(
            (1, 3, 3),
            (&mut c, (usize::MAX, 1)),
            (&a, (3, 1)),
            (&b, (3, 1)),
        );
    }
}
