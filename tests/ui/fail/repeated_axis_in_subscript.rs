use conv_runtime::conv_kernel;

conv_kernel! {
    diagonal(a) = "ii->i";
}

fn main() {}
