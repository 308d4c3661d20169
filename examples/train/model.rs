//! The data, the network and the training loop of the `train` example, shared with
//! tests/training.rs (both include this file with `#[path]`).
//!
//! Data: the digits 0-9 drawn from a 5x7 bitmap font into 12x12 images at a random
//! offset, with a random italic slant and stroke intensity, dropped stroke pixels and
//! noise.
//!
//! Network: conv 3x3 (1 -> c1 channels, 12x12) -> ReLU -> 2x2 average pooling (12x12 ->
//! 6x6) -> conv 3x3 (c1 -> c2) -> ReLU -> linear (c2*6*6 -> 10) -> softmax cross-entropy,
//! trained with Adam. Every layer is a `conv_kernel!`, and every gradient of every layer
//! comes from its generated `backward` / `grad_*` functions; only ReLU, the pooling's 1/4
//! and the softmax are differentiated by hand.

use conv_kernels::{conv_kernel, ShapeError};
use ndarray::{Array, Array1, Array2, Array4, ArrayView4, Axis, Dimension, Ix1, Ix4};

conv_kernel! {
    /// 3x3 convolution, zero padding 1: [n, 1, 12, 12] -> [n, c1, 12, 12].
    pub conv1(x, weight) = "nchwkj,dckj->ndhw" {
        unfold x.h by k, pad = 1;
        unfold x.w by j, pad = 1;
        size k = 3, j = 3;
        bias d;
    }
    /// 2x2 sum pooling, stride 2: [n, c1, 12, 12] -> [n, c1, 6, 6].
    pub pool(x) = "nchwkj->nchw" {
        unfold x.h by k, stride = 2;
        unfold x.w by j, stride = 2;
        size k = 2, j = 2;
    }
    /// 3x3 convolution, zero padding 1: [n, c1, 6, 6] -> [n, c2, 6, 6].
    pub conv2(x, weight) = "nchwkj,dckj->ndhw" {
        unfold x.h by k, pad = 1;
        unfold x.w by j, pad = 1;
        size k = 3, j = 3;
        bias d;
    }
    /// The linear head, without flattening: [n, c2, 6, 6] -> [n, 10] logits.
    pub linear(x, weight) = "nchw,ochw->no" { bias o; }
}

/// The intermediate results of one forward pass, kept for the backward pass.
struct Forward {
    z1: Array4<f32>,
    a1: Array4<f32>,
    p: Array4<f32>,
    z2: Array4<f32>,
    a2: Array4<f32>,
    logits: Array2<f32>,
}

pub const SIDE: usize = 12;
pub const CLASSES: usize = 10;

/// The 5x7 glyphs of the digits 0-9, one row per byte, the leftmost pixel in bit 4.
const FONT: [[u8; 7]; CLASSES] = [
    [0x0E, 0x11, 0x13, 0x15, 0x19, 0x11, 0x0E],
    [0x04, 0x0C, 0x04, 0x04, 0x04, 0x04, 0x0E],
    [0x0E, 0x11, 0x01, 0x02, 0x04, 0x08, 0x1F],
    [0x1F, 0x02, 0x04, 0x02, 0x01, 0x11, 0x0E],
    [0x02, 0x06, 0x0A, 0x12, 0x1F, 0x02, 0x02],
    [0x1F, 0x10, 0x1E, 0x01, 0x01, 0x11, 0x0E],
    [0x06, 0x08, 0x10, 0x1E, 0x11, 0x11, 0x0E],
    [0x1F, 0x01, 0x02, 0x04, 0x08, 0x08, 0x08],
    [0x0E, 0x11, 0x11, 0x0E, 0x11, 0x11, 0x0E],
    [0x0E, 0x11, 0x11, 0x0F, 0x01, 0x02, 0x0C],
];

/// A small deterministic generator (splitmix64), so every run sees the same data.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// Uniform in [0, n).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }
    /// Uniform in [lo, hi).
    pub fn uniform(&mut self, lo: f32, hi: f32) -> f32 {
        lo + (hi - lo) * (self.next_u64() >> 40) as f32 / (1u64 << 24) as f32
    }
}

/// Images [n, 1, 12, 12] and their labels.
pub struct Digits {
    pub images: Array4<f32>,
    pub labels: Vec<usize>,
}

/// `count` jittered, noisy digits, the classes in turn.
pub fn digits(count: usize, seed: u64) -> Digits {
    let mut rng = Rng::new(seed);
    let mut images = Array4::zeros((count, 1, SIDE, SIDE));
    let labels: Vec<usize> = (0..count).map(|i| i % CLASSES).collect();
    for (mut image, &label) in images.outer_iter_mut().zip(&labels) {
        let (dx, dy) = (1 + rng.below(6), rng.below(6));
        let slant = rng.below(3) as isize - 1;
        let ink = rng.uniform(0.6, 1.0);
        for (r, bits) in FONT[label].iter().enumerate() {
            let shift = if r < 2 {
                slant
            } else if r > 4 {
                -slant
            } else {
                0
            };
            for c in 0..5 {
                if bits & (0x10 >> c) != 0 && rng.uniform(0.0, 1.0) > 0.05 {
                    let col = (dx + c) as isize + shift;
                    image[[0, dy + r, col as usize]] = ink;
                }
            }
        }
        image.mapv_inplace(|v| v + rng.uniform(-0.25, 0.25));
    }
    Digits { images, labels }
}

