use conv_runtime::conv_kernel;

conv_kernel! {
    conv1d(x, weight) = "nclk,dck->ndl" { unfold weight.c by l; }
}

fn main() {}
