//! Gradients through a two-layer model built in candle, conv -> relu -> conv -> sum,
//! every convolution a generated kernel: candle's backward() against central finite
//! differences of the model's own loss, for every entry of the input, both weights and
//! both biases (f64). The same model on candle's conv2d gives the same gradients.

mod common;

use candle_core::{DType, Device, Result, Tensor, Var};
use common::{relative_difference, values};
use conv_candle::apply;
use conv_runtime::conv_kernel;

conv_kernel! {
    /// 3x3, padding 1.
    conv1(x, weight) = "nchwkj,dckj->ndhw" {
        unfold x.h by k, pad = 1;
        unfold x.w by j, pad = 1;
        bias d;
        dtype f64;
    }
    /// 3x3, stride 2, padding 1.
    conv2(x, weight) = "nchwkj,dckj->ndhw" {
        unfold x.h by k, stride = 2, pad = 1;
        unfold x.w by j, stride = 2, pad = 1;
        bias d;
        dtype f64;
    }
}

/// The model's loss: `sum(conv2(relu(conv1(x))) * r)`, `r` fixed weights of the sum.
struct Model {
    r: Tensor,
    ours: bool,
}

impl Model {
    fn loss(&self, p: &[&Tensor]) -> Result<Tensor> {
        let [x, w1, b1, w2, b2] = p else {
            unreachable!()
        };
        let (h, y);
        if self.ours {
            h = apply::<conv1::Kernel>(x, w1, Some(b1))?.relu()?;
            y = apply::<conv2::Kernel>(&h, w2, Some(b2))?;
        } else {
            let bias = |b: &Tensor| b.reshape((1, b.elem_count(), 1, 1));
            h = x
                .conv2d(w1, 1, 1, 1, 1)?
                .broadcast_add(&bias(b1)?)?
                .relu()?;
            y = h.conv2d(w2, 1, 2, 1, 1)?.broadcast_add(&bias(b2)?)?;
        }
        y.mul(&self.r)?.sum_all()
    }

    fn value(&self, p: &[&Tensor]) -> Result<f64> {
        self.loss(p)?.to_scalar::<f64>()
    }
}

#[test]
fn two_layer_gradients_match_finite_differences() -> Result<()> {
    let cpu = &Device::Cpu;
    let randn = |shape: &[usize], s: f64| Tensor::randn(0f64, s, shape, cpu);
    let params = [
        randn(&[2, 2, 7, 7], 1.0)?,
        randn(&[3, 2, 3, 3], 0.5)?,
        randn(&[3], 0.5)?,
        randn(&[2, 3, 3, 3], 0.5)?,
        randn(&[2], 0.5)?,
    ];
    let names = ["x", "w1", "b1", "w2", "b2"];
    let model = Model {
        r: randn(&[2, 2, 4, 4], 1.0)?,
        ours: true,
    };
    let vars: Vec<Var> = params.iter().map(Var::from_tensor).collect::<Result<_>>()?;
    let refs: Vec<&Tensor> = vars.iter().map(|v| v.as_tensor()).collect();
    let grads = model.loss(&refs)?.backward()?;

    let step = 1e-6;
    let mut worst = 0.0f64;
    for (i, p) in params.iter().enumerate() {
        let analytic = values(grads.get(&vars[i]).expect("every parameter has a gradient"));
        let flat = values(p);
        let mut numeric = Vec::with_capacity(flat.len());
        for e in 0..flat.len() {
            let at = |delta: f64| -> Result<f64> {
                let mut v = flat.clone();
                v[e] += delta;
                let moved = Tensor::from_vec(v, p.shape(), cpu)?;
                let mut q: Vec<&Tensor> = params.iter().collect();
                q[i] = &moved;
                model.value(&q)
            };
            numeric.push((at(step)? - at(-step)?) / (2.0 * step));
        }
        let scale = numeric.iter().fold(0.0f64, |m, v| m.max(v.abs()));
        let error = analytic
            .iter()
            .zip(&numeric)
            .map(|(a, n)| (a - n).abs())
            .fold(0.0, f64::max)
            / scale;
        println!(
            "{}: {} entries, largest error {error:.1e} of max |gradient| {scale:.2}",
            names[i],
            flat.len()
        );
        assert!(
            error < 1e-6,
            "{}: backward() differs from finite differences by {error:.2e}",
            names[i]
        );
        worst = worst.max(error);
    }
    println!("largest error against finite differences: {worst:.1e}");

    // The same model on candle's conv2d (7x7 inputs: candle's stride-2 backward works
    // on them) gives the same loss and gradients.
    let theirs = Model {
        r: model.r.clone(),
        ours: false,
    };
    let theirs_loss = theirs.loss(&refs)?;
    assert!((theirs_loss.to_scalar::<f64>()? - model.value(&refs)?).abs() < 1e-12);
    let theirs_grads = theirs_loss.backward()?;
    for (v, name) in vars.iter().zip(names) {
        let error = relative_difference(grads.get(v).unwrap(), theirs_grads.get(v).unwrap());
        println!("{name}: against candle's conv2d {error:.1e}");
        assert!(error < 1e-12, "{name}: {error:.2e}");
    }
    assert_eq!(model.r.dtype(), DType::F64);
    Ok(())
}