/// A parameter and its Adam moments.
pub struct Param<D: Dimension> {
    pub value: Array<f32, D>,
    m: Array<f32, D>,
    v: Array<f32, D>,
}

impl<D: Dimension> Param<D> {
    fn new(value: Array<f32, D>) -> Self {
        let zeros = Array::zeros(value.raw_dim());
        Param {
            m: zeros.clone(),
            v: zeros,
            value,
        }
    }
    /// One Adam step (beta1 0.9, beta2 0.999) at step `t` (from 1).
    fn adam(&mut self, grad: &Array<f32, D>, lr: f32, t: i32) {
        let (b1, b2) = (0.9f32, 0.999f32);
        let (c1, c2) = (1.0 - b1.powi(t), 1.0 - b2.powi(t));
        ndarray::Zip::from(&mut self.value)
            .and(&mut self.m)
            .and(&mut self.v)
            .and(grad)
            .for_each(|w, m, v, &g| {
                *m = b1 * *m + (1.0 - b1) * g;
                *v = b2 * *v + (1.0 - b2) * g * g;
                *w -= lr * (*m / c1) / ((*v / c2).sqrt() + 1e-8);
            });
    }
}

/// The network's parameters, each with its Adam moments.
pub struct Model {
    pub w1: Param<Ix4>,
    pub b1: Param<Ix1>,
    pub w2: Param<Ix4>,
    pub b2: Param<Ix1>,
    pub w3: Param<Ix4>,
    pub b3: Param<Ix1>,
    steps: i32,
}

/// The gradient of the loss with respect to each parameter of a [`Model`].
pub struct Gradients {
    pub w1: Array4<f32>,
    pub b1: Array1<f32>,
    pub w2: Array4<f32>,
    pub b2: Array1<f32>,
    pub w3: Array4<f32>,
    pub b3: Array1<f32>,
}

/// What one training step saw: the batch's mean loss and how many it classified right.
pub struct Step {
    pub loss: f32,
    pub correct: usize,
}

fn he(shape: [usize; 4], rng: &mut Rng) -> Param<Ix4> {
    let a = (6.0 / (shape[1] * shape[2] * shape[3]) as f32).sqrt();
    Param::new(Array4::from_shape_simple_fn(shape, || rng.uniform(-a, a)))
}

fn dims(a: &Array4<f32>) -> [usize; 4] {
    let (n, c, h, w) = a.dim();
    [n, c, h, w]
}

fn relu(z: &Array4<f32>) -> Array4<f32> {
    z.mapv(|v| v.max(0.0))
}

/// `grad` where `z > 0`, else 0: the gradient through a ReLU.
fn relu_back(grad: Array4<f32>, z: &Array4<f32>) -> Array4<f32> {
    let mut grad = grad;
    ndarray::Zip::from(&mut grad).and(z).for_each(|g, &z| {
        if z <= 0.0 {
            *g = 0.0
        }
    });
    grad
}

impl Model {
    /// A network with `c1` and `c2` channels in its two convolutions.
    pub fn new(c1: usize, c2: usize, seed: u64) -> Model {
        let mut rng = Rng::new(seed);
        Model {
            w1: he([c1, 1, 3, 3], &mut rng),
            b1: Param::new(Array1::zeros(c1)),
            w2: he([c2, c1, 3, 3], &mut rng),
            b2: Param::new(Array1::zeros(c2)),
            w3: he([CLASSES, c2, 6, 6], &mut rng),
            b3: Param::new(Array1::zeros(CLASSES)),
            steps: 0,
        }
    }

    /// Every intermediate result for a batch of images [n, 1, 12, 12].
    fn forward(&self, x: ArrayView4<f32>) -> Result<Forward, ShapeError> {
        let z1 = conv1::forward(x, &self.w1.value, &self.b1.value)?;
        let a1 = relu(&z1);
        let p = pool::forward(&a1)? * 0.25;
        let z2 = conv2::forward(&p, &self.w2.value, &self.b2.value)?;
        let a2 = relu(&z2);
        let logits = linear::forward(&a2, &self.w3.value, &self.b3.value)?;
        Ok(Forward {
            z1,
            a1,
            p,
            z2,
            a2,
            logits,
        })
    }

    /// The logits [n, 10] of a batch of images [n, 1, 12, 12].
    pub fn logits(&self, x: ArrayView4<f32>) -> Result<Array2<f32>, ShapeError> {
        Ok(self.forward(x)?.logits)
    }

