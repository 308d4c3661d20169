//! Row-major order: the one place its strides are computed.

/// Row-major strides of a shape: the last axis has stride 1, each other axis the product
/// of the extents after it. `None` if a stride overflows `usize` (only possible for
/// shapes whose element count overflows too).
pub fn row_major(shape: &[usize]) -> Option<Vec<usize>> {
    let mut strides = vec![1usize; shape.len()];
    for i in (0..shape.len().saturating_sub(1)).rev() {
        strides[i] = strides[i + 1].checked_mul(shape[i + 1])?;
    }
    Some(strides)
}

/// Row-major strides of a shape of rank `R`, without allocating; extents past the end of
/// `shape` count as 1. Wrapping on overflow: callers pass shapes of tensors that exist.
pub fn row_major_array<const R: usize>(shape: &[usize]) -> [usize; R] {
    let mut strides = [1usize; R];
    for i in (0..R.saturating_sub(1)).rev() {
        strides[i] = strides[i + 1].wrapping_mul(shape.get(i + 1).copied().unwrap_or(1));
    }
    strides
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strides_are_products_of_later_extents() {
        assert_eq!(row_major(&[2, 3, 4]), Some(vec![12, 4, 1]));
        assert_eq!(row_major(&[]), Some(vec![]));
        assert_eq!(row_major_array::<3>(&[2, 3, 4]), [12, 4, 1]);
        assert_eq!(row_major(&[2, usize::MAX, 2]), None);
    }
}
