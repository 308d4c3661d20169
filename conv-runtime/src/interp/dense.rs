//! A dense row-major f64 tensor: what the interpreter computes on, whatever the element
//! type and the strides of the arguments.

use crate::{Element, ShapeError};
use ndarray::{ArrayD, ArrayViewD, IxDyn};

#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Dense {
    pub data: Vec<f64>,
    pub shape: Vec<usize>,
    pub strides: Vec<usize>,
}

impl Dense {
    pub fn zeros(shape: Vec<usize>) -> Self {
        let count = shape.iter().product();
        let strides = row_major_strides(&shape);
        Dense {
            data: vec![0.0; count],
            shape,
            strides,
        }
    }

    /// Copies a view of any strides, in logical (row-major) order.
    pub fn from_view<T: Element>(view: &ArrayViewD<T>) -> Self {
        let shape = view.shape().to_vec();
        Dense {
            data: view.iter().map(|v| v.to_f64()).collect(),
            strides: row_major_strides(&shape),
            shape,
        }
    }

    pub fn into_array<T: Element>(self, name: &str) -> Result<ArrayD<T>, ShapeError> {
        let shape = self.shape.clone();
        let data = self.data.into_iter().map(T::from_f64).collect();
        ArrayD::from_shape_vec(IxDyn(&shape), data).map_err(|_| ShapeError::TooLarge {
            operand: name.to_string(),
            what: format!("a tensor of shape {shape:?}"),
        })
    }
}

fn row_major_strides(shape: &[usize]) -> Vec<usize> {
    let mut strides = vec![1; shape.len()];
    for i in (0..shape.len().saturating_sub(1)).rev() {
        strides[i] = strides[i + 1] * shape[i + 1];
    }
    strides
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
