use conv_runtime::conv_kernel;

conv_kernel! {
    conv1d(x, weight) = "nclk,dck->ndl" { unfold x.l by k; dtype f64; dtype f32; }
}

fn main() {}
