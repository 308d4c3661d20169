//! The channels-last position tiles against the interpreter, forward and grad_a (the
//! transposed kernel's forward pass), at shapes where the table sends the pass to them:
//! partial blocks of columns, several chunks of taps, every tile height, a bias on the
//! columns and on a row axis, padding modes, both element types, every thread count;
//! and the layouts it declines.

use super::position_tests::run_on;
use super::tests::values;
use crate::__private::Output;
use crate::lowered::choose::{path_of, Pass};
use crate::lowered::{grad_a, set_min_macs, Call, Path, Tensor};
use crate::{Element, Interpreter};
use conv_model::gemm_plan::gemm_plan;
use ndarray::ArrayViewD;

const NHWC: &str = "c(x, w) = \"nhwkjc,kjcd->nhwd\" { unfold x.h by k, pad = 1; \
                    unfold x.w by j, pad = 1; bias d; }";
const ROW_BIAS: &str = "c(x, w) = \"nhwkjc,kjcd->nhwd\" { unfold x.h by k, pad = (0, 2); \
                        unfold x.w by j, pad = 1, mode = reflect; bias h; }";
const STRIDED: &str = "c(x, w) = \"nhwkjc,kjcd->nhwd\" { unfold x.h by k, stride = 2, pad = 1; \
                       unfold x.w by j, stride = 3, dilation = 2, pad = 2; bias d; }";
const NLC: &str = "c(x, w) = \"nlkc,kcd->nld\" { unfold x.l by k, pad = 2, dilation = 2; }";

/// 52 columns: one partial block (of 64 lanes in f32, of 32 and 20 in f64); 20 channels
/// x 9 taps: chunks of 64, 64 and 52; 3 x 7 x 9 positions: jobs of 96 and 93 (tiles of
/// 6, then 2 and 1), tiles spanning images. 120 columns: blocks of 64 and 56. The 1-D
/// layer: 2 x 41 positions, 5 taps of 24 channels, dilated. Strides 2 and 3 (with
/// dilation), read from a copy with no phases: 2 x 7 x 5 positions.
const SHAPES: [(&str, &[&[usize]]); 5] = [
    (NHWC, &[&[3, 7, 9, 20], &[3, 3, 20, 52]]),
    (NHWC, &[&[1, 5, 6, 16], &[3, 3, 16, 120]]),
    // A bias along a row axis, asymmetric and reflected padding.
    (ROW_BIAS, &[&[2, 6, 8, 20], &[3, 3, 20, 52]]),
    (NLC, &[&[2, 41, 24], &[5, 24, 64]]),
    (STRIDED, &[&[2, 13, 16, 12], &[3, 3, 12, 64]]),
];

#[test]
fn channels_last_tiles_match_the_interpreter_on_every_thread_count() {
    for (source, shapes) in SHAPES {
        let one = run_on::<f32>(Path::ChannelsLast, source, shapes, 1);
        let three = run_on::<f32>(Path::ChannelsLast, source, shapes, 3);
        assert!(
            one.iter()
                .zip(&three)
                .all(|(a, b)| a.to_bits() == b.to_bits()),
            "{source}: threads"
        );
        run_on::<f64>(Path::ChannelsLast, source, shapes, 2);
    }
}

