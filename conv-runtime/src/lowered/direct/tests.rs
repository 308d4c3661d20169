//! The direct kernels against the interpreter, and the plan's pieces.

use super::*;
use crate::__private::Output;
use crate::lowered::product::Product;
use crate::lowered::{forward, grad_b, set_min_macs, Tensor};
use crate::Element;
use crate::Interpreter;
use conv_model::gemm_plan::gemm_plan;
use ndarray::ArrayViewD;

pub(super) fn values<T: Element>(count: usize, seed: usize) -> Vec<T> {
    (0..count)
        .map(|i| T::from_f64(((i * 7 + seed * 13) % 23) as f64 / 11.0 - 1.0))
        .collect()
}

/// The fast forward on `threads` threads against the interpreter; whether the direct
/// kernel took it.
fn run<T: Element>(source: &str, shapes: &[&[usize]], threads: usize) -> (bool, Vec<T>) {
    let interp = Interpreter::new(source).expect("a valid kernel");
    let kernel = interp.kernel();
    let plan = gemm_plan(kernel).expect("a batch of products");
    let extents = crate::shapes::resolve(kernel, shapes).expect("shapes fit");
    let facts = conv_model::facts::Facts::derive(interp.program().clone());
    let call = crate::lowered::Call::new(&facts, &extents);
    let data: Vec<Vec<T>> = shapes
        .iter()
        .enumerate()
        .map(|(i, s)| values(s.iter().product(), i))
        .collect();
    let views: Vec<ArrayViewD<T>> = data
        .iter()
        .zip(shapes)
        .map(|(d, s)| ArrayViewD::from_shape(s.to_vec(), d).expect("shape"))
        .collect();
    // A bias where the kernel declares one: added as tiles are copied out, or after.
    let bias: Option<(char, Vec<T>)> = kernel.bias.map(|axis| (axis, values(extents.of(axis), 7)));
    let bias_view = bias
        .as_ref()
        .map(|(_, b)| ArrayViewD::from_shape(vec![b.len()], &b[..]).expect("shape"));
    let expected = interp.forward(&views, bias_view).expect("forward");
    let tensor = |i: usize| Tensor {
        data: &data[i][..],
        shape: shapes[i],
    };
    let product =
        Product::new(kernel, &plan, &extents, shapes[plan.a], shapes[plan.b]).expect("a product");
    let plan_of = Direct::new(&product, expected.len());
    let direct = plan_of.is_some();
    let runs = crate::lowered::choose::path_of(call, crate::lowered::choose::Pass::Forward)
        == crate::lowered::Path::Direct;
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .expect("a pool");
    let out = pool.install(|| {
        set_min_macs(0);
        rayon::broadcast(|_| crate::lowered::scratch::dirty(1 << 16, T::from_f64(f64::NAN)));
        // Other paths add onto zeros, as generated code gives them; the direct
        // kernel must write every element (NaN shows one it missed). One column writes
        // a fresh output, never zeroed.
        let fill = if runs { f64::NAN } else { 0.0 };
        let mut out = match runs && product.n_len == 1 {
            true => Output::new("y", &[expected.len()]).expect("room"),
            false => Output::from(vec![T::from_f64(fill); expected.len()]),
        };
        let taken = forward(
            call,
            tensor(plan.a),
            tensor(plan.b),
            bias.as_ref().map(|(_, b)| &b[..]),
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
    (direct, out)
}

#[test]
fn direct_kernels_match_the_interpreter_on_every_path() {
    let conv =
        "c(x, w) = \"nchwkj,dckj->ndhw\" { unfold x.h by k, pad = 1; unfold x.w by j, pad = 1; }";
    let cases: [(&str, &[&[usize]], bool); 19] = [
        // 17 channels: two blocks of 6, one of 4 and one of 1; an odd width of 37.
        (conv, &[&[2, 3, 5, 37], &[17, 3, 3, 3]], true),
        // Rows shorter than a tile, several per tile; the last tile half as wide (94
        // virtual positions: 64 + 32).
        (conv, &[&[1, 2, 6, 14], &[4, 2, 3, 3]], true),
        (
            "c(x, w) = \"nchwkj,dckj->ndhw\" { unfold x.h by k, pad = 2, mode = reflect; \
             unfold x.w by j, dilation = 2, pad = (2, 3), mode = replicate; }",
            &[&[2, 2, 7, 40], &[5, 2, 3, 2]],
            true,
        ),
        (
            "c(x, w) = \"ncdhwijk,ecijk->nedhw\" { unfold x.d by i, pad = 1; \
             unfold x.h by j, pad = 1; unfold x.w by k, pad = 1; }",
            &[&[1, 2, 3, 12, 30], &[3, 2, 3, 3, 3]],
            true,
        ),
        // Depthwise: one column per channel, the channel a batch axis. Rows of 35 (three
        // registers, the last overlapping), 7 (shorter than a register) and 100 (a block
        // of four registers, then three).
        (
            "c(x, w) = \"nchwkj,ckj->nchw\" { unfold x.h by k, pad = 1; unfold x.w by j, pad = 1; }",
            &[&[2, 3, 6, 35], &[3, 3, 3]],
            true,
        ),
        (
            "c(x, w) = \"nchwkj,ckj->nchw\" { unfold x.h by k, pad = 1; unfold x.w by j, pad = 1; }",
            &[&[1, 2, 5, 7], &[2, 3, 3]],
            true,
        ),
        (
            "c(x, w) = \"nchwkj,ckj->nchw\" { unfold x.h by k; unfold x.w by j, pad = 1; bias c; }",
            &[&[1, 2, 4, 100], &[2, 3, 3]],
            true,
        ),
        // A bias per channel, added as the tiles are copied out: along the columns, and
        // (depthwise) along a batch axis; along a row axis, added to the outer point
        // after.
        (
            "c(x, w) = \"nchwkj,dckj->ndhw\" { unfold x.h by k, pad = 1; unfold x.w by j; bias d; }",
            &[&[2, 3, 5, 37], &[7, 3, 3, 2]],
            true,
        ),
        (
            "c(x, w) = \"nchwkj,ckj->nchw\" { unfold x.h by k, pad = 1; unfold x.w by j, pad = 1; bias c; }",
            &[&[2, 3, 6, 35], &[3, 3, 3]],
            true,
        ),
        (
            "c(x, w) = \"nchwkj,ckj->nchw\" { unfold x.h by k, pad = 1; unfold x.w by j, pad = 1; bias h; }",
            &[&[2, 3, 6, 35], &[3, 3, 3]],
            true,
        ),
        // Strided with 520 taps x 256 columns (520 KiB of weights): the plan applies,
        // the forward goes through the GEMM.
        (
            "c(x, w) = \"nclk,dck->ndl\" { unfold x.l by k, stride = 2, pad = 1; }",
            &[&[2, 130, 301], &[256, 130, 4]],
            true,
        ),
        // Grouped: the group a batch axis of both operands.
        (
            "c(x, w) = \"ngchwkj,gdckj->ngdhw\" { unfold x.h by k, pad = 1; unfold x.w by j; }",
            &[&[2, 2, 3, 5, 20], &[2, 4, 3, 3, 2]],
            true,
        ),
        // Strided windows, split into phases: along the run only, along rows and run
        // (a 7x7 stem, odd extents), stride 3 with dilation and reflection, stride
        // along the rows only, and depthwise.
        (
            "c(x, w) = \"nclk,dck->ndl\" { unfold x.l by k, stride = 2, pad = 1; }",
            &[&[2, 3, 41], &[5, 3, 3]],
            true,
        ),
        (
            "c(x, w) = \"nchwkj,dckj->ndhw\" { unfold x.h by k, stride = 2, pad = 3; \
             unfold x.w by j, stride = 2, pad = 3; bias d; }",
            &[&[1, 3, 17, 23], &[8, 3, 7, 7]],
            true,
        ),
        (
            "c(x, w) = \"nchwkj,dckj->ndhw\" { unfold x.h by k, stride = 3, dilation = 2, pad = 2, \
             mode = reflect; unfold x.w by j, stride = 3, pad = (1, 2); }",
            &[&[2, 2, 13, 29], &[7, 2, 3, 2]],
            true,
        ),
        (
            "c(x, w) = \"nchwkj,dckj->ndhw\" { unfold x.h by k, stride = 2, pad = 1; \
             unfold x.w by j, pad = 1, mode = circular; }",
            &[&[2, 3, 9, 20], &[5, 3, 3, 3]],
            true,
        ),
        (
            "c(x, w) = \"nchwkj,ckj->nchw\" { unfold x.h by k, stride = 2, pad = 1; \
             unfold x.w by j, stride = 2, pad = 1; }",
            &[&[2, 3, 11, 36], &[3, 3, 3]],
            true,
        ),
        (
            "c(x, w) = \"nchwkj,ckj->nchw\" { unfold x.h by k, stride = 3, dilation = 2, pad = 2, \
             mode = reflect; unfold x.w by j, stride = 2, pad = (2, 1), mode = replicate; }",
            &[&[2, 2, 13, 29], &[2, 3, 3]],
            true,
        ),
        // Channels last: the rows are not contiguous in the output.
        (
            "c(x, w) = \"nhwckj,kjcd->nhwd\" { unfold x.h by k, pad = 1; unfold x.w by j, pad = 1; }",
            &[&[2, 5, 6, 3], &[3, 3, 3, 4]],
            false,
        ),
    ];
    for (source, shapes, direct) in cases {
        let (taken, one) = run::<f32>(source, shapes, 1);
        assert_eq!(taken, direct, "{source}: direct kernel");
        let (_, three) = run::<f32>(source, shapes, 3);
        assert!(
            one.iter()
                .zip(&three)
                .all(|(a, b)| a.to_bits() == b.to_bits()),
            "{source}: threads"
        );
        run::<f64>(source, shapes, 2);
    }
}

/// The fast gradient of B on `threads` threads against the interpreter's, with the
/// direct kernel's plan applying.
fn run_grad_b<T: Element>(source: &str, shapes: &[&[usize]], threads: usize) -> Vec<T> {
    let interp = Interpreter::new(source).expect("a valid kernel");
    let kernel = interp.kernel();
    let plan = gemm_plan(kernel).expect("a batch of products");
    let extents = crate::shapes::resolve(kernel, shapes).expect("shapes fit");
    let facts = conv_model::facts::Facts::derive(interp.program().clone());
    let call = crate::lowered::Call::new(&facts, &extents);
    let data: Vec<Vec<T>> = shapes
        .iter()
        .enumerate()
        .map(|(i, s)| values(s.iter().product(), i))
        .collect();
    let views: Vec<ArrayViewD<T>> = data
        .iter()
        .zip(shapes)
        .map(|(d, s)| ArrayViewD::from_shape(s.to_vec(), d).expect("shape"))
        .collect();
    let y_shape = interp
        .forward(&views, None)
        .expect("forward")
        .shape()
        .to_vec();
    let grad_y: Vec<T> = values(y_shape.iter().product(), 3);
    let grad_y_view = ArrayViewD::from_shape(y_shape, &grad_y[..]).expect("shape");
    let grads = interp.backward(&views, grad_y_view).expect("backward");
    let product =
        Product::new(kernel, &plan, &extents, shapes[plan.a], shapes[plan.b]).expect("a product");
    assert!(
        Direct::new(&product, grad_y.len()).is_some(),
        "{source}: the direct kernel's plan"
    );
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .expect("a pool");
    let got = pool.install(|| {
        set_min_macs(0);
        // Buffers left full of NaN: every element the kernel reads it must write.
        rayon::broadcast(|_| crate::lowered::scratch::dirty(1 << 16, T::from_f64(f64::NAN)));
        let mut grad = vec![T::zero(); data[plan.b].len()];
        let a = Tensor {
            data: &data[plan.a][..],
            shape: shapes[plan.a],
        };
        let taken = grad_b(call, a, &grad_y, &mut grad);
        assert!(taken, "{source}: the fast path runs");
        grad
    });
    let want = grads.operands[plan.b].as_standard_layout();
    let want = want.as_slice().expect("standard");
    let scale = want.iter().fold(1.0f64, |m, v| m.max(v.to_f64().abs()));
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        let error = (g.to_f64() - w.to_f64()).abs() / scale;
        assert!(
            error < 1e-5,
            "{source} {shapes:?}: element {i}: {g} against {w}"
        );
    }
    got
}

#[test]
fn gradients_of_b_from_the_padded_copy_match_the_interpreter() {
    let conv =
        "c(x, w) = \"nchwkj,dckj->ndhw\" { unfold x.h by k, pad = 1; unfold x.w by j, pad = 1; }";
    let cases: [(&str, &[&[usize]]); 12] = [
        // 5 columns, fewer than a register tile's: a dot product per column and tap
        // over the whole padded copy (strided and reflected here).
        (
            "c(x, w) = \"nchwkj,dckj->ndhw\" { unfold x.h by k, stride = 2, pad = 1; \
             unfold x.w by j, pad = 1, mode = reflect; }",
            &[&[2, 3, 9, 20], &[5, 3, 3, 3]],
        ),
        // 70 columns: a tile of 64 and six of 1; 27 taps: 4 tiles of 6 and one of 3;
        // 7 jobs, so the 5 outer points split into 4 slices (2, 1, 1, 1).
        (conv, &[&[5, 3, 6, 13], &[70, 3, 3, 3]]),
        // A batch of one: grad_y transposed in stretches of rows (two per part on
        // three threads), rows of 37 (two 16 x 16 register squares, five left over).
        (conv, &[&[1, 2, 5, 37], &[70, 2, 3, 3]]),
        // 50 columns: 32, 16, 1 and 1; 8 taps: 6, 1 and 1.
        (
            "c(x, w) = \"nchwkj,dckj->ndhw\" { unfold x.h by k, pad = 1; unfold x.w by j; }",
            &[&[1, 2, 4, 9], &[50, 2, 2, 2]],
        ),
        // 1035 taps: more sums than a job holds, so two chunks of taps.
        (conv, &[&[1, 115, 3, 8], &[2, 115, 3, 3]]),
        // Grouped, 8 groups of 3 columns: 24 jobs, no slices of outer points.
        (
            "c(x, w) = \"ngchwkj,gdckj->ngdhw\" { unfold x.h by k, pad = 1; unfold x.w by j, pad = 1; }",
            &[&[2, 8, 2, 5, 7], &[8, 3, 2, 3, 3]],
        ),
        // Depthwise: each outer point padded on its own, from zeros and by reflection.
        (
            "c(x, w) = \"nchwkj,ckj->nchw\" { unfold x.h by k, pad = 1; unfold x.w by j, pad = 1; }",
            &[&[2, 3, 6, 35], &[3, 3, 3]],
        ),
        (
            "c(x, w) = \"nchwkj,ckj->nchw\" { unfold x.h by k, pad = 1, mode = reflect; \
             unfold x.w by j, pad = (2, 1), dilation = 2; }",
            &[&[2, 2, 5, 19], &[2, 3, 2]],
        ),
        // Strided: a 7x7 stem's shape, stride 3 with dilation and reflection, depthwise.
        (
            "c(x, w) = \"nchwkj,dckj->ndhw\" { unfold x.h by k, stride = 2, pad = 3; \
             unfold x.w by j, stride = 2, pad = 3; }",
            &[&[2, 3, 17, 23], &[8, 3, 7, 7]],
        ),
        (
            "c(x, w) = \"nchwkj,dckj->ndhw\" { unfold x.h by k, stride = 3, dilation = 2, pad = 2, \
             mode = reflect; unfold x.w by j, stride = 3, pad = (1, 2); }",
            &[&[2, 2, 13, 29], &[7, 2, 3, 2]],
        ),
        (
            "c(x, w) = \"nchwkj,ckj->nchw\" { unfold x.h by k, stride = 2, pad = 1; \
             unfold x.w by j, stride = 2, pad = 1; }",
            &[&[2, 3, 11, 36], &[3, 3, 3]],
        ),
        // Dilated conv1d with 20 columns (16, then four of 1).
        (
            "c(x, w) = \"nclk,dck->ndl\" { unfold x.l by k, pad = 2, dilation = 2; }",
            &[&[3, 4, 40], &[20, 4, 3]],
        ),
    ];
    for (source, shapes) in cases {
        let one = run_grad_b::<f32>(source, shapes, 1);
        let three = run_grad_b::<f32>(source, shapes, 3);
        assert!(
            one.iter()
                .zip(&three)
                .all(|(a, b)| a.to_bits() == b.to_bits()),
            "{source}: threads"
        );
        run_grad_b::<f64>(source, shapes, 2);
    }
}

#[test]
fn the_stretch_of_a_padded_dimension_is_its_interior() {
    let map = [None, Some(0), Some(1), Some(2), None, Some(1)];
    let last = super::fill::LastDim::new(Some(&map), map.len());
    assert_eq!((last.interior, last.first_source), (1..4, 0));
    assert_eq!(last.edges, vec![(0, None), (4, None), (5, Some(1))]);
    let unpadded = super::fill::LastDim::new(None, 7);
    assert_eq!((unpadded.interior, unpadded.edges), (0..7, vec![]));
}

#[test]
fn strided_forward_passes_of_large_weights_go_to_the_gemm() {
    let plan_of = |source: &str, shapes: &[&[usize]]| {
        let interp = Interpreter::new(source).expect("a valid kernel");
        let kernel = interp.kernel();
        let plan = gemm_plan(kernel).expect("a batch of products");
        let extents = crate::shapes::resolve(kernel, shapes).expect("shapes fit");
        let facts = conv_model::facts::Facts::derive(interp.program().clone());
        let call = crate::lowered::Call::new(&facts, &extents);
        let product = Product::new(kernel, &plan, &extents, shapes[plan.a], shapes[plan.b])
            .expect("a product");
        let out_len = kernel.output.iter().map(|&a| extents.of(a)).product();
        assert!(Direct::new(&product, out_len).is_some(), "the direct plan");
        set_min_macs(0);
        let path = crate::lowered::choose::path_of(call, crate::lowered::choose::Pass::Forward);
        set_min_macs(crate::lowered::choose::MIN_MACS);
        path == crate::lowered::Path::Direct
    };
    let strided = "c(x, w) = \"nclk,dck->ndl\" { unfold x.l by k, stride = 2, pad = 1; }";
    let unit = "c(x, w) = \"nclk,dck->ndl\" { unfold x.l by k, pad = 1; }";
    assert!(plan_of(strided, &[&[2, 3, 41], &[5, 3, 3]]), "9 taps");
    assert!(
        plan_of(strided, &[&[2, 130, 301], &[3, 130, 4]]),
        "520 taps x 3 columns: 6 KiB"
    );
    assert!(
        !plan_of(strided, &[&[2, 130, 301], &[256, 130, 4]]),
        "520 taps x 256 columns: 520 KiB"
    );
    assert!(
        !plan_of(strided, &[&[2, 130, 301], &[253, 130, 4]]),
        "520 taps x 253 columns: 514 KiB"
    );
    assert!(
        plan_of(strided, &[&[2, 130, 301], &[252, 130, 4]]),
        "520 taps x 252 columns: 511.9 KiB"
    );
    assert!(plan_of(unit, &[&[2, 130, 301], &[256, 130, 4]]), "stride 1");
}

/// Restores the explicit registers when dropped, even if the test fails.
pub(super) struct Registers;

impl Drop for Registers {
    fn drop(&mut self) {
        crate::lowered::zmm::ENABLED.store(true, std::sync::atomic::Ordering::Relaxed);
    }
}

#[test]
fn explicit_registers_give_the_bits_of_the_plain_loops() {
    use std::sync::atomic::Ordering::Relaxed;
    let conv =
        "c(x, w) = \"nchwkj,dckj->ndhw\" { unfold x.h by k, pad = 1; unfold x.w by j, pad = 1; }";
    let depthwise =
        "c(x, w) = \"nchwkj,ckj->nchw\" { unfold x.h by k, pad = 1; unfold x.w by j, pad = 1; }";
    let stem = "c(x, w) = \"nchwkj,dckj->ndhw\" { unfold x.h by k, stride = 2, pad = 3; \
                unfold x.w by j, stride = 2, pad = 3; bias d; }";
    // Forward tiles of 64 and 32 positions (f32) and 32 and 16 (f64), blocks of 6, 4
    // and 1 channels; single-column rows of 35, 7 and 100 (every block of registers and
    // the overlapping last one); grad_b tiles of 64, 32 and 16 columns and of 1 (left
    // to the plain loops), 6, 3 and 1 taps.
    let cases: [(&str, &[&[usize]]); 7] = [
        (conv, &[&[2, 3, 5, 37], &[17, 3, 3, 3]]),
        (conv, &[&[5, 3, 6, 13], &[70, 3, 3, 3]]),
        (conv, &[&[1, 2, 6, 14], &[50, 2, 3, 3]]),
        (depthwise, &[&[2, 3, 6, 35], &[3, 3, 3]]),
        (depthwise, &[&[1, 2, 5, 7], &[2, 3, 3]]),
        (depthwise, &[&[1, 2, 4, 100], &[2, 3, 3]]),
        (stem, &[&[1, 3, 17, 23], &[8, 3, 7, 7]]),
    ];
    let all = |source: &str, shapes: &[&[usize]]| -> Vec<u64> {
        let f32s = [
            run::<f32>(source, shapes, 2).1,
            run_grad_b::<f32>(source, shapes, 2),
        ];
        let f64s = [
            run::<f64>(source, shapes, 2).1,
            run_grad_b::<f64>(source, shapes, 2),
        ];
        let narrow = f32s.iter().flatten().map(|v| u64::from(v.to_bits()));
        narrow
            .chain(f64s.iter().flatten().map(|v| v.to_bits()))
            .collect()
    };
    if crate::lowered::zmm::token().is_none() {
        eprintln!("no AVX-512 here: both runs take the plain loops");
    }
    for (source, shapes) in cases {
        let registers = all(source, shapes);
        let _restore = Registers;
        crate::lowered::zmm::ENABLED.store(false, Relaxed);
        let loops = all(source, shapes);
        crate::lowered::zmm::ENABLED.store(true, Relaxed);
        assert!(
            registers == loops,
            "{source} {shapes:?}: the two paths differ"
        );
    }
}
