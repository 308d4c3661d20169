//! The GEMM path's forward with a bias, its gradient of B and the bias's gradient, against the interpreter,
//! on the layouts whose bias and gradient are written differently: the bias axis inside
//! (channels first) or innermost (channels last), B's reduction indices contiguous or
//! strided, one batch point or several (grouped).

use super::{forward, grad_b, set_min_macs, Tensor};
use crate::__private::Output;
use crate::Interpreter;
use conv_model::gemm_plan::gemm_plan;
use ndarray::ArrayViewD;

fn values(count: usize, seed: usize) -> Vec<f64> {
    (0..count)
        .map(|i| ((i * 7 + seed * 13) % 23) as f64 / 11.0 - 1.0)
        .collect()
}

fn close(what: &str, got: &[f64], want: &[f64]) {
    assert_eq!(got.len(), want.len(), "{what}: lengths");
    let scale = want.iter().fold(1.0f64, |m, v| m.max(v.abs()));
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        assert!(
            (g - w).abs() <= 1e-12 * scale,
            "{what}: element {i}: {g} against {w}"
        );
    }
}

/// Runs the fast forward (with a bias along `bias_axis`) and grad_b of `source` on
/// `shapes`, and compares them with the interpreter.
fn check(source: &str, shapes: [&[usize]; 2], bias_axis: char) {
    let interp = Interpreter::new(source).expect("a valid kernel");
    let kernel = interp.kernel();
    let plan = gemm_plan(kernel).expect("a batch of products");
    let extents = crate::shapes::resolve(kernel, &shapes).expect("shapes fit");
    let facts = conv_model::facts::Facts::derive(interp.program().clone());
    let call = super::Call::new(&facts, &extents);
    let data: Vec<Vec<f64>> = (0..2)
        .map(|i| values(shapes[i].iter().product(), i))
        .collect();
    let views: Vec<ArrayViewD<f64>> = (0..2)
        .map(|i| ArrayViewD::from_shape(shapes[i].to_vec(), &data[i]).expect("shape"))
        .collect();
    let bias = values(extents.of(bias_axis), 5);
    let bias_view = ArrayViewD::from_shape(vec![bias.len()], &bias[..]).expect("shape");
    let expected = interp.forward(&views, Some(bias_view)).expect("forward");
    let grad_y = values(expected.len(), 3);
    let grad_y_view =
        ArrayViewD::from_shape(expected.shape().to_vec(), &grad_y[..]).expect("shape");
    let grads = interp.backward(&views, grad_y_view).expect("backward");
    let tensor = |i: usize| Tensor {
        data: &data[i][..],
        shape: shapes[i],
    };
    set_min_macs(0);
    let mut out = Output::from(vec![0.0; expected.len()]);
    let taken = forward(
        call,
        tensor(plan.a),
        tensor(plan.b),
        Some(&bias[..]),
        &mut out,
    );
    let out = out.into_vec();
    assert!(taken, "{source}: the fast forward runs");
    close(
        &format!("{source}: forward"),
        &out,
        expected.as_slice().expect("standard"),
    );
    if kernel.operands[plan.b]
        .physical
        .iter()
        .all(|a| kernel.output.contains(a) || kernel.window_of(*a).is_some())
    {
        // One column: the direct kernel's gradient must be the one that runs.
        let product =
            super::product::Product::new(kernel, &plan, &extents, shapes[plan.a], shapes[plan.b]);
        let product = product.expect("a product");
        assert!(
            super::direct::Direct::new(&product, out.len()).is_some(),
            "{source}: direct"
        );
    }
    let mut grad = vec![0.0; data[plan.b].len()];
    let taken = grad_b(call, tensor(plan.a), &grad_y, &mut grad);
    assert!(taken, "{source}: the fast grad_b runs");
    let want = grads.operands[plan.b].as_standard_layout();
    close(
        &format!("{source}: grad of B"),
        &grad,
        want.as_slice().expect("standard"),
    );
    let mut grad_bias = vec![0.0; bias.len()];
    let taken = super::grad_bias(call, &grad_y, &mut grad_bias);
    assert!(taken, "{source}: the fast grad_bias runs");
    let want = grads.bias.expect("a bias").into_raw_vec_and_offset().0;
    close(&format!("{source}: grad of the bias"), &grad_bias, &want);
    set_min_macs(super::choose::MIN_MACS);
}

