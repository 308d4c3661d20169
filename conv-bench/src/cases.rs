//! The benchmark set: each case's generated kernel and the same convolution for PyTorch.

use conv_runtime::conv_kernel;
use ndarray::{ArrayD, IxDyn};

conv_kernel! {
    tiny(x, weight) = "nchwkj,dckj->ndhw" {
        unfold x.h by k; unfold x.w by j;
        size k = 3, j = 3;
        bias d;
    }
    tutorial(x, weight) = "nchwkj,dckj->ndhw" {
        unfold x.h by k, stride = 2, pad = 2; unfold x.w by j, stride = 2, pad = 2;
        size k = 3, j = 3;
        bias d;
    }
    stem(x, weight) = "nchwkj,dckj->ndhw" {
        unfold x.h by k, stride = 2, pad = 3; unfold x.w by j, stride = 2, pad = 3;
        size k = 7, j = 7;
        bias d;
    }
    conv3x3(x, weight) = "nchwkj,dckj->ndhw" {
        unfold x.h by k, pad = 1; unfold x.w by j, pad = 1;
        size k = 3, j = 3;
        bias d;
    }
    conv3x3_s2(x, weight) = "nchwkj,dckj->ndhw" {
        unfold x.h by k, stride = 2, pad = 1; unfold x.w by j, stride = 2, pad = 1;
        size k = 3, j = 3;
        bias d;
    }
    dilated(x, weight) = "nchwkj,dckj->ndhw" {
        unfold x.h by k, pad = 2, dilation = 2; unfold x.w by j, pad = 2, dilation = 2;
        size k = 3, j = 3;
        bias d;
    }
    pointwise(x, weight) = "nchw,dc->ndhw" {
        bias d;
    }
    // As someone porting from PyTorch declares a 1x1 convolution: weight (d, c, 1, 1).
    pointwise_windows(x, weight) = "nchwkj,dckj->ndhw" {
        unfold x.h by k; unfold x.w by j;
        bias d;
    }
    depthwise_s2(x, weight) = "nchwkj,ckj->nchw" {
        unfold x.h by k, stride = 2, pad = 1; unfold x.w by j, stride = 2, pad = 1;
        size k = 3, j = 3;
        bias c;
    }
    grouped(x, weight) = "ngchwkj,gdckj->ngdhw" {
        unfold x.h by k, pad = 1; unfold x.w by j, pad = 1;
        size k = 3, j = 3;
        bias d;
    }
    depthwise(x, weight) = "nchwkj,ckj->nchw" {
        unfold x.h by k, pad = 1; unfold x.w by j, pad = 1;
        size k = 3, j = 3;
        bias c;
    }
    conv1d(x, weight) = "nclk,dck->ndl" {
        unfold x.l by k, pad = 2;
        size k = 5;
        bias d;
    }
    conv3d(x, weight) = "ncdhwijk,ecijk->nedhw" {
        unfold x.d by i, pad = 1; unfold x.h by j, pad = 1; unfold x.w by k, pad = 1;
        size i = 3, j = 3, k = 3;
        bias e;
    }
    nhwc(x, weight) = "nhwkjc,kjcd->nhwd" {
        unfold x.h by k, pad = 1; unfold x.w by j, pad = 1;
        size k = 3, j = 3;
        bias d;
    }
    // Transposed convolutions: windows on the output, PyTorch's weight (Cin, Cout, kh, kw).
    up_k2s2(x, weight) -> y = "ncij,cdkl->ndijkl" {
        unfold y.i by k, stride = 2; unfold y.j by l, stride = 2;
        size k = 2, l = 2;
        bias d;
    }
    up3x3_s2(x, weight) -> y = "ncij,cdkl->ndijkl" {
        unfold y.i by k, stride = 2, pad = 1, output_padding = 1;
        unfold y.j by l, stride = 2, pad = 1, output_padding = 1;
        size k = 3, l = 3;
        bias d;
    }
    gan4x4_s2(x, weight) -> y = "ncij,cdkl->ndijkl" {
        unfold y.i by k, stride = 2, pad = 1; unfold y.j by l, stride = 2, pad = 1;
        size k = 4, l = 4;
        bias d;
    }
}

