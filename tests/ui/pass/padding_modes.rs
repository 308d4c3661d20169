use conv_runtime::conv_kernel;

conv_kernel! {
    modes(x, weight) = "nchwkj,dckj->ndhw" { unfold x.h by k, pad = 2, mode = reflect; unfold x.w by j, pad = (1, 2), mode = circular; }
}

fn main() {
    let report = conv_runtime::check::check(&modes::Kernel, &[&[1, 2, 5, 6], &[3, 2, 3, 3]], 1).unwrap();
    assert!(report.worst() < 1e-3, "{report}");
}
