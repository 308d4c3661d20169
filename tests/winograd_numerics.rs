//! The rounding of Winograd's tiles, as README.md ("Numerics") states it: f32 kernels on
//! `F(4x4, 3x3)` against the same convolution in f64, on N(0, 1) inputs and weights,
//! forward, grad_x and grad_weight, over 64 to 512 channels, within 1e-4 of the largest
//! value.

mod common;

use common::{paths, Lcg};
use conv_kernels::conv_kernel;
use ndarray::{Array4, ArrayView4};

conv_kernel! {
    pub conv(x, weight) = "nchwkj,dckj->ndhw" {
        unfold x.h by k, pad = 1;
        unfold x.w by j, pad = 1;
        size k = 3, j = 3;
    }
    pub conv_f64(x, weight) = "nchwkj,dckj->ndhw" {
        unfold x.h by k, pad = 1;
        unfold x.w by j, pad = 1;
        size k = 3, j = 3;
        dtype f64;
    }
}

/// N(0, 1) values by Box-Muller, as f64.
fn normal(shape: [usize; 4], rng: &mut Lcg) -> Array4<f64> {
    Array4::from_shape_simple_fn(shape, || {
        let (u, v) = ((rng.next_f64() + 1.0) / 2.0, (rng.next_f64() + 1.0) / 2.0);
        (-2.0 * (1.0 - u).ln()).sqrt() * (std::f64::consts::TAU * v).cos()
    })
}

/// The largest difference relative to the largest reference value.
fn error(got: ArrayView4<f32>, want: ArrayView4<f64>) -> f64 {
    let scale = want.iter().fold(0f64, |m, v| m.max(v.abs()));
    let worst =
        (got.iter().zip(want.iter())).fold(0f64, |m, (g, w)| m.max((f64::from(*g) - w).abs()));
    worst / scale
}

#[test]
fn winograd_rounding_stays_within_pytorchs_f32_tolerance() {
    let rng = &mut Lcg::new(19);
    for (channels, size) in [(64, 20), (256, 12), (512, 9)] {
        let x = normal([2, channels, size, size], rng);
        let w = normal([32, channels, 3, 3], rng).mapv(|v| v / 3.0);
        let g = normal([2, 32, size, size], rng);
        let shapes: [&[usize]; 2] = [x.shape(), w.shape()];
        assert_eq!(
            paths(&conv::Kernel, &shapes),
            ["Winograd F(4x4, 3x3)"; 3],
            "{channels} channels: every pass on Winograd's tiles"
        );
        let (x32, w32, g32) = (
            x.mapv(|v| v as f32),
            w.mapv(|v| v as f32),
            g.mapv(|v| v as f32),
        );
        // The reference sees the values the f32 kernel sees.
        let (x, w, g) = (
            x32.mapv(f64::from),
            w32.mapv(f64::from),
            g32.mapv(f64::from),
        );
        let y = error(
            conv::forward(&x32, &w32).unwrap().view(),
            conv_f64::forward(&x, &w).unwrap().view(),
        );
        let gx = error(
            conv::grad_x([2, channels, size, size], &w32, &g32)
                .unwrap()
                .view(),
            conv_f64::grad_x([2, channels, size, size], &w, &g)
                .unwrap()
                .view(),
        );
        let gw = error(
            conv::grad_weight(&x32, [32, channels, 3, 3], &g32)
                .unwrap()
                .view(),
            conv_f64::grad_weight(&x, [32, channels, 3, 3], &g)
                .unwrap()
                .view(),
        );
        println!(
            "{channels} channels: forward {y:.1e}, grad_x {gx:.1e}, grad_weight {gw:.1e} of the largest value"
        );
        assert!(
            y < 1e-4 && gx < 1e-4 && gw < 1e-4,
            "{channels} channels: {y:e}, {gx:e}, {gw:e}"
        );
    }
}
