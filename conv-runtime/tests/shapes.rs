//! Shape validation: every misfit is the right `ShapeError`, whose Display names the
//! operand, the axis, the expected and the actual extent.

mod common;

use common::{interp, random};
use conv_runtime::{Interpreter, ShapeError, Wrt};
use ndarray::{ArrayD, ArrayViewD, IxDyn};

const CONV1D: &str = r#"k(x, w) = "nclk,dck->ndl" { unfold x.l by k; bias d; }"#;

/// Runs the forward pass on arrays of these shapes (zeros) and returns its error.
fn forward_err(k: &Interpreter, shapes: &[&[usize]]) -> ShapeError {
    let arrays: Vec<ArrayD<f64>> = shapes.iter().map(|s| ArrayD::zeros(IxDyn(s))).collect();
    let views: Vec<ArrayViewD<f64>> = arrays.iter().map(|a| a.view()).collect();
    let err = k.forward(&views, None).unwrap_err();
    assert_eq!(
        k.output_shape(shapes).unwrap_err(),
        err,
        "output_shape agrees"
    );
    err
}

#[test]
fn wrong_rank() {
    let err = forward_err(&interp(CONV1D), &[&[2, 7], &[4, 3, 3]]);
    let expected = ShapeError::Rank {
        operand: "x".into(),
        expected: 3,
        actual: 2,
    };
    assert_eq!(err, expected);
    assert_eq!(err.to_string(), "x: expected 3 axes, got 2");
}

#[test]
fn channel_count_differs_between_operands() {
    let err = forward_err(&interp(CONV1D), &[&[1, 3, 7], &[4, 2, 3]]);
    let expected = ShapeError::Extent {
        operand: "w".into(),
        axis: 'c',
        expected: 3,
        actual: 2,
        because: "as x.c".into(),
    };
    assert_eq!(err, expected);
    assert_eq!(
        err.to_string(),
        "w: axis 'c' has extent 2, expected 3 (as x.c)"
    );
}