#[test]
fn bias_and_gradients_on_every_layout() {
    // Channels first: the bias axis has the rows inside it; B's reduction contiguous.
    check(
        "c(x, w) = \"nchwkj,dckj->ndhw\" { unfold x.h by k, stride = 2, pad = 1; unfold x.w by j, stride = 2, pad = 1; bias d; }",
        [&[3, 5, 9, 11], &[7, 5, 3, 3]],
        'd',
    );
    // Channels last: the bias axis innermost; B's reduction strided by the columns.
    check(
        "c(x, w) = \"nhwckj,kjcd->nhwd\" { unfold x.h by k, pad = 1; unfold x.w by j, pad = 1; bias d; }",
        [&[2, 6, 7, 5], &[3, 3, 5, 9]],
        'd',
    );
    // Depthwise (one column): the gradient of B as dot products over shifted stretches
    // of the padded copy, 9 taps (one group), 5 (3 + 1 + 1) and 27 (9 + 9 + 9).
    check(
        "c(x, w) = \"nchwkj,ckj->nchw\" { unfold x.h by k, pad = 1; unfold x.w by j, pad = (0, 2), dilation = 2; bias c; }",
        [&[2, 3, 7, 33], &[3, 3, 3]],
        'c',
    );
    check(
        "c(x, w) = \"nclk,ck->ncl\" { unfold x.l by k, pad = 2; bias c; }",
        [&[3, 4, 50], &[4, 5]],
        'c',
    );
    check(
        "c(x, w) = \"ncdhwijk,cijk->ncdhw\" { unfold x.d by i, pad = 1; unfold x.h by j, pad = 1; unfold x.w by k, pad = 1; bias c; }",
        [&[2, 2, 4, 12, 30], &[2, 3, 3, 3]],
        'c',
    );
    // Grouped: one gradient of B per group, summed over its own outer points.
    check(
        "c(x, w) = \"ngchwkj,gdckj->ngdhw\" { unfold x.h by k, stride = 2; unfold x.w by j, stride = 2; bias d; }",
        [&[3, 2, 3, 9, 9], &[2, 4, 3, 3, 3]],
        'd',
    );
}

/// Forward, grad of A and grad of B of `source` on the fast path against the
/// interpreter; whether A was read in place (no panel).
fn in_place(source: &str, shapes: [&[usize]; 2]) -> bool {
    let interp = Interpreter::new(source).expect("a valid kernel");
    let kernel = interp.kernel();
    let plan = gemm_plan(kernel).expect("a batch of products");
    let extents = crate::shapes::resolve(kernel, &shapes).expect("shapes fit");
    let facts = conv_model::facts::Facts::derive(interp.program().clone());
    let call = super::Call::new(&facts, &extents);
    let data: Vec<Vec<f64>> = (0..2)
        .map(|i| values(shapes[i].iter().product(), i))
        .collect();
    let views: Vec<ArrayViewD<f64>> = (0..2)
        .map(|i| ArrayViewD::from_shape(shapes[i].to_vec(), &data[i]).expect("shape"))
        .collect();
    let y = interp.forward(&views, None).expect("forward");
    let grad_y = values(y.len(), 3);
    let grad_y_view = ArrayViewD::from_shape(y.shape().to_vec(), &grad_y[..]).expect("shape");
    let grads = interp.backward(&views, grad_y_view).expect("backward");
    let standard =
        |a: &ndarray::ArrayD<f64>| a.as_standard_layout().iter().copied().collect::<Vec<_>>();
    let tensor = |i: usize| Tensor {
        data: &data[i][..],
        shape: shapes[i],
    };
    set_min_macs(0);
    let mut out = Output::from(vec![0.0; y.len()]);
    assert!(forward(
        call,
        tensor(plan.a),
        tensor(plan.b),
        None,
        &mut out
    ));
    let out = out.into_vec();
    close(&format!("{source}: forward"), &out, &standard(&y));
    let mut grad = Output::from(vec![0.0; data[plan.a].len()]);
    assert!(super::grad_a(call, tensor(plan.b), &grad_y, &mut grad));
    let grad = grad.into_vec();
    close(
        &format!("{source}: grad of A"),
        &grad,
        &standard(&grads.operands[plan.a]),
    );
    let mut grad = vec![0.0; data[plan.b].len()];
    assert!(grad_b(call, tensor(plan.a), &grad_y, &mut grad));
    close(
        &format!("{source}: grad of B"),
        &grad,
        &standard(&grads.operands[plan.b]),
    );
    set_min_macs(super::choose::MIN_MACS);
    let product =
        super::product::Product::new(kernel, &plan, &extents, shapes[plan.a], shapes[plan.b]);
    product.expect("a product").a_in_place.is_some()
}

