//! Shapes at the edges, for the generated kernels (as their loop nests and on the GEMM
//! path, on one and three threads: `check_generated!`) and the interpreter: zero-length
//! and length-1 axes, windows longer than the input, padding longer than the window,
//! strides longer than the input, extents near `usize::MAX` on empty tensors, views with
//! negative, stepped, zero and permuted strides, and one buffer passed as two operands.
//! Each gives the interpreter's result (and hand values where they are easy), or the
//! interpreter's `ShapeError` from every generated function; none panics or hangs.
//! Wrong shapes, huge allocations and fixed sizes are in generated_shape_errors.rs and
//! generated_huge_shapes.rs.

mod common;

use common::{assert_same, check_generated, layout, random, Layout, Lcg};
use conv_kernels::{conv_kernel, set_gemm_threshold, Interpreter, ShapeError};
use ndarray::{arr1, s, Array, ArrayD, ArrayView, IxDyn, ShapeBuilder};
use proptest::prelude::*;
use std::time::{Duration, Instant};

conv_kernel! {
    pub conv1d(x, weight) = "nclk,dck->ndl" { unfold x.l by k; bias d; }
    /// Pads longer than small windows, a stride longer than short inputs.
    pub wide(x, weight) = "nclk,dck->ndl" {
        unfold x.l by k, stride = 5, dilation = 2, pad = (4, 7);
        bias d;
    }
    pub far(x, weight) = "nclk,dck->ndl" { unfold x.l by k, stride = 9, pad = 9; bias d; }
    pub same4(x, weight) = "nclk,dck->ndl" { unfold x.l by k, stride = 4, pad = same; bias d; }
    pub reflect(x, weight) = "nclk,dck->ndl" { unfold x.l by k, pad = 3, mode = reflect; bias d; }
    pub replicate(x, weight) = "nclk,dck->ndl" { unfold x.l by k, pad = 6, mode = replicate; bias d; }
    pub circular(x, weight) = "nclk,dck->ndl" { unfold x.l by k, pad = (2, 1), mode = circular; bias d; }
    pub conv2d(x, weight) = "nchwkj,dckj->ndhw" {
        unfold x.h by k, stride = 3, pad = 4;
        unfold x.w by j, stride = 6, dilation = 2, pad = (0, 5);
        size k = 2;
        bias d;
    }

    pub line(x, w) = "lk,k->l" { unfold x.l by k, stride = 10; }
    pub line_max(x, w) = "lk,k->l" { unfold x.l by k, stride = 18446744073709551615; }
    pub padded(x, w) = "lk,k->l" { unfold x.l by k, pad = 3; }
    pub short(x, w) = "lk,k->l" { unfold x.l by k, pad = 1; }
    pub huge_pad(x, w) = "lk,k->l" { unfold x.l by k, pad = (18446744073709551615, 0); }
    pub huge_dilation(x, w) = "lk,k->l" { unfold x.l by k, dilation = 4611686018427387904; }

    pub matmul(a, b) = "ik,kj->ij";
    pub gram(a, b) = "ik,jk->ij";
    pub square(a, b) = "ij,ij->ij";
    pub reduce(a, b) = "ck,k->";
}

