//! The `train` example's CNN in burn: conv 3x3 (1 -> 8 channels) -> ReLU -> 2x2 average
//! pooling -> conv 3x3 (8 -> 16) -> ReLU -> linear (16*6*6 -> 10), softmax cross-entropy,
//! burn's Adam, on `Device::flex().autodiff()`, over the `train` example's synthetic
//! digits (examples/train/model.rs draws them).
//!
//! Both convolutions are [`ConvLayer`]s of one generated kernel and the pooling a
//! generated kernel, so their forward passes and gradients are the generated code's,
//! through burn's autodiff. The same model on burn's own `Conv2d` and `avg_pool2d`,
//! starting from the same weights, trains one epoch on the same batches in the same run:
//! the example prints both epoch times (after a few warm-up steps of each on throwaway
//! copies). It fails (exit status 1) unless the generated model's held-out accuracy is
//! above 95%.
//!
//! ```sh
//! cargo run --release -p conv-burn --example burn_train
//! ```

// examples/train/model.rs names the root package's re-export of the runtime.
extern crate conv_runtime as conv_kernels;

#[allow(dead_code)]
#[path = "../../examples/train/model.rs"]
mod model;

use burn::module::{Module, Param};
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::{Linear, LinearConfig, PaddingConfig2d};
use burn::optim::{AdamConfig, GradientsParams};
use burn::tensor::activation::relu;
use burn::tensor::loss::cross_entropy_with_logits;
use burn::tensor::module::avg_pool2d;
use burn::tensor::ops::AvgPoolOptions;
use burn::tensor::{Device, Int, Tensor, TensorData};
use conv_burn::ConvLayer;
use conv_runtime::conv_kernel;
use indicatif::{ProgressBar, ProgressStyle};
use model::{digits, Digits, Rng, CLASSES, SIDE};
use ndarray::Axis;
use std::time::{Duration, Instant};

conv_kernel! {
    /// 3x3 convolution, zero padding 1, with a bias: both convolutions of the network.
    pub conv3x3(x, weight) = "nchwkj,dckj->ndhw" {
        unfold x.h by k, pad = 1;
        unfold x.w by j, pad = 1;
        size k = 3, j = 3;
        bias d;
    }
    /// 2x2 sum pooling, stride 2.
    pub pool(x) = "nchwkj->nchw" {
        unfold x.h by k, stride = 2;
        unfold x.w by j, stride = 2;
        size k = 2, j = 2;
    }
}

const TRAIN: usize = 20_000;
const TEST: usize = 2_000;
const EPOCHS: usize = 3;
const BATCH: usize = 32;
/// Adam's learning rate in the first epoch, halved in each later one.
const LEARNING_RATE: f64 = 0.01;
const TARGET: f32 = 0.95;

/// The network's logits for a batch of images [n, 1, 12, 12].
trait Network: Module + Clone {
    fn logits(&self, x: Tensor<4>) -> Tensor<2>;
}

/// Every convolution and the pooling a generated kernel.
#[derive(Module, Debug)]
struct Ours {
    conv1: ConvLayer<conv3x3::Kernel, 4>,
    conv2: ConvLayer<conv3x3::Kernel, 4>,
    linear: Linear,
}

impl Network for Ours {
    fn logits(&self, x: Tensor<4>) -> Tensor<2> {
        let x = relu(self.conv1.forward(x));
        let x: Tensor<4> = conv_burn::apply1(pool::Kernel, x, None);
        let x = relu(self.conv2.forward(x * 0.25));
        self.linear.forward(x.flatten(1, 3))
    }
}

/// The same network on burn's own layers.
#[derive(Module, Debug)]
struct Burns {
    conv1: Conv2d,
    conv2: Conv2d,
    linear: Linear,
}

impl Network for Burns {
    fn logits(&self, x: Tensor<4>) -> Tensor<2> {
        let x = relu(self.conv1.forward(x));
        let x = avg_pool2d(x, AvgPoolOptions::new([2, 2]));
        let x = relu(self.conv2.forward(x));
        self.linear.forward(x.flatten(1, 3))
    }
}

