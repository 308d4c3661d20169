use conv_runtime::conv_kernel;

conv_kernel! {
    matmul(a, a) = "ij,jk->ik";
}

fn main() {}
