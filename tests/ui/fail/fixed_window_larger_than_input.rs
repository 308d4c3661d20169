use conv_runtime::conv_kernel;

conv_kernel! {
    conv1d(x, weight) = "nclk,dck->ndl" { unfold x.l by k, pad = 1; size l = 4, k = 7; }
}

fn main() {}