/// One benchmark case: shapes, the PyTorch equivalent, and closures running the kernels.
pub struct Case {
    pub name: &'static str,
    pub x: Vec<usize>,
    pub weight: Vec<usize>,
    /// Our output's shape.
    pub y: Vec<usize>,
    /// Multiply-adds of one forward pass, padded taps included (for a transposed
    /// convolution: every input element times every weight it meets, the products that
    /// fall in the cropped padding included).
    pub macs: f64,
    pub torch: Torch,
    pub tiny: bool,
    pub forward: Box<dyn Fn()>,
    pub grad_x: Box<dyn Fn()>,
    pub grad_weight_bias: Box<dyn Fn()>,
    /// The largest error of forward, grad_x and grad_w where they take Winograd's tiles, relative
    /// to the largest value, against the interpreter's f64 sums
    /// ([`crate::accuracy`]); `None` for a pass on another path.
    pub winograd_errors: Box<dyn Fn() -> [Option<f64>; 3]>,
}

/// How PyTorch runs the same convolution (weight in PyTorch's layout).
#[derive(Clone, Debug)]
pub struct Torch {
    /// PyTorch's input shape where it differs from ours (grouped: groups and channels
    /// are one axis there).
    pub x: Option<Vec<usize>>,
    pub dims: usize,
    pub stride: usize,
    pub padding: usize,
    pub dilation: usize,
    pub groups: usize,
    pub channels_last: bool,
    /// `conv_transpose1d/2d/3d` rather than `conv1d/2d/3d`: weight (Cin, Cout / groups,
    /// taps...), and `stride`, `padding` and `dilation` are those of the output's windows.
    pub transposed: bool,
    /// The transposed convolution's `output_padding` (0 for a convolution).
    pub output_padding: usize,
    pub weight: Vec<usize>,
}

impl Torch {
    /// Multiply-adds of one forward pass, padded taps included, given the output's shape
    /// (ours; PyTorch's has as many elements). A convolution's output element sums
    /// in_channels / groups x taps products: PyTorch's weight less its first axis,
    /// whatever our spelling of the weight. A transposed convolution's input element
    /// meets out_channels / groups x taps weights: again PyTorch's weight less its first
    /// axis, times the input's elements.
    pub fn macs(&self, x: &[usize], out: &[usize]) -> f64 {
        let per_element = self.weight[1..].iter().product::<usize>();
        let elements = if self.transposed {
            self.x.as_deref().unwrap_or(x).iter().product::<usize>()
        } else {
            out.iter().product::<usize>()
        };
        (elements * per_element) as f64
    }
}

fn filled(shape: &[usize]) -> ArrayD<f32> {
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    ArrayD::from_shape_simple_fn(IxDyn(shape), || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state >> 40) as f32 / (1u64 << 24) as f32 - 0.5
    })
}

macro_rules! case {
    ($name:literal, $module:ident, $xd:ty, $wd:ty, $x:expr, $w:expr, bias = $bias:expr, $torch:expr, $tiny:expr) => {{
        use $module as k;
        let (x_shape, w_shape): (Vec<usize>, Vec<usize>) = ($x.to_vec(), $w.to_vec());
        let x = filled(&x_shape).into_dimensionality::<$xd>().expect("rank");
        let w = filled(&w_shape).into_dimensionality::<$wd>().expect("rank");
        let x_dims = x.shape().try_into().expect("rank");
        let w_dims = w.shape().try_into().expect("rank");
        let out = k::output_shape(x_dims, w_dims).expect("benchmark shapes fit");
        let out_channels = w_shape[$bias];
        let bias = filled(&[out_channels])
            .into_dimensionality::<ndarray::Ix1>()
            .expect("rank");
        let grad_y = filled(&out).into_dimensionality::<$xd>().expect("rank");
        let torch: Torch = $torch;
        let macs = torch.macs(&x_shape, &out);
        let (x1, w1) = (x.clone(), w.clone());
        let (w2, gy2) = (w.clone(), grad_y.clone());
        let (x_full, w_small) = (x_shape.clone(), w_shape.clone());
        let x_small = crate::accuracy::cropped(&x_shape);
        Case {
            name: $name,
            x: x_shape,
            weight: w_shape,
            y: out.to_vec(),
            macs,
            torch,
            tiny: $tiny,
            forward: Box::new(move || {
                std::hint::black_box(k::forward(&x1, &w1, &bias).expect("fits"));
            }),
            grad_x: Box::new(move || {
                std::hint::black_box(k::grad_x(x_dims, &w2, &gy2).expect("fits"));
            }),
            grad_weight_bias: Box::new(move || {
                std::hint::black_box(k::grad_weight(&x, w_dims, &grad_y).expect("fits"));
                std::hint::black_box(k::grad_bias(&grad_y).expect("fits"));
            }),
            winograd_errors: Box::new(move || {
                winograd_errors!(k, $xd, $wd, [&x_full, &x_small], &w_small, out_channels)
            }),
        }
    }};
}

