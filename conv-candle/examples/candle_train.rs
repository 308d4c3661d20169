//! Trains the CNN of the `train` example in candle, every convolution a generated
//! kernel: conv 3x3 (1 -> 8 channels) -> ReLU -> 2x2 average pooling -> conv 3x3 (8 -> 16)
//! -> ReLU -> linear (16*6*6 -> 10), softmax cross-entropy, Adam (candle-nn's AdamW
//! without weight decay), on the synthetic digits of examples/train/model.rs.
//!
//! Both convolutions are `ConvLayer`s of one generated kernel and the pooling is a
//! generated kernel too (`apply1`); candle's autograd runs their derived gradients. The
//! weights start as the `train` example's (He-uniform, from its seeded generator), so
//! every run is the same. The same model on candle-nn's `Conv2d` and `avg_pool2d`, from
//! the same initial weights, trains one epoch on the same batches in the same run: the two epoch times
//! are printed side by side. Exits with an error unless the held-out accuracy of ours
//! is above 95%.
//!
//! ```sh
//! cargo run --release -p conv-candle --example candle_train
//! ```

// The data generator of the `train` example, which names the runtime `conv_kernels`
// (the root package's re-export); its network is unused here.
extern crate conv_runtime as conv_kernels;
#[allow(dead_code)]
#[path = "../../examples/train/model.rs"]
mod model;

use candle_core::{DType, Device, Module, Result, Tensor, Var, D};
use candle_nn::{AdamW, Conv2d, Conv2dConfig, Linear, Optimizer, ParamsAdamW};
use conv_candle::{apply1, ConvLayer};
use conv_runtime::conv_kernel;
use indicatif::{ProgressBar, ProgressStyle};
use model::{digits, Digits, Rng, CLASSES, SIDE};
use std::time::{Duration, Instant};

conv_kernel! {
    /// 3x3 convolution, zero padding 1, with a bias: both convolutions of the model.
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
const C1: usize = 8;
const C2: usize = 16;

/// A convolution: a generated kernel's layer, or candle-nn's.
enum Conv {
    Ours(ConvLayer<conv3x3::Kernel>),
    Candle(Conv2d),
}

struct Net {
    conv1: Conv,
    conv2: Conv,
    linear: Linear,
}

impl Net {
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let conv = |layer: &Conv, x: &Tensor| match layer {
            Conv::Ours(layer) => layer.forward(x),
            Conv::Candle(layer) => layer.forward(x),
        };
        let h = conv(&self.conv1, x)?.relu()?;
        let p = match self.conv1 {
            Conv::Ours(_) => apply1::<pool::Kernel>(&h, None)?.affine(0.25, 0.0)?,
            Conv::Candle(_) => h.avg_pool2d(2)?,
        };
        let h = conv(&self.conv2, &p)?.relu()?;
        self.linear.forward(&h.flatten_from(1)?)
    }
}

/// He-uniform weights (bound sqrt(6 / fan_in)) and zero biases, drawn from the data's
/// deterministic generator, as the `train` example draws them.
fn initial(device: &Device) -> Result<Vec<Tensor>> {
    let mut rng = Rng::new(3);
    let mut he = |shape: &[usize]| {
        let fan_in: usize = shape[1..].iter().product();
        let a = (6.0 / fan_in as f32).sqrt();
        let count = shape.iter().product();
        let values: Vec<f32> = (0..count).map(|_| rng.uniform(-a, a)).collect();
        Tensor::from_vec(values, shape, device)
    };
    Ok(vec![
        he(&[C1, 1, 3, 3])?,
        Tensor::zeros(C1, DType::F32, device)?,
        he(&[C2, C1, 3, 3])?,
        Tensor::zeros(C2, DType::F32, device)?,
        he(&[CLASSES, C2 * 6 * 6])?,
        Tensor::zeros(CLASSES, DType::F32, device)?,
    ])
}

/// A network on generated kernels (`ours`) or on candle-nn's layers, its parameters new
/// variables holding copies of `initial`.
fn network(initial: &[Tensor], ours: bool) -> Result<(Net, Vec<Var>)> {
    let vars: Vec<Var> = initial
        .iter()
        .map(|t| Var::from_tensor(&t.copy()?))
        .collect::<Result<_>>()?;
    let t = |i: usize| vars[i].as_tensor().clone();
    let conv = |w: usize| -> Result<Conv> {
        Ok(if ours {
            Conv::Ours(ConvLayer::new(t(w), Some(t(w + 1)))?)
        } else {
            let config = Conv2dConfig {
                padding: 1,
                ..Default::default()
            };
            Conv::Candle(Conv2d::new(t(w), Some(t(w + 1)), config))
        })
    };
    let net = Net {
        conv1: conv(0)?,
        conv2: conv(2)?,
        linear: Linear::new(t(4), Some(t(5))),
    };
    Ok((net, vars))
}

/// The images as a tensor [n, 1, 12, 12] and the labels as u32s.
fn tensors(data: &Digits, device: &Device) -> Result<(Tensor, Tensor)> {
    let images = data.images.iter().copied().collect::<Vec<f32>>();
    let images = Tensor::from_vec(images, (data.labels.len(), 1, SIDE, SIDE), device)?;
    let labels = data.labels.iter().map(|&l| l as u32).collect::<Vec<_>>();
    Ok((images, Tensor::new(labels, device)?))
}

