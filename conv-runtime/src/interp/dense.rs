//! A dense (row-major) f64 tensor: what the interpreter computes on, whatever the element
//! type and the strides of the arguments.

use crate::{Element, ShapeError};
use ndarray::{ArrayD, ArrayViewD, Axis, IxDyn};

#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Dense {
    pub data: Vec<f64>,
    pub shape: Vec<usize>,
    /// Row-major, except that a broadcast axis of a copied view has stride 0.
    pub strides: Vec<usize>,
}

impl Dense {
    /// A zero tensor; `TooLarge` naming `name` when it cannot be allocated.
    pub fn zeros(shape: Vec<usize>, name: &str) -> Result<Self, ShapeError> {
        let count = shape.iter().try_fold(1usize, |acc, &n| acc.checked_mul(n));
        let mut data = allocate(count, name, &shape)?;
        data.resize(count.unwrap_or(0), 0.0); // `allocate` succeeded: count is Some
        let strides = row_major_strides(&shape);
        Ok(Dense {
            data,
            shape,
            strides,
        })
    }

    /// Copies a view of any strides, in logical (row-major) order. Axes of stride 0
    /// (broadcasts) are not repeated but keep stride 0, so a huge broadcast view costs
    /// no more than the elements it aliases.
    pub fn from_view<T: Element>(view: &ArrayViewD<T>, name: &str) -> Result<Self, ShapeError> {
        let shape = view.shape().to_vec();
        let broadcast: Vec<bool> = view.strides().iter().map(|&s| s == 0).collect();
        let mut stored = view.view();
        if !shape.contains(&0) {
            for (axis, _) in broadcast.iter().enumerate().filter(|(_, &b)| b) {
                stored.collapse_axis(Axis(axis), 0);
            }
        }
        let mut data = allocate(Some(stored.len()), name, &shape)?;
        data.extend(stored.iter().map(|v| v.to_f64()));
        let mut strides = row_major_strides(stored.shape());
        for (stride, _) in strides.iter_mut().zip(&broadcast).filter(|(_, &b)| b) {
            *stride = 0;
        }
        Ok(Dense {
            data,
            shape,
            strides,
        })
    }

    /// The tensor as an array (of a tensor with row-major strides, as `zeros` makes).
    pub fn into_array<T: Element>(self, name: &str) -> Result<ArrayD<T>, ShapeError> {
        let shape = self.shape.clone();
        let data = self.data.into_iter().map(T::from_f64).collect();
        ArrayD::from_shape_vec(IxDyn(&shape), data).map_err(|_| too_large(name, &shape))
    }
}

/// An empty buffer with room for `count` (`None`: more than usize) f64s, or `TooLarge`
/// when the allocator refuses: never a panic or an abort on a huge request.
fn allocate(count: Option<usize>, name: &str, shape: &[usize]) -> Result<Vec<f64>, ShapeError> {
    let mut data = Vec::new();
    match count.map(|count| data.try_reserve_exact(count)) {
        Some(Ok(())) => Ok(data),
        _ => Err(too_large(name, shape)),
    }
}

fn too_large(name: &str, shape: &[usize]) -> ShapeError {
    ShapeError::TooLarge {
        operand: name.to_string(),
        what: format!("a tensor of shape {shape:?}"),
    }
}

/// Row-major strides of a shape the interpreter holds (allocated, so no overflow).
fn row_major_strides(shape: &[usize]) -> Vec<usize> {
    conv_model::layout::row_major(shape).unwrap_or_else(|| unreachable!("an allocated shape"))
}

/// Visits every point of the box `extents` in row-major order (nothing if one is 0).
pub(crate) fn for_each_point(extents: &[usize], mut visit: impl FnMut(&[usize])) {
    if extents.contains(&0) {
        return;
    }
    let mut point = vec![0; extents.len()];
    loop {
        visit(&point);
        let mut axis = extents.len();
        loop {
            if axis == 0 {
                return;
            }
            axis -= 1;
            point[axis] += 1;
            if point[axis] < extents[axis] {
                break;
            }
            point[axis] = 0;
        }
    }
}
