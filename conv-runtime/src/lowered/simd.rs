//! Our own loops (the runs of im2col, fold and the single-column products) compiled for
//! the best instruction set the CPU has, picked at run time: AVX-512, AVX2+FMA, or the
//! baseline. The code is the same plain Rust in every case; only the target features
//! under which LLVM vectorises it differ, so results do not depend on the CPU.

/// Runs `f` with the widest SIMD instruction set this CPU supports enabled.
#[inline(always)]
pub(crate) fn vectorized<R>(f: impl FnOnce() -> R) -> R {
    pulp::Arch::new().dispatch(f)
}
