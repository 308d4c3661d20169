//! `check::check` covers forward mode and the double backward: its `jvp` and
//! `double_backward` entries hold a kernel's `jvp_dyn` and `double_backward_dyn` to the
//! interpreter and to finite differences, and a wrong one fails both.

use conv_runtime::check::{check, KernelReport};
use conv_runtime::{conv_kernel, DoubleGrads, Grads, Kernel, ShapeError, Tangent, Wrt};
use ndarray::{ArrayD, ArrayViewD};

conv_kernel! {
    conv1d(x, weight) = "nclk,dck->ndl" { unfold x.l by k, stride = 2, pad = 1; bias d; dtype f64; }
    up(x, weight) -> y = "nci,cdk->ndik" {
        unfold y.i by k, stride = 2, pad = 1, output_padding = 1;
        bias d;
    }
    chain(a, b, c) = "ij,jk,kl->il";
    chain4(a, b, c, d) = "ij,jk,kl,lm->im" { dtype f64; }
}

fn entry<'a>(report: &'a KernelReport, name: &str) -> &'a conv_runtime::check::KernelCheck {
    report
        .entries
        .iter()
        .find(|e| e.name == name)
        .unwrap_or_else(|| panic!("no entry {name}:\n{report}"))
}

#[test]
fn every_kernel_reports_jvp_and_double_backward_last() {
    let report = check(&up::Kernel, &[&[2, 3, 4], &[3, 2, 3]], 1).unwrap();
    let names: Vec<&str> = report.entries.iter().map(|e| e.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "forward",
            "grad_x",
            "grad_weight",
            "grad_bias",
            "jvp",
            "double_backward"
        ]
    );
    assert!(report.worst() < 1e-3, "{report}");
    let text = report.to_string();
    assert!(text.contains("jvp              interpreter"), "{text}");
    assert!(text.contains("double_backward  interpreter"), "{text}");
}

#[test]
fn forward_mode_and_double_backward_within_rounding() {
    let report = check(&conv1d::Kernel, &[&[2, 3, 9], &[4, 3, 3]], 2).unwrap();
    assert!(report.worst() < 1e-9, "{report}");
    // Three and four operands: f(v + h t) is cubic or quartic in h, and the central
    // differences are extrapolated to a step of 0 (in f32 at a step of 0.25).
    let report = check(&chain::Kernel, &[&[3, 4], &[4, 5], &[5, 2]], 3).unwrap();
    assert!(report.worst() < 1e-5, "{report}");
    let report = check(&chain4::Kernel, &[&[3, 4], &[4, 5], &[5, 2], &[2, 3]], 4).unwrap();
    assert!(report.worst() < 1e-9, "{report}");
}

/// `conv1d` with its forward mode or double backward broken one way.
struct Broken(Fault);

#[derive(Clone, Copy)]
enum Fault {
    /// The tangent of the weight is left out of `dy`.
    JvpDropsATangent,
    /// The gradient with respect to `grad_y` has the wrong sign.
    DoubleBackwardNegatesGradY,
    /// The gradient with respect to `x` is scaled by 1.1.
    DoubleBackwardScalesX,
}

impl Kernel for Broken {
    type Elem = f64;
    const SOURCE: &'static str = conv1d::Kernel::SOURCE;

    fn facts(&self) -> &'static conv_runtime::model::facts::Facts {
        conv1d::Kernel.facts()
    }

    fn forward_dyn(
        &self,
        operands: &[ArrayViewD<'_, f64>],
        bias: Option<ArrayViewD<'_, f64>>,
    ) -> Result<ArrayD<f64>, ShapeError> {
        conv1d::Kernel.forward_dyn(operands, bias)
    }

    fn gradient_dyn(
        &self,
        wrt: Wrt,
        operands: &[ArrayViewD<'_, f64>],
        grad_y: ArrayViewD<'_, f64>,
    ) -> Result<ArrayD<f64>, ShapeError> {
        conv1d::Kernel.gradient_dyn(wrt, operands, grad_y)
    }

    fn jvp_dyn(
        &self,
        primals: &[ArrayViewD<'_, f64>],
        bias: Option<ArrayViewD<'_, f64>>,
        tangents: &[ArrayViewD<'_, f64>],
        tangent_bias: Option<ArrayViewD<'_, f64>>,
    ) -> Result<Tangent<f64>, ShapeError> {
        let mut tangents = tangents.to_vec();
        let zero = ArrayD::zeros(tangents[1].raw_dim());
        if let Fault::JvpDropsATangent = self.0 {
            tangents[1] = zero.view();
        }
        conv1d::Kernel.jvp_dyn(primals, bias, &tangents, tangent_bias)
    }

    fn double_backward_dyn(
        &self,
        operands: &[ArrayViewD<'_, f64>],
        grad_y: ArrayViewD<'_, f64>,
        cotangents: &Grads<f64>,
    ) -> Result<DoubleGrads<f64>, ShapeError> {
        let mut dd = conv1d::Kernel.double_backward_dyn(operands, grad_y, cotangents)?;
        match self.0 {
            Fault::DoubleBackwardNegatesGradY => dd.grad_y.mapv_inplace(|v| -v),
            Fault::DoubleBackwardScalesX => dd.operands[0].mapv_inplace(|v| v * 1.1),
            Fault::JvpDropsATangent => {}
        }
        Ok(dd)
    }
}

#[test]
fn a_wrong_jvp_or_double_backward_fails_both_references() {
    for (fault, name, at_least) in [
        (Fault::JvpDropsATangent, "jvp", 0.1),
        (Fault::DoubleBackwardNegatesGradY, "double_backward", 0.1),
        (Fault::DoubleBackwardScalesX, "double_backward", 1e-3),
    ] {
        let report = check(&Broken(fault), &[&[2, 3, 9], &[4, 3, 3]], 5).unwrap();
        println!("{report}");
        let e = entry(&report, name);
        assert!(e.vs_interpreter > at_least, "{report}");
        assert!(e.vs_finite_differences.unwrap() > at_least, "{report}");
        // The first-order entries do not see it.
        for other in &report.entries[..4] {
            assert!(other.vs_interpreter < 1e-9, "{report}");
        }
    }
}
