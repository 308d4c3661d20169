//! The machine's fused multiply-add peak, measured: the yardstick every kernel is held to.

use std::hint::black_box;
use std::time::Instant;

/// Independent accumulator chains: enough to cover FMA latency on two FMA ports.
const CHAINS: usize = 12;
/// Lanes per vector (one zmm register of f32).
const LANES: usize = 16;

/// FLOP/s (2 per FMA) of one thread running independent f32 FMAs as fast as it can.
pub fn single_thread_peak() -> f64 {
    let iterations = 20_000_000u64;
    let mut best = f64::INFINITY;
    for _ in 0..3 {
        let start = Instant::now();
        let sum = fma_chains(black_box(iterations));
        black_box(sum);
        best = best.min(start.elapsed().as_secs_f64());
    }
    (iterations as f64) * (CHAINS * LANES) as f64 * 2.0 / best
}

/// FLOP/s of `threads` threads each running [`single_thread_peak`]'s loop at once.
pub fn peak(threads: usize) -> f64 {
    if threads <= 1 {
        return single_thread_peak();
    }
    let results: Vec<f64> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..threads)
            .map(|_| scope.spawn(single_thread_peak))
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or(0.0))
            .collect()
    });
    results.iter().sum()
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