/// [`Case::winograd_errors`] of kernel module `k` on shapes `x` and `w`.
macro_rules! winograd_errors {
    ($k:ident, $xd:ty, $wd:ty, [$full:expr, $x:expr], $w:expr, $bias_len:expr) => {{
        use crate::accuracy::{error, normal};
        let (full, xs, ws): (&[usize], &[usize], &[usize]) = ($full, $x, $w);
        // The pass takes Winograd's tiles on the benchmark's shapes and on the crop.
        let winograd = |pass: &str| {
            [full, xs].iter().all(|x| {
                conv_runtime::paths::paths($k::facts(), &[x, ws]).is_ok_and(|paths| {
                    paths
                        .iter()
                        .any(|p| p.pass == pass && p.path.starts_with("Winograd"))
                })
            })
        };
        if !["forward", "grad_x", "grad_weight"]
            .into_iter()
            .any(winograd)
        {
            return [None; 3];
        }
        let (x, w) = (normal(xs, 1), normal(ws, 2));
        let interp = conv_runtime::Interpreter::from_program($k::facts().program.clone());
        let ops = [x.view(), w.view()];
        let (xt, wt) = (
            x.clone().into_dimensionality::<$xd>().expect("rank"),
            w.clone().into_dimensionality::<$wd>().expect("rank"),
        );
        let x_dims = xt.shape().try_into().expect("rank");
        let forward = winograd("forward").then(|| {
            let bias = ndarray::Array1::<f32>::zeros($bias_len);
            let got = $k::forward(&xt, &wt, &bias).expect("fits").into_dyn();
            let want = interp
                .forward(&ops, Some(bias.view().into_dyn()))
                .expect("fits");
            error(&got, &want)
        });
        let gy = normal(&interp.output_shape(&[xs, ws]).expect("fits"), 3);
        let gyt = gy.clone().into_dimensionality::<$xd>().expect("rank");
        let backward = || interp.backward(&ops, gy.view()).expect("fits").operands;
        let grad_x = winograd("grad_x").then(|| {
            let got = $k::grad_x(x_dims, &wt, &gyt).expect("fits").into_dyn();
            error(&got, &backward()[0])
        });
        let grad_weight = winograd("grad_weight").then(|| {
            let w_dims = wt.shape().try_into().expect("rank");
            let got = $k::grad_weight(&xt, w_dims, &gyt).expect("fits").into_dyn();
            error(&got, &backward()[1])
        });
        [forward, grad_x, grad_weight]
    }};
}

fn torch(dims: usize, stride: usize, padding: usize, weight: &[usize]) -> Torch {
    Torch {
        x: None,
        dims,
        stride,
        padding,
        dilation: 1,
        groups: 1,
        channels_last: false,
        transposed: false,
        output_padding: 0,
        weight: weight.to_vec(),
    }
}

