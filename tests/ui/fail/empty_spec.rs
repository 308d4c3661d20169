use conv_runtime::conv_kernel;

conv_kernel! {
    nothing(a) = "";
}

fn main() {}
