use conv_runtime::conv_kernel;

conv_kernel! {
    up(x, weight) -> y = "nci,cdk->ndik" {
        unfold y.i by k, stride = 2, pad = 1;
        size i = 8, k = 3;
    }
}

fn main() {}
