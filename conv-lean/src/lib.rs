//! A crate that only runs generated kernels, as most users' crates do: it depends on
//! conv-runtime without its default `text` feature, so nothing in it parses kernel text
//! at run time and its normal dependencies hold no syn, quote, proc-macro2 or
//! prettyplease (the proc macro needs them only while compiling, like a build
//! dependency). `tests/dependencies.rs` checks both.

use conv_runtime::conv_kernel;

conv_kernel! {
    /// A 1-D convolution with stride 2 and a bias.
    pub conv1d(x, weight) = "nclk,dck->ndl" {
        unfold x.l by k, stride = 2, pad = 1;
        bias d;
    }
}
