//! Shapes whose tensors cannot be allocated (more bytes than `isize::MAX`, so the
//! outcome is the same on every machine) are `TooLarge` errors from the generated
//! functions, never a panic or an abort: a gradient asked for by shape alone, a huge
//! zero-stride (broadcast) operand that would have to be copied, and the zero bias of
//! an output with a huge but empty axis.

use conv_kernels::{conv_kernel, Kernel, ShapeError};
use ndarray::{Array, ArrayD, ArrayView, IxDyn};

conv_kernel! {
    pub reduce(a) = "ij->i" { dtype f64; }
    pub conv1d(x, weight) = "nclk,dck->ndl" { unfold x.l by k; bias d; dtype f64; }
}

fn too_large(operand: &str, shape: &[usize]) -> ShapeError {
    ShapeError::TooLarge {
        operand: operand.into(),
        what: format!("a tensor of shape {shape:?}"),
    }
}

const HUGE: usize = 1 << 61;

#[test]
fn gradient_of_a_huge_shape() {
    let grad_y = Array::<f64, _>::zeros(2);
    let got = reduce::grad_a([2, HUGE], &grad_y).map(drop);
    assert_eq!(got, Err(too_large("grad_a", &[2, HUGE])));
    let got = reduce::grad_a([2, usize::MAX / 2], &grad_y).map(drop);
    assert_eq!(got, Err(too_large("grad_a", &[2, usize::MAX / 2])));
}

#[test]
fn huge_broadcast_operand() {
    let one = [1.0f64];
    let one = ArrayView::from(&one[..]);
    let a = one.broadcast((1, HUGE)).unwrap();
    assert_eq!(
        reduce::forward(a).map(drop),
        Err(too_large("a", &[1, HUGE]))
    );
    let got = reduce::Kernel.forward_dyn(&[a.into_dyn()], None).map(drop);
    assert_eq!(got, Err(too_large("a", &[1, HUGE])));
}

/// No batch and no channels: every tensor is empty but the (implicit, zero) bias.
#[test]
fn zero_bias_of_a_huge_axis() {
    let x = ArrayD::<f64>::zeros(IxDyn(&[0, 0, 5]));
    let weight = ArrayD::<f64>::zeros(IxDyn(&[HUGE, 0, 3]));
    let got = conv1d::Kernel.forward_dyn(&[x.view(), weight.view()], None);
    assert_eq!(got.map(drop), Err(too_large("bias", &[HUGE])));
}