#[test]
fn products_without_windows_read_their_left_operand_in_place() {
    let read_in_place: [(&str, [&[usize]; 2]); 5] = [
        // A 1x1 convolution, channels first and last.
        ("c(x, w) = \"nchw,dc->ndhw\";", [&[2, 5, 3, 7], &[4, 5]]),
        ("c(x, w) = \"nhwc,cd->nhwd\";", [&[2, 3, 7, 5], &[5, 4]]),
        ("m(a, b) = \"ik,kj->ij\";", [&[9, 6], &[6, 5]]),
        // A stored transposed: rows one apart, the reduction a row of A apart.
        ("m(a, b) = \"ki,kj->ij\";", [&[6, 9], &[6, 5]]),
        ("m(a, b) = \"bik,bkj->bij\";", [&[3, 9, 6], &[3, 6, 5]]),
    ];
    for (source, shapes) in read_in_place {
        assert!(in_place(source, shapes), "{source}: read in place");
    }
    // Windows: panels.
    let conv = "c(x, w) = \"nclk,dck->ndl\" { unfold x.l by k, pad = 1; }";
    assert!(!in_place(conv, [&[2, 3, 11], &[4, 3, 3]]), "{conv}: panels");
    // Windows of one tap, stride 1 and no padding (a 1x1 convolution spelled as PyTorch
    // shapes it) read their input as it is: the window-free product, in place.
    let windows = "c(x, w) = \"nchwkj,dckj->ndhw\" { unfold x.h by k; unfold x.w by j; }";
    assert!(
        in_place(windows, [&[2, 5, 3, 7], &[4, 5, 1, 1]]),
        "{windows}: 1x1"
    );
    let nhwc = "c(x, w) = \"nhwkjc,kjcd->nhwd\" { unfold x.h by k; unfold x.w by j; }";
    assert!(
        in_place(nhwc, [&[2, 3, 7, 5], &[1, 1, 5, 4]]),
        "{nhwc}: 1x1"
    );
    // One tap with padding or a stride still reads through its window.
    let padded = "c(x, w) = \"nclk,dck->ndl\" { unfold x.l by k, pad = 1; }";
    assert!(
        !in_place(padded, [&[2, 3, 11], &[4, 3, 1]]),
        "{padded}: padded"
    );
    let strided = "c(x, w) = \"nclk,dck->ndl\" { unfold x.l by k, stride = 2; }";
    assert!(
        !in_place(strided, [&[2, 3, 11], &[4, 3, 1]]),
        "{strided}: strided"
    );
}

