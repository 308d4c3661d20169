use conv_runtime::conv_kernel;

conv_kernel! {
    up(x, weight) -> x = "nci,cdk->ndik" { unfold x.i by k, stride = 2; }
}

fn main() {}
