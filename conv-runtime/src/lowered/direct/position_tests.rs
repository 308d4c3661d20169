//! The position tiles against the interpreter, at shapes where the table sends the
//! forward pass to them: every tile height (6, 4, 2, 1 positions), a partial block of
//! columns, several chunks of taps, tiles spanning outer points, strides, a bias, both
//! element types, every thread count, and the explicit registers against plain loops.

use super::tests::values;
use crate::__private::Output;
use crate::lowered::choose::{path_of, Pass};
use crate::lowered::{forward, set_min_macs, Path, Tensor};
use crate::{Element, Interpreter};
use conv_model::gemm_plan::gemm_plan;
use ndarray::ArrayViewD;

/// The forward pass on `threads` threads, asserted to take the position tiles and to
/// match the interpreter; its bits.
fn run<T: Element>(source: &str, shapes: &[&[usize]], threads: usize) -> Vec<T> {
    run_on(Path::PositionTiles, source, shapes, threads)
}

/// The forward pass on `threads` threads, asserted to take `path` and to match the
/// interpreter; its bits.
pub(super) fn run_on<T: Element>(
    path: Path,
    source: &str,
    shapes: &[&[usize]],
    threads: usize,
) -> Vec<T> {
    let interp = Interpreter::new(source).expect("a valid kernel");
    let kernel = interp.kernel();
    let extents = crate::shapes::resolve(kernel, shapes).expect("shapes fit");
    let facts = conv_model::facts::Facts::derive(interp.program().clone());
    let call = crate::lowered::Call::new(&facts, &extents);
    let plan = gemm_plan(kernel).expect("a batch of products");
    let data: Vec<Vec<T>> = (shapes.iter().enumerate())
        .map(|(i, s)| values(s.iter().product(), i))
        .collect();
    let views: Vec<ArrayViewD<T>> = (data.iter().zip(shapes))
        .map(|(d, s)| ArrayViewD::from_shape(s.to_vec(), d).expect("shape"))
        .collect();
    let bias: Option<Vec<T>> = kernel.bias.map(|axis| values(extents.of(axis), 7));
    let bias_view =
        (bias.as_ref()).map(|b| ArrayViewD::from_shape(vec![b.len()], &b[..]).expect("shape"));
    let expected = interp.forward(&views, bias_view).expect("forward");
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .expect("a pool");
    let out = pool.install(|| {
        set_min_macs(0);
        assert_eq!(path_of(call, Pass::Forward), path, "{source} {shapes:?}");
        // Never zeroed: every element must be written.
        let mut out = Output::new("y", &[expected.len()]).expect("room");
        let tensor = |i: usize| Tensor {
            data: &data[i][..],
            shape: shapes[i],
        };
        let taken = forward(
            call,
            tensor(plan.a),
            tensor(plan.b),
            bias.as_deref(),
            &mut out,
        );
        assert!(taken, "{source}: the fast path runs");
        out.into_vec()
    });
    let scale = expected.iter().fold(1.0f64, |m, v| m.max(v.to_f64().abs()));
    for (i, (got, want)) in out.iter().zip(expected.iter()).enumerate() {
        let error = (got.to_f64() - want.to_f64()).abs() / scale;
        assert!(
            error < 1e-5,
            "{source} {shapes:?}: element {i}: {got} against {want}"
        );
    }
    out
}

const CONV: &str = "c(x, w) = \"nchwkj,dckj->ndhw\" { unfold x.h by k, pad = 1; \
                    unfold x.w by j, pad = 1; bias d; }";
const ROW_BIAS: &str = "c(x, w) = \"nchwkj,dckj->ndhw\" { unfold x.h by k, pad = 1; \
                        unfold x.w by j, pad = 1; bias h; }";
const STRIDED: &str = "c(x, w) = \"nchwkj,dckj->ndhw\" { unfold x.h by k, stride = 2, pad = 1; \
                       unfold x.w by j, stride = 2, pad = 1; }";

/// 70 columns: a block of 64 (f32) and one of 6; 20 channels x 9 taps: chunks of 64, 64
/// and 52; 3 x 7 x 7 positions: a job of 96, then one of 51 (tiles of 6, then 2 and 1),
/// tiles spanning images. Strided, 7 x 8 positions per image (one tile of each phase
/// plane): 228 columns (three blocks of 64 and one of 36) over 576 taps; 112 positions,
/// a job of 96, then one of 16 (tiles of 6, then 4).
const SHAPES: [(&str, &[&[usize]]); 3] = [
    (CONV, &[&[3, 20, 7, 7], &[70, 20, 3, 3]]),
    // A bias along a row axis: added to each outer point's chunk after.
    (ROW_BIAS, &[&[3, 20, 7, 7], &[70, 20, 3, 3]]),
    (STRIDED, &[&[2, 64, 13, 15], &[228, 64, 3, 3]]),
];

#[test]
fn position_tiles_match_the_interpreter_on_every_thread_count() {
    for (source, shapes) in SHAPES {
        let one = run::<f32>(source, shapes, 1);
        let three = run::<f32>(source, shapes, 3);
        assert!(
            one.iter()
                .zip(&three)
                .all(|(a, b)| a.to_bits() == b.to_bits()),
            "{source}: threads"
        );
        run::<f64>(source, shapes, 2);
    }
}

#[test]
fn position_tiles_in_registers_give_the_bits_of_the_plain_loops() {
    use std::sync::atomic::Ordering::Relaxed;
    if crate::lowered::zmm::token().is_none() {
        eprintln!("no AVX-512 here: both runs take the plain loops");
    }
    for (source, shapes) in SHAPES {
        let bits = || -> Vec<u64> {
            let narrow = run::<f32>(source, shapes, 2)
                .into_iter()
                .map(|v| u64::from(v.to_bits()));
            narrow
                .chain(run::<f64>(source, shapes, 2).into_iter().map(f64::to_bits))
                .collect()
        };
        let registers = bits();
        let _restore = super::tests::Registers;
        crate::lowered::zmm::ENABLED.store(false, Relaxed);
        let loops = bits();
        crate::lowered::zmm::ENABLED.store(true, Relaxed);
        assert!(
            registers == loops,
            "{source} {shapes:?}: the two paths differ"
        );
    }
}
