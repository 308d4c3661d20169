use conv_runtime::conv_kernel;

conv_kernel! {
    conv1d(x, weight) = "nclk,dck->ndl" { unfold x.l by k, pad = 1; bias d; }
}

fn main() {
    let report = conv_runtime::check::check(&conv1d::Kernel, &[&[2, 3, 9], &[4, 3, 3]], 1).unwrap();
    assert!(report.worst() < 1e-3, "{report}");
}
