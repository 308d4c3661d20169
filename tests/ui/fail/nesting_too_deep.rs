use conv_runtime::conv_kernel;

// The kernel's block is one level of brackets, the pad's 40 parentheses the others: the
// 32nd parenthesis opens the 33rd level, one more than an invocation may have.
conv_kernel! {
    conv1d(x, weight) = "nclk,dck->ndl" {
        unfold x.l by k, pad = ((((((((((((((((((((((((((((((((((((((((1))))))))))))))))))))))))))))))))))))))));
    }
}

fn main() {}
