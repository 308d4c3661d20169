//! Degenerate and huge shapes: zero-length axes give empty results, not panics; shapes
//! whose tensors cannot be allocated (made cheaply from zero-stride views) are errors,
//! never a panic, an abort or an element-by-element copy of the aliased inputs.

mod common;

use common::{broadcast, interp, random};
use conv_runtime::{ShapeError, Wrt};
use ndarray::{ArrayD, IxDyn};

const CONV1D: &str = r#"k(x, w) = "nclk,dck->ndl" { unfold x.l by k; bias d; }"#;

#[test]
fn empty_batch_gives_empty_results() {
    let k = interp(CONV1D);
    let (x, w, b) = (
        random(&[0, 3, 7], 1),
        random(&[4, 3, 3], 2),
        random(&[4], 3),
    );
    let y = k.forward(&[x.view(), w.view()], Some(b.view())).unwrap();
    assert_eq!(y.shape(), [0, 4, 5]);
    let gy = ArrayD::zeros(IxDyn(&[0, 4, 5]));
    let grads = k.backward(&[x.view(), w.view()], gy.view()).unwrap();
    assert_eq!(grads.operands[0].shape(), [0, 3, 7]);
    assert_eq!(grads.operands[1], ArrayD::zeros(IxDyn(&[4, 3, 3])));
    assert_eq!(grads.bias, Some(ArrayD::zeros(IxDyn(&[4]))));
}

/// No input channels: the sum is empty, so y is the bias alone.
#[test]
fn empty_summed_axis_gives_the_bias() {
    let k = interp(CONV1D);
    let (x, w, b) = (
        random(&[1, 0, 7], 1),
        random(&[2, 0, 3], 2),
        random(&[2], 3),
    );
    let y = k.forward(&[x.view(), w.view()], Some(b.view())).unwrap();
    let expected = ArrayD::from_shape_fn(IxDyn(&[1, 2, 5]), |i| b[i[1]]);
    assert_eq!(y, expected);
}

/// An empty input padded with zeros still has windows (of zeros).
#[test]
fn empty_input_with_zero_padding() {
    let k = interp(r#"k(x, w) = "lk,k->l" { unfold x.l by k, pad = 2; }"#);
    let (x, w) = (random(&[0], 1), random(&[3], 2));
    assert_eq!(
        k.forward(&[x.view(), w.view()], None).unwrap(),
        ArrayD::zeros(IxDyn(&[2]))
    );
}

#[test]
fn output_whose_size_overflows_is_an_error() {
    let k = interp(r#"k(a, b, c) = "i,j,k->ijk";"#);
    let one = [1.0f32];
    let v = broadcast(&[1 << 22], &one);
    let err = k
        .forward(&[v.clone(), v.clone(), v.clone()], None)
        .unwrap_err();
    let ShapeError::TooLarge { operand, .. } = &err else {
        panic!("{err:?}")
    };
    assert_eq!(operand, "y");
    assert!(
        err.to_string()
            .starts_with("y: a tensor of shape [4194304, 4194304, 4194304]"),
        "{err}"
    );
    // The unfolded view (out × window) overflows although the output fits.
    let k = interp(r#"k(x, w) = "lk,k->l" { unfold x.l by k; }"#);
    let (x, w) = (broadcast(&[1 << 40], &one), broadcast(&[1 << 30], &one));
    let err = k.forward(&[x, w], None).unwrap_err();
    assert!(
        matches!(&err, ShapeError::TooLarge { operand, .. } if operand == "x"),
        "{err:?}"
    );
    // A padded length beyond usize.
    let k = interp(r#"k(x, w) = "lk,k->l" { unfold x.l by k, pad = (18446744073709551615, 0); }"#);
    let err = k.output_shape(&[&[2], &[1]]).unwrap_err();
    assert!(
        matches!(&err, ShapeError::TooLarge { operand, .. } if operand == "x"),
        "{err:?}"
    );
}

/// Shapes whose element counts fit in isize but whose f64 tensors cannot be allocated:
/// an error, without copying the aliased inputs element by element.
#[test]
fn output_too_large_to_allocate_is_an_error() {
    let one = [1.0f32];
    // 2^55 entries of 8 bytes: beyond any address space.
    let k = interp(r#"k(a, b) = "i,j->ij";"#);
    let (a, b) = (broadcast(&[1 << 27], &one), broadcast(&[1 << 28], &one));
    let err = k.forward(&[a.clone(), b.clone()], None).unwrap_err();
    assert!(
        matches!(&err, ShapeError::TooLarge { operand, .. } if operand == "y"),
        "{err:?}"
    );
    // An operand of 2^62 (aliased) entries reduced to 2^46.
    let k = interp(r#"k(a) = "ij->i";"#);
    let err = k
        .forward(&[broadcast(&[1 << 46, 1 << 16], &one)], None)
        .unwrap_err();
    assert!(matches!(err, ShapeError::TooLarge { .. }), "{err:?}");
    // The gradient of a huge aliased operand cannot be allocated either.
    let k = interp(r#"k(a, b) = "ij,j->j";"#);
    let (a, b) = (broadcast(&[1 << 50, 4], &one), broadcast(&[4], &one));
    let gy = broadcast(&[4], &one);
    let err = k.gradient(Wrt::Operand(0), &[a, b], gy).unwrap_err();
    assert!(
        matches!(&err, ShapeError::TooLarge { operand, .. } if operand == "grad_a"),
        "{err:?}"
    );
}
