//! Buffers of generated code: row-major copies of views, zeroed results, results written
//! into callers' arrays; every allocation that fails is a `TooLarge` error naming the
//! tensor, never an abort.

use crate::{Element, ShapeError};
use ndarray::{Array, ArrayD, ArrayView, ArrayViewD, CowArray, Dimension, IxDyn};
use rayon::iter::ParallelExtend;

/// The elements of a view in row-major order, borrowed when the view already is;
/// `TooLarge` naming the tensor when the copy cannot be allocated (a huge zero-stride
/// view).
pub fn contiguous<'a, T: Clone, D: Dimension>(
    name: &str,
    view: ArrayView<'a, T, D>,
) -> Result<CowArray<'a, T, D>, ShapeError> {
    if view.is_standard_layout() {
        return Ok(CowArray::from(view));
    }
    let mut data = allocate(name, view.shape())?;
    data.extend(view.iter().cloned());
    let array = Array::from_shape_vec(view.raw_dim(), data)
        .unwrap_or_else(|_| unreachable!("as many elements as the view has"));
    Ok(CowArray::from(array))
}

/// The row-major slice of a standard-layout array.
pub fn flat<'a, T, D: Dimension>(array: &'a CowArray<'_, T, D>) -> &'a [T] {
    // `contiguous` made the array standard layout, so it is one slice.
    array
        .as_slice()
        .unwrap_or_else(|| unreachable!("standard layout arrays are contiguous"))
}

/// A zeroed row-major buffer for the tensor `name` of this shape, or `TooLarge`.
fn zeros<T: Element>(name: &str, shape: &[usize]) -> Result<Vec<T>, ShapeError> {
    let data = allocate(name, shape)?;
    // `allocate` reserved room for the product, so it does not overflow.
    Ok(zero_filled(data, shape.iter().product()))
}

/// `data`, emptied, holding `count` zeros (it has room for them).
pub(super) fn zero_filled<T: Element>(mut data: Vec<T>, count: usize) -> Vec<T> {
    /// From this many elements, the zeros are written by every thread of the pool: the
    /// first write to each page faults it in, and with 2 threads, sharing that work made
    /// 3x3 layers' forward and grad_x 2-18% faster (measured side by side; 1 thread:
    /// no change).
    const PARALLEL: usize = 1 << 16;
    data.clear();
    if count >= PARALLEL {
        data.par_extend(rayon::iter::repeat_n(T::zero(), count));
    } else {
        data.resize(count, T::zero());
    }
    data
}

/// The bias's values in order, zeros when there is none, or `TooLarge`.
pub fn bias_values<T: Element>(
    bias: Option<ArrayView<'_, T, ndarray::Ix1>>,
    len: usize,
) -> Result<Vec<T>, ShapeError> {
    match bias {
        Some(bias) => {
            let mut data = allocate("bias", &[len])?;
            data.extend(bias.iter().copied());
            Ok(data)
        }
        None => zeros("bias", &[len]),
    }
}

/// An empty vector with room for exactly the elements of a tensor of this shape; an
/// error rather than a panic or an abort when it cannot be allocated.
pub(super) fn allocate<T>(name: &str, shape: &[usize]) -> Result<Vec<T>, ShapeError> {
    let count = shape.iter().try_fold(1usize, |acc, &n| acc.checked_mul(n));
    let mut data = Vec::new();
    match count.map(|count| data.try_reserve_exact(count)) {
        Some(Ok(())) => Ok(data),
        _ => Err(ShapeError::TooLarge {
            operand: name.to_string(),
            what: format!("a tensor of shape {shape:?}"),
        }),
    }
}

/// The buffer as an array of this shape.
pub fn into_array<T, D: Dimension>(
    name: &str,
    shape: &[usize],
    data: Vec<T>,
) -> Result<Array<T, D>, ShapeError> {
    Array::from_shape_vec(IxDyn(shape), data)
        .ok()
        .and_then(|array| array.into_dimensionality::<D>().ok())
        .ok_or_else(|| ShapeError::TooLarge {
            operand: name.to_string(),
            what: format!("a tensor of shape {shape:?}"),
        })
}

/// A shape of known rank, or the rank error naming the operand.
pub fn fixed_shape<const R: usize>(name: &str, shape: &[usize]) -> Result<[usize; R], ShapeError> {
    shape.try_into().map_err(|_| ShapeError::Rank {
        operand: name.to_string(),
        expected: R,
        actual: shape.len(),
    })
}

/// A dynamic-rank view as one of fixed rank, or the rank error naming the operand.
pub fn into_dim<'a, T, D: Dimension>(
    name: &str,
    view: ArrayViewD<'a, T>,
) -> Result<ArrayView<'a, T, D>, ShapeError> {
    let actual = view.ndim();
    view.into_dimensionality::<D>()
        .map_err(|_| ShapeError::Rank {
            operand: name.to_string(),
            expected: D::NDIM.unwrap_or(actual),
            actual,
        })
}

/// Copies a result into a caller's array after checking its shape.
pub fn write_into<T: Clone, D: Dimension>(
    axes: &[char],
    result: &Array<T, D>,
    out: &mut ndarray::ArrayViewMut<'_, T, D>,
) -> Result<(), ShapeError> {
    // Only dynamic-rank (IxDyn) arrays can differ in rank here; `assign` would panic.
    if out.ndim() != result.ndim() {
        return Err(ShapeError::Rank {
            operand: "out".to_string(),
            expected: result.ndim(),
            actual: out.ndim(),
        });
    }
    for ((&axis, &expected), &actual) in axes.iter().zip(result.shape()).zip(out.shape()) {
        if expected != actual {
            return Err(ShapeError::Extent {
                operand: "out".to_string(),
                axis,
                expected,
                actual,
                because: "the result's extent".into(),
            });
        }
    }
    out.assign(result);
    Ok(())
}

/// A dynamic-rank result as one of fixed rank (of the rank the kernel declares, so the
/// error is never expected).
pub fn fixed_rank<T, D: Dimension>(
    name: &str,
    array: ArrayD<T>,
) -> Result<Array<T, D>, ShapeError> {
    let actual = array.ndim();
    array
        .into_dimensionality::<D>()
        .map_err(|_| ShapeError::Rank {
            operand: name.to_string(),
            expected: D::NDIM.unwrap_or(actual),
            actual,
        })
}

/// The results of every operand, one each.
pub fn exactly<T, const N: usize>(results: Vec<ArrayD<T>>) -> Result<[ArrayD<T>; N], ShapeError> {
    let actual = results.len();
    results.try_into().map_err(|_| ShapeError::OperandCount {
        expected: N,
        actual,
    })
}