/// The interpreter's outcome, and every generated function's, are the same error; or
/// both compute, and `check_generated!` holds the kernel to the interpreter.
macro_rules! check_edge {
    ($m:ident, $x:ident, $w:ident, $b:ident, $rng:expr, $layout:expr) => {{
        let interp = Interpreter::new($m::SOURCE).unwrap();
        let views = [$x.view().into_dyn(), $w.view().into_dyn()];
        match interp.forward(&views, Some($b.view().into_dyn())) {
            Ok(_) => check_generated!($m($x, $w) bias $b, $rng, $layout),
            Err(e) => {
                let e = Err(e);
                assert_eq!($m::forward(&$x, &$w, &$b).map(drop), e);
                let (xs, ws) = ($x.shape().try_into().unwrap(), $w.shape().try_into().unwrap());
                assert_eq!($m::output_shape(xs, ws).map(drop), e);
                let grad_y = Array::<$m::Elem, _>::zeros((0, 0, 0));
                assert_eq!($m::grad_x(xs, &$w, &grad_y).map(drop), e);
                assert_eq!($m::grad_weight(&$x, ws, &grad_y).map(drop), e);
                assert_eq!($m::backward(&$x, &$w, &grad_y).map(drop), e);
            }
        }
    }};
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    /// Every extent from 0 up, windows from 0 taps to longer than the input.
    #[test]
    fn one_dimensional_edges(
        (n, c, d) in (0..3usize, 0..3usize, 0..3usize),
        l in 0..8usize,
        k in 0..10usize,
        (lx, lw, lg) in (layout(), layout(), layout()),
        seed in any::<u64>(),
    ) {
        let rng = &mut Lcg::new(seed);
        let x = random::<f32, _>([n, c, l], lx, rng);
        let weight = random::<f32, _>([d, c, k], lw, rng);
        let b = random::<f32, _>([d], Layout::Standard, rng);
        check_edge!(conv1d, x, weight, b, rng, lg);
        check_edge!(wide, x, weight, b, rng, lg);
        check_edge!(far, x, weight, b, rng, lg);
        check_edge!(same4, x, weight, b, rng, lg);
        check_edge!(reflect, x, weight, b, rng, lg);
        check_edge!(replicate, x, weight, b, rng, lg);
        check_edge!(circular, x, weight, b, rng, lg);
    }

    #[test]
    fn two_dimensional_edges(
        (n, c, d) in (0..3usize, 0..3usize, 0..3usize),
        (h, w) in (0..6usize, 0..9usize),
        j in 0..6usize,
        (lx, lw, lg) in (layout(), layout(), layout()),
        seed in any::<u64>(),
    ) {
        let rng = &mut Lcg::new(seed);
        let x = random::<f32, _>([n, c, h, w], lx, rng);
        let weight = random::<f32, _>([d, c, 2, j], lw, rng);
        let b = random::<f32, _>([d], Layout::Standard, rng);
        let interp = Interpreter::new(conv2d::SOURCE).unwrap();
        let views = [x.view().into_dyn(), weight.view().into_dyn()];
        match interp.forward(&views, Some(b.view().into_dyn())) {
            Ok(_) => check_generated!(conv2d(x, weight) bias b, rng, lg),
            Err(e) => prop_assert_eq!(conv2d::forward(&x, &weight, &b).map(drop), Err(e)),
        }
    }
}

/// Runs `f` as the loop nest and on the GEMM path.
fn both_ways(mut f: impl FnMut()) {
    for threshold in [usize::MAX, 0] {
        set_gemm_threshold(threshold);
        f();
    }
    set_gemm_threshold(1 << 14);
}

fn interp_forward(source: &str, operands: &[ArrayD<f64>]) -> Result<ArrayD<f64>, ShapeError> {
    let views: Vec<_> = operands.iter().map(|a| a.view()).collect();
    Interpreter::new(source).unwrap().forward(&views, None)
}

fn interp_gradient(
    source: &str,
    operands: &[ArrayD<f64>],
    wrt: usize,
    grad_y: &ArrayD<f64>,
) -> ArrayD<f64> {
    let views: Vec<_> = operands.iter().map(|a| a.view()).collect();
    Interpreter::new(source)
        .unwrap()
        .gradient(conv_kernels::Wrt::Operand(wrt), &views, grad_y.view())
        .unwrap()
}

fn dyn1(values: &[f64]) -> ArrayD<f64> {
    arr1(values).into_dyn()
}

/// A stride longer than the input: one window, at the start (also for `usize::MAX`).
#[test]
fn stride_longer_than_the_input() {
    let (x, w) = (arr1(&[1.0f32, 2.0, 3.0]), arr1(&[1.0f32, 10.0]));
    both_ways(|| {
        assert_eq!(line::forward(&x, &w).unwrap(), arr1(&[21.0]));
        assert_eq!(line_max::forward(&x, &w).unwrap(), arr1(&[21.0]));
        let g = line::backward(&x, &w, &arr1(&[1.0])).unwrap();
        assert_eq!((g.x, g.w), (arr1(&[1.0, 10.0, 0.0]), arr1(&[1.0, 2.0])));
        let g = line_max::backward(&x, &w, &arr1(&[1.0])).unwrap();
        assert_eq!((g.x, g.w), (arr1(&[1.0, 10.0, 0.0]), arr1(&[1.0, 2.0])));
    });
    for source in [line::SOURCE, line_max::SOURCE] {
        let ops = [dyn1(&[1.0, 2.0, 3.0]), dyn1(&[1.0, 10.0])];
        assert_eq!(interp_forward(source, &ops).unwrap(), dyn1(&[21.0]));
        let gy = dyn1(&[1.0]);
        assert_eq!(
            interp_gradient(source, &ops, 0, &gy),
            dyn1(&[1.0, 10.0, 0.0])
        );
        assert_eq!(interp_gradient(source, &ops, 1, &gy), dyn1(&[1.0, 2.0]));
    }
}

