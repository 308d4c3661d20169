use conv_runtime::conv_kernel;

conv_kernel! {
    matmul(a, b) = "ik,kj->ij->ji";
}

fn main() {}
