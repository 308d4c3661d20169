//! Matrix products are kernels without windows: "ik,kj->ij" and the batched "bik,bkj->bij".
//! Prints a product and its gradients checked by hand (grad_a = grad_y b^T, grad_b =
//! a^T grad_y), the derivation, and the batched product against ndarray's `dot`.

use conv_kernels::conv_kernel;
use ndarray::{array, Array2, Array3, Axis};

conv_kernel! {
    /// y = a b
    pub matmul(a, b) = "ik,kj->ij";
    /// y[b] = a[b] b[b] for every batch entry, with a bias on the columns.
    pub batched(a, b) = "bik,bkj->bij" { bias j; }
}

fn main() -> Result<(), conv_kernels::ShapeError> {
    let a = array![[1.0f32, 2.0, 3.0], [4.0, 5.0, 6.0]];
    let b = array![[7.0f32, 8.0], [9.0, 10.0], [11.0, 12.0]];
    let y = matmul::forward(&a, &b)?;
    println!("a b =\n{y}\n(1*7 + 2*9 + 3*11 = 58, ..., 4*8 + 5*10 + 6*12 = 154)");
    assert_eq!(y, array![[58.0, 64.0], [139.0, 154.0]]);

    // With grad_y = 1: grad_a[i, k] = sum_j b[k, j] (row sums of b), grad_b[k, j] =
    // sum_i a[i, k] (column sums of a).
    let grad_y = Array2::<f32>::ones((2, 2));
    let grads = matmul::backward(&a, &b, &grad_y)?;
    println!("grad_a =\n{}\n(row sums of b: 15, 19, 23)", grads.a);
    println!("grad_b =\n{}\n(column sums of a: 5, 7, 9)", grads.b);
    assert_eq!(grads.a, grad_y.dot(&b.t()));
    assert_eq!(grads.b, a.t().dot(&grad_y));
    println!("\n{}", matmul::DERIVATION);

    // Batched, against a loop of ndarray's dot.
    let a3 = Array3::from_shape_fn((4, 3, 5), |(b, i, k)| {
        ((b + 2 * i + 3 * k) % 7) as f32 - 3.0
    });
    let b3 = Array3::from_shape_fn((4, 5, 2), |(b, k, j)| {
        ((3 * b + k + 2 * j) % 5) as f32 - 2.0
    });
    let bias = array![0.5f32, -0.5];
    let y3 = batched::forward(&a3, &b3, &bias)?;
    for (batch, y) in y3.outer_iter().enumerate() {
        let expected = a3
            .index_axis(Axis(0), batch)
            .dot(&b3.index_axis(Axis(0), batch))
            + &bias;
        assert_eq!(y, expected);
    }
    println!(
        "batched (4, 3, 5) x (4, 5, 2) -> {:?}: every entry equals a[b].dot(b[b]) + bias",
        y3.shape()
    );
    println!("y[0] =\n{}\n", y3.index_axis(Axis(0), 0));

    let report = conv_kernels::check::check(&batched::Kernel, &[&[3, 4, 6], &[3, 6, 5]], 19)?;
    println!("largest relative errors of the generated f32 kernels:\n{report}");
    assert!(report.worst() < 1e-2);
    Ok(())
}