/// Padding longer than the window: windows wholly in the padding read zeros, and the
/// gradient of the padding goes nowhere.
#[test]
fn padding_longer_than_the_window() {
    let (x, w) = (arr1(&[1.0f32, 2.0]), arr1(&[1.0f32, 10.0]));
    let y = [0.0, 0.0, 10.0, 21.0, 2.0, 0.0, 0.0];
    both_ways(|| {
        assert_eq!(padded::forward(&x, &w).unwrap(), arr1(&y.map(|v| v as f32)));
        let g = padded::backward(&x, &w, &Array::ones(7)).unwrap();
        assert_eq!((g.x, g.w), (arr1(&[11.0, 11.0]), arr1(&[3.0, 3.0])));
    });
    let ops = [dyn1(&[1.0, 2.0]), dyn1(&[1.0, 10.0])];
    assert_eq!(interp_forward(padded::SOURCE, &ops).unwrap(), dyn1(&y));
    let gy = ArrayD::ones(IxDyn(&[7]));
    assert_eq!(
        interp_gradient(padded::SOURCE, &ops, 0, &gy),
        dyn1(&[11.0, 11.0])
    );
    assert_eq!(
        interp_gradient(padded::SOURCE, &ops, 1, &gy),
        dyn1(&[3.0, 3.0])
    );
}

/// A window longer than the input: an error without padding, windows over the padding
/// with it.
#[test]
fn window_longer_than_the_input() {
    let (x, w) = (arr1(&[1.0f32, 2.0]), arr1(&[1.0f32, 10.0, 100.0]));
    let too_long = ShapeError::WindowTooLong {
        operand: "x".into(),
        axis: 'l',
        window: 'k',
        span: 3,
        padded: 2,
    };
    both_ways(|| {
        assert_eq!(line::forward(&x, &w).map(drop), Err(too_long.clone()));
        assert_eq!(short::forward(&x, &w).unwrap(), arr1(&[210.0, 21.0]));
        let g = short::backward(&x, &w, &arr1(&[1.0, 1.0])).unwrap();
        assert_eq!((g.x, g.w), (arr1(&[11.0, 110.0]), arr1(&[1.0, 3.0, 2.0])));
    });
    let ops = [dyn1(&[1.0, 2.0]), dyn1(&[1.0, 10.0, 100.0])];
    assert_eq!(interp_forward(line::SOURCE, &ops), Err(too_long));
    assert_eq!(
        interp_forward(short::SOURCE, &ops).unwrap(),
        dyn1(&[210.0, 21.0])
    );
}

/// Every extent 1: one product plus the bias.
#[test]
fn length_one_everywhere() {
    let x = Array::from_elem((1, 1, 1, 1), 3.0f32);
    let w = Array::from_elem((1, 1, 2, 1), 5.0f32);
    let b = arr1(&[0.5f32]);
    let interp = Interpreter::new(conv2d::SOURCE).unwrap();
    let views = [x.view().into_dyn(), w.view().into_dyn()];
    let expected = interp.forward(&views, Some(b.view().into_dyn())).unwrap();
    both_ways(|| {
        let y = conv2d::forward(&x, &w, &b).unwrap();
        assert_eq!(y.shape(), expected.shape());
        assert_eq!(y.into_dyn(), expected);
    });
    // Along h (pad 4, stride 3) only tap 1 of the second window reads the input.
    assert_eq!(expected.shape(), [1, 1, 3, 1]);
    assert_eq!(
        expected.iter().copied().collect::<Vec<_>>(),
        [0.5, 15.5, 0.5]
    );
    let x = Array::from_elem((1, 1, 1), 3.0f32);
    let w = Array::from_elem((1, 1, 1), 5.0f32);
    both_ways(|| assert_eq!(conv1d::forward(&x, &w, &b).unwrap()[[0, 0, 0]], 15.5));
}

