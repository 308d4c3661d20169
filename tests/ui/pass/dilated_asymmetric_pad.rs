use conv_runtime::conv_kernel;

conv_kernel! {
    dilated(x, weight) = "nclk,dck->ndl" { unfold x.l by k, dilation = 2, pad = (3, 1); }
}

fn main() {
    let report = conv_runtime::check::check(&dilated::Kernel, &[&[2, 3, 9], &[4, 3, 3]], 1).unwrap();
    assert!(report.worst() < 1e-3, "{report}");
}
