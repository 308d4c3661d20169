use conv_runtime::conv_kernel;

conv_kernel! {
    same(x, weight) = "nchwkj,dckj->ndhw" { unfold x.h by k, stride = 2, pad = same; unfold x.w by j, pad = valid; }
}

fn main() {
    let report = conv_runtime::check::check(&same::Kernel, &[&[1, 2, 7, 6], &[3, 2, 3, 2]], 1).unwrap();
    assert!(report.worst() < 1e-3, "{report}");
}
