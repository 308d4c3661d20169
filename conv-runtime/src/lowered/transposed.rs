//! The gradient of the windowed operand as a forward convolution, run by the direct
//! kernel: for windows of stride 1 with zero padding,
//! `grad_x[.., h, ..] = sum over d, k of grad_y[.., d, h + lo - k*dil, ..] * w[d, .., k]`,
//! which is `grad_y` padded by `span - 1 - lo` before and `span - 1 - hi` after,
//! unfolded with the same dilation and correlated with the taps of `w` reversed. That
//! needs no panel and no fold, where the GEMM path writes every window's column and adds
//! it back.

use super::{prepare, Tensor};
use crate::shapes::Extents;
use crate::Element;
use conv_codegen::gemm_plan::{gemm_plan, GemmPlan};
use conv_codegen::kernel::{Kernel, Operand, Pad, PadMode, Window};

/// `grad_a` through the direct kernel, if the kernel has that shape; `false` (and `out`
/// untouched) otherwise.
pub(crate) fn grad_a<T: Element>(
    kernel: &Kernel,
    plan: &GemmPlan,
    extents: &Extents,
    b: &Tensor<T>,
    grad_y: &[T],
    out: &mut [T],
) -> bool {
    let Some(transposed) = transposed(kernel, plan, extents) else {
        return false;
    };
    let Some(t_plan) = gemm_plan(&transposed).filter(|p| (p.a, p.b) == (0, 1)) else {
        return false;
    };
    let y_shape: Vec<usize> = kernel.output.iter().map(|&a| extents.of(a)).collect();
    let Ok(t_extents) = crate::shapes::resolve(&transposed, &[&y_shape, b.shape]) else {
        return false;
    };
    let y = Tensor {
        data: grad_y,
        shape: &y_shape,
    };
    let Some(prepared) = prepare(&transposed, &t_plan, &t_extents, &y, b) else {
        return false;
    };
    let Some(direct) = prepared.direct(out.len()) else {
        return false;
    };
    // Tap `k` of the transposed kernel is tap `taps - 1 - k` of the original.
    let taps: Vec<char> = kernel.windows.iter().map(|w| w.window).collect();
    let packed = prepared.product.pack_b(b.data, true, &taps);
    direct.forward(&prepared.product, y.data, &packed, None, out);
    true
}