/// An axis of 2^40 on a tensor that is empty along another axis: the generated loop
/// nests ran the empty inner loops 2^40 times (hours), now they return at once, as the
/// interpreter does.
#[test]
fn empty_tensors_with_huge_axes_return_at_once() {
    const HUGE: usize = 1 << 40;
    let start = Instant::now();
    let x = Array::<f32, _>::zeros((0, 0, 5));
    let grad_y = Array::<f32, _>::zeros((0, HUGE, 3));
    both_ways(|| {
        let g = conv1d::grad_weight(&x, [HUGE, 0, 3], &grad_y).unwrap();
        assert_eq!(g.shape(), [HUGE, 0, 3]);
        let weight = Array::<f32, _>::zeros((HUGE, 0, 3));
        let g = conv1d::grad_x([0, 0, 5], &weight, &grad_y).unwrap();
        assert_eq!(g.shape(), [0, 0, 5]);
    });
    let a = Array::<f32, _>::zeros((HUGE, 0));
    let b = Array::<f32, _>::zeros(0);
    both_ways(|| {
        assert_eq!(reduce::forward(&a, &b).unwrap().into_scalar(), 0.0);
        let g = reduce::backward(&a, &b, &ndarray::arr0(1.0)).unwrap();
        assert_eq!((g.a.shape(), g.b.shape()), (&[HUGE, 0][..], &[0][..]));
    });
    // A huge input length on an empty batch: an empty output of huge length.
    let x = Array::<f32, _>::zeros((0, 1, HUGE));
    let w = Array::<f32, _>::zeros((2, 1, 3));
    both_ways(|| {
        let y = wide::forward(&x, &w, &arr1(&[1.0, 2.0])).unwrap();
        assert_eq!(y.shape(), [0, 2, (HUGE + 11 - 5) / 5 + 1]);
    });
    let interp = Interpreter::new(reduce::SOURCE).unwrap();
    let (a, b) = (
        ArrayD::<f64>::zeros(IxDyn(&[HUGE, 0])),
        ArrayD::<f64>::zeros(IxDyn(&[0])),
    );
    let y = interp.forward(&[a.view(), b.view()], None).unwrap();
    assert_eq!(y, ArrayD::zeros(IxDyn(&[])));
    assert!(
        start.elapsed() < Duration::from_secs(10),
        "{:?}",
        start.elapsed()
    );
}

/// A padded length or a window span beyond usize: `TooLarge`, from the generated
/// functions as from the interpreter.
#[test]
fn extents_beyond_usize() {
    let (x, w) = (arr1(&[1.0f32, 2.0]), arr1(&[1.0f32]));
    let too_large = Err(ShapeError::TooLarge {
        operand: "x".into(),
        what: "the padded length of axis 'l'".into(),
    });
    assert_eq!(huge_pad::forward(&x, &w).map(drop), too_large);
    assert_eq!(
        huge_pad::output_shape([2], [1]),
        too_large.clone().map(|()| [0])
    );
    let ops = [dyn1(&[1.0, 2.0]), dyn1(&[1.0])];
    assert_eq!(interp_forward(huge_pad::SOURCE, &ops).map(drop), too_large);
    // Dilation 2^62: two taps span 2^62 + 1 (longer than the input), five overflow.
    let two = arr1(&[1.0f32, 1.0]);
    let expected = Err(ShapeError::WindowTooLong {
        operand: "x".into(),
        axis: 'l',
        window: 'k',
        span: (1 << 62) + 1,
        padded: 2,
    });
    assert_eq!(huge_dilation::forward(&x, &two).map(drop), expected);
    let five = Array::<f32, _>::ones(5);
    assert_eq!(huge_dilation::forward(&x, &five).map(drop), too_large);
    let ops = [dyn1(&[1.0, 2.0]), dyn1(&[1.0; 5])];
    assert_eq!(
        interp_forward(huge_dilation::SOURCE, &ops).map(drop),
        too_large
    );
}

