use conv_kernels::conv_kernel;
use ndarray::Array;

conv_kernel! {
    /// The tutorial kernel.
    pub conv2d(x, weight) = "nchwkj,dckj->ndhw" {
        unfold x.h by k, stride = 2, pad = 2;
        unfold x.w by j, stride = 2, pad = 2;
        size k = 3, j = 3;
        bias d;
    }
}

#[test]
fn smoke() {
    let x = Array::from_shape_fn((2, 3, 5, 5), |(a, b, c, d)| {
        (a + 2 * b + 3 * c + 5 * d) as f32 * 0.1 - 1.0
    });
    let w = Array::from_shape_fn((4, 3, 3, 3), |(a, b, c, d)| {
        ((a * 7 + b * 3 + c * 2 + d) % 5) as f32 * 0.3 - 0.5
    });
    let b = Array::from_shape_fn(4, |d| d as f32);
    let y = conv2d::forward(&x, &w, &b).unwrap();
    let interp = conv_kernels::Interpreter::new(conv2d::SOURCE).unwrap();
    let yi = interp
        .forward(
            &[x.view().into_dyn(), w.view().into_dyn()],
            Some(b.view().into_dyn()),
        )
        .unwrap();
    assert!((y.clone().into_dyn() - &yi).iter().all(|e| e.abs() < 1e-4));
    let gy = y.mapv(|v| v.sin());
    let g = conv2d::backward(&x, &w, &gy).unwrap();
    let gi = interp
        .backward(
            &[x.view().into_dyn(), w.view().into_dyn()],
            gy.view().into_dyn(),
        )
        .unwrap();
    assert!((g.x.clone().into_dyn() - &gi.operands[0])
        .iter()
        .all(|e| e.abs() < 1e-4));
    assert!((g.weight.clone().into_dyn() - &gi.operands[1])
        .iter()
        .all(|e| e.abs() < 1e-4));
    assert!((g.bias.clone().into_dyn() - gi.bias.as_ref().unwrap())
        .iter()
        .all(|e| e.abs() < 1e-4));
}

#[test]
fn check_report() {
    let report =
        conv_kernels::check::check(&conv2d::Kernel, &[&[2, 3, 5, 5], &[4, 3, 3, 3]], 7).unwrap();
    println!("{report}");
    assert!(report.worst() < 1e-3, "{report}");
}
