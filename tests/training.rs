//! A short run of the `train` example's network (examples/train/model.rs): its gradients,
//! assembled from the generated kernels, against finite differences of its loss, and a
//! few hundred steps of training that must make the loss fall.

#[path = "../examples/train/model.rs"]
mod model;

use model::{digits, epoch, Model, Rng};

/// The model's gradients against central finite differences of its loss, on every
/// entry of the biases and of the first layer's weights, and on every 7th or 29th of the
/// larger weights (finite differences run the debug-built kernels, which are slow).
#[test]
fn model_gradients_match_finite_differences() {
    let data = digits(6, 11);
    let mut model = Model::new(3, 4, 12);
    // Keep every ReLU input far from 0 (channel 1 of each convolution off, the others
    // on), so that the loss is smooth where the finite differences probe it.
    model.w1.value *= 0.1;
    model.w2.value *= 0.1;
    model.b1.value = ndarray::arr1(&[1.0, -1.0, 1.0]);
    model.b2.value = ndarray::arr1(&[1.0, -1.0, 1.0, 1.0]);
    let x = data.images.view();
    let (_, grads) = model.gradients(x, &data.labels).unwrap();
    // The loss computed here, independently of the model's own softmax.
    let loss = |model: &Model| {
        let logits = model.logits(x).unwrap().mapv(f64::from);
        let total: f64 = logits
            .outer_iter()
            .zip(&data.labels)
            .map(|(row, &label)| row.mapv(f64::exp).sum().ln() - row[label])
            .sum();
        (total / data.labels.len() as f64) as f32
    };
    let h = 1e-2f32;
    let (mut worst, mut probes) = (0.0f32, 0);
    macro_rules! probe {
        ($param:ident, $every:expr) => {
            let indices: Vec<_> = grads.$param.indexed_iter().map(|(i, _)| i).collect();
            for index in indices.into_iter().step_by($every) {
                let original = model.$param.value[index];
                model.$param.value[index] = original + h;
                let up = loss(&model);
                model.$param.value[index] = original - h;
                let down = loss(&model);
                model.$param.value[index] = original;
                let numeric = (up - down) / (2.0 * h);
                let analytic = grads.$param[index];
                let error =
                    (numeric - analytic).abs() / numeric.abs().max(analytic.abs()).max(1e-2);
                if error > worst {
                    worst = error;
                    println!(
                        "{}{index:?}: kernels {analytic:+.6}, finite differences {numeric:+.6}",
                        stringify!($param)
                    );
                }
                probes += 1;
            }
        };
    }
    probe!(w1, 1);
    probe!(b1, 1);
    probe!(w2, 7);
    probe!(b2, 1);
    probe!(w3, 29);
    probe!(b3, 1);
    println!("{probes} entries probed, worst relative error {worst:.2e}");
    assert!(worst < 1e-2, "worst relative error {worst}");
}

/// A few hundred Adam steps of a narrow version of the example's network: the loss
/// falls and held-out digits are classified far better than chance (10%).
#[test]
fn short_training_run_learns() {
    let train = digits(800, 21);
    let test = digits(200, 22);
    let mut model = Model::new(2, 8, 23);
    let mut rng = Rng::new(24);
    let before = model.accuracy(&test).unwrap();
    let mut losses = Vec::new();
    for _ in 0..3 {
        epoch(&mut model, &train, 8, 0.01, &mut rng, |loss| {
            losses.push(loss)
        })
        .unwrap();
    }
    let mean = |l: &[f32]| l.iter().sum::<f32>() / l.len() as f32;
    let (first, last) = (mean(&losses[..20]), mean(&losses[losses.len() - 20..]));
    let after = model.accuracy(&test).unwrap();
    println!(
        "{} steps: loss {first:.3} -> {last:.3}, held-out accuracy {:.1}% -> {:.1}%",
        losses.len(),
        100.0 * before,
        100.0 * after
    );
    assert!(last < 0.6 * first, "loss {first} -> {last}");
    assert!(after > 0.35, "held-out accuracy {after}");
}
