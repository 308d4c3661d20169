use conv_runtime::conv_kernel;

conv_kernel! {
    replicate(x, weight) = "nclk,dck->ndl" { unfold x.l by k, stride = 3, pad = 2, mode = replicate; dtype f64; }
}

fn main() {
    let report = conv_runtime::check::check(&replicate::Kernel, &[&[2, 2, 8], &[3, 2, 4]], 1).unwrap();
    assert!(report.worst() < 1e-3, "{report}");
}
