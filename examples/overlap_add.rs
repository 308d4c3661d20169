//! Overlap-add synthesis, as an inverse STFT does it: frames of K = 8 samples, one per
//! hop of 3 samples (so consecutive frames overlap by 5), each multiplied by a synthesis
//! window and added into the signal at `t * hop`. It is one kernel with a window on its
//! output, `"nkt,k->ntk"` with `unfold signal.t by k, stride = 3`:
//! `signal[n, 3t + k] += frames[n, k, t] * window[k]`, checked against a hand loop. Its
//! gradient with respect to the frames is the analysis (framing) of grad_signal times
//! the window, `grad_frames[n, k, t] = grad_signal[n, 3t + k] * window[k]`, also checked
//! against a hand loop; so analysis followed by synthesis, divided by the window's
//! overlap envelope (the synthesis of frames of ones with the squared window),
//! reconstructs the signal, as `istft(stft(x)) = x` does.

use conv_kernels::conv_kernel;
use ndarray::{Array1, Array2, Array3, Zip};

const K: usize = 8;
const HOP: usize = 3;

conv_kernel! {
    /// Windowed overlap-add: frames (n, k, t), window (k) -> signal (n, (t - 1)*3 + 8).
    pub synth(frames, window) -> signal = "nkt,k->ntk" {
        unfold signal.t by k, stride = 3;
        size k = 8;
        dtype f64;
    }
}

/// Overlap-add by hand: each frame times the window, added into the signal at t * HOP.
fn overlap_add(frames: &Array3<f64>, window: &Array1<f64>) -> Array2<f64> {
    let (nn, _, tt) = frames.dim();
    let mut signal = Array2::zeros((nn, (tt - 1) * HOP + K));
    for ((n, k, t), &v) in frames.indexed_iter() {
        signal[[n, t * HOP + k]] += v * window[k];
    }
    signal
}

/// Framing by hand (the analysis of an STFT, without the Fourier transform): frame t of
/// row n is `signal[n, t*HOP .. t*HOP + K]` times the window.
fn analysis(signal: &Array2<f64>, window: &Array1<f64>, frames: usize) -> Array3<f64> {
    Array3::from_shape_fn((signal.nrows(), K, frames), |(n, k, t)| {
        signal[[n, t * HOP + k]] * window[k]
    })
}

fn largest_difference(a: &[f64], b: &[f64]) -> f64 {
    assert_eq!(a.len(), b.len());
    a.iter().zip(b).fold(0.0, |m, (x, y)| m.max((x - y).abs()))
}

fn main() -> Result<(), conv_kernels::ShapeError> {
    // The sine window, nonzero at every tap (a periodic Hann window would be 0 at tap 0,
    // and the first sample would then be lost).
    let window = Array1::from_shape_fn(K, |k| {
        (std::f64::consts::PI * (k as f64 + 0.5) / K as f64).sin()
    });
    let (batch, count) = (2, 6);
    let frames = Array3::from_shape_fn((batch, K, count), |(n, k, t)| {
        ((n * 7 + k * 3 + t * 5) as f64 * 0.37 + 0.6).sin()
    });
    let signal = synth::forward(&frames, &window)?;
    // (6 - 1)*3 + 8 = 23 samples.
    println!(
        "frames {:?} (n, k, t), hop {HOP} -> signal {:?}",
        frames.shape(),
        signal.shape()
    );
    assert_eq!(signal.shape(), [batch, (count - 1) * HOP + K]);
    assert_eq!(synth::output_shape([batch, K, count], [K])?, [batch, 23]);
    let expected = overlap_add(&frames, &window);
    let error = largest_difference(signal.as_slice().unwrap(), expected.as_slice().unwrap());
    println!("signal[0, ..8] = {:.4}", signal.slice(ndarray::s![0, ..8]));
    println!("largest difference from the hand overlap-add loop: {error:.1e}");
    assert!(error < 1e-14);
    // Samples 0..3 are in frame 0 alone; sample 3 is in frames 0 (tap 3) and 1 (tap 0).
    let by_hand = frames[[0, 3, 0]] * window[3] + frames[[0, 0, 1]] * window[0];
    println!("signal[0, 3] = f[0, 3, 0] w3 + f[0, 0, 1] w0 = {by_hand:.4}");
    assert!((signal[[0, 3]] - by_hand).abs() < 1e-15);

    // The gradient with respect to the frames reads grad_signal through the same windows:
    // the analysis of grad_signal, times the window.
    let grad_signal = Array2::from_shape_fn(signal.raw_dim(), |(n, p)| {
        ((n * 11 + p * 2) as f64 * 0.23).cos()
    });
    let grads = synth::backward(&frames, &window, &grad_signal)?;
    let expected = analysis(&grad_signal, &window, count);
    let error = largest_difference(
        grads.frames.as_slice().unwrap(),
        expected.as_slice().unwrap(),
    );
    println!(
        "grad_frames {:?}: largest difference from the framing of grad_signal times the window: {error:.1e}",
        grads.frames.shape()
    );
    assert!(error < 1e-15);
    // And the window's: sum over n and t of frames[n, k, t] * grad_signal[n, 3t + k].
    let mut grad_window = Array1::<f64>::zeros(K);
    for ((n, k, t), &v) in frames.indexed_iter() {
        grad_window[k] += v * grad_signal[[n, t * HOP + k]];
    }
    let error = largest_difference(
        grads.window.as_slice().unwrap(),
        grad_window.as_slice().unwrap(),
    );
    println!(
        "grad_window = {:.4} (hand loop: {error:.1e} away)",
        grads.window
    );
    assert!(error < 1e-14);

    // Round trip: frame a signal (synth's own grad_frames is the analysis), synthesise,
    // and divide by the envelope sum over t of window[p - 3t]^2, itself the synthesis of
    // frames of ones with the squared window.
    let x = Array2::from_shape_fn(signal.raw_dim(), |(n, p)| {
        ((n + 1) as f64 * p as f64 * 0.41).sin() + 0.1 * p as f64
    });
    let analysed = synth::grad_frames([batch, K, count], &window, &x)?;
    assert!(
        largest_difference(
            analysed.as_slice().unwrap(),
            analysis(&x, &window, count).as_slice().unwrap()
        ) < 1e-15
    );
    let envelope = synth::forward(&Array3::ones((1, K, count)), &window.mapv(|w| w * w))?;
    let mut rebuilt = synth::forward(&analysed, &window)?;
    Zip::from(rebuilt.rows_mut()).for_each(|mut row| row /= &envelope.row(0));
    let error = largest_difference(rebuilt.as_slice().unwrap(), x.as_slice().unwrap());
    println!(
        "envelope[..8] = {:.4}\nsynthesis(analysis(x)) / envelope: largest difference from x {error:.1e}",
        envelope.slice(ndarray::s![0, ..8])
    );
    assert!(error < 1e-13);
    Ok(())
}
