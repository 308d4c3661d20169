//! Reflect padding (`mode = reflect`, PyTorch's: the edge is not repeated) next to the
//! other modes, on a window-3 box sum over x = [1, 2, 3, 4] with padding 1. The forward
//! result shows the padded values; grad_x (with grad_y = 1) shows the border's gradient
//! folded back onto the inputs the border copied. A pad the input is too short to
//! reflect is an error, not a panic.

use conv_kernels::conv_kernel;
use ndarray::array;

conv_kernel! {
    pub zeros(x, weight) = "ntk,k->nt" { unfold x.t by k, pad = 1, mode = zeros; }
    pub reflect(x, weight) = "ntk,k->nt" { unfold x.t by k, pad = 1, mode = reflect; }
    pub replicate(x, weight) = "ntk,k->nt" { unfold x.t by k, pad = 1, mode = replicate; }
    pub circular(x, weight) = "ntk,k->nt" { unfold x.t by k, pad = 1, mode = circular; }
    /// Reflect padding 2 needs at least 3 inputs.
    pub reflect2(x, weight) = "ntk,k->nt" { unfold x.t by k, pad = 2, mode = reflect; }
    /// A 2-D convolution with reflect padding, for the check.
    pub reflect2d(x, weight) = "nchwkj,dckj->ndhw" {
        unfold x.h by k, pad = 2, mode = reflect;
        unfold x.w by j, pad = 1, mode = reflect;
        bias d;
    }
}

macro_rules! show {
    ($mode:ident, $padded:expr, $y:expr, $grad_x:expr) => {{
        let x = array![[1.0f32, 2.0, 3.0, 4.0]];
        let weight = array![1.0f32, 1.0, 1.0];
        let y = $mode::forward(&x, &weight)?;
        let grad_x = $mode::grad_x([1, 4], &weight, &ndarray::Array2::<f32>::ones((1, 4)))?;
        println!(
            "{:<10} padded {:<20} y = {:<16} grad_x = {}",
            stringify!($mode),
            $padded,
            y.row(0).to_string(),
            grad_x.row(0)
        );
        assert_eq!(y, array![$y]);
        assert_eq!(grad_x, array![$grad_x]);
    }};
}

fn main() -> Result<(), conv_kernels::ShapeError> {
    println!("x = [1, 2, 3, 4], window 3 of ones, pad 1");
    show!(
        zeros,
        "[0, 1, 2, 3, 4, 0]",
        [3.0, 6.0, 9.0, 7.0],
        [2.0, 3.0, 3.0, 2.0]
    );
    show!(
        reflect,
        "[2, 1, 2, 3, 4, 3]",
        [5.0, 6.0, 9.0, 10.0],
        [2.0, 4.0, 4.0, 2.0]
    );
    show!(
        replicate,
        "[1, 1, 2, 3, 4, 4]",
        [4.0, 6.0, 9.0, 11.0],
        [3.0, 3.0, 3.0, 3.0]
    );
    show!(
        circular,
        "[4, 1, 2, 3, 4, 1]",
        [7.0, 6.0, 9.0, 8.0],
        [3.0, 3.0, 3.0, 3.0]
    );
    // Reflect: the padded copy of x[1] at the left border is read by window 0 only, so
    // grad_x[1] = 3 (its own three windows) + 1; the edges x[0], x[3] are never copied.

    let short = reflect2::forward(&array![[1.0f32, 2.0]], &array![1.0f32, 1.0, 1.0, 1.0, 1.0]);
    match short {
        Err(e) => println!("\nreflect pad 2 on 2 inputs: Err({e})"),
        Ok(y) => panic!("expected an error, got {y}"),
    }

    let shapes: [&[usize]; 2] = [&[2, 3, 6, 5], &[4, 3, 5, 3]];
    let report = conv_kernels::check::check(&reflect2d::Kernel, &shapes, 17)?;
    println!(
        "\n2-D reflect, x {:?}, weight {:?}: largest relative errors of the generated f32 kernels:\n{report}",
        shapes[0], shapes[1]
    );
    assert!(report.worst() < 1e-2);
    Ok(())
}
