use conv_runtime::conv_kernel;

conv_kernel! {
    conv2d(x, weight) = "nchwk,dck->ndhw" { unfold x.h by k; unfold x.w by k; }
}

fn main() {}
