use conv_runtime::conv_kernel;

conv_kernel! {
    up(x, weight) -> y = "nci,cdk->ndik" { unfold y.i by k, stride = 2; bias k; }
}

fn main() {}
