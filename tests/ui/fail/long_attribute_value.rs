use conv_runtime::conv_kernel;

// A doc attribute whose value is no literal and more than 64 tokens long: `concat!` and
// 33 string literals, each with its comma.
conv_kernel! {
    #[doc = concat!(
        "A ", "one-dimensional ", "convolution ", "of ", "x ", "with ", "a ", "weight ",
        "of ", "three ", "taps ", "per ", "pair ", "of ", "channels, ", "its ", "documentation ",
        "assembled ", "by ", "concat ", "from ", "a ", "long ", "list ", "of ", "little ",
        "string ", "pieces ", "instead ", "of ", "a ", "single ", "literal ",
    )]
    conv1d(x, weight) = "nclk,dck->ndl" { unfold x.l by k; }
}

fn main() {}