/// The kernel `grad_y (x) w -> a`: `grad_y` (the output's axes) unfolded along every
/// window's axis with the mirrored padding, `w` as it is, the windowed operand's axes
/// out; `None` unless every window has stride 1, zero padding (or none) no wider than
/// its span less one on either side, and slides along an output axis.
fn transposed(kernel: &Kernel, plan: &GemmPlan, extents: &Extents) -> Option<Kernel> {
    let a = &kernel.operands[plan.a];
    let b = &kernel.operands[plan.b];
    let mut windows = Vec::new();
    for (w, g) in kernel.windows.iter().zip(&extents.windows) {
        let mirrored = |pad: usize| (g.span - 1).checked_sub(pad);
        let zero_pad = w.mode == PadMode::Zeros || (g.lo, g.hi) == (0, 0);
        if w.operand != plan.a || w.stride != 1 || !zero_pad || !kernel.output.contains(&w.axis) {
            return None;
        }
        windows.push(Window {
            operand: 0,
            pad: Pad::Explicit {
                lo: mirrored(g.lo)?,
                hi: mirrored(g.hi)?,
            },
            mode: PadMode::Zeros,
            ..*w
        });
    }
    let mut view = kernel.output.clone();
    view.extend(kernel.windows.iter().map(|w| w.window));
    let sizes = kernel
        .windows
        .iter()
        .zip(&extents.windows)
        .map(|(w, g)| (w.window, g.window))
        .collect();
    Some(Kernel {
        name: format!("{}_grad_{}", kernel.name, a.name),
        docs: Vec::new(),
        spec: format!(
            "{},{}->{}",
            view.iter().collect::<String>(),
            b.view.iter().collect::<String>(),
            a.physical.iter().collect::<String>()
        ),
        operands: vec![
            Operand {
                name: "grad_y".into(),
                physical: kernel.output.clone(),
                view,
            },
            b.clone(),
        ],
        output: a.physical.clone(),
        windows,
        sizes,
        bias: None,
        dtype: kernel.dtype,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lowered::set_min_macs;
    use crate::Interpreter;
    use ndarray::ArrayViewD;

    fn values(count: usize, seed: usize) -> Vec<f64> {
        (0..count)
            .map(|i| ((i * 7 + seed * 13) % 23) as f64 / 11.0 - 1.0)
            .collect()
    }

    /// Whether the transposed direct kernel took grad_a of `source` on `shapes`; when it
    /// did, its result against the interpreter's.
    fn transposed_grad(source: &str, shapes: [&[usize]; 2]) -> bool {
        let interp = Interpreter::new(source).expect("a valid kernel");
        let kernel = interp.kernel();
        let plan = gemm_plan(kernel).expect("a batch of products");
        let extents = crate::shapes::resolve(kernel, &shapes).expect("shapes fit");
        let data: Vec<Vec<f64>> = (0..2)
            .map(|i| values(shapes[i].iter().product(), i))
            .collect();
        let views: Vec<ArrayViewD<f64>> = (0..2)
            .map(|i| ArrayViewD::from_shape(shapes[i].to_vec(), &data[i]).expect("shape"))
            .collect();
        let y_shape: Vec<usize> = kernel.output.iter().map(|&a| extents.of(a)).collect();
        let grad_y = values(y_shape.iter().product(), 3);
        let grad_y_view = ArrayViewD::from_shape(y_shape, &grad_y[..]).expect("shape");
        let want = interp
            .backward(&views, grad_y_view)
            .expect("backward")
            .operands[plan.a]
            .as_standard_layout()
            .into_owned();
        let b = Tensor {
            data: &data[plan.b][..],
            shape: shapes[plan.b],
        };
        set_min_macs(0);
        // The direct kernel writes every element: NaN shows one it missed.
        let mut got = vec![f64::NAN; want.len()];
        let taken = grad_a(kernel, &plan, &extents, &b, &grad_y, &mut got);
        set_min_macs(crate::lowered::MIN_MACS);
        if taken {
            let scale = want.iter().fold(1.0f64, |m, v| m.max(v.abs()));
            for (i, (g, w)) in got.iter().zip(want.iter()).enumerate() {
                assert!(
                    (g - w).abs() <= 1e-12 * scale,
                    "{source}: element {i}: {g} against {w}"
                );
            }
        }
        taken
    }

    #[test]
    fn grad_of_the_windowed_operand_as_a_forward_convolution() {
        let conv = |windows: &str| format!("c(x, w) = \"nchwkj,dckj->ndhw\" {{ {windows} }}");
        let taken: [(String, [&[usize]; 2]); 6] = [
            (conv("unfold x.h by k, pad = 1; unfold x.w by j, pad = 1;"), [&[2, 3, 6, 37], &[13, 3, 3, 3]]),
            // Asymmetric padding, none on one side, dilation, a window wider than tall.
            (
                conv("unfold x.h by k, pad = (0, 2), dilation = 2; unfold x.w by j, pad = (3, 1);"),
                [&[1, 2, 7, 20], &[5, 2, 2, 4]],
            ),
            (
                "c(x, w) = \"ncdhwijk,ecijk->nedhw\" { unfold x.d by i, pad = 1; \
                 unfold x.h by j, pad = 1; unfold x.w by k; }"
                    .into(),
                [&[1, 2, 3, 12, 30], &[3, 2, 3, 3, 3]],
            ),
            (
                "c(x, w) = \"nchwkj,ckj->nchw\" { unfold x.h by k, pad = 1; unfold x.w by j, pad = 1; }".into(),
                [&[2, 3, 6, 35], &[3, 3, 3]],
            ),
            (
                "c(x, w) = \"ngchwkj,gdckj->ngdhw\" { unfold x.h by k, pad = 1; unfold x.w by j; }".into(),
                [&[2, 2, 3, 5, 20], &[2, 4, 3, 3, 2]],
            ),
            // The weights first: the transposed kernel still reads grad_y through windows.
            (
                "c(w, x) = \"dck,nclk->ndl\" { unfold x.l by k, pad = 2; }".into(),
                [&[4, 3, 5], &[2, 3, 40]],
            ),
        ];
        for (source, shapes) in &taken {
            assert!(transposed_grad(source, *shapes), "{source}: taken");
        }
        let declined: [(String, [&[usize]; 2]); 3] = [
            (
                conv("unfold x.h by k, stride = 2, pad = 1; unfold x.w by j, pad = 1;"),
                [&[1, 2, 8, 20], &[3, 2, 3, 3]],
            ),
            (
                conv("unfold x.h by k, pad = 1, mode = reflect; unfold x.w by j;"),
                [&[1, 2, 8, 20], &[3, 2, 3, 3]],
            ),
            // Padding wider than the window's span less one: grad_y would need a negative pad.
            (
                conv("unfold x.h by k, pad = 3; unfold x.w by j;"),
                [&[1, 2, 8, 20], &[3, 2, 3, 3]],
            ),
        ];
        for (source, shapes) in &declined {
            assert!(!transposed_grad(source, *shapes), "{source}: declined");
        }
    }
}
