use conv_runtime::conv_kernel;

conv_kernel! {
    /// Docs land on the module.
    pub conv2d(x, weight) = "nchwkj,dckj->ndhw" {
        unfold x.h by k, stride = 2, pad = 1;
        unfold x.w by j, stride = 2, pad = 1;
        size k = 3, j = 3;
        bias d;
    }
}

fn main() {
    let report = conv_runtime::check::check(&conv2d::Kernel, &[&[2, 3, 7, 6], &[4, 3, 3, 3]], 1).unwrap();
    assert!(report.worst() < 1e-3, "{report}");
}
