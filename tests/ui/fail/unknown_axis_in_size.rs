use conv_runtime::conv_kernel;

conv_kernel! {
    conv1d(x, weight) = "nclk,dck->ndl" { unfold x.l by k; size q = 3; }
}

fn main() {}
