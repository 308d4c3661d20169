//! Gradients through a two-layer model in burn: conv (stride 2, padding 1) -> ReLU -> conv
//! (dilation 2, padding 2) -> sum, both convolutions generated kernels in f64. Every
//! gradient `loss.backward()` gives (input, both weights, both biases) is held to central
//! finite differences of the same model's loss, on Flex and NdArray with autodiff. Then the
//! same model as a `#[derive(Module)]` of two `ConvLayer`s: its parameters' gradients
//! (`GradientsParams`) equal the function's, and burn's optimiser lowers the loss with them.

mod common;

use burn::module::{Module, Param};
use burn::optim::{GradientsParams, SgdConfig};
use burn::tensor::activation::relu;
use burn::tensor::{DType, Device, Tensor};
use common::{devices, random, relative, tensor, to_f64, Values};
use conv_burn::{ConvLayer, ConvLayerConfig};
use conv_runtime::conv_kernel;

conv_kernel! {
    pub first(x, weight) = "nchwkj,dckj->ndhw" {
        unfold x.h by k, stride = 2, pad = 1;
        unfold x.w by j, stride = 2, pad = 1;
        bias d;
        dtype f64;
    }
    pub second(x, weight) = "nchwkj,dckj->ndhw" {
        unfold x.h by k, dilation = 2, pad = 2;
        unfold x.w by j, dilation = 2, pad = 2;
        bias d;
        dtype f64;
    }
}

const X: [usize; 4] = [2, 2, 9, 8];
const W1: [usize; 4] = [3, 2, 3, 3];
const W2: [usize; 4] = [2, 3, 3, 3];

fn loss(inputs: &[Tensor<4>; 3], b1: &Tensor<1>, b2: &Tensor<1>) -> Tensor<1> {
    let [x, w1, w2] = inputs.clone();
    let h: Tensor<4> = conv_burn::apply(first::Kernel, x, w1, Some(b1.clone()));
    let y: Tensor<4> = conv_burn::apply(second::Kernel, relu(h), w2, Some(b2.clone()));
    y.sum()
}

fn value(t: Tensor<1>) -> f64 {
    to_f64(&t)[0]
}

/// Central differences of `f` along every entry of `values`.
fn finite_differences(values: &[f64], f: impl Fn(&[f64]) -> f64) -> Vec<f64> {
    let h = 1e-6;
    (0..values.len())
        .map(|i| {
            let mut v = values.to_vec();
            v[i] += h;
            let up = f(&v);
            v[i] -= 2.0 * h;
            let down = f(&v);
            (up - down) / (2.0 * h)
        })
        .collect()
}

#[test]
fn gradients_match_finite_differences() {
    for (backend, device) in devices() {
        let mut values = Values::new(11);
        let x = values.take(X.iter().product());
        let w1 = values.take(W1.iter().product());
        let w2 = values.take(W2.iter().product());
        let b1 = values.take(3);
        let b2 = values.take(2);
        let t4 = |v: &[f64], s| tensor::<4>(v, s, &device, DType::F64);
        let t1 = |v: &[f64]| tensor::<1>(v, [v.len()], &device, DType::F64);

        let inputs = [t4(&x, X), t4(&w1, W1), t4(&w2, W2)].map(|t| t.require_grad());
        let (tb1, tb2) = (t1(&b1).require_grad(), t1(&b2).require_grad());
        let grads = loss(&inputs, &tb1, &tb2).backward();

        let eval = |x: &[f64], w1: &[f64], w2: &[f64], b1: &[f64], b2: &[f64]| {
            value(loss(&[t4(x, X), t4(w1, W1), t4(w2, W2)], &t1(b1), &t1(b2)))
        };
        let expected = [
            finite_differences(&x, |v| eval(v, &w1, &w2, &b1, &b2)),
            finite_differences(&w1, |v| eval(&x, v, &w2, &b1, &b2)),
            finite_differences(&w2, |v| eval(&x, &w1, v, &b1, &b2)),
            finite_differences(&b1, |v| eval(&x, &w1, &w2, v, &b2)),
            finite_differences(&b2, |v| eval(&x, &w1, &w2, &b1, v)),
        ];
        let actual = [
            to_f64(&inputs[0].grad(&grads).unwrap()),
            to_f64(&inputs[1].grad(&grads).unwrap()),
            to_f64(&inputs[2].grad(&grads).unwrap()),
            to_f64(&tb1.grad(&grads).unwrap()),
            to_f64(&tb2.grad(&grads).unwrap()),
        ];
        for (name, (a, e)) in ["x", "w1", "w2", "b1", "b2"]
            .iter()
            .zip(actual.iter().zip(&expected))
        {
            let error = common::relative_values(a, e);
            println!("{backend}: d loss / d {name}: {error:.1e} from central differences");
            assert!(
                error < 1e-7,
                "{backend}: gradient of {name} is {error:.2e} from central differences"
            );
        }
    }
}

