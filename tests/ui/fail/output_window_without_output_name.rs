use conv_runtime::conv_kernel;

conv_kernel! {
    up(x, weight) = "nci,cdk->ndik" { unfold y.i by k, stride = 2; }
}

fn main() {}
