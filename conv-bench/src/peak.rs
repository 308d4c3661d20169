//! The machine's fused multiply-add peak, measured: the yardstick every kernel is held to.

use std::hint::black_box;
use std::sync::Barrier;
use std::time::Instant;

/// Independent accumulator chains: enough to cover FMA latency on two FMA ports.
const CHAINS: usize = 12;
/// Lanes per vector (one zmm register of f32).
const LANES: usize = 16;

/// Iterations of the FMA loop per timed repeat (about 12 ms at 160 GFLOP/s), and repeats:
/// short repeats, many of them, so that one of them runs undisturbed on a shared machine.
pub const FULL: (u64, usize) = (5_000_000, 15);
/// The same for `--quick`.
pub const QUICK: (u64, usize) = (2_000_000, 5);

/// FLOP/s (2 per FMA) of `threads` threads each running independent f32 FMAs as fast as
/// they can, all at once: each repeat starts them together behind a barrier and counts
/// until the slowest finishes, so a thread running alone cannot inflate the sum. The best
/// of `repeats`.
pub fn peak(threads: usize, (iterations, repeats): (u64, usize)) -> f64 {
    let threads = threads.max(1);
    let barrier = Barrier::new(threads);
    let run = || -> Vec<f64> {
        (0..repeats)
            .map(|_| {
                barrier.wait();
                let start = Instant::now();
                black_box(fma_chains(black_box(iterations)));
                start.elapsed().as_secs_f64()
            })
            .collect()
    };
    let times: Vec<Vec<f64>> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..threads).map(|_| scope.spawn(run)).collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("the FMA loop does not panic"))
            .collect()
    });
    let slowest = (0..repeats).map(|rep| times.iter().map(|t| t[rep]).fold(0.0, f64::max));
    let best = slowest.fold(f64::INFINITY, f64::min);
    (threads as u64 * iterations) as f64 * (CHAINS * LANES) as f64 * 2.0 / best
}

fn fma_chains(iterations: u64) -> f32 {
    #[cfg(target_arch = "x86_64")]
    {
        if let Some(simd) = pulp::x86::V4::try_new() {
            return simd.vectorize(
                #[inline(always)]
                || fma_chains_zmm(simd, iterations),
            );
        }
        if let Some(simd) = pulp::x86::V3::try_new() {
            return simd.vectorize(
                #[inline(always)]
                || fma_chains_portable(iterations),
            );
        }
    }
    fma_chains_portable(iterations)
}

/// The chains in explicit 512-bit registers: as plain arrays, a build with
/// `-C target-cpu=native` on Intel CPUs (whose tuning prefers 256-bit vectors) would
/// run them as twice as many ymm FMAs and measure half the peak.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
fn fma_chains_zmm(simd: pulp::x86::V4, iterations: u64) -> f32 {
    let mut acc = [simd.splat_f32x16(1.0); CHAINS];
    let a = simd.splat_f32x16(black_box(0.999_999f32));
    let b = simd.splat_f32x16(black_box(1e-7f32));
    for _ in 0..iterations {
        for value in acc.iter_mut() {
            *value = simd.mul_add_f32x16(*value, a, b);
        }
    }
    acc.iter()
        .flat_map(|v| pulp::bytemuck::cast::<_, [f32; LANES]>(*v))
        .sum()
}

#[inline(always)]
fn fma_chains_portable(iterations: u64) -> f32 {
    // One flat array, so that each chain is one vector register.
    let mut acc = [1.0f32; CHAINS * LANES];
    let (a, b) = (black_box(0.999_999f32), black_box(1e-7f32));
    for _ in 0..iterations {
        for value in acc.iter_mut() {
            *value = value.mul_add(a, b);
        }
    }
    acc.iter().sum()
}
