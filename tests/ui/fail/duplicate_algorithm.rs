use conv_runtime::conv_kernel;

conv_kernel! {
    conv2d(x, weight) = "nchwkj,dckj->ndhw" {
        unfold x.h by k, pad = 1; unfold x.w by j, pad = 1;
        algorithm direct; algorithm auto;
    }
}

fn main() {}