/// An axis that is both an unfold's output and a plain axis of another operand.
#[test]
fn unfolded_length_differs_from_another_operand() {
    let k = interp(r#"k(a, b, c) = "lk,k,l->l" { unfold a.l by k; }"#);
    let err = forward_err(&k, &[&[6], &[3], &[5]]);
    let ShapeError::Extent {
        operand,
        axis,
        expected,
        actual,
        because,
    } = &err
    else {
        panic!("{err:?}");
    };
    assert_eq!(
        (operand.as_str(), *axis, *expected, *actual),
        ("a", 'l', 5, 4)
    );
    assert!(because.contains("c.l"), "{because}");
    assert!(
        err.to_string()
            .starts_with("a: axis 'l' has extent 4, expected 5"),
        "{err}"
    );
}

#[test]
fn wrong_grad_y() {
    let k = interp(CONV1D);
    let (x, w) = (random(&[1, 3, 7], 1), random(&[4, 3, 3], 2));
    let ops = [x.view(), w.view()];
    let gy = random(&[1, 4, 4], 3);
    let err = k.gradient(Wrt::Operand(0), &ops, gy.view()).unwrap_err();
    let expected = ShapeError::Extent {
        operand: "grad_y".into(),
        axis: 'l',
        expected: 5,
        actual: 4,
        because: "the output's extent".into(),
    };
    assert_eq!(err, expected);
    assert_eq!(
        err.to_string(),
        "grad_y: axis 'l' has extent 4, expected 5 (the output's extent)"
    );
    assert_eq!(k.backward(&ops, gy.view()).unwrap_err(), expected);
    let gy = random(&[4, 5], 3);
    let err = k.backward(&ops, gy.view()).unwrap_err();
    assert_eq!(
        err,
        ShapeError::Rank {
            operand: "grad_y".into(),
            expected: 3,
            actual: 2
        }
    );
}

#[test]
fn wrong_bias_length() {
    let k = interp(CONV1D);
    let (x, w, b) = (
        random(&[1, 3, 7], 1),
        random(&[4, 3, 3], 2),
        random(&[3], 3),
    );
    let err = k
        .forward(&[x.view(), w.view()], Some(b.view()))
        .unwrap_err();
    let ShapeError::Extent {
        operand,
        axis,
        expected,
        actual,
        ..
    } = &err
    else {
        panic!("{err:?}");
    };
    assert_eq!(
        (operand.as_str(), *axis, *expected, *actual),
        ("bias", 'd', 4, 3)
    );
    assert!(
        err.to_string()
            .starts_with("bias: axis 'd' has extent 3, expected 4"),
        "{err}"
    );
}

#[test]
fn window_longer_than_the_padded_input() {
    let k = interp(r#"k(x, w) = "nclk,dck->ndl" { unfold x.l by k, dilation = 2, pad = (1, 0); }"#);
    let err = forward_err(&k, &[&[1, 1, 3], &[1, 1, 3]]);
    let expected = ShapeError::WindowTooLong {
        operand: "x".into(),
        axis: 'l',
        window: 'k',
        span: 5,
        padded: 4,
    };
    assert_eq!(err, expected);
    assert_eq!(
        err.to_string(),
        "x: axis 'l' is 4 long with padding, shorter than the window 'k' spanning 5"
    );
    // One position more and the window fits exactly once.
    assert_eq!(
        k.output_shape(&[&[1, 1, 4], &[1, 1, 3]]).unwrap(),
        [1, 1, 1]
    );
}

#[test]
fn pad_too_large_for_the_mode() {
    // (options, input length, window, mode, pad)
    let cases = [
        ("pad = 2, mode = reflect", 2, 5, "reflect", 2), // reflect needs pad < len
        ("pad = (0, 3), mode = circular", 2, 5, "circular", 3), // circular needs pad <= len
        ("pad = 1, mode = replicate", 0, 1, "replicate", 1), // replicate needs len >= 1
        ("pad = same, mode = reflect", 2, 5, "reflect", 2), // same: window 5 pads 2 + 2
    ];
    for (opts, len, taps, mode_name, pad_value) in cases {
        let k = interp(&format!(
            r#"k(x, w) = "lk,k->l" {{ unfold x.l by k, {opts}; }}"#
        ));
        let err = forward_err(&k, &[&[len], &[taps]]);
        let expected = ShapeError::PadTooLarge {
            operand: "x".into(),
            axis: 'l',
            mode: mode_name,
            pad: pad_value,
            len,
        };
        assert_eq!(err, expected, "{opts}");
        let text = format!(
            "x: axis 'l' of length {len} is too short for {mode_name} padding of {pad_value}"
        );
        assert_eq!(err.to_string(), text);
    }
    // The largest pads each mode allows are fine.
    for (opts, len) in [
        ("pad = 2, mode = reflect", 3),
        ("pad = 3, mode = circular", 3),
    ] {
        let k = interp(&format!(
            r#"k(x, w) = "lk,k->l" {{ unfold x.l by k, {opts}; }}"#
        ));
        assert!(k.output_shape(&[&[len], &[5]]).is_ok(), "{opts}");
    }
}

#[test]
fn empty_window_is_an_error() {
    let err = forward_err(&interp(CONV1D), &[&[1, 3, 7], &[4, 3, 0]]);
    let expected = ShapeError::EmptyWindow {
        operand: "x".into(),
        axis: 'l',
        window: 'k',
    };
    assert_eq!(err, expected);
    assert_eq!(
        err.to_string(),
        "x: the window 'k' over axis 'l' has extent 0, expected at least 1"
    );
}

#[test]
fn fixed_sizes_are_checked() {
    let k = interp(r#"k(x, w) = "nclk,dck->ndl" { unfold x.l by k; size c = 3, l = 8; }"#);
    let err = forward_err(&k, &[&[1, 2, 8], &[4, 2, 3]]);
    let expected = ShapeError::Extent {
        operand: "x".into(),
        axis: 'c',
        expected: 3,
        actual: 2,
        because: "as size c = 3".into(),
    };
    assert_eq!(err, expected);
    assert_eq!(
        err.to_string(),
        "x: axis 'c' has extent 2, expected 3 (as size c = 3)"
    );
    // `size` of an unfolded axis fixes the input length, not the output's.
    let err = forward_err(&k, &[&[1, 3, 6], &[4, 3, 3]]);
    let ShapeError::Extent {
        operand,
        axis,
        expected,
        actual,
        ..
    } = &err
    else {
        panic!("{err:?}");
    };
    assert_eq!(
        (operand.as_str(), *axis, *expected, *actual),
        ("x", 'l', 8, 6)
    );
    assert_eq!(
        k.output_shape(&[&[1, 3, 8], &[4, 3, 3]]).unwrap(),
        [1, 4, 6]
    );
}

#[test]
fn operand_count() {
    let k = interp(CONV1D);
    let err = forward_err(&k, &[&[1, 3, 7]]);
    assert_eq!(
        err,
        ShapeError::OperandCount {
            expected: 2,
            actual: 1
        }
    );
    assert_eq!(err.to_string(), "expected 2 operands, got 1");
    let err = forward_err(&k, &[&[1, 3, 7], &[4, 3, 3], &[4]]);
    assert_eq!(
        err,
        ShapeError::OperandCount {
            expected: 2,
            actual: 3
        }
    );
    // A bias for a kernel without one, the gradient of a third operand or of a missing bias.
    let m = interp(r#"k(a, b) = "ik,kj->ij";"#);
    let (a, b, gy) = (random(&[2, 3], 1), random(&[3, 2], 2), random(&[2, 2], 3));
    let ops = [a.view(), b.view()];
    assert!(matches!(
        m.forward(&ops, Some(random(&[2], 4).view())),
        Err(ShapeError::OperandCount { .. })
    ));
    assert!(m.gradient(Wrt::Operand(2), &ops, gy.view()).is_err());
    assert!(m.gradient(Wrt::Bias, &ops, gy.view()).is_err());
}
