use conv_runtime::conv_kernel;

conv_kernel! {
    tiny(x, weight) = "nchwkj,dckj->ndhw" { unfold x.h by k, stride = 2, pad = 2; unfold x.w by j, stride = 2, pad = 2; size n = 2, c = 3, h = 5, w = 5, d = 4, k = 3, j = 3; bias d; }
}

fn main() {
    let report = conv_runtime::check::check(&tiny::Kernel, &[&[2, 3, 5, 5], &[4, 3, 3, 3]], 1).unwrap();
    assert!(report.worst() < 1e-3, "{report}");
}