/// grad_a of `source` on the fast path in a pool of `threads`, and whether its one outer
/// point splits along its leading row axis.
fn grad_a_on(source: &str, shapes: [&[usize]; 2], threads: usize) -> (bool, Vec<f64>) {
    let interp = Interpreter::new(source).expect("a valid kernel");
    let kernel = interp.kernel();
    let plan = gemm_plan(kernel).expect("a batch of products");
    let extents = crate::shapes::resolve(kernel, &shapes).expect("shapes fit");
    let facts = conv_model::facts::Facts::derive(interp.program().clone());
    let call = super::Call::new(&facts, &extents);
    let data: Vec<Vec<f64>> = (0..2)
        .map(|i| values(shapes[i].iter().product(), i))
        .collect();
    let views: Vec<ArrayViewD<f64>> = (0..2)
        .map(|i| ArrayViewD::from_shape(shapes[i].to_vec(), &data[i]).expect("shape"))
        .collect();
    let y = interp.forward(&views, None).expect("forward");
    let grad_y = values(y.len(), 3);
    let grad_y_view = ArrayViewD::from_shape(y.shape().to_vec(), &grad_y[..]).expect("shape");
    let grads = interp.backward(&views, grad_y_view).expect("backward");
    let b = Tensor {
        data: &data[plan.b][..],
        shape: shapes[plan.b],
    };
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .expect("a pool");
    let grad = pool.install(|| {
        set_min_macs(0);
        let mut grad = Output::from(vec![0.0; data[plan.a].len()]);
        assert!(super::grad_a(call, b, &grad_y, &mut grad));
        set_min_macs(super::choose::MIN_MACS);
        grad.into_vec()
    });
    let want = grads.operands[plan.a].as_standard_layout();
    close(
        &format!("{source}: grad of A"),
        &grad,
        want.as_slice().expect("standard"),
    );
    let product =
        super::product::Product::new(kernel, &plan, &extents, shapes[plan.a], shapes[plan.b]);
    let product = product.expect("a product");
    let split = super::gemm_path::leading_values(&product, grad.len()).is_some();
    (split, grad)
}

#[test]
fn grad_a_of_one_outer_point_splits_along_its_leading_row_axis() {
    let nhwc =
        "c(x, w) = \"nhwckj,kjcd->nhwd\" { unfold x.h by k, pad = 1; unfold x.w by j, pad = 1; }";
    let (split, one) = grad_a_on(nhwc, [&[3, 5, 6, 4], &[3, 3, 4, 5]], 1);
    assert!(split, "{nhwc}: one chunk of A per image");
    let (_, three) = grad_a_on(nhwc, [&[3, 5, 6, 4], &[3, 3, 4, 5]], 3);
    assert!(
        one.iter()
            .zip(&three)
            .all(|(a, b)| a.to_bits() == b.to_bits()),
        "{nhwc}: threads"
    );
    // One image: nothing to split.
    let (split, _) = grad_a_on(nhwc, [&[1, 5, 6, 4], &[3, 3, 4, 5]], 2);
    assert!(!split, "{nhwc}: one image");
    // The leading row axis read by a window: its values share elements of A.
    let windowed =
        "c(x, w) = \"hwckj,kjcd->hwd\" { unfold x.h by k, pad = 1; unfold x.w by j, pad = 1; }";
    let (split, _) = grad_a_on(windowed, [&[5, 6, 4], &[3, 3, 4, 5]], 2);
    assert!(!split, "{windowed}: windowed leading axis");
}

/// The chunk length and reduction parts per value of `A`'s leading reduction axis, for
/// grad_a of one outer point (`gemm_path::leading_reduction`), and the product's blocks.
fn leading_reduction(source: &str, shapes: [&[usize]; 2]) -> (Option<(usize, Vec<usize>)>, usize) {
    let interp = Interpreter::new(source).expect("a valid kernel");
    let kernel = interp.kernel();
    let plan = gemm_plan(kernel).expect("a batch of products");
    let extents = crate::shapes::resolve(kernel, &shapes).expect("shapes fit");
    let product = super::product::Product::new(kernel, &plan, &extents, shapes[0], shapes[1]);
    let product = product.expect("a product");
    let a_len = shapes[0].iter().product();
    let lead = super::by_value::leading_reduction(&product, a_len)
        .map(|(chunk, k)| (chunk, k.iter().map(|k| k.len()).collect()));
    (lead, product.blocks_of(0).count())
}

