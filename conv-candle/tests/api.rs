//! The API's edges: errors (never panics) for wrong shapes, ranks, dtypes and operand
//! counts; operands in any layout candle makes (transposed, narrowed, broadcast) read in
//! place with the same results as contiguous copies; kernels of one and of three
//! operands; `ConvLayer` as a candle-nn `Module`.

mod common;

use candle_core::{DType, Device, Result, Tensor, Var};
use candle_nn::{Module, VarBuilder, VarMap};
use common::{max_difference, relative_difference};
use conv_candle::{apply, apply1, apply_all, ConvLayer};
use conv_runtime::conv_kernel;

conv_kernel! {
    /// 3x3, padding 1, bias: PyTorch's Conv2d(padding=1).
    conv(x, weight) = "nchwkj,dckj->ndhw" {
        unfold x.h by k, pad = 1;
        unfold x.w by j, pad = 1;
        size k = 3, j = 3;
        bias d;
    }
    /// The same on channels-last x (N, H, W, C) and an (KH, KW, C, D) weight.
    conv_nhwc(x, weight) = "nhwkjc,kjcd->nhwd" {
        unfold x.h by k, pad = 1;
        unfold x.w by j, pad = 1;
    }
    /// Without a bias, in f64.
    conv_f64(x, weight) = "nchwkj,dckj->ndhw" {
        unfold x.h by k, pad = 1;
        unfold x.w by j, pad = 1;
        dtype f64;
    }
    /// 2x2 sum pooling, stride 2: one operand.
    pool(x) = "nchwkj->nchw" {
        unfold x.h by k, stride = 2;
        unfold x.w by j, stride = 2;
        size k = 2, j = 2;
    }
    /// Three operands: a chain of matrix products.
    chain(a, b, c) = "ij,jk,kl->il";
    /// Three operands and a bias: four tensors, one more than candle's custom ops take.
    chain_bias(a, b, c) = "ij,jk,kl->il" { bias l; }
}

fn randn(shape: &[usize]) -> Result<Tensor> {
    Tensor::randn(0f32, 1., shape, &Device::Cpu)
}

/// The error's first line (candle appends a backtrace when RUST_BACKTRACE is set).
fn message<T: std::fmt::Debug>(r: Result<T>) -> String {
    let e = r.expect_err("an error");
    e.to_string().lines().next().unwrap_or("").to_string()
}

#[test]
fn wrong_shapes_ranks_dtypes_and_counts_are_errors() -> Result<()> {
    let x = randn(&[2, 3, 8, 8])?;
    let w = randn(&[4, 3, 3, 3])?;
    let b = randn(&[4])?;

    // The kernel's ShapeError, in candle's error.
    let narrow = randn(&[4, 2, 3, 3])?;
    assert_eq!(
        message(apply::<conv::Kernel>(&x, &narrow, Some(&b))),
        "conv-candle: kernel `conv`: weight: axis 'c' has extent 2, expected 3 (as x.c)"
    );
    let five_wide = randn(&[4, 3, 3, 5])?;
    assert!(message(apply::<conv::Kernel>(&x, &five_wide, Some(&b))).contains("weight: axis 'j'"));
    assert_eq!(
        message(apply::<conv::Kernel>(&x, &w, Some(&randn(&[5])?))),
        "conv-candle: kernel `conv`: bias: axis 'd' has extent 5, expected 4 (the output's extent)"
    );
    // Rank.
    assert_eq!(
        message(apply::<conv::Kernel>(&randn(&[3, 8, 8])?, &w, None)),
        "conv-candle: kernel `conv`: x: expected 4 axes, got 3"
    );
    // dtype: the kernel's, never converted silently.
    let x64 = x.to_dtype(DType::F64)?;
    assert_eq!(
        message(apply::<conv::Kernel>(&x64, &w, None)),
        "conv-candle: kernel `conv`: x is F64 but the kernel runs on F32 (its `dtype`): convert it with `.to_dtype(DType::F32)`"
    );
    assert!(message(apply::<conv_f64::Kernel>(&x, &w, None))
        .contains("x is F32 but the kernel runs on F64"));
    let ints = Tensor::zeros((2, 3, 8, 8), DType::U32, &Device::Cpu)?;
    assert!(message(apply::<conv::Kernel>(&ints, &w, None)).contains("x is U32"));
    // Operand counts and biases.
    assert_eq!(
        message(apply1::<conv::Kernel>(&x, None)),
        "conv-candle: kernel `conv`: takes 2 operands (x, weight), given 1"
    );
    assert_eq!(
        message(apply::<pool::Kernel>(&x, &w, None)),
        "conv-candle: kernel `pool`: takes 1 operand (x), given 2"
    );
    assert!(
        message(apply::<conv_nhwc::Kernel>(&x, &w, Some(&b))).contains("the kernel declares none")
    );
    let m = randn(&[3, 3])?;
    assert_eq!(
        message(apply_all::<chain_bias::Kernel>(&[&m, &m, &m], Some(&randn(&[3])?))),
        "conv-candle: kernel `chain_bias`: 4 tensors: candle's custom operations take 1 to 3 (operands and bias together)"
    );
    // ConvLayer checks what it can before it runs.
    assert!(message(ConvLayer::<conv::Kernel>::new(
        w.to_dtype(DType::F64)?,
        None
    ))
    .contains("weight is F64"));
    assert!(message(ConvLayer::<pool::Kernel>::new(w.clone(), None))
        .contains("needs a kernel of two operands"));
    let layer = ConvLayer::<conv::Kernel>::new(narrow, None)?;
    assert!(message(layer.forward(&x)).contains("weight: axis 'c' has extent 2"));
    Ok(())
}

