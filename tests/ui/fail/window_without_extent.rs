use conv_runtime::conv_kernel;

conv_kernel! {
    pool(x) = "nclk->ncl" { unfold x.l by k; }
}

fn main() {}
