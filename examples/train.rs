//! Trains a small CNN whose every layer is a `conv_kernel!` and whose every gradient comes
//! from the generated kernels: conv 3x3 (1 -> 8 channels) -> ReLU -> 2x2 average pooling
//! -> conv 3x3 (8 -> 16) -> ReLU -> linear (16*6*6 -> 10), softmax cross-entropy, Adam.
//!
//! The data set is made here: the digits 0-9 drawn from a 5x7 bitmap font into 12x12
//! images at random offsets, slanted, with faded strokes, dropped pixels and noise
//! (examples/train/model.rs). Prints the loss and accuracy of every epoch, then the
//! accuracy on held-out digits and the wall time; exits with an error if the held-out
//! accuracy is not above 95%.
//!
//! ```sh
//! cargo run --release --example train
//! ```

#[path = "train/model.rs"]
mod model;

use indicatif::{ProgressBar, ProgressStyle};
use model::{digits, epoch, Model, Rng};
use std::time::Instant;

const TRAIN: usize = 20_000;
const TEST: usize = 2_000;
const EPOCHS: usize = 3;
const BATCH: usize = 32;
/// Adam's learning rate in the first epoch, halved in each later one.
const LEARNING_RATE: f32 = 0.01;
const TARGET: f32 = 0.95;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let start = Instant::now();
    let train = digits(TRAIN, 1);
    let test = digits(TEST, 2);
    let mut model = Model::new(8, 16, 3);
    let mut rng = Rng::new(4);
    println!(
        "{TRAIN} training and {TEST} held-out 12x12 digits; {EPOCHS} epochs of batches of {BATCH}, Adam"
    );
    let style = ProgressStyle::with_template(
        "epoch {prefix} [{bar:30}] {pos}/{len} steps, {elapsed} elapsed, loss {msg}",
    )?
    .progress_chars("=> ");
    let mut held_out = 0.0;
    for e in 1..=EPOCHS {
        let lr = LEARNING_RATE / (1 << (e - 1)) as f32;
        let bar = ProgressBar::new(TRAIN.div_ceil(BATCH) as u64)
            .with_style(style.clone())
            .with_prefix(format!("{e}/{EPOCHS}"));
        let (loss, accuracy) = epoch(&mut model, &train, BATCH, lr, &mut rng, |loss| {
            bar.set_message(format!("{loss:.3}"));
            bar.inc(1);
        })?;
        bar.finish_and_clear();
        held_out = model.accuracy(&test)?;
        println!(
            "epoch {e}/{EPOCHS} (learning rate {lr}): loss {loss:.4}, training accuracy {:.1}%, held-out accuracy {:.1}%",
            100.0 * accuracy,
            100.0 * held_out
        );
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