/// The forward result and the gradients of `sum(y * r)` with respect to x and w.
fn forward_and_grads(
    x: &Tensor,
    w: &Tensor,
    f: impl Fn(&Tensor, &Tensor) -> Result<Tensor>,
    r: &Tensor,
) -> Result<(Tensor, Tensor, Tensor)> {
    let (xv, wv) = (Var::from_tensor(x)?, Var::from_tensor(w)?);
    let y = f(&xv, &wv)?;
    let grads = y.mul(r)?.sum_all()?.backward()?;
    Ok((
        y,
        grads.get(&xv).unwrap().clone(),
        grads.get(&wv).unwrap().clone(),
    ))
}

#[test]
fn any_layout_is_read_in_place_with_the_same_results() -> Result<()> {
    let x = randn(&[2, 3, 8, 9])?;
    let w = randn(&[4, 3, 3, 3])?;
    let r = randn(&[2, 4, 8, 9])?;
    let reference = forward_and_grads(&x, &w, |x, w| apply::<conv::Kernel>(x, w, None), &r)?;

    // x stored channels-last and permuted to NCHW (strides, no copy); the weight stored
    // as (D, KH, KW, C).
    let x_nhwc = x.permute((0, 2, 3, 1))?.contiguous()?;
    let w_dkjc = w.permute((0, 2, 3, 1))?.contiguous()?;
    let permuted = forward_and_grads(
        &x_nhwc,
        &w_dkjc,
        |x, w| apply::<conv::Kernel>(&x.permute((0, 3, 1, 2))?, &w.permute((0, 3, 1, 2))?, None),
        &r,
    )?;
    assert!(!x_nhwc.permute((0, 3, 1, 2))?.is_contiguous());
    assert!(max_difference(&permuted.0, &reference.0) == 0.0);
    assert!(max_difference(&permuted.1.permute((0, 3, 1, 2))?, &reference.1) == 0.0);
    assert!(max_difference(&permuted.2.permute((0, 3, 1, 2))?, &reference.2) == 0.0);

    // A narrowed x: an offset into a larger storage, strides of the larger tensor.
    let big = randn(&[4, 5, 10, 12])?;
    let window = big.narrow(1, 1, 3)?.narrow(2, 1, 8)?.narrow(3, 2, 9)?;
    let copy = window.contiguous()?;
    assert!(!window.is_contiguous());
    let y_view = apply::<conv::Kernel>(&window, &w, None)?;
    let y_copy = apply::<conv::Kernel>(&copy, &w, None)?;
    assert!(max_difference(&y_view, &y_copy) == 0.0);

    // A broadcast weight (zero strides: one filter for every output channel).
    let one = randn(&[1, 3, 3, 3])?;
    let y_broadcast = apply::<conv::Kernel>(&x, &one.broadcast_as((4, 3, 3, 3))?, None)?;
    let y_repeated = apply::<conv::Kernel>(&x, &one.repeat((4, 1, 1, 1))?, None)?;
    assert!(max_difference(&y_broadcast, &y_repeated) == 0.0);

    // Channels-last kernels take channels-last tensors: the same convolution.
    let y_nhwc = apply::<conv_nhwc::Kernel>(&x_nhwc, &w.permute((2, 3, 1, 0))?, None)?;
    assert!(relative_difference(&y_nhwc.permute((0, 3, 1, 2))?, &reference.0) < 1e-6);
    Ok(())
}