impl Burns {
    fn new(c1: usize, c2: usize, device: &Device) -> Burns {
        let conv = |channels| {
            Conv2dConfig::new(channels, [3, 3])
                .with_padding(PaddingConfig2d::Explicit(1, 1, 1, 1))
                .init(device)
        };
        Burns {
            conv1: conv([1, c1]),
            conv2: conv([c1, c2]),
            linear: LinearConfig::new(c2 * 6 * 6, CLASSES).init(device),
        }
    }

    /// The generated-kernel network with these weights.
    fn ours(&self) -> Ours {
        let layer = |conv: &Conv2d| ConvLayer {
            weight: Param::from_tensor(conv.weight.val()),
            bias: conv.bias.as_ref().map(|b| Param::from_tensor(b.val())),
            kernel: conv3x3::Kernel,
        };
        Ours {
            conv1: layer(&self.conv1),
            conv2: layer(&self.conv2),
            linear: Linear {
                weight: Param::from_tensor(self.linear.weight.val()),
                bias: self
                    .linear
                    .bias
                    .as_ref()
                    .map(|b| Param::from_tensor(b.val())),
            },
        }
    }
}

/// The images of `ids` as a tensor [n, 1, 12, 12] and their labels one-hot [n, 10].
fn batch(data: &Digits, ids: &[usize], device: &Device) -> (Tensor<4>, Tensor<2>) {
    let images = data.images.select(Axis(0), ids);
    let images: Vec<f32> = images.iter().copied().collect();
    let x = Tensor::from_data(TensorData::new(images, [ids.len(), 1, SIDE, SIDE]), device);
    let mut one_hot = vec![0.0f32; ids.len() * CLASSES];
    for (row, &i) in ids.iter().enumerate() {
        one_hot[row * CLASSES + data.labels[i]] = 1.0;
    }
    let targets = Tensor::from_data(TensorData::new(one_hot, [ids.len(), CLASSES]), device);
    (x, targets)
}

/// One epoch of Adam steps in the order `rng` shuffles; the mean loss and the wall time.
fn epoch<M: Network>(
    model: M,
    optimizer: &mut burn::optim::ModuleOptimizer,
    data: &Digits,
    lr: f64,
    rng: &mut Rng,
    bar: &ProgressBar,
    device: &Device,
) -> (M, f32, Duration) {
    let start = Instant::now();
    let mut order: Vec<usize> = (0..data.labels.len()).collect();
    for i in (1..order.len()).rev() {
        order.swap(i, rng.below(i + 1));
    }
    let mut model = model;
    let mut total = 0.0;
    for ids in order.chunks(BATCH) {
        let (x, targets) = batch(data, ids, device);
        let loss = cross_entropy_with_logits(model.logits(x), targets);
        let grads = loss.backward();
        let value = loss.into_scalar::<f32>();
        total += value * ids.len() as f32;
        let grads = GradientsParams::from_grads(grads, &model);
        model = optimizer.step(lr, model, grads);
        bar.set_message(format!("{value:.3}"));
        bar.inc(1);
    }
    bar.finish_and_clear();
    (model, total / data.labels.len() as f32, start.elapsed())
}