/// Views reversed, stepped, broadcast and permuted along every axis give exactly the
/// results of standard-layout copies, both ways.
#[test]
fn views_of_every_stride() {
    let rng = &mut Lcg::new(11);
    let store = random::<f32, _>([6, 5, 9, 14], Layout::Standard, rng);
    // n reversed, c stepped backwards, h permuted with w, w stepped.
    let x = store
        .slice(s![..;-1, ..;-2, .., 1..;3])
        .permuted_axes([0, 1, 3, 2]);
    let w_store = random::<f32, _>([1, 3, 2, 3], Layout::Standard, rng);
    // A zero stride along d: four output channels of one weight.
    let weight = w_store.broadcast((4, 3, 2, 3)).unwrap();
    let b_store = random::<f32, _>([8], Layout::Standard, rng);
    let b = b_store.slice(s![..;-2]);
    assert!(!x.is_standard_layout() && weight.strides()[0] == 0);
    let (xc, wc, bc) = (x.to_owned(), weight.to_owned(), b.to_owned());
    both_ways(|| {
        let y = conv2d::forward(x, weight, b).unwrap();
        assert_same("forward", &y, &conv2d::forward(&xc, &wc, &bc).unwrap());
        let gy_store = random::<f32, _>(
            [y.shape()[3], y.shape()[2], 4, 6],
            Layout::Standard,
            &mut Lcg::new(3),
        );
        let gy = gy_store.slice(s![.., .., .., ..;-1]).reversed_axes();
        assert_eq!(gy.shape(), y.shape());
        let g = conv2d::backward(x, weight, gy).unwrap();
        let gc = conv2d::backward(&xc, &wc, &gy.to_owned()).unwrap();
        assert_same("grad_x", &g.x, &gc.x);
        assert_same("grad_weight", &g.weight, &gc.weight);
        assert_same("grad_bias", &g.bias, &gc.bias);
    });
}

/// One buffer as two operands, whole or as overlapping views: the kernels only read
/// their operands, so the results are those of separate copies (and of the
/// interpreter). `*_into` cannot alias an operand: `out` is borrowed mutably.
#[test]
fn one_buffer_as_two_operands() {
    let rng = &mut Lcg::new(5);
    let a = random::<f32, _>([24, 24], Layout::Standard, rng);
    let copy = a.clone();
    let interp = Interpreter::new(matmul::SOURCE).unwrap();
    let views = [a.view().into_dyn(), a.view().into_dyn()];
    let expected = interp.forward(&views, None).unwrap();
    let gy = random::<f32, _>([24, 24], Layout::Standard, rng);
    let expected_grads = interp.backward(&views, gy.view().into_dyn()).unwrap();
    both_ways(|| {
        let y = matmul::forward(&a, &a).unwrap();
        assert_same("a a", &y, &matmul::forward(&a, &copy).unwrap());
        assert_close(&y.into_dyn(), &expected);
        let g = matmul::backward(&a, &a, &gy).unwrap();
        let gc = matmul::backward(&a, &copy, &gy).unwrap();
        assert_same("grad a", &g.a, &gc.a);
        assert_same("grad b", &g.b, &gc.b);
        assert_close(&g.a.into_dyn(), &expected_grads.operands[0]);
        assert_close(&g.b.into_dyn(), &expected_grads.operands[1]);
        // x x^T, and the elementwise square.
        let y = gram::forward(&a, &a).unwrap();
        assert_same("gram", &y, &gram::forward(&a, &copy).unwrap());
        let y = square::forward(&a, &a).unwrap();
        assert_same("square", &y, &a.mapv(|v| v * v));
        // Overlapping windows of one buffer.
        let (p, q) = (a.slice(s![0..20, 0..20]), a.slice(s![3..23, 1..21]));
        let y = matmul::forward(p, q).unwrap();
        assert_same(
            "overlap",
            &y,
            &matmul::forward(&p.to_owned(), &q.to_owned()).unwrap(),
        );
    });
    // The convolution of a signal with a window of itself.
    let x = random::<f32, _>([1, 1, 40], Layout::Standard, rng);
    let w = x.slice(s![.., .., 10..15]);
    let b = arr1(&[0.0f32]);
    both_ways(|| {
        let y = conv1d::forward(&x, w, &b).unwrap();
        assert_same(
            "self",
            &y,
            &conv1d::forward(&x.clone(), &w.to_owned(), &b).unwrap(),
        );
    });
}

fn assert_close(actual: &ArrayD<f32>, expected: &ArrayD<f32>) {
    let scale = expected.iter().fold(1.0f32, |m, v| m.max(v.abs()));
    for (a, e) in actual.iter().zip(expected) {
        assert!((a - e).abs() <= 1e-5 * scale, "{a} against {e}");
    }
}

/// Zero-stride views of a single element stand for any shape; the generated kernels read
/// them as copies.
#[test]
fn broadcast_operands() {
    let one = [2.0f32];
    let a = ArrayView::from_shape((3, 4).strides((0, 0)), &one[..]).unwrap();
    let b = ArrayView::from_shape((4, 5).strides((0, 0)), &one[..]).unwrap();
    both_ways(|| {
        assert_eq!(
            matmul::forward(a, b).unwrap(),
            Array::from_elem((3, 5), 16.0)
        );
    });
}
