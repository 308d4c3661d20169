//! The gradient of the windowed operand as a forward convolution, run by the direct
//! kernel: for windows of stride 1 with zero padding,
//! `grad_x[.., h, ..] = sum over d, k of grad_y[.., d, h + lo - k*dil, ..] * w[d, .., k]`,
//! which is `grad_y` padded by `span - 1 - lo` before and `span - 1 - hi` after,
//! unfolded with the same dilation and correlated with the taps of `w` reversed. That
//! needs no panel and no fold, where the GEMM path writes every window's column and adds
//! it back. The macro derives the transposed kernel ([`Transposed`]); a call only fills
//! in its pads and window sizes.
//!
//! Strided windows split `grad_x` into phases, each such a convolution over every
//! stride-th tap ([`Transposed::phases`]). Run by the direct kernel and placed every
//! stride-th position, they were slower than im2col panels and a fold on every strided
//! layer of the benchmark (3x3 stride 2 over 128 channels: 64 against 89 GFLOP/s on 1
//! thread, 78 against 148 on 2; the stem 40 against 70), so strided windows stay on
//! the panels.
//!
//! [`Transposed`]: conv_model::facts::Transposed
//! [`Transposed::phases`]: conv_model::facts::Transposed::phases

use super::call::Call;
use super::choose::min_macs;
use super::choose::Path;
use super::prepared::{self, Prepared};
use super::product::Product;
use crate::Element;
use std::sync::Arc;

/// The transposed kernel's prepared product for this call, if the kernel has one, the
/// call's geometry allows it, it is big enough and the direct kernel runs it into an
/// output of `out_len` elements (A's gradient).
pub(crate) fn prepare(call: Call<'_>, out_len: usize) -> Option<Arc<Prepared>> {
    let template = call.facts.transposed.as_ref()?;
    let phases = template.phases(call.kernel(), &call.extents.windows)?;
    let [phase] = &phases[..] else {
        return None;
    };
    let kernel = phase.kernel.clone().filter(|_| phase.is_whole())?;
    let y_shape = call.output_shape();
    let plan = call.plan()?;
    let b_shape = call.operand_shape(plan.b);
    let extents = crate::shapes::resolve(&kernel, &[&y_shape, &b_shape]).ok()?;
    let macs = Product::macs(&template.plan, &extents);
    if macs == 0 || macs < min_macs() {
        return None;
    }
    let prepared = prepared::prepared(&kernel, &template.plan, &extents, &y_shape, &b_shape)?;
    let runs = prepared.direct(out_len).is_some() || prepared.channels_last(out_len).is_some();
    runs.then_some(prepared)
}

/// `grad_a` through the direct kernel, or its product on Winograd's tiles (`path`), on
/// the transposed kernel's product.
pub(crate) fn grad_a<T: Element>(
    call: Call<'_>,
    transposed: &Prepared,
    path: Path,
    b: &[T],
    grad_y: &[T],
    out: &mut crate::__private::Output<T>,
) {
    // Tap `k` of the transposed kernel is tap `taps - 1 - k` of the original.
    let taps: Vec<char> = call.kernel().windows.iter().map(|w| w.window).collect();
    let p = &transposed.product;
    if path == Path::ChannelsLast {
        let Some(tiles) = transposed.channels_last(out.len()) else {
            unreachable!("the choice checked the channels-last plan")
        };
        return tiles.forward(p, grad_y, b, &taps, None, out);
    }
    if path == Path::PositionTiles {
        let Some(direct) = transposed.direct(out.len()) else {
            unreachable!("`prepare` checked the direct kernel")
        };
        return direct.forward_by_position(p, grad_y, b, &taps, None, out);
    }
    let packed = transposed.product.pack_b(b, true, &taps);
    if path == Path::Winograd {
        let (direct, tiles) = transposed.direct_and_tiles(out.len(), call.facts.winograd.as_ref());
        return tiles.forward(direct, p, grad_y, &packed[0], None, out.as_mut_slice());
    }
    let Some(direct) = transposed.direct(out.len()) else {
        unreachable!("`prepare` checked the direct kernel")
    };
    direct.forward(p, grad_y, &packed, None, out)
}

#[cfg(test)]
mod tests {
    use crate::__private::Output;
    use crate::lowered::choose::{path_of, Pass, MIN_MACS};
    use crate::lowered::{set_min_macs, Call, Path, Tensor};
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
        let facts = conv_model::facts::Facts::derive(interp.program().clone());
        let plan = facts.plan.clone().expect("a batch of products");
        let extents = crate::shapes::resolve(kernel, &shapes).expect("shapes fit");
        let call = Call::new(&facts, &extents);
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
        let mut got = Output::from(vec![f64::NAN; want.len()]);
        let taken = path_of(call, Pass::GradA) == Path::Transposed;
        assert!(crate::lowered::grad_a(call, b, &grad_y, &mut got));
        let got = got.into_vec();
        set_min_macs(MIN_MACS);
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
