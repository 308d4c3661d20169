use conv_runtime::conv_kernel;

conv_kernel! {
    matmul(a, b) = "ij,jk->ik"; matmul(c, d) = "ij,jk->ik";
}

fn main() {}
