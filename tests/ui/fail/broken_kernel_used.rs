use conv_runtime::conv_kernel;

conv_kernel! {
    conv1d(x, weight) = "nclk,dck->ndl" { unfold x.l by k, stride = 0; bias d; }
}

fn main() {
    let x = ndarray::Array3::<f32>::zeros((1, 2, 8));
    let w = ndarray::Array3::<f32>::zeros((4, 2, 3));
    let b = ndarray::Array1::<f32>::zeros(4);
    let y = conv1d::forward(&x, &w, &b).unwrap();
    let g = conv1d::backward(&x, &w, &y).unwrap();
    println!("{:?} {:?}", g.x.shape(), g.bias.shape());
}
