//! Our own loops (the direct kernels' tiles, the runs of im2col and fold, the
//! single-column products) compiled for the best instruction set the CPU has, picked at
//! run time: AVX-512, AVX2+FMA, or the baseline. The code is the same plain Rust in every
//! case, with fused multiply-adds where it multiplies and adds; only the target features
//! under which LLVM vectorises it differ, so its results do not depend on the CPU.
//!
//! `f` must be marked `#[inline(always)]` (and so must the closures and functions it
//! calls in its hot loops): what is not inlined into the dispatched function is compiled
//! without the features, and `mul_add` there becomes a call to the C library's `fma`.

/// Runs `f` with the widest SIMD instruction set this CPU supports enabled.
#[inline(always)]
pub(crate) fn vectorized<R>(f: impl FnOnce() -> R) -> R {
    pulp::Arch::new().dispatch(f)
}
