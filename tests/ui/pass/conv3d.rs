use conv_runtime::conv_kernel;

conv_kernel! {
    conv3d(x, weight) = "ncdhwijk,ecijk->nedhw" { unfold x.d by i; unfold x.h by j; unfold x.w by k; }
}

fn main() {
    let report = conv_runtime::check::check(&conv3d::Kernel, &[&[1, 2, 4, 5, 4], &[3, 2, 2, 2, 3]], 1).unwrap();
    assert!(report.worst() < 1e-3, "{report}");
}
