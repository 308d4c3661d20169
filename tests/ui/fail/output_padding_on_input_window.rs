use conv_runtime::conv_kernel;

conv_kernel! {
    conv1d(x, weight) = "nclk,dck->ndl" { unfold x.l by k, stride = 2, output_padding = 1; }
}

fn main() {}