/// The fraction of `data` the network classifies right (without autodiff).
fn accuracy<M: Network>(model: &M, data: &Digits, device: &Device) -> f32 {
    let model = model.valid();
    let ids: Vec<usize> = (0..data.labels.len()).collect();
    let mut correct = 0;
    for chunk in ids.chunks(256) {
        let (x, _) = batch(data, chunk, &device.clone().inner());
        let predicted: Tensor<1, Int> = model.logits(x).argmax(1).flatten(0, 1);
        let predicted = predicted.to_data().convert::<i64>();
        let predicted = predicted.as_slice::<i64>().expect("i64 labels");
        correct += chunk
            .iter()
            .zip(predicted)
            .filter(|(&i, &p)| data.labels[i] as i64 == p)
            .count();
    }
    correct as f32 / data.labels.len() as f32
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let start = Instant::now();
    let device = Device::flex().autodiff();
    device.seed(3);
    let train = digits(TRAIN, 1);
    let test = digits(TEST, 2);
    let theirs = Burns::new(8, 16, &device);
    let mut ours = theirs.ours();
    println!(
        "{TRAIN} training and {TEST} held-out 12x12 digits; {EPOCHS} epochs of batches of {BATCH}, Adam, burn 0.22 on Flex with autodiff"
    );
    let style = ProgressStyle::with_template(
        "{prefix} [{bar:30}] {pos}/{len} steps, {elapsed} elapsed, loss {msg}",
    )?
    .progress_chars("=> ");
    let bar = |prefix: String| {
        ProgressBar::new(TRAIN.div_ceil(BATCH) as u64)
            .with_style(style.clone())
            .with_prefix(prefix)
    };

    // Warm-up: a few steps of each model on throwaway copies, so that neither timed
    // epoch pays for first calls (thread pools, allocations).
    let warm_up = Digits {
        images: train
            .images
            .slice(ndarray::s![..8 * BATCH, .., .., ..])
            .to_owned(),
        labels: train.labels[..8 * BATCH].to_vec(),
    };
    let quiet = ProgressBar::hidden();
    let mut throwaway = AdamConfig::new().init();
    epoch(
        ours.clone(),
        &mut throwaway,
        &warm_up,
        LEARNING_RATE,
        &mut Rng::new(5),
        &quiet,
        &device,
    );
    let mut throwaway = AdamConfig::new().init();
    epoch(
        theirs.clone(),
        &mut throwaway,
        &warm_up,
        LEARNING_RATE,
        &mut Rng::new(5),
        &quiet,
        &device,
    );

    let mut optimizer = AdamConfig::new().init();
    let mut rng = Rng::new(4);
    let mut first = (0.0, Duration::ZERO);
    let mut held_out = 0.0;
    for e in 1..=EPOCHS {
        let lr = LEARNING_RATE / (1 << (e - 1)) as f64;
        let progress = bar(format!("generated kernels, epoch {e}/{EPOCHS}"));
        let (model, loss, time) = epoch(
            ours,
            &mut optimizer,
            &train,
            lr,
            &mut rng,
            &progress,
            &device,
        );
        ours = model;
        held_out = accuracy(&ours, &test, &device);
        println!(
            "epoch {e}/{EPOCHS} (learning rate {lr}): loss {loss:.4}, held-out accuracy {:.1}%, {:.2} s",
            100.0 * held_out,
            time.as_secs_f64()
        );
        if e == 1 {
            first = (loss, time);
        }
    }

    // burn's own layers: the first epoch again, from the same weights and batches.
    let mut optimizer = AdamConfig::new().init();
    let mut rng = Rng::new(4);
    let progress = bar("burn's Conv2d, epoch 1".into());
    let (theirs, loss, time) = epoch(
        theirs,
        &mut optimizer,
        &train,
        LEARNING_RATE,
        &mut rng,
        &progress,
        &device,
    );
    let theirs_accuracy = accuracy(&theirs, &test, &device);
    println!(
        "epoch 1 on burn's Conv2d and avg_pool2d: loss {loss:.4}, held-out accuracy {:.1}%, {:.2} s",
        100.0 * theirs_accuracy,
        time.as_secs_f64()
    );
    println!(
        "one epoch ({} steps of {BATCH}): generated kernels {:.2} s, burn's Conv2d {:.2} s ({:.2}x); first-epoch loss {:.4} and {loss:.4}",
        TRAIN.div_ceil(BATCH),
        first.1.as_secs_f64(),
        time.as_secs_f64(),
        time.as_secs_f64() / first.1.as_secs_f64(),
        first.0,
    );
    println!(
        "final held-out accuracy {:.1}% on {TEST} digits (target: above {:.0}%), wall time {:.1} s",
        100.0 * held_out,
        100.0 * TARGET,
        start.elapsed().as_secs_f64()
    );
    if held_out <= TARGET {
        return Err(format!("held-out accuracy {held_out} is not above {TARGET}").into());
    }
    Ok(())
}
