//! Small cases whose expected numbers are worked out by hand in the comments, not by
//! running the program: forward values of every family, and gradients of a strided
//! conv, a padded conv, the bias, the padding modes and matmul.

mod common;

use common::{arr, interp, to_f32};
use conv_runtime::{Interpreter, Wrt};
use ndarray::ArrayD;

fn forward(k: &Interpreter, operands: &[&ArrayD<f64>]) -> ArrayD<f64> {
    let views: Vec<_> = operands.iter().map(|o| o.view()).collect();
    k.forward(&views, None).unwrap()
}

fn gradient(k: &Interpreter, wrt: Wrt, operands: &[&ArrayD<f64>], gy: &ArrayD<f64>) -> ArrayD<f64> {
    let views: Vec<_> = operands.iter().map(|o| o.view()).collect();
    k.gradient(wrt, &views, gy.view()).unwrap()
}

/// conv1d, x = [1, 2, 3, 4, 5], w = [1, 2, -1], bias 10:
/// y[l] = x[l] + 2 x[l+1] - x[l+2] + 10
///   l=0: 1 + 4 - 3 + 10 = 12;  l=1: 2 + 6 - 4 + 10 = 14;  l=2: 3 + 8 - 5 + 10 = 16.
/// grad_bias = sum of grad_y = 1 + 2 + 3 = 6.
#[test]
fn conv1d_with_bias_and_its_gradient() {
    let k = interp(r#"k(x, w) = "nclk,dck->ndl" { unfold x.l by k; bias d; }"#);
    let x = arr(&[1, 1, 5], &[1., 2., 3., 4., 5.]);
    let w = arr(&[1, 1, 3], &[1., 2., -1.]);
    let b = arr(&[1], &[10.]);
    let y = k.forward(&[x.view(), w.view()], Some(b.view())).unwrap();
    assert_eq!(y, arr(&[1, 1, 3], &[12., 14., 16.]));
    let gy = arr(&[1, 1, 3], &[1., 2., 3.]);
    assert_eq!(gradient(&k, Wrt::Bias, &[&x, &w], &gy), arr(&[1], &[6.]));
}

/// Stride 2, window 3 over x = [1, ..., 7] (out = (7 - 3) / 2 + 1 = 3), w = [1, 2, 3]:
/// y[a] = x[2a] + 2 x[2a+1] + 3 x[2a+2]
///   a=0: 1 + 4 + 9 = 14;  a=1: 3 + 8 + 15 = 26;  a=2: 5 + 12 + 21 = 38.
/// grad_y = [1, 10, 100]; grad_x[p] = sum over 2a + k = p of grad_y[a] w[k]:
///   p=0: (0,0) 1;  p=1: (0,1) 2;  p=2: (0,2) 3 + (1,0) 10 = 13;  p=3: (1,1) 20;
///   p=4: (1,2) 30 + (2,0) 100 = 130;  p=5: (2,1) 200;  p=6: (2,2) 300.
/// grad_w[k] = sum_a grad_y[a] x[2a+k]:
///   k=0: 1*1 + 10*3 + 100*5 = 531;  k=1: 2 + 40 + 600 = 642;  k=2: 3 + 50 + 700 = 753.
#[test]
fn strided_conv1d_and_grad_x() {
    let k = interp(r#"k(x, w) = "nclk,dck->ndl" { unfold x.l by k, stride = 2; }"#);
    let x = arr(&[1, 1, 7], &[1., 2., 3., 4., 5., 6., 7.]);
    let w = arr(&[1, 1, 3], &[1., 2., 3.]);
    assert_eq!(forward(&k, &[&x, &w]), arr(&[1, 1, 3], &[14., 26., 38.]));
    let gy = arr(&[1, 1, 3], &[1., 10., 100.]);
    let gx = arr(&[1, 1, 7], &[1., 2., 13., 20., 130., 200., 300.]);
    assert_eq!(gradient(&k, Wrt::Operand(0), &[&x, &w], &gy), gx);
    let gw = arr(&[1, 1, 3], &[531., 642., 753.]);
    assert_eq!(gradient(&k, Wrt::Operand(1), &[&x, &w], &gy), gw);
}

/// 2D, stride 2, window 3×3 over x[h][w] = 5h + w (5×5, out 2×2), two filters:
/// d=0 the identity diagonal: y[a][b] = x[2a][2b] + x[2a+1][2b+1] + x[2a+2][2b+2]
///   = (10a + 2b) + (10a + 2b + 6) + (10a + 2b + 12) = 30a + 6b + 18 → [[18, 24], [48, 54]];
/// d=1 all ones: 9 × the window's centre 5(2a+1) + (2b+1) = 90a + 18b + 54
///   → [[54, 72], [144, 162]].
/// With bias [1, -1] every entry of d=0 gains 1, of d=1 loses 1; grad_y = 1..8 gives
/// grad_bias = [1+2+3+4, 5+6+7+8] = [10, 26].
#[test]
fn conv2d_stride_2_with_bias() {
    let k = interp(
        r#"k(x, w) = "nchwkj,dckj->ndhw" {
            unfold x.h by k, stride = 2; unfold x.w by j, stride = 2; bias d;
        }"#,
    );
    let x = ArrayD::from_shape_fn(vec![1, 1, 5, 5], |i| (5 * i[2] + i[3]) as f64);
    let mut w = vec![0.0; 18];
    w[0] = 1.; // w[0][0][0][0]
    w[4] = 1.; // w[0][0][1][1]
    w[8] = 1.; // w[0][0][2][2]
    w[9..].fill(1.);
    let w = arr(&[2, 1, 3, 3], &w);
    let b = arr(&[2], &[1., -1.]);
    let y = k.forward(&[x.view(), w.view()], Some(b.view())).unwrap();
    let expected = [19., 25., 49., 55., 53., 71., 143., 161.];
    assert_eq!(y, arr(&[1, 2, 2, 2], &expected));
    let gy = arr(&[1, 2, 2, 2], &[1., 2., 3., 4., 5., 6., 7., 8.]);
    assert_eq!(
        gradient(&k, Wrt::Bias, &[&x, &w], &gy),
        arr(&[2], &[10., 26.])
    );
}

/// Zero padding 1 in 1D: x = [1, 2, 3] padded is P = [0, 1, 2, 3, 0]; w = [1, 2, 3]:
/// y[l] = P[l] + 2 P[l+1] + 3 P[l+2]
///   l=0: 0 + 2 + 6 = 8;  l=1: 1 + 4 + 9 = 14;  l=2: 2 + 6 + 0 = 8.
/// grad_w[k] = sum_l grad_y[l] P[l+k] with grad_y = [1, -1, 2]:
///   k=0: 0 - 1 + 4 = 3;  k=1: 1 - 2 + 6 = 5;  k=2: 2 - 3 + 0 = -1.
#[test]
fn zero_padded_conv1d_and_grad_w() {
    let k = interp(r#"k(x, w) = "nclk,dck->ndl" { unfold x.l by k, pad = 1; }"#);
    let x = arr(&[1, 1, 3], &[1., 2., 3.]);
    let w = arr(&[1, 1, 3], &[1., 2., 3.]);
    assert_eq!(forward(&k, &[&x, &w]), arr(&[1, 1, 3], &[8., 14., 8.]));
    let gy = arr(&[1, 1, 3], &[1., -1., 2.]);
    let gw = gradient(&k, Wrt::Operand(1), &[&x, &w], &gy);
    assert_eq!(gw, arr(&[1, 1, 3], &[3., 5., -1.]));
}

/// Zero padding 1 in 2D: x = [[1, 2], [3, 4]], w = [[1, 2, 3], [4, 5, 6], [7, 8, 9]];
/// P[r][c] = x[r-1][c-1], so y[a][b] = sum over x[i][j] w[i+1-a][j+1-b]:
///   y[0][0] = 1·w11 + 2·w12 + 3·w21 + 4·w22 = 5 + 12 + 24 + 36 = 77
///   y[0][1] = 1·w10 + 2·w11 + 3·w20 + 4·w21 = 4 + 10 + 21 + 32 = 67
///   y[1][0] = 1·w01 + 2·w02 + 3·w11 + 4·w12 = 2 + 6 + 15 + 24 = 47
///   y[1][1] = 1·w00 + 2·w01 + 3·w10 + 4·w11 = 1 + 4 + 12 + 20 = 37
/// grad_w with grad_y = 1: grad_w[k][j] = sum_{a,b} P[a+k][b+j]; padded rows a+k for
/// a in {0, 1} hold input rows {0} (k=0), {0, 1} (k=1), {1} (k=2), columns alike:
///   [[x00, x00+x01, x01], [x00+x10, all, x01+x11], [x10, x10+x11, x11]]
///   = [[1, 3, 2], [4, 10, 6], [3, 7, 4]].
#[test]
fn zero_padded_conv2d_and_grad_w() {
    let k = interp(
        r#"k(x, w) = "nchwkj,dckj->ndhw" { unfold x.h by k, pad = 1; unfold x.w by j, pad = 1; }"#,
    );
    let x = arr(&[1, 1, 2, 2], &[1., 2., 3., 4.]);
    let w = arr(&[1, 1, 3, 3], &[1., 2., 3., 4., 5., 6., 7., 8., 9.]);
    assert_eq!(
        forward(&k, &[&x, &w]),
        arr(&[1, 1, 2, 2], &[77., 67., 47., 37.])
    );
    let gy = arr(&[1, 1, 2, 2], &[1.; 4]);
    let gw = arr(&[1, 1, 3, 3], &[1., 3., 2., 4., 10., 6., 3., 7., 4.]);
    assert_eq!(gradient(&k, Wrt::Operand(1), &[&x, &w], &gy), gw);
}

/// Dilation 2, window 2 over x = [1, ..., 6]: span 3, out 4; w = [1, 10]:
/// y[l] = x[l] + 10 x[l+2] → [1 + 30, 2 + 40, 3 + 50, 4 + 60] = [31, 42, 53, 64].
/// grad_x with grad_y = 1: grad_x[p] = sum over l + 2k = p (l < 4) of w[k]:
///   p=0: 1;  p=1: 1;  p=2: 1 + 10;  p=3: 1 + 10;  p=4: 10 (l=4 is no output);  p=5: 10.
#[test]
fn dilated_conv1d_and_grad_x() {
    let k = interp(r#"k(x, w) = "lk,k->l" { unfold x.l by k, dilation = 2; }"#);
    let x = arr(&[6], &[1., 2., 3., 4., 5., 6.]);
    let w = arr(&[2], &[1., 10.]);
    assert_eq!(forward(&k, &[&x, &w]), arr(&[4], &[31., 42., 53., 64.]));
    let gx = gradient(&k, Wrt::Operand(0), &[&x, &w], &arr(&[4], &[1.; 4]));
    assert_eq!(gx, arr(&[6], &[1., 1., 11., 11., 10., 10.]));
}

/// x = [1, 2, 3, 4] padded by 2 on each side, w = [1, 10, 100], so y[l] = P[l] +
/// 10 P[l+1] + 100 P[l+2] reads P[l..l+3] as the digits of y, last first (out 6):
///   zeros     P = [0 0 1 2 3 4 0 0] → 100, 210, 321, 432, 43, 4
///   reflect   P = [3 2 1 2 3 4 3 2] → 123, 212, 321, 432, 343, 234
///   replicate P = [1 1 1 2 3 4 4 4] → 111, 211, 321, 432, 443, 444
///   circular  P = [3 4 1 2 3 4 1 2] → 143, 214, 321, 432, 143, 214
/// grad_y = 1: the gradient of P is gP[q] = sum of w[k] over 0 <= q - k <= 5
///   = [1, 11, 111, 111, 111, 111, 110, 100]; each x[i] sums gP over the q that copy it:
///   zeros     gP[2..6]                        → [111, 111, 111, 111]
///   reflect   x0: q2; x1: q1 q3 q7; x2: q0 q4 q6; x3: q5
///             → [111, 11+111+100, 1+111+110, 111] = [111, 222, 222, 111]
///   replicate x0: q0 q1 q2; x3: q5 q6 q7 → [1+11+111, 111, 111, 111+110+100] = [123, 111, 111, 321]
///   circular  x0: q2 q6; x1: q3 q7; x2: q0 q4; x3: q1 q5
///             → [111+110, 111+100, 1+111, 11+111] = [221, 211, 112, 122]
/// (each gradient but zeros' sums to sum(gP) = 666).
#[test]
fn padding_modes_1d_and_their_gradients() {
    let x = arr(&[4], &[1., 2., 3., 4.]);
    let w = arr(&[3], &[1., 10., 100.]);
    let cases = [
        (
            "zeros",
            [100., 210., 321., 432., 43., 4.],
            [111., 111., 111., 111.],
        ),
        (
            "reflect",
            [123., 212., 321., 432., 343., 234.],
            [111., 222., 222., 111.],
        ),
        (
            "replicate",
            [111., 211., 321., 432., 443., 444.],
            [123., 111., 111., 321.],
        ),
        (
            "circular",
            [143., 214., 321., 432., 143., 214.],
            [221., 211., 112., 122.],
        ),
    ];
    for (mode, y, gx) in cases {
        let k = interp(&format!(
            r#"k(x, w) = "lk,k->l" {{ unfold x.l by k, pad = 2, mode = {mode}; }}"#
        ));
        assert_eq!(forward(&k, &[&x, &w]), arr(&[6], &y), "{mode}");
        let got = gradient(&k, Wrt::Operand(0), &[&x, &w], &arr(&[6], &[1.; 6]));
        assert_eq!(got, arr(&[4], &gx), "{mode}");
    }
}

/// `pad = same` with stride 2 over 6 positions, window 3: out = ceil(6/2) = 3, the
/// windows reach (3-1)·2 + 3 = 7, total pad 1 split as TensorFlow does: lo 0, hi 1.
/// x = [1..6], w = 1: P = [1 2 3 4 5 6 0] → y[a] = P[2a] + P[2a+1] + P[2a+2] = 6, 12, 11.
#[test]
fn same_padding_with_stride_2_pads_the_end() {
    let k = interp(r#"k(x, w) = "lk,k->l" { unfold x.l by k, stride = 2, pad = same; }"#);
    let x = arr(&[6], &[1., 2., 3., 4., 5., 6.]);
    let w = arr(&[3], &[1., 1., 1.]);
    assert_eq!(forward(&k, &[&x, &w]), arr(&[3], &[6., 12., 11.]));
}

/// Sum pooling, window 2 (`size k = 2`), stride 2, no weight: [1+2, 3+4, 5+6].
#[test]
fn sum_pooling_with_a_fixed_window() {
    let k = interp(r#"k(x) = "lk->l" { unfold x.l by k, stride = 2; size k = 2; }"#);
    let x = arr(&[6], &[1., 2., 3., 4., 5., 6.]);
    assert_eq!(forward(&k, &[&x]), arr(&[3], &[3., 7., 11.]));
}

/// Depthwise 2×2 windows over two 3×3 channels, no mixing between channels:
/// channel 0: x = [[1,2,3],[4,5,6],[7,8,9]], w = [[1,0],[0,-1]]:
///   y[a][b] = x[a][b] - x[a+1][b+1] = -4 everywhere (x grows by 4 along the diagonal);
/// channel 1: x = [[1,0,2],[0,3,0],[4,0,5]], w = 1: window sums
///   [[1+0+0+3, 0+2+3+0], [0+3+4+0, 3+0+0+5]] = [[4, 5], [7, 8]].
#[test]
fn depthwise_conv2d() {
    let k = interp(r#"k(x, w) = "nchwkj,ckj->nchw" { unfold x.h by k; unfold x.w by j; }"#);
    let x = arr(
        &[1, 2, 3, 3],
        &[
            1., 2., 3., 4., 5., 6., 7., 8., 9., 1., 0., 2., 0., 3., 0., 4., 0., 5.,
        ],
    );
    let w = arr(&[2, 2, 2], &[1., 0., 0., -1., 1., 1., 1., 1.]);
    let y = arr(&[1, 2, 2, 2], &[-4., -4., -4., -4., 4., 5., 7., 8.]);
    assert_eq!(forward(&k, &[&x, &w]), y);
}

/// [[1,2,3],[4,5,6]] · [[7,8],[9,10],[11,12]]
///   = [[7+18+33, 8+20+36], [28+45+66, 32+50+72]] = [[58, 64], [139, 154]].
/// grad_y = 1: grad_a[i][k] = sum_j b[k][j] = [15, 19, 23] in every row;
///             grad_b[k][j] = sum_i a[i][k] = [5, 7, 9] down every column.
/// (einsum-derive 0.1.0 assigns where it must accumulate and gets the forward wrong.)
#[test]
fn matmul_and_both_gradients() {
    let k = interp(r#"k(a, b) = "ik,kj->ij";"#);
    let a = arr(&[2, 3], &[1., 2., 3., 4., 5., 6.]);
    let b = arr(&[3, 2], &[7., 8., 9., 10., 11., 12.]);
    assert_eq!(
        forward(&k, &[&a, &b]),
        arr(&[2, 2], &[58., 64., 139., 154.])
    );
    let gy = arr(&[2, 2], &[1.; 4]);
    let ga = arr(&[2, 3], &[15., 19., 23., 15., 19., 23.]);
    let gb = arr(&[3, 2], &[5., 5., 7., 7., 9., 9.]);
    assert_eq!(gradient(&k, Wrt::Operand(0), &[&a, &b], &gy), ga);
    assert_eq!(gradient(&k, Wrt::Operand(1), &[&a, &b], &gy), gb);
}

/// [[1,2,3],[4,5,6]] transposed is [[1,4],[2,5],[3,6]]; its gradient transposes back.
#[test]
fn transpose_and_its_gradient() {
    let k = interp(r#"k(a) = "ij->ji";"#);
    let a = arr(&[2, 3], &[1., 2., 3., 4., 5., 6.]);
    let t = arr(&[3, 2], &[1., 4., 2., 5., 3., 6.]);
    assert_eq!(forward(&k, &[&a]), t);
    assert_eq!(gradient(&k, Wrt::Operand(0), &[&a], &t), a);
}

/// A = [[1,2],[3,4]], B = [[0,1],[1,0]] (swaps columns), C = [[1,1],[0,2]]:
/// AB = [[2,1],[4,3]]; ABC = [[2·1 + 1·0, 2·1 + 1·2], [4·1 + 3·0, 4·1 + 3·2]] = [[2,4],[4,10]].
/// grad_y = [[1,0],[0,0]]: grad_B[b][c] = sum_{a,d} A[a][b] gy[a][d] C[c][d] = A[0][b] C[c][0]
///   = [[1·1, 1·0], [2·1, 2·0]] = [[1, 0], [2, 0]].
#[test]
fn three_operand_chain_and_middle_gradient() {
    let k = interp(r#"k(a, b, c) = "ab,bc,cd->ad";"#);
    let a = arr(&[2, 2], &[1., 2., 3., 4.]);
    let b = arr(&[2, 2], &[0., 1., 1., 0.]);
    let c = arr(&[2, 2], &[1., 1., 0., 2.]);
    assert_eq!(forward(&k, &[&a, &b, &c]), arr(&[2, 2], &[2., 4., 4., 10.]));
    let gy = arr(&[2, 2], &[1., 0., 0., 0.]);
    let gb = gradient(&k, Wrt::Operand(1), &[&a, &b, &c], &gy);
    assert_eq!(gb, arr(&[2, 2], &[1., 0., 2., 0.]));
}

/// The strided conv1d and matmul above in f32 (every value is an integer below 2^24,
/// so exact in f32), forward and backward.
#[test]
fn f32_path_gives_the_same_numbers() {
    let k = interp(r#"k(x, w) = "nclk,dck->ndl" { unfold x.l by k, stride = 2; bias d; }"#);
    let x = to_f32(&arr(&[1, 1, 7], &[1., 2., 3., 4., 5., 6., 7.]));
    let w = to_f32(&arr(&[1, 1, 3], &[1., 2., 3.]));
    let b = to_f32(&arr(&[1], &[0.5]));
    let y = k.forward(&[x.view(), w.view()], Some(b.view())).unwrap();
    assert_eq!(y, to_f32(&arr(&[1, 1, 3], &[14.5, 26.5, 38.5])));
    let gy = to_f32(&arr(&[1, 1, 3], &[1., 10., 100.]));
    let grads = k.backward(&[x.view(), w.view()], gy.view()).unwrap();
    let gx = [1., 2., 13., 20., 130., 200., 300.];
    assert_eq!(grads.operands[0], to_f32(&arr(&[1, 1, 7], &gx)));
    assert_eq!(
        grads.operands[1],
        to_f32(&arr(&[1, 1, 3], &[531., 642., 753.]))
    );
    assert_eq!(grads.bias, Some(to_f32(&arr(&[1], &[111.]))));

    let m = interp(r#"k(a, b) = "ik,kj->ij";"#);
    let a = to_f32(&arr(&[2, 3], &[1., 2., 3., 4., 5., 6.]));
    let b = to_f32(&arr(&[3, 2], &[7., 8., 9., 10., 11., 12.]));
    let y = m.forward(&[a.view(), b.view()], None).unwrap();
    assert_eq!(y, to_f32(&arr(&[2, 2], &[58., 64., 139., 154.])));
}
