//! `algorithm direct;` keeps a kernel off Winograd's tiles, and its text says so.
use conv_runtime::conv_kernel;

conv_kernel! {
    conv2d(x, weight) = "nchwkj,dckj->ndhw" {
        unfold x.h by k, pad = 1; unfold x.w by j, pad = 1;
        size k = 3, j = 3;
        algorithm direct;
    }
}

conv_kernel! {
    conv2d_auto(x, weight) = "nchwkj,dckj->ndhw" {
        unfold x.h by k, pad = 1; unfold x.w by j, pad = 1;
        size k = 3, j = 3;
    }
}

fn main() {
    assert!(conv2d::facts().winograd.is_none());
    assert!(conv2d::SOURCE.contains("algorithm direct;"));
    assert!(conv2d_auto::facts().winograd.is_some());
}
