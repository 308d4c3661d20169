use conv_runtime::conv_kernel;

conv_kernel! {
    matmul(a, b) = "ik,kj->ij";
    chain(a, b, c) = "ab,bc,cd->ad" {}
    transpose(a) = "ij->ji";
}

fn main() {
    let worst = [
        conv_runtime::check::check(&matmul::Kernel, &[&[3, 4], &[4, 5]], 1).unwrap().worst(),
        conv_runtime::check::check(&chain::Kernel, &[&[2, 3], &[3, 4], &[4, 2]], 2).unwrap().worst(),
        conv_runtime::check::check(&transpose::Kernel, &[&[3, 4]], 3).unwrap().worst(),
    ];
    assert!(worst.iter().all(|&w| w < 1e-3), "{worst:?}");
}