/// A transposed convolution for PyTorch: weight (Cin, Cout, taps...).
fn transposed(
    dims: usize,
    stride: usize,
    padding: usize,
    output_padding: usize,
    weight: &[usize],
) -> Torch {
    Torch {
        transposed: true,
        output_padding,
        ..torch(dims, stride, padding, weight)
    }
}

/// Every case of the benchmark, in the order of the issue.
#[rustfmt::skip]
pub fn all() -> Vec<Case> {
    use ndarray::{Ix2, Ix3, Ix4, Ix5};
    let dilated_torch = Torch { dilation: 2, ..torch(2, 1, 2, &[64, 64, 3, 3]) };
    let depthwise_torch = Torch { groups: 128, ..torch(2, 1, 1, &[128, 1, 3, 3]) };
    let nhwc_torch = Torch { channels_last: true, ..torch(2, 1, 1, &[64, 64, 3, 3]) };
    let mobilenet_torch = Torch { groups: 144, ..torch(2, 2, 1, &[144, 1, 3, 3]) };
    let resnext_torch = Torch {
        x: Some(vec![8, 128, 56, 56]),
        groups: 32,
        ..torch(2, 1, 1, &[128, 4, 3, 3])
    };
    vec![
        case!("tiny", tiny, Ix4, Ix4, [1, 2, 5, 5], [1, 2, 3, 3], bias = 0, torch(2, 1, 0, &[1, 2, 3, 3]), true),
        case!("tutorial", tutorial, Ix4, Ix4, [2, 3, 5, 5], [4, 3, 3, 3], bias = 0, torch(2, 2, 2, &[4, 3, 3, 3]), true),
        case!("stem", stem, Ix4, Ix4, [1, 3, 224, 224], [64, 3, 7, 7], bias = 0, torch(2, 2, 3, &[64, 3, 7, 7]), false),
        case!("3x3 56", conv3x3, Ix4, Ix4, [8, 64, 56, 56], [64, 64, 3, 3], bias = 0, torch(2, 1, 1, &[64, 64, 3, 3]), false),
        case!("3x3 14", conv3x3, Ix4, Ix4, [8, 256, 14, 14], [256, 256, 3, 3], bias = 0, torch(2, 1, 1, &[256, 256, 3, 3]), false),
        case!("3x3 s2", conv3x3_s2, Ix4, Ix4, [8, 128, 28, 28], [256, 128, 3, 3], bias = 0, torch(2, 2, 1, &[256, 128, 3, 3]), false),
        case!("dilated", dilated, Ix4, Ix4, [8, 64, 56, 56], [64, 64, 3, 3], bias = 0, dilated_torch, false),
        case!("1x1", pointwise, Ix4, Ix2, [8, 256, 14, 14], [64, 256], bias = 0, torch(2, 1, 0, &[64, 256, 1, 1]), false),
        case!("depthwise", depthwise, Ix4, Ix3, [8, 128, 56, 56], [128, 3, 3], bias = 0, depthwise_torch, false),
        case!("conv1d", conv1d, Ix3, Ix3, [16, 64, 1024], [128, 64, 5], bias = 0, torch(1, 1, 2, &[128, 64, 5]), false),
        case!("conv3d", conv3d, Ix5, Ix5, [2, 16, 16, 32, 32], [32, 16, 3, 3, 3], bias = 0, torch(3, 1, 1, &[32, 16, 3, 3, 3]), false),
        case!("nhwc", nhwc, Ix4, Ix4, [8, 56, 56, 64], [3, 3, 64, 64], bias = 3, nhwc_torch, false),
        // Layers of real networks, as a user would run them.
        case!("resnet 3x3 28", conv3x3, Ix4, Ix4, [8, 128, 28, 28], [128, 128, 3, 3], bias = 0, torch(2, 1, 1, &[128, 128, 3, 3]), false),
        case!("resnet 3x3 7", conv3x3, Ix4, Ix4, [8, 512, 7, 7], [512, 512, 3, 3], bias = 0, torch(2, 1, 1, &[512, 512, 3, 3]), false),
        case!("resnet s2 56", conv3x3_s2, Ix4, Ix4, [8, 64, 56, 56], [128, 64, 3, 3], bias = 0, torch(2, 2, 1, &[128, 64, 3, 3]), false),
        case!("1x1 w 28", pointwise_windows, Ix4, Ix4, [8, 256, 28, 28], [128, 256, 1, 1], bias = 0, torch(2, 1, 0, &[128, 256, 1, 1]), false),
        case!("1x1 w 7", pointwise_windows, Ix4, Ix4, [8, 512, 7, 7], [2048, 512, 1, 1], bias = 0, torch(2, 1, 0, &[2048, 512, 1, 1]), false),
        case!("mobilenet dw s2", depthwise_s2, Ix4, Ix3, [8, 144, 56, 56], [144, 3, 3], bias = 0, mobilenet_torch, false),
        case!("resnext g32", grouped, Ix5, Ix5, [8, 32, 4, 56, 56], [32, 4, 4, 3, 3], bias = 1, resnext_torch, false),
        case!("unet 3x3 112", conv3x3, Ix4, Ix4, [2, 128, 112, 112], [64, 128, 3, 3], bias = 0, torch(2, 1, 1, &[64, 128, 3, 3]), false),
        case!("audio conv1d", conv1d, Ix3, Ix3, [1, 128, 16384], [128, 128, 5], bias = 0, torch(1, 1, 2, &[128, 128, 5]), false),
        // Transposed convolutions (F.conv_transpose2d): the original U-Net's
        // up-convolution, a U-Net decoder's 3x3 one, a DCGAN generator's layer.
        case!("unet up k2s2", up_k2s2, Ix4, Ix4, [4, 256, 28, 28], [256, 128, 2, 2], bias = 1, transposed(2, 2, 0, 0, &[256, 128, 2, 2]), false),
        case!("unet up 3x3 s2", up3x3_s2, Ix4, Ix4, [2, 128, 56, 56], [128, 64, 3, 3], bias = 1, transposed(2, 2, 1, 1, &[128, 64, 3, 3]), false),
        case!("gan 4x4 s2", gan4x4_s2, Ix4, Ix4, [16, 256, 16, 16], [256, 128, 4, 4], bias = 1, transposed(2, 2, 1, 0, &[256, 128, 4, 4]), false),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn multiply_adds_count_every_product_once() {
        let cases = all();
        let macs = |name: &str| cases.iter().find(|c| c.name == name).unwrap().macs;
        // Convolutions: output elements x in_channels / groups x taps.
        assert_eq!(macs("stem"), (64 * 112 * 112 * 3 * 7 * 7u64) as f64);
        assert_eq!(macs("1x1"), (8 * 64 * 14 * 14 * 256) as f64);
        assert_eq!(macs("depthwise"), (8 * 128 * 56 * 56 * 9) as f64);
        assert_eq!(macs("nhwc"), (8 * 56 * 56 * 64 * 64 * 9) as f64);
        assert_eq!(macs("resnext g32"), (8 * 128 * 56 * 56 * 4 * 9) as f64);
        // Transposed: input elements x out_channels x taps ...
        assert_eq!(macs("unet up k2s2"), (4 * 256 * 28 * 28 * 128 * 4) as f64);
        assert_eq!(
            macs("gan 4x4 s2"),
            (16 * 256 * 16 * 16 * 128 * 16u64) as f64
        );
        for case in cases.iter().filter(|c| c.torch.transposed) {
            // ... which is the count of the convolution it transposes, from y to x, with
            // the same PyTorch weight: (Cin, Cout) of the one is (Cout, Cin) of the other.
            let adjoint = Torch {
                transposed: false,
                output_padding: 0,
                ..case.torch.clone()
            };
            assert_eq!(case.macs, adjoint.macs(&case.y, &case.x), "{}", case.name);
        }
        let shapes: Vec<_> = cases
            .iter()
            .filter(|c| c.torch.transposed)
            .map(|c| &c.y)
            .collect();
        assert_eq!(
            shapes,
            [&[4, 128, 56, 56], &[2, 64, 112, 112], &[16, 128, 32, 32]]
        );
    }
}