#[test]
fn kernels_of_one_and_three_operands() -> Result<()> {
    // Pooling: the gradient of a sum pool spreads grad_y over each 2x2 window.
    let x = Var::from_tensor(&randn(&[2, 3, 6, 6])?)?;
    let y = apply1::<pool::Kernel>(&x, None)?;
    let theirs = x.avg_pool2d(2)?.affine(4.0, 0.0)?;
    assert!(relative_difference(&y, &theirs) < 1e-6);
    let grads = y.sum_all()?.backward()?;
    assert!(grads
        .get(&x)
        .unwrap()
        .flatten_all()?
        .to_vec1::<f32>()?
        .iter()
        .all(|&g| g == 1.0));

    // A chain of three matrix products, against candle's matmul, gradients included.
    let (a, b, c) = (
        Var::from_tensor(&randn(&[3, 4])?)?,
        Var::from_tensor(&randn(&[4, 5])?)?,
        Var::from_tensor(&randn(&[5, 2])?)?,
    );
    let r = randn(&[3, 2])?;
    let ours = apply_all::<chain::Kernel>(&[&a, &b, &c], None)?;
    let theirs = a.matmul(&b)?.matmul(&c)?;
    assert!(relative_difference(&ours, &theirs) < 1e-5);
    let g1 = ours.mul(&r)?.sum_all()?.backward()?;
    let g2 = theirs.mul(&r)?.sum_all()?.backward()?;
    for v in [&a, &b, &c] {
        let error = relative_difference(g1.get(v).unwrap(), g2.get(v).unwrap());
        assert!(error < 1e-5, "{error}");
    }
    Ok(())
}

#[test]
fn conv_layer_is_a_module() -> Result<()> {
    let varmap = VarMap::new();
    let vb = VarBuilder::from_varmap(&varmap, DType::F32, &Device::Cpu);
    let layer = ConvLayer::<conv::Kernel>::init(vb.pp("conv1"), &[4, 3, 3, 3])?;
    assert_eq!(layer.weight().dims(), [4, 3, 3, 3]);
    assert_eq!(layer.bias().unwrap().dims(), [4]);
    // PyTorch's initialisation: uniform in +-1/sqrt(fan_in), fan_in = 3 * 3 * 3.
    let bound = 1.0 / 27f64.sqrt();
    for t in [layer.weight(), layer.bias().unwrap()] {
        let largest = t.abs()?.max_all()?.to_scalar::<f32>()? as f64;
        assert!(largest <= bound && largest > 0.0);
    }
    let names: Vec<String> = varmap.data().lock().unwrap().keys().cloned().collect();
    assert!(
        names.contains(&"conv1.weight".to_string()) && names.contains(&"conv1.bias".to_string())
    );

    // Forward as candle's conv2d, and gradients reach the VarMap's variables.
    let x = randn(&[2, 3, 8, 8])?;
    let y = layer.forward(&x)?;
    let b = layer.bias().unwrap().reshape((1, 4, 1, 1))?;
    let theirs = x.conv2d(layer.weight(), 1, 1, 1, 1)?.broadcast_add(&b)?;
    assert!(relative_difference(&y, &theirs) < 1e-5);
    let grads = y.sqr()?.sum_all()?.backward()?;
    for var in varmap.all_vars() {
        assert!(grads.get(&var).is_some());
    }
    // A depthwise weight's fan_in is its window: 3 * 3.
    conv_kernel! {
        depthwise(x, weight) = "nchwkj,ckj->nchw" { unfold x.h by k, pad = 1; unfold x.w by j, pad = 1; bias c; }
    }
    let vb = VarBuilder::from_varmap(&varmap, DType::F32, &Device::Cpu);
    let dw = ConvLayer::<depthwise::Kernel>::init(vb.pp("dw"), &[3, 3, 3])?;
    let largest = dw.weight().abs()?.max_all()?.to_scalar::<f32>()? as f64;
    assert!(largest <= 1.0 / 3.0 && largest > 1.0 / 27f64.sqrt());
    assert_eq!(dw.forward(&x)?.dims(), [2, 3, 8, 8]);
    Ok(())
}
