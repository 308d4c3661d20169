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
        if is_x86_feature_detected!("avx512f") && is_x86_feature_detected!("fma") {
            // SAFETY: the CPU has just been found to support AVX-512F and FMA.
            return unsafe { fma_chains_avx512(iterations) };
        }
        if is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma") {
            // SAFETY: the CPU has just been found to support AVX2 and FMA.
            return unsafe { fma_chains_avx2(iterations) };
        }
    }
    fma_chains_portable(iterations)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,fma")]
fn fma_chains_avx512(iterations: u64) -> f32 {
    fma_chains_portable(iterations)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
fn fma_chains_avx2(iterations: u64) -> f32 {
    fma_chains_portable(iterations)
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
