use conv_runtime::conv_kernel;

conv_kernel! {
    pool(x) = "nclk->ncl" { unfold x.l by k, stride = 2; size k = 2; }
}

fn main() {
    let report = conv_runtime::check::check(&pool::Kernel, &[&[2, 3, 8]], 1).unwrap();
    assert!(report.worst() < 1e-3, "{report}");
}
