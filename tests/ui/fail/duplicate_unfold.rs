use conv_runtime::conv_kernel;

conv_kernel! {
    conv1d(x, weight) = "nclk,dck->ndl" { unfold x.l by k; unfold x.l by k, stride = 2; }
}

fn main() {}
