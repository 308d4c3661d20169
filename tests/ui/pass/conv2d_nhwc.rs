use conv_runtime::conv_kernel;

conv_kernel! {
    pub(crate) nhwc(x, weight) = "nhwkjc,kjcd->nhwd" { unfold x.h by k, pad = 1; unfold x.w by j, pad = 1; }
}

fn main() {
    let report = conv_runtime::check::check(&nhwc::Kernel, &[&[2, 5, 6, 3], &[3, 3, 3, 4]], 1).unwrap();
    assert!(report.worst() < 1e-3, "{report}");
}