#[test]
fn grad_a_of_one_strided_image_folds_by_input_channel_whatever_the_threads() {
    let stem = "c(x, w) = \"nchwkj,dckj->ndhw\" { unfold x.h by k, stride = 2, pad = 3; \
                unfold x.w by j, stride = 2, pad = 3; }";
    // 23 x 19 positions of 3136 taps: six blocks of row parts, in waves of one block per
    // thread, each wave's folds split over 64 input channels (their chunks of A).
    let shapes: [&[usize]; 2] = [&[1, 64, 45, 38], &[4, 64, 7, 7]];
    let (lead, blocks) = leading_reduction(stem, shapes);
    assert_eq!(blocks, 6, "{stem}: blocks");
    assert_eq!(
        lead,
        Some((45 * 38, vec![49; 64])),
        "{stem}: 49 taps per channel"
    );
    // grad_a_on checks each against the interpreter.
    let (_, one) = grad_a_on(stem, shapes, 1);
    for threads in [2, 3] {
        let (_, more) = grad_a_on(stem, shapes, threads);
        assert!(
            one.iter()
                .zip(&more)
                .all(|(a, b)| a.to_bits() == b.to_bits()),
            "{stem}: {threads} threads"
        );
    }
    // A reflected border stays in its channel's chunk.
    let reflect = "c(x, w) = \"nchwkj,dckj->ndhw\" { unfold x.h by k, stride = 2, pad = 2, \
                   mode = reflect; unfold x.w by j, stride = 2, pad = 1; }";
    let shapes: [&[usize]; 2] = [&[1, 5, 13, 11], &[3, 5, 5, 3]];
    assert_eq!(
        leading_reduction(reflect, shapes).0,
        Some((13 * 11, vec![15; 5]))
    );
    grad_a_on(reflect, shapes, 3);
    // Channels last: A leads with a windowed axis.
    let nhwc = "c(x, w) = \"nhwckj,kjcd->nhwd\" { unfold x.h by k, stride = 2, pad = 1; \
                unfold x.w by j, stride = 2, pad = 1; }";
    assert_eq!(
        leading_reduction(nhwc, [&[1, 9, 8, 3], &[3, 3, 3, 4]]).0,
        None
    );
}

#[test]
fn grad_a_of_a_strided_depthwise_spreads_registers_of_products() {
    // Rows of 35 (two registers of f64 products, spread to every other place, and a
    // tail), of 4 (the tail alone), and reflected borders.
    let depthwise = "c(x, w) = \"nchwkj,ckj->nchw\" { unfold x.h by k, stride = 2, pad = 1; \
                     unfold x.w by j, stride = 2, pad = 1; }";
    grad_a_on(depthwise, [&[2, 3, 9, 70], &[3, 3, 3]], 2);
    grad_a_on(depthwise, [&[1, 2, 9, 8], &[2, 3, 3]], 1);
    let reflect = "c(x, w) = \"nchwkj,ckj->nchw\" { unfold x.h by k, stride = 2, pad = 1; \
                   unfold x.w by j, stride = 2, pad = 2, mode = reflect; }";
    grad_a_on(reflect, [&[1, 3, 7, 41], &[3, 3, 5]], 3);
}

