use conv_runtime::conv_kernel;

conv_kernel! {
    grouped(x, weight) = "ngchwkj,gdckj->ngdhw" { unfold x.h by k; unfold x.w by j; }
}

fn main() {
    let report = conv_runtime::check::check(&grouped::Kernel, &[&[2, 2, 3, 5, 5], &[2, 4, 3, 3, 3]], 1).unwrap();
    assert!(report.worst() < 1e-3, "{report}");
}
