//! Winograd's tiles against the interpreter: tile remainders and odd extents, every
//! padding mode, the bias, one image or many, every thread count, grad_a through the
//! transposed kernel, and the kernels it must leave to the direct path.

use crate::__private::Output;
use crate::lowered::choose::{path_of, Pass, MIN_MACS};
use crate::lowered::{forward, grad_a, grad_b, set_min_macs, Call, Path, Tensor};
use crate::Interpreter;
use ndarray::ArrayViewD;

fn values(count: usize, seed: usize) -> Vec<f32> {
    (0..count)
        .map(|i| ((i * 7 + seed * 13) % 23) as f32 / 11.0 - 1.0)
        .collect()
}

/// The pass (forward, grad_a or grad_b) on the fast path on 1, 2 and 3 threads against the
/// interpreter, within `1e-4` of the largest value (the bound Winograd's rounding is held to,
/// PyTorch's tolerance class for f32 convolution); the path it took.
fn run(source: &str, shapes: [&[usize]; 2], pass: Pass) -> Path {
    let interp = Interpreter::new(source).expect("a valid kernel");
    let kernel = interp.kernel();
    let facts = conv_model::facts::Facts::derive(interp.program().clone());
    let plan = facts.plan.clone().expect("a batch of products");
    let extents = crate::shapes::resolve(kernel, &shapes).expect("shapes fit");
    let call = Call::new(&facts, &extents);
    let data: Vec<Vec<f32>> = (0..2)
        .map(|i| values(shapes[i].iter().product(), i))
        .collect();
    let views: Vec<ArrayViewD<f32>> = (0..2)
        .map(|i| ArrayViewD::from_shape(shapes[i].to_vec(), &data[i][..]).expect("shape"))
        .collect();
    let bias = kernel.bias.map(|axis| values(extents.of(axis), 7));
    let bias_view = bias
        .as_ref()
        .map(|b| ArrayViewD::from_shape(vec![b.len()], &b[..]).expect("shape"));
    let y_shape: Vec<usize> = kernel.output.iter().map(|&a| extents.of(a)).collect();
    let grad_y = values(y_shape.iter().product(), 3);
    let want: Vec<f32> = match pass {
        Pass::Forward => interp
            .forward(&views, bias_view)
            .expect("forward")
            .iter()
            .copied()
            .collect(),
        _ => {
            let g = ArrayViewD::from_shape(y_shape.clone(), &grad_y[..]).expect("shape");
            let grads = interp.backward(&views, g).expect("backward");
            let of = if pass == Pass::GradA { plan.a } else { plan.b };
            grads.operands[of]
                .as_standard_layout()
                .iter()
                .copied()
                .collect()
        }
    };
    set_min_macs(0);
    let path = path_of(call, pass);
    for threads in 1..=3 {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .expect("a pool");
        // Winograd writes every element: NaN shows one it missed (grad_b adds into zeros).
        let fill = if path == Path::Winograd && pass != Pass::GradB {
            f32::NAN
        } else {
            0.0
        };
        let mut got = Output::from(vec![fill; want.len()]);
        let tensor = |i: usize| Tensor {
            data: &data[i][..],
            shape: shapes[i],
        };
        let taken = pool.install(|| match pass {
            Pass::Forward => forward(
                call,
                tensor(plan.a),
                tensor(plan.b),
                bias.as_deref(),
                &mut got,
            ),
            Pass::GradA => grad_a(call, tensor(plan.b), &grad_y, &mut got),
            _ => grad_b(call, tensor(plan.a), &grad_y, got.as_mut_slice()),
        });
        assert!(taken, "{source}: the fast path runs");
        let got = got.into_vec();
        let scale = want.iter().fold(1f32, |m, v| m.max(v.abs()));
        for (i, (g, w)) in got.iter().zip(&want).enumerate() {
            assert!(
                (g - w).abs() <= 1e-4 * scale,
                "{source} {shapes:?} {pass:?} on {threads} threads: element {i}: {g} against {w}"
            );
        }
    }
    set_min_macs(MIN_MACS);
    path
}

fn conv(windows: &str) -> String {
    format!("c(x, w) = \"nchwkj,dckj->ndhw\" {{ {windows} size k = 3, j = 3; bias d; }}")
}

