//! Gradients of gradients through candle: the gradient ops' own backward (built from
//! the forward and gradient ops, so it stays on candle's graph). candle detaches
//! gradients unless CANDLE_GRAD_DO_NOT_DETACH is set, which it reads once per thread,
//! so every test here sets it before its first backward().
//!
//! For `s = <grad_x, c_x> + <grad_weight, c_w> + <grad_bias, c_b>` of the first-order
//! gradients of `<y, grad_y>`, `s.backward()` gives the same as the runtime's
//! `double_backward_dyn` (itself held to finite differences in conv-runtime's checks),
//! for x, the weight and grad_y; and a gradient penalty's gradient agrees with finite
//! differences.

mod common;

use candle_core::{Device, Result, Tensor, Var};
use common::{max_difference, relative_difference, values};
use conv_candle::apply;
use conv_runtime::{conv_kernel, Grads, Kernel};
use ndarray::{ArrayD, IxDyn};

conv_kernel! {
    /// 3x3, stride 2, padding 1, with a bias.
    conv(x, weight) = "nchwkj,dckj->ndhw" {
        unfold x.h by k, stride = 2, pad = 1;
        unfold x.w by j, stride = 2, pad = 1;
        bias d;
        dtype f64;
    }
}

fn do_not_detach() {
    // candle reads it once per thread, at the thread's first backward().
    std::env::set_var("CANDLE_GRAD_DO_NOT_DETACH", "1");
}

fn array(t: &Tensor) -> ArrayD<f64> {
    ArrayD::from_shape_vec(IxDyn(t.dims()), values(t)).unwrap()
}

#[test]
fn double_backward_matches_the_runtime() -> Result<()> {
    do_not_detach();
    let cpu = &Device::Cpu;
    let randn = |shape: &[usize]| Tensor::randn(0f64, 1., shape, cpu);
    let x = Var::from_tensor(&randn(&[2, 3, 7, 6])?)?;
    let w = Var::from_tensor(&randn(&[4, 3, 3, 3])?)?;
    let b = Var::from_tensor(&randn(&[4])?)?;
    let grad_y = Var::from_tensor(&randn(&[2, 4, 4, 3])?)?;
    let (cx, cw, cb) = (randn(&[2, 3, 7, 6])?, randn(&[4, 3, 3, 3])?, randn(&[4])?);

    let y = apply::<conv::Kernel>(&x, &w, Some(&b))?;
    let first = y.mul(&grad_y)?.sum_all()?.backward()?;
    let (gx, gw, gb) = (
        first.get(&x).unwrap(),
        first.get(&w).unwrap(),
        first.get(&b).unwrap(),
    );
    let s = gx
        .mul(&cx)?
        .sum_all()?
        .add(&gw.mul(&cw)?.sum_all()?)?
        .add(&gb.mul(&cb)?.sum_all()?)?;
    let second = s.backward()?;

    let (xa, wa, ga) = (array(&x), array(&w), array(&grad_y));
    let cotangents = Grads {
        operands: vec![array(&cx), array(&cw)],
        bias: Some(array(&cb)),
    };
    let expected = conv::Kernel
        .double_backward_dyn(&[xa.view(), wa.view()], ga.view(), &cotangents)
        .expect("shapes fit");
    let as_tensor =
        |a: &ArrayD<f64>| Tensor::from_vec(a.iter().copied().collect::<Vec<_>>(), a.shape(), cpu);
    let mut report = Vec::new();
    for (name, var, reference) in [
        ("x", &x, &expected.operands[0]),
        ("weight", &w, &expected.operands[1]),
        ("grad_y", &grad_y, &expected.grad_y),
    ] {
        let got = second
            .get(var)
            .unwrap_or_else(|| panic!("no second-order gradient for {name}"));
        let error = relative_difference(got, &as_tensor(reference)?);
        report.push(format!("{name} {error:.1e}"));
        assert!(error < 1e-13, "{name}: {error:.2e}");
    }
    // The first-order gradients do not depend on the bias.
    assert!(second
        .get(&b)
        .is_none_or(|g| values(g).iter().all(|&v| v == 0.0)));
    println!(
        "double backward against double_backward_dyn: {}",
        report.join(", ")
    );
    Ok(())
}

/// `|grad_x|^2` (a gradient penalty) of the loss `sum(conv(x) * r)`, as a function of
/// the weight, differentiated through candle and by central differences.
#[test]
fn gradient_penalty_matches_finite_differences() -> Result<()> {
    do_not_detach();
    let cpu = &Device::Cpu;
    let randn = |shape: &[usize]| Tensor::randn(0f64, 1., shape, cpu);
    let x0 = randn(&[1, 2, 5, 5])?;
    let w0 = randn(&[3, 2, 3, 3])?;
    let b0 = randn(&[3])?;
    let r = randn(&[1, 3, 3, 3])?;
    let penalty = |w: &Tensor| -> Result<(Tensor, Var)> {
        let x = Var::from_tensor(&x0)?;
        let y = apply::<conv::Kernel>(&x, w, Some(&b0))?;
        let grads = y.mul(&r)?.sum_all()?.backward()?;
        Ok((grads.get(&x).unwrap().sqr()?.sum_all()?, x))
    };
    let w = Var::from_tensor(&w0)?;
    let (p, _) = penalty(&w)?;
    let analytic = p.backward()?.get(&w).unwrap().clone();
    let flat = values(&w0);
    let step = 1e-6;
    let mut numeric = Vec::new();
    for e in 0..flat.len() {
        let at = |d: f64| -> Result<f64> {
            let mut v = flat.clone();
            v[e] += d;
            penalty(&Tensor::from_vec(v, w0.shape(), cpu)?)?
                .0
                .to_scalar::<f64>()
        };
        numeric.push((at(step)? - at(-step)?) / (2.0 * step));
    }
    let numeric = Tensor::from_vec(numeric, w0.shape(), cpu)?;
    let error = max_difference(&analytic, &numeric)
        / values(&numeric).iter().fold(0.0f64, |m, v| m.max(v.abs()));
    println!("gradient penalty's gradient against finite differences: {error:.1e}");
    assert!(error < 1e-7, "{error:.2e}");
    Ok(())
}