    /// The mean softmax cross-entropy of a batch, how many it classifies right, and the
    /// gradient of that loss with respect to every parameter, from the generated kernels
    /// (only ReLU, the pooling's 1/4 and the softmax are differentiated by hand).
    pub fn gradients(
        &self,
        x: ArrayView4<f32>,
        labels: &[usize],
    ) -> Result<(Step, Gradients), ShapeError> {
        let f = self.forward(x)?;
        let (loss, correct, grad_logits) = softmax_cross_entropy(&f.logits, labels);
        let g3 = linear::backward(&f.a2, &self.w3.value, &grad_logits)?;
        let g2 = conv2::backward(&f.p, &self.w2.value, &relu_back(g3.x, &f.z2))?;
        let grad_a1 = pool::grad_x(dims(&f.a1), &(g2.x * 0.25))?;
        let grad_z1 = relu_back(grad_a1, &f.z1);
        let grads = Gradients {
            // The first layer's input needs no gradient: only grad_weight and grad_bias.
            w1: conv1::grad_weight(x, dims(&self.w1.value), &grad_z1)?,
            b1: conv1::grad_bias(&grad_z1)?,
            w2: g2.weight,
            b2: g2.bias,
            w3: g3.weight,
            b3: g3.bias,
        };
        Ok((Step { loss, correct }, grads))
    }

    /// One Adam step on a batch.
    pub fn train_step(
        &mut self,
        x: ArrayView4<f32>,
        labels: &[usize],
        lr: f32,
    ) -> Result<Step, ShapeError> {
        let (step, g) = self.gradients(x, labels)?;
        self.steps += 1;
        let t = self.steps;
        self.w1.adam(&g.w1, lr, t);
        self.b1.adam(&g.b1, lr, t);
        self.w2.adam(&g.w2, lr, t);
        self.b2.adam(&g.b2, lr, t);
        self.w3.adam(&g.w3, lr, t);
        self.b3.adam(&g.b3, lr, t);
        Ok(step)
    }

    /// The fraction of `data` classified right.
    pub fn accuracy(&self, data: &Digits) -> Result<f32, ShapeError> {
        let mut correct = 0;
        for (start, chunk) in data.images.axis_chunks_iter(Axis(0), 256).enumerate() {
            let logits = self.logits(chunk)?;
            let labels = &data.labels[start * 256..];
            correct += logits
                .outer_iter()
                .zip(labels)
                .filter(|(row, &label)| argmax(row.as_slice().unwrap()) == label)
                .count();
        }
        Ok(correct as f32 / data.labels.len() as f32)
    }
}

fn argmax(v: &[f32]) -> usize {
    (0..v.len()).fold(0, |best, i| if v[i] > v[best] { i } else { best })
}

/// The mean loss, the number classified right, and the gradient of the mean loss with
/// respect to the logits: `(softmax - one_hot) / n`.
fn softmax_cross_entropy(logits: &Array2<f32>, labels: &[usize]) -> (f32, usize, Array2<f32>) {
    let n = labels.len() as f32;
    let (mut loss, mut correct) = (0.0, 0);
    let mut grad = logits.clone();
    for (mut row, &label) in grad.outer_iter_mut().zip(labels) {
        let row = row.as_slice_mut().unwrap();
        correct += usize::from(argmax(row) == label);
        let max = row.iter().fold(f32::NEG_INFINITY, |m, &v| m.max(v));
        let sum: f32 = row.iter().map(|v| (v - max).exp()).sum();
        loss += sum.ln() + max - row[label];
        for v in row.iter_mut() {
            *v = (*v - max).exp() / sum / n;
        }
        row[label] -= 1.0 / n;
    }
    (loss / n, correct, grad)
}

/// One pass over `data` in a random order, in batches of `batch`; `on_step` sees each
/// step's loss. Returns the mean loss and the accuracy on the batches as they were seen.
pub fn epoch(
    model: &mut Model,
    data: &Digits,
    batch: usize,
    lr: f32,
    rng: &mut Rng,
    mut on_step: impl FnMut(f32),
) -> Result<(f32, f32), ShapeError> {
    let mut order: Vec<usize> = (0..data.labels.len()).collect();
    for i in (1..order.len()).rev() {
        order.swap(i, rng.below(i + 1));
    }
    let (mut loss, mut correct) = (0.0, 0);
    for ids in order.chunks(batch) {
        let x = data.images.select(Axis(0), ids);
        let labels: Vec<usize> = ids.iter().map(|&i| data.labels[i]).collect();
        let step = model.train_step(x.view(), &labels, lr)?;
        loss += step.loss * ids.len() as f32;
        correct += step.correct;
        on_step(step.loss);
    }
    let n = data.labels.len() as f32;
    Ok((loss / n, correct as f32 / n))
}