/// grad_a on `threads` threads: the path the table chose, and (when it ran the fast
/// path) the result against the interpreter's.
fn grad_a_path<T: Element>(source: &str, shapes: [&[usize]; 2], threads: usize) -> Path {
    let interp = Interpreter::new(source).expect("a valid kernel");
    let kernel = interp.kernel();
    let facts = conv_model::facts::Facts::derive(interp.program().clone());
    let plan = gemm_plan(kernel).expect("a batch of products");
    let extents = crate::shapes::resolve(kernel, &shapes).expect("shapes fit");
    let call = Call::new(&facts, &extents);
    let data: Vec<Vec<T>> = (0..2)
        .map(|i| values(shapes[i].iter().product(), i))
        .collect();
    let views: Vec<ArrayViewD<T>> = (0..2)
        .map(|i| ArrayViewD::from_shape(shapes[i].to_vec(), &data[i][..]).expect("shape"))
        .collect();
    let y_shape: Vec<usize> = kernel.output.iter().map(|&a| extents.of(a)).collect();
    let grad_y: Vec<T> = values(y_shape.iter().product(), 3);
    let grad_y_view = ArrayViewD::from_shape(y_shape, &grad_y[..]).expect("shape");
    let want = interp
        .backward(&views, grad_y_view)
        .expect("backward")
        .operands[plan.a]
        .as_standard_layout()
        .into_owned();
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .expect("a pool");
    let (path, got) = pool.install(|| {
        set_min_macs(0);
        let path = path_of(call, Pass::GradA);
        // Never zeroed: every element must be written.
        let mut got = Output::new("grad_x", &[want.len()]).expect("room");
        let b = Tensor {
            data: &data[plan.b][..],
            shape: shapes[plan.b],
        };
        assert!(
            grad_a(call, b, &grad_y, &mut got),
            "{source}: the fast path runs"
        );
        (path, got.into_vec())
    });
    let scale = want.iter().fold(1.0f64, |m, v| m.max(v.to_f64().abs()));
    for (i, (g, w)) in got.iter().zip(want.iter()).enumerate() {
        let error = (g.to_f64() - w.to_f64()).abs() / scale;
        assert!(error < 1e-5, "{source}: element {i}: {g} against {w}");
    }
    path
}

#[test]
fn grad_of_a_channels_last_operand_runs_the_transposed_kernel_on_its_tiles() {
    // grad_x's 64 channels are the transposed kernel's columns; grad_y's 20, its taps.
    let nhwc = "c(x, w) = \"nhwkjc,kjcd->nhwd\" { unfold x.h by k, pad = 1; \
                unfold x.w by j, pad = (2, 0); }";
    for threads in [1, 2, 3] {
        let path = grad_a_path::<f32>(nhwc, [&[2, 6, 11, 64], &[3, 3, 64, 20]], threads);
        assert_eq!(path, Path::ChannelsLast, "threads {threads}");
    }
    assert_eq!(
        grad_a_path::<f64>(nhwc, [&[2, 6, 11, 64], &[3, 3, 64, 20]], 2),
        Path::ChannelsLast
    );
    // Strided windows: the transposed kernel would be split by phase; the panels run it.
    let strided = "c(x, w) = \"nhwkjc,kjcd->nhwd\" { unfold x.h by k, stride = 2, pad = 1; \
                   unfold x.w by j, stride = 2, pad = 1; }";
    let path = grad_a_path::<f32>(strided, [&[2, 9, 11, 64], &[3, 3, 64, 20]], 2);
    assert_eq!(path, Path::Panels);
}

#[test]
fn layouts_the_channels_last_tiles_decline() {
    let forward_path = |source: &str, shapes: [&[usize]; 2]| {
        let interp = Interpreter::new(source).expect("a valid kernel");
        let facts = conv_model::facts::Facts::derive(interp.program().clone());
        let extents = crate::shapes::resolve(interp.kernel(), &shapes).expect("shapes fit");
        set_min_macs(0);
        path_of(Call::new(&facts, &extents), Pass::Forward)
    };
    // 70 columns fill 70 of 128 lanes; groups (a batch point each); channels first.
    let declined: [(&str, [&[usize]; 2]); 3] = [
        (NHWC, [&[2, 7, 9, 20], &[3, 3, 20, 70]]),
        (
            "c(x, w) = \"nhwkjgc,gkjcd->nhwgd\" { unfold x.h by k, pad = 1; \
             unfold x.w by j, pad = 1; }",
            [&[2, 7, 9, 2, 20], &[2, 3, 3, 20, 64]],
        ),
        (
            "c(x, w) = \"nchwkj,dckj->ndhw\" { unfold x.h by k, pad = 1; unfold x.w by j, pad = 1; }",
            [&[2, 20, 7, 9], &[64, 20, 3, 3]],
        ),
    ];
    for (source, shapes) in declined {
        assert_ne!(forward_path(source, shapes), Path::ChannelsLast, "{source}");
    }
}