/// 3-D windows: tiles of each depth slice, its depth taps more channels. Odd extents,
/// padding on every axis or none, a dilated depth, and a dilated plane.
fn three_d() -> Vec<(String, [&'static [usize]; 2])> {
    let conv3d = |windows: &str| {
        format!(
            "c(x, w) = \"ncdhwijk,ecijk->nedhw\" {{ {windows} size i = 3, j = 3, k = 3; bias e; }}"
        )
    };
    vec![
        (
            conv3d("unfold x.d by i, pad = 1; unfold x.h by j, pad = 1; unfold x.w by k, pad = 1;"),
            [&[1, 16, 4, 20, 29], &[33, 16, 3, 3, 3]],
        ),
        (
            conv3d("unfold x.d by i, dilation = 2; unfold x.h by j; unfold x.w by k;"),
            [&[1, 16, 6, 20, 70], &[32, 16, 3, 3, 3]],
        ),
        (
            conv3d("unfold x.d by i, pad = 1; unfold x.h by j, pad = 2, dilation = 2; unfold x.w by k, pad = 2, dilation = 2;"),
            [&[1, 16, 3, 30, 60], &[32, 16, 3, 3, 3]],
        ),
    ]
}

/// Dilated windows: tiles phase by phase, `D` apart. Phases of unequal lengths (odd
/// extents), a dilation along one axis only, and phases with remainder tiles.
fn dilated() -> Vec<(String, [&'static [usize]; 2])> {
    vec![
        (
            conv("unfold x.h by k, pad = 2, dilation = 2; unfold x.w by j, pad = 2, dilation = 2;"),
            [&[2, 16, 21, 19], &[33, 16, 3, 3]],
        ),
        // Phases of 70 columns: 17 and 18 tiles a row, a register of them at once.
        (
            conv("unfold x.h by k, pad = 2, dilation = 2; unfold x.w by j, pad = 2, dilation = 2;"),
            [&[1, 16, 9, 140], &[32, 16, 3, 3]],
        ),
        (
            conv("unfold x.h by k, pad = 1; unfold x.w by j, pad = 3, dilation = 3;"),
            [&[1, 16, 13, 40], &[32, 16, 3, 3]],
        ),
        (
            conv("unfold x.h by k, dilation = 2; unfold x.w by j, pad = (1, 3), dilation = 2;"),
            [&[3, 18, 17, 29], &[32, 18, 3, 3]],
        ),
    ]
}

#[test]
fn forward_on_winograd_tiles_matches_the_interpreter() {
    let padded = |mode: &str| {
        conv(&format!(
            "unfold x.h by k, pad = 1, mode = {mode}; unfold x.w by j, pad = 1, mode = {mode};"
        ))
    };
    let cases: Vec<(String, [&[usize]; 2])> = vec![
        // 13x13: a remainder tile of one row and column; 35 columns: blocks of 6 (five), 4, 1.
        (padded("zeros"), [&[3, 16, 13, 13], &[35, 16, 3, 3]]),
        (padded("reflect"), [&[2, 16, 9, 14], &[32, 16, 3, 3]]),
        (padded("replicate"), [&[2, 16, 11, 22], &[32, 16, 3, 3]]),
        (
            conv("unfold x.h by k, pad = 2, dilation = 2, mode = reflect; unfold x.w by j, pad = 2, dilation = 2, mode = reflect;"),
            [&[2, 16, 12, 20], &[32, 16, 3, 3]],
        ),
        (padded("circular"), [&[2, 16, 8, 8], &[32, 16, 3, 3]]),
        // No padding; three rows of outputs (a remainder tile only); a tall thin image.
        (
            conv("unfold x.h by k; unfold x.w by j;"),
            [&[2, 16, 10, 10], &[33, 16, 3, 3]],
        ),
        (
            conv("unfold x.h by k; unfold x.w by j;"),
            [&[2, 16, 5, 40], &[32, 16, 3, 3]],
        ),
        (
            conv("unfold x.h by k, pad = (0, 2); unfold x.w by j, pad = (2, 1);"),
            [&[1, 16, 30, 17], &[32, 16, 3, 3]],
        ),
        // One image (columns split across threads), and many small ones (several
        // images per block of tiles), more than one block each.
        (padded("zeros"), [&[1, 16, 40, 36], &[32, 16, 3, 3]]),
        (padded("zeros"), [&[20, 16, 7, 7], &[32, 16, 3, 3]]),
        // Rows of 18 tiles: a register of 16 tiles moved at once, then 2.
        (padded("zeros"), [&[1, 16, 9, 70], &[32, 16, 3, 3]]),
    ];
    for (source, shapes) in cases.iter().chain(&dilated()).chain(&three_d()) {
        assert_eq!(
            run(source, *shapes, Pass::Forward),
            Path::Winograd,
            "{source} {shapes:?}"
        );
    }
}

#[test]
fn grad_of_the_input_on_winograd_tiles_matches_the_interpreter() {
    let cases: Vec<(String, [&[usize]; 2])> = vec![
        (
            conv("unfold x.h by k, pad = 1; unfold x.w by j, pad = 1;"),
            [&[2, 32, 13, 11], &[17, 32, 3, 3]],
        ),
        // Valid windows: grad_y padded by 2 on each side.
        (
            conv("unfold x.h by k; unfold x.w by j;"),
            [&[3, 35, 10, 9], &[16, 35, 3, 3]],
        ),
        (
            conv("unfold x.h by k, pad = 1; unfold x.w by j, pad = 1;"),
            [&[1, 32, 30, 30], &[16, 32, 3, 3]],
        ),
        (
            conv("unfold x.h by k, pad = 1; unfold x.w by j, pad = 1;"),
            [&[1, 32, 6, 66], &[16, 32, 3, 3]],
        ),
    ];
    for (source, [x, w]) in cases.iter().chain(&dilated()).chain(&three_d()) {
        // The transposed kernel's columns are x's channels.
        let (mut x, mut w) = (x.to_vec(), w.to_vec());
        (x[1], w[0], w[1]) = (x[1].max(32), w[0].min(16), x[1].max(32));
        let shapes = [&x[..], &w[..]];
        assert_eq!(
            run(source, shapes, Pass::GradA),
            Path::Winograd,
            "{source} {shapes:?}"
        );
    }
}

#[test]
fn grad_of_the_weights_on_winograd_tiles_matches_the_interpreter() {
    let padded = |mode: &str| {
        conv(&format!(
            "unfold x.h by k, pad = 1, mode = {mode}; unfold x.w by j, pad = 1, mode = {mode};"
        ))
    };
    let cases: Vec<(String, [&[usize]; 2])> = vec![
        // Remainder tiles on both axes; more than one block of tiles; 35 columns.
        (padded("zeros"), [&[3, 16, 13, 22], &[35, 16, 3, 3]]),
        (padded("reflect"), [&[2, 17, 9, 14], &[32, 17, 3, 3]]),
        (
            conv("unfold x.h by k, pad = 2, dilation = 2, mode = circular; unfold x.w by j, pad = 2, dilation = 2, mode = circular;"),
            [&[2, 16, 13, 21], &[32, 16, 3, 3]],
        ),
        (
            conv("unfold x.h by k; unfold x.w by j;"),
            [&[2, 16, 10, 10], &[33, 16, 3, 3]],
        ),
        (
            conv("unfold x.h by k, pad = (0, 2); unfold x.w by j, pad = (2, 1);"),
            [&[1, 16, 30, 17], &[32, 16, 3, 3]],
        ),
        (padded("zeros"), [&[20, 16, 7, 7], &[32, 16, 3, 3]]),
        (padded("zeros"), [&[2, 16, 9, 70], &[32, 16, 3, 3]]),
    ];
    for (source, shapes) in cases.iter().chain(&dilated()).chain(&three_d()) {
        assert_eq!(
            run(source, *shapes, Pass::GradB),
            Path::Winograd,
            "{source} {shapes:?}"
        );
    }
}

#[test]
fn kernels_winograd_does_not_fit_stay_direct() {
    let direct: Vec<(String, [&[usize]; 2])> = vec![
        // Opted out.
        (
            "c(x, w) = \"nchwkj,dckj->ndhw\" { unfold x.h by k, pad = 1; unfold x.w by j, pad = 1; algorithm direct; }".into(),
            [&[2, 4, 12, 12], &[8, 4, 3, 3]],
        ),
        // Taps other than 3, known only at run time.
        (
            "c(x, w) = \"nchwkj,dckj->ndhw\" { unfold x.h by k, pad = 2; unfold x.w by j, pad = 2; }".into(),
            [&[2, 4, 12, 12], &[8, 4, 5, 5]],
        ),
        (conv("unfold x.h by k, stride = 2, pad = 1; unfold x.w by j, pad = 1;"), [&[2, 4, 12, 12], &[8, 4, 3, 3]]),
        // Few channels: the transforms would cost more than the products save.
        (conv("unfold x.h by k, pad = 1; unfold x.w by j, pad = 1;"), [&[2, 4, 12, 12], &[16, 4, 3, 3]]),
        (conv("unfold x.h by k, pad = 1; unfold x.w by j, pad = 1;"), [&[2, 16, 12, 12], &[8, 16, 3, 3]]),
        // Groups: two batch points.
        (
            "c(x, w) = \"ngchwkj,gdckj->ngdhw\" { unfold x.h by k, pad = 1; unfold x.w by j, pad = 1; size k = 3, j = 3; }".into(),
            [&[2, 2, 3, 12, 12], &[2, 8, 3, 3, 3]],
        ),
    ];
    for (source, shapes) in &direct {
        assert_ne!(
            run(source, *shapes, Pass::Forward),
            Path::Winograd,
            "{source}"
        );
    }
}
