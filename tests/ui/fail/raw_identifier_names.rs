use conv_runtime::conv_kernel;

conv_kernel! {
    r#type(x, weight) = "nclk,dck->ndl" { unfold x.l by k; }
    scale(x, r#in) = "ij,j->i";
}

fn main() {}
