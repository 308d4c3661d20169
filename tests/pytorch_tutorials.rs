//! The published tutorial cases (blog posts checking a hand-written conv2d against
//! PyTorch), reproduced: kernels declared here as a user would write them, called through
//! their modules' own functions (`forward`, `backward`, `grad_x`, `grad_weight`,
//! `grad_bias`), against the PyTorch fixtures of family "tutorial" (tests/fixtures) and
//! against the numbers the tutorials printed.

mod pytorch_support;

use conv_kernels::{conv_kernel, Element};
use ndarray::{Array, Array1, Array4, ArrayD, Dimension, Ix1, Ix4};
use pytorch_support::{case as fixture, errors, read, tolerance};

conv_kernel! {
    /// `nn.Conv2d(3, 1, (3, 3), stride=2).double()`
    pub numpy_double(x, weight) = "nchwkj,dckj->ndhw" {
        unfold x.h by k, stride = 2;
        unfold x.w by j, stride = 2;
        size k = 3, j = 3;
        bias d;
        dtype f64;
    }
    /// `F.conv2d(x, w)`
    pub randint_s1(x, weight) = "nchwkj,dckj->ndhw" { unfold x.h by k; unfold x.w by j; }
    /// `F.conv2d(x, w, stride=2)`
    pub randint_s2(x, weight) = "nchwkj,dckj->ndhw" {
        unfold x.h by k, stride = 2;
        unfold x.w by j, stride = 2;
    }
    /// `torch.einsum('nchwkj,dckj->ndhw', F.pad(x, (2, 2, 2, 2)).unfold(2, 3, 2).unfold(3, 3, 2), w) + b`
    pub unfold_einsum(x, weight) = "nchwkj,dckj->ndhw" {
        unfold x.h by k, stride = 2, pad = 2;
        unfold x.w by j, stride = 2, pad = 2;
        size k = 3, j = 3;
        bias d;
    }
    /// `nn.Conv2d(2, 1, 3)`
    pub arange(x, weight) = "nchwkj,dckj->ndhw" { unfold x.h by k; unfold x.w by j; bias d; }
    /// `nn.Conv2d(1, 1, 3, stride=2, padding=1)`
    pub single_map(x, weight) = "nchwkj,dckj->ndhw" {
        unfold x.h by k, stride = 2, pad = 1;
        unfold x.w by j, stride = 2, pad = 1;
        bias d;
    }
}

fn load4<T: Element>(case: &str, file: &str) -> Array4<T> {
    read::<T>(case, file).into_dimensionality::<Ix4>().unwrap()
}

fn load1<T: Element>(case: &str, file: &str) -> Array1<T> {
    read::<T>(case, file).into_dimensionality::<Ix1>().unwrap()
}

/// `actual` is PyTorch's `file` of `case` within the tolerance of its dtype, relative to
/// the tensor's magnitude.
fn assert_matches<T, D>(case: &str, file: &str, actual: &Array<T, D>)
where
    T: Element,
    D: Dimension,
{
    let expected: ArrayD<T> = read(case, file);
    let actual = actual.clone().into_dyn();
    assert_eq!(
        actual.shape(),
        expected.shape(),
        "{case} {file}: shapes differ"
    );
    let (absolute, relative) = errors(&actual, &expected, fixture(case).magnitude(file));
    assert!(
        relative <= tolerance(T::NAME),
        "{case} {file}: largest error {absolute:.3e}, {relative:.3e} relative (tolerance {:.0e})",
        tolerance(T::NAME)
    );
}

#[test]
fn numpy_double_prints_the_published_numbers() {
    let case = "tutorial_numpy_double";
    let (x, w) = (load4::<f64>(case, "x"), load4::<f64>(case, "weight"));
    let (b, grad_y) = (load1::<f64>(case, "bias"), load4::<f64>(case, "grad_y"));
    let y = numpy_double::forward(&x, &w, &b).unwrap();
    println!("y =\n{:.10}", y.slice(ndarray::s![0, 0, .., ..]));
    let printed = [[-0.01129476, -0.12804462], [-0.04662733, -0.12602237]];
    for (i, row) in printed.iter().enumerate() {
        for (j, &value) in row.iter().enumerate() {
            let got = y[[0, 0, i, j]];
            assert!(
                (got - value).abs() <= 1e-7,
                "y[{i}, {j}] = {got:.10}, printed {value}"
            );
        }
    }
    assert_matches(case, "y", &y);

    let grads = numpy_double::backward(&x, &w, &grad_y).unwrap();
    println!("grad_bias = {:.11}", grads.bias[0]);
    println!("grad_weight =\n{:.4}", grads.weight);
    println!("grad_x =\n{:.4}", grads.x);
    let printed_bias = 1.46324723111;
    assert!(
        (grads.bias[0] - printed_bias).abs() <= 1e-7,
        "grad_bias = {:.11}, printed {printed_bias}",
        grads.bias[0]
    );
    assert_matches(case, "grad_bias", &grads.bias);
    assert_matches(case, "grad_weight", &grads.weight);
    assert_matches(case, "grad_x", &grads.x);
}

