use conv_runtime::conv_kernel;

conv_kernel! {
    matmul(a, grad_y) = "ij,jk->ik";
    into(out, b) = "ij,jk->ik";
    derived(facts, b) = "ij,jk->ik";
}

fn main() {}
