use conv_runtime::conv_kernel;

conv_kernel! {
    conv1d(x, weight) = "nclk,dck->ndl" { unfold x.l by k, pad = 4, mode = reflect; size l = 4, k = 3; }
}

fn main() {}