#[test]
fn grad_a_of_one_column_goes_back_through_each_points_padded_copy() {
    use super::choose::{Pass, Path};
    // Strides 1 to 3, dilation, every padding mode, odd extents, rows shorter than a
    // register and of several, a 1-D window: against the interpreter, and the same
    // bits on 1, 2 and 3 threads.
    let cases: [(&str, [&[usize]; 2]); 5] = [
        (
            "c(x, w) = \"nchwkj,ckj->nchw\" { unfold x.h by k, stride = 2, pad = 1; \
             unfold x.w by j, stride = 2, pad = 1; }",
            [&[2, 3, 9, 70], &[3, 3, 3]],
        ),
        (
            "c(x, w) = \"nchwkj,ckj->nchw\" { unfold x.h by k, stride = 3, dilation = 2, \
             pad = 2, mode = reflect; unfold x.w by j, stride = 2, pad = (2, 1), \
             mode = replicate; }",
            [&[2, 2, 13, 29], &[2, 3, 3]],
        ),
        (
            "c(x, w) = \"nchwkj,ckj->nchw\" { unfold x.h by k, pad = 1, mode = circular; \
             unfold x.w by j, dilation = 2, pad = 2, mode = reflect; }",
            [&[1, 3, 9, 20], &[3, 3, 3]],
        ),
        (
            "c(x, w) = \"nchwkj,ckj->nchw\" { unfold x.h by k, stride = 2, pad = 1; \
             unfold x.w by j, stride = 2, pad = 2, mode = reflect; }",
            [&[1, 3, 7, 41], &[3, 3, 5]],
        ),
        (
            "c(x, w) = \"nclk,ck->ncl\" { unfold x.l by k, stride = 3, pad = (1, 2); }",
            [&[2, 4, 50], &[4, 5]],
        ),
    ];
    for (source, shapes) in cases {
        assert_eq!(
            path(source, shapes, Pass::GradA),
            Path::LocalAdjoint,
            "{source}"
        );
        let (_, one) = grad_a_on(source, shapes, 1);
        for threads in [2, 3] {
            let (_, more) = grad_a_on(source, shapes, threads);
            assert!(
                one.iter()
                    .zip(&more)
                    .all(|(a, b)| a.to_bits() == b.to_bits()),
                "{source}: {threads} threads"
            );
        }
    }
}

/// The path `pass` of `source` takes on `shapes`.
fn path(source: &str, shapes: [&[usize]; 2], pass: super::choose::Pass) -> super::choose::Path {
    let interp = Interpreter::new(source).expect("a valid kernel");
    let extents = crate::shapes::resolve(interp.kernel(), &shapes).expect("shapes fit");
    let facts = conv_model::facts::Facts::derive(interp.program().clone());
    set_min_macs(0);
    let path = super::choose::path_of(super::Call::new(&facts, &extents), pass);
    set_min_macs(super::choose::MIN_MACS);
    path
}

#[test]
fn strided_runs_are_gathered_and_folded_a_register_at_a_time() {
    use super::choose::{Pass, Path};
    let conv = "c(x, w) = \"nchwkj,dckj->ndhw\" { unfold x.h by k, stride = 2, pad = 1; \
                unfold x.w by j, stride = 2, pad = 1; bias d; }";
    // Runs of 38 positions, every other element of x (four registers of f64 and a tail
    // of 6); B of 576 taps x 256 columns (576 KiB of f32) sends the forward pass to the
    // panels.
    let shapes: [&[usize]; 2] = [&[1, 64, 5, 75], &[256, 64, 3, 3]];
    assert_eq!(path(conv, shapes, Pass::Forward), Path::Panels);
    assert_eq!(path(conv, shapes, Pass::GradA), Path::Panels);
    check(conv, shapes, 'd');
    grad_a_on(conv, shapes, 2);
    // Runs of 3: the tail alone.
    let shapes: [&[usize]; 2] = [&[2, 3, 5, 6], &[4, 3, 3, 3]];
    assert_eq!(path(conv, shapes, Pass::GradA), Path::Panels);
    grad_a_on(conv, shapes, 1);
}

#[test]
fn grad_a_of_few_positions_runs_the_transposed_kernel_in_position_tiles() {
    use super::choose::{Pass, Path};
    let conv =
        "c(x, w) = \"nchwkj,dckj->ndhw\" { unfold x.h by k, pad = 1; unfold x.w by j, pad = 1; }";
    // 3 images of 7x7 with 80 channels each way: grad_y's 720 taps into 80 columns (a
    // block of 32 f64 lanes, two, and one of 16), 147 positions in tiles across images.
    let shapes: [&[usize]; 2] = [&[3, 80, 7, 7], &[80, 80, 3, 3]];
    assert_eq!(path(conv, shapes, Pass::GradA), Path::PositionTiles);
    let (_, one) = grad_a_on(conv, shapes, 1);
    let (_, three) = grad_a_on(conv, shapes, 3);
    assert!(one
        .iter()
        .zip(&three)
        .all(|(a, b)| a.to_bits() == b.to_bits()));
}