#[test]
fn randint_inputs_give_exact_results_at_stride_1_and_2() {
    for stride in [1, 2] {
        let case = format!("tutorial_randint_s{stride}");
        let (x, w) = (load4::<f32>(&case, "x"), load4::<f32>(&case, "weight"));
        assert!(x
            .iter()
            .chain(&w)
            .all(|v| v.fract() == 0.0 && (0.0..9.0).contains(v)));
        let out = (5 - 3) / stride + 1;
        let grad_y = Array4::<f32>::ones((1, 7, out, out));
        assert_eq!(
            grad_y,
            load4::<f32>(&case, "grad_y"),
            "{case}: the upstream gradient is ones"
        );
        let (y, grad_x, grad_w) = if stride == 1 {
            let y = randint_s1::forward(&x, &w).unwrap();
            let gx = randint_s1::grad_x([1, 2, 5, 5], &w, &grad_y).unwrap();
            (
                y,
                gx,
                randint_s1::grad_weight(&x, [7, 2, 3, 3], &grad_y).unwrap(),
            )
        } else {
            let y = randint_s2::forward(&x, &w).unwrap();
            let gx = randint_s2::grad_x([1, 2, 5, 5], &w, &grad_y).unwrap();
            (
                y,
                gx,
                randint_s2::grad_weight(&x, [7, 2, 3, 3], &grad_y).unwrap(),
            )
        };
        // Small integers: every sum is exact in f32, so the results must be identical.
        assert_eq!(y, load4::<f32>(&case, "y"), "{case}: forward");
        assert_eq!(grad_x, load4::<f32>(&case, "grad_x"), "{case}: grad_x");
        assert_eq!(
            grad_w,
            load4::<f32>(&case, "grad_weight"),
            "{case}: grad_weight"
        );
    }
}

#[test]
fn the_unfold_einsum_is_conv2d_and_so_are_its_gradients() {
    let case = "tutorial_unfold_einsum";
    let (x, w) = (load4::<f32>(case, "x"), load4::<f32>(case, "weight"));
    let (b, grad_y) = (load1::<f32>(case, "bias"), load4::<f32>(case, "grad_y"));
    assert_eq!(
        unfold_einsum::output_shape([2, 3, 5, 5], [4, 3, 3, 3]).unwrap(),
        [2, 4, 4, 4]
    );
    assert_matches(case, "y", &unfold_einsum::forward(&x, &w, &b).unwrap());
    assert_matches(
        case,
        "grad_x",
        &unfold_einsum::grad_x([2, 3, 5, 5], &w, &grad_y).unwrap(),
    );
    let grad_w = unfold_einsum::grad_weight(&x, [4, 3, 3, 3], &grad_y).unwrap();
    assert_matches(case, "grad_weight", &grad_w);
    assert_matches(
        case,
        "grad_bias",
        &unfold_einsum::grad_bias(&grad_y).unwrap(),
    );
}

#[test]
fn arange_input_through_conv2d_2_1_3() {
    let case = "tutorial_arange";
    let x = load4::<f32>(case, "x");
    assert_eq!(
        x,
        Array::from_shape_fn((1, 2, 5, 5), |(_, c, h, w)| (25 * c + 5 * h + w) as f32)
    );
    let (w, b) = (load4::<f32>(case, "weight"), load1::<f32>(case, "bias"));
    let grad_y = load4::<f32>(case, "grad_y");
    assert_matches(case, "y", &arange::forward(&x, &w, &b).unwrap());
    let grads = arange::backward(&x, &w, &grad_y).unwrap();
    assert_matches(case, "grad_x", &grads.x);
    assert_matches(case, "grad_weight", &grads.weight);
    assert_matches(case, "grad_bias", &grads.bias);
}

#[test]
fn single_map_stride_2_padding_1() {
    let case = "tutorial_single_map";
    let (x, w) = (load4::<f32>(case, "x"), load4::<f32>(case, "weight"));
    let (b, grad_y) = (load1::<f32>(case, "bias"), load4::<f32>(case, "grad_y"));
    let y = single_map::forward(&x, &w, &b).unwrap();
    assert_eq!(y.shape(), [1, 1, 3, 3]);
    assert_matches(case, "y", &y);
    let grads = single_map::backward(&x, &w, &grad_y).unwrap();
    assert_matches(case, "grad_x", &grads.x);
    assert_matches(case, "grad_weight", &grads.weight);
    assert_matches(case, "grad_bias", &grads.bias);
}
