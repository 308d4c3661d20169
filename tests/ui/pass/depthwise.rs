use conv_runtime::conv_kernel;

conv_kernel! {
    depthwise(x, weight) = "nchwkj,ckj->nchw" { unfold x.h by k, pad = 1; unfold x.w by j, pad = 1; }
}

fn main() {
    let report = conv_runtime::check::check(&depthwise::Kernel, &[&[2, 3, 5, 5], &[3, 3, 3]], 1).unwrap();
    assert!(report.worst() < 1e-3, "{report}");
}
