use conv_runtime::conv_kernel;

conv_kernel! {
    conv1d(x, weight) = "ncl1,dc1->ndl";
}

fn main() {}