/// The batches of one epoch: a shuffle of every index, in chunks of BATCH.
fn batches(n: usize, rng: &mut Rng) -> Vec<Vec<u32>> {
    let mut order: Vec<u32> = (0..n as u32).collect();
    for i in (1..order.len()).rev() {
        order.swap(i, rng.below(i + 1));
    }
    order.chunks(BATCH).map(|c| c.to_vec()).collect()
}

/// One epoch of Adam steps; returns the mean loss, the accuracy on the batches as they
/// were seen, and the time the steps took.
fn epoch(
    net: &Net,
    optimizer: &mut AdamW,
    (images, labels): &(Tensor, Tensor),
    order: &[Vec<u32>],
    bar: &ProgressBar,
) -> Result<(f32, f32, Duration)> {
    let start = Instant::now();
    let (mut loss_sum, mut correct, mut seen) = (0.0f32, 0.0f32, 0usize);
    for ids in order {
        let ids_t = Tensor::new(ids.as_slice(), images.device())?;
        let x = images.index_select(&ids_t, 0)?;
        let y = labels.index_select(&ids_t, 0)?;
        let logits = net.forward(&x)?;
        let loss = candle_nn::loss::cross_entropy(&logits, &y)?;
        optimizer.backward_step(&loss)?;
        let loss = loss.to_scalar::<f32>()?;
        loss_sum += loss * ids.len() as f32;
        correct += logits
            .argmax(D::Minus1)?
            .eq(&y)?
            .to_dtype(DType::F32)?
            .sum_all()?
            .to_scalar::<f32>()?;
        seen += ids.len();
        bar.set_message(format!("{loss:.3}"));
        bar.inc(1);
    }
    Ok((
        loss_sum / seen as f32,
        correct / seen as f32,
        start.elapsed(),
    ))
}

/// The fraction of `data` classified right.
fn accuracy(net: &Net, (images, labels): &(Tensor, Tensor)) -> Result<f32> {
    let n = labels.dim(0)?;
    let mut correct = 0.0;
    for start in (0..n).step_by(256) {
        let len = 256.min(n - start);
        let logits = net.forward(&images.narrow(0, start, len)?)?;
        let right = logits
            .argmax(D::Minus1)?
            .eq(&labels.narrow(0, start, len)?)?;
        correct += right.to_dtype(DType::F32)?.sum_all()?.to_scalar::<f32>()?;
    }
    Ok(correct / n as f32)
}

fn adam(vars: Vec<Var>) -> Result<AdamW> {
    AdamW::new(
        vars,
        ParamsAdamW {
            lr: LEARNING_RATE,
            weight_decay: 0.0,
            ..Default::default()
        },
    )
}

fn main() -> std::result::Result<(), Box<dyn std::error::Error>> {
    let start = Instant::now();
    let device = Device::Cpu;
    let train = tensors(&digits(TRAIN, 1), &device)?;
    let test = tensors(&digits(TEST, 2), &device)?;
    let initial = initial(&device)?;
    let (ours, our_vars) = network(&initial, true)?;
    let (theirs, their_vars) = network(&initial, false)?;
    let (mut our_adam, mut their_adam) = (adam(our_vars)?, adam(their_vars)?);
    let mut rng = Rng::new(4);
    println!(
        "{TRAIN} training and {TEST} held-out 12x12 digits; {EPOCHS} epochs of batches of {BATCH}, Adam; {} threads",
        std::thread::available_parallelism().map_or(1, |n| n.get())
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

    let mut held_out = 0.0;
    for e in 1..=EPOCHS {
        let lr = LEARNING_RATE / (1 << (e - 1)) as f64;
        our_adam.set_learning_rate(lr);
        let order = batches(TRAIN, &mut rng);
        let progress = bar(format!("epoch {e}/{EPOCHS}"));
        let (loss, seen_accuracy, time) = epoch(&ours, &mut our_adam, &train, &order, &progress)?;
        progress.finish_and_clear();
        held_out = accuracy(&ours, &test)?;
        println!(
            "epoch {e}/{EPOCHS} (learning rate {lr}): loss {loss:.4}, training accuracy {:.1}%, held-out accuracy {:.1}%, {:.2} s",
            100.0 * seen_accuracy,
            100.0 * held_out,
            time.as_secs_f64()
        );
        if e == 1 {
            // candle's own convolutions: the same first epoch (same initial weights, same
            // batches, same learning rate), timed the same way.
            let ours_time = time;
            let progress = bar("candle's conv2d, epoch 1".into());
            let (loss, _, time) = epoch(&theirs, &mut their_adam, &train, &order, &progress)?;
            progress.finish_and_clear();
            println!(
                "  the same epoch on candle's conv2d and avg_pool2d: loss {loss:.4}, held-out accuracy {:.1}%, {:.2} s",
                100.0 * accuracy(&theirs, &test)?,
                time.as_secs_f64()
            );
            println!(
                "  epoch time: generated kernels {:.2} s, candle's conv2d {:.2} s ({:.1}x)",
                ours_time.as_secs_f64(),
                time.as_secs_f64(),
                time.as_secs_f64() / ours_time.as_secs_f64()
            );
        }
    }
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
