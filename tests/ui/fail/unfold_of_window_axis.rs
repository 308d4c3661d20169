use conv_runtime::conv_kernel;

conv_kernel! {
    conv1d(x, weight) = "nclkj,dckj->ndl" { unfold x.l by k; unfold x.k by j; }
}

fn main() {}
