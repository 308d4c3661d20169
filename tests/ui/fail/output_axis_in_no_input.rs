use conv_runtime::conv_kernel;

conv_kernel! {
    matmul(a, b) = "ij,jk->iz";
}

fn main() {}