/// The two layers as a burn module.
#[derive(Module, Debug)]
struct TwoLayers {
    first: ConvLayer<first::Kernel, 4>,
    second: ConvLayer<second::Kernel, 4>,
}

impl TwoLayers {
    fn forward(&self, x: Tensor<4>) -> Tensor<1> {
        self.second.forward(relu(self.first.forward(x))).sum()
    }
}

fn f64_layer<K: conv_burn::BurnKernel>(
    kernel: K,
    shape: [usize; 4],
    device: &Device,
) -> ConvLayer<K, 4> {
    let layer: ConvLayer<K, 4> = ConvLayerConfig::new(shape.to_vec()).init(kernel, device);
    // burn initialises in the device's float type (f32): the f64 kernels need f64.
    ConvLayer {
        weight: Param::from_tensor(Tensor::from_data(
            layer.weight.val().to_data(),
            (device, DType::F64),
        )),
        bias: layer.bias.map(|b| {
            Param::from_tensor(Tensor::from_data(b.val().to_data(), (device, DType::F64)))
        }),
        kernel,
    }
}

#[test]
fn module_gradients_and_an_optimiser_step() {
    for (backend, device) in devices() {
        let model = TwoLayers {
            first: f64_layer(first::Kernel, W1, &device),
            second: f64_layer(second::Kernel, W2, &device),
        };
        assert_eq!(model.num_params(), 3 * 2 * 9 + 3 + 2 * 3 * 9 + 2);
        let x = random(&mut Values::new(5), X, &device, DType::F64);
        let objective = model.forward(x.clone());
        let before = value(objective.clone());
        let grads = objective.backward();

        // The module's gradients are the function's.
        let inputs = [
            x.clone(),
            model.first.weight.val(),
            model.second.weight.val(),
        ]
        .map(|t| t.require_grad());
        let biases = [
            model.first.bias.as_ref().unwrap().val().require_grad(),
            model.second.bias.as_ref().unwrap().val().require_grad(),
        ];
        let reference = loss(&inputs, &biases[0], &biases[1]).backward();
        let w1 = model.first.weight.grad(&grads).unwrap();
        assert!(relative(&w1, &inputs[1].grad(&reference).unwrap()) < 1e-15);
        let b2 = model.second.bias.as_ref().unwrap().grad(&grads).unwrap();
        assert!(relative(&b2, &biases[1].grad(&reference).unwrap()) < 1e-15);

        // A few steps of SGD lower the loss (here: the sum of the output).
        let grads = GradientsParams::from_grads(grads, &model);
        let mut optimizer = SgdConfig::new().init();
        let mut model = optimizer.step(1e-3, model, grads);
        for _ in 0..3 {
            let grads = model.forward(x.clone()).backward();
            let grads = GradientsParams::from_grads(grads, &model);
            model = optimizer.step(1e-3, model, grads);
        }
        let after = value(model.forward(x.clone()));
        println!("{backend}: loss {before:.4} -> {after:.4} after 4 SGD steps");
        assert!(after < before, "{backend}: {before} -> {after}");
    }
}
