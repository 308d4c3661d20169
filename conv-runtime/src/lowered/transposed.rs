//! The gradient of the windowed operand as forward convolutions, run by the direct
//! kernel: for windows of stride 1 with zero padding,
//! `grad_x[.., h, ..] = sum over d, k of grad_y[.., d, h + lo - k*dil, ..] * w[d, .., k]`,
//! which is `grad_y` padded by `span - 1 - lo` before and `span - 1 - hi` after,
//! unfolded with the same dilation and correlated with the taps of `w` reversed. That
//! needs no panel and no fold, where the GEMM path writes every window's column and adds
//! it back. A window of stride S splits `grad_x` into S phases along its axis, each such
//! a convolution with every S-th tap (gather form: each position of `grad_x` is written
//! once), its result placed every S-th position. The macro derives the transposed kernel
//! ([`Transposed`]); a call fills in each phase's pads and taps ([`Transposed::phases`]).
//!
//! [`Transposed`]: conv_model::facts::Transposed
//! [`Transposed::phases`]: conv_model::facts::Transposed::phases

use super::call::{Call, Tensor};
use super::gemm_path;
use super::prepared::{self, Prepared};
use crate::Element;
use conv_model::phases::PhaseAxis;
use ndarray::{ArrayViewD, ArrayViewMutD, Axis, Slice};
use std::sync::Arc;

/// The phases of one call's `grad_a`, each a prepared product with a direct kernel.
pub(crate) struct Phased {
    runs: Vec<PhaseRun>,
    /// Some positions are in a phase without taps (a stride longer than the window):
    /// their gradient is zero.
    zeros: bool,
    /// Along each window, in declaration order: its axis in A and its taps' axis in B.
    a_axes: Vec<usize>,
    b_axes: Vec<usize>,
    a_shape: Vec<usize>,
    b_shape: Vec<usize>,
}

/// One phase with taps along every window (a phase without is all zeros).
struct PhaseRun {
    axes: Vec<PhaseAxis>,
    whole: bool,
    /// The direct kernel runs it; otherwise the GEMM, reading `grad_y` in place.
    direct: bool,
    prepared: Arc<Prepared>,
    /// The shape of the phase kernel's result, A's axes.
    shape: Vec<usize>,
}

impl PhaseRun {
    fn len(&self) -> usize {
        self.shape.iter().product()
    }
}

/// Every phase of `grad_a` for this call, if the kernel has a transposed kernel, the
/// call's geometry allows it and the direct kernel runs every phase.
pub(crate) fn prepare(call: Call<'_>) -> Option<Phased> {
    let template = call.facts.transposed.as_ref()?;
    let kernel = call.kernel();
    let plan = call.plan()?;
    let (a, b) = (&kernel.operands[plan.a], &kernel.operands[plan.b]);
    let position = |axes: &[char], axis: char| axes.iter().position(|&c| c == axis);
    let a_axes = (kernel.windows.iter())
        .map(|w| position(&a.physical, w.axis))
        .collect::<Option<Vec<_>>>()?;
    let b_axes = (kernel.windows.iter())
        .map(|w| position(&b.physical, w.window))
        .collect::<Option<Vec<_>>>()?;
    let y_shape = call.output_shape();
    let b_shape = call.operand_shape(plan.b);
    let (mut runs, mut zeros) = (Vec::new(), false);
    for phase in template.phases(kernel, &call.extents.windows)? {
        let Some(phase_kernel) = &phase.kernel else {
            zeros = true;
            continue;
        };
        let mut taps_shape = b_shape.clone();
        for (&at, axis) in b_axes.iter().zip(&phase.axes) {
            taps_shape[at] = axis.taps.len();
        }
        let extents = crate::shapes::resolve(phase_kernel, &[&y_shape, &taps_shape]).ok()?;
        let shape = extents.output_shape(phase_kernel);
        let prepared = prepared::prepared(
            phase_kernel,
            &template.plan,
            &extents,
            &y_shape,
            &taps_shape,
        )?;
        // A phase of one tap along every window, unpadded, is a matrix product.
        let direct = prepared.direct(shape.iter().product()).is_some();
        if !direct && prepared.product.a_in_place.is_none() {
            return None;
        }
        runs.push(PhaseRun {
            whole: phase.is_whole(),
            direct,
            axes: phase.axes,
            prepared,
            shape,
        });
    }
    Some(Phased {
        runs,
        zeros,
        a_axes,
        b_axes,
        a_shape: call.operand_shape(plan.a),
        b_shape,
    })
}

/// `grad_a` through the direct kernel, phase by phase, into `out`.
pub(crate) fn grad_a<T: Element>(
    call: Call<'_>,
    phased: &Phased,
    b: Tensor<T>,
    grad_y: &[T],
    out: &mut [T],
) {
    // Tap `k` of the transposed kernel is tap `taps - 1 - k` of the phase's.
    let reversed: Vec<char> = call.kernel().windows.iter().map(|w| w.window).collect();
    if phased.zeros {
        out.fill(T::zero());
    }
    for run in &phased.runs {
        let taps;
        let b = if run.whole {
            b.data
        } else {
            taps = phased.phase_taps(run, b.data);
            taps.as_slice()
                .unwrap_or_else(|| unreachable!("a new array"))
        };
        if run.whole {
            run_phase(run, b, &reversed, grad_y, out);
            continue;
        }
        let mut result = vec![T::zero(); run.len()];
        run_phase(run, b, &reversed, grad_y, &mut result);
        phased.place(run, &result, out);
    }
}

/// The phase kernel's result into `out`.
fn run_phase<T: Element>(run: &PhaseRun, b: &[T], reversed: &[char], grad_y: &[T], out: &mut [T]) {
    let p = &run.prepared.product;
    match run.prepared.direct(out.len()) {
        Some(direct) if run.direct => {
            let packed = p.pack_b(b, true, reversed);
            direct.forward(p, grad_y, &packed, None, out);
        }
        _ => {
            let packed = p.pack_b(b, false, reversed);
            gemm_path::multiply_all(p, grad_y, &packed, out, rayon::current_num_threads());
        }
    }
}

impl Phased {
    /// The taps of B in `run`'s phase, in standard layout.
    fn phase_taps<T: Element>(&self, run: &PhaseRun, b: &[T]) -> ndarray::ArrayD<T> {
        let view = ArrayViewD::from_shape(self.b_shape.clone(), b)
            .unwrap_or_else(|_| unreachable!("B has the call's shape"));
        let mut taps = view.to_owned();
        for (&at, axis) in self.b_axes.iter().zip(&run.axes) {
            taps = taps.select(Axis(at), &axis.taps);
        }
        taps.as_standard_layout().into_owned()
    }

    /// Writes the phase's positions of its result into `out`, A's gradient.
    fn place<T: Element>(&self, run: &PhaseRun, result: &[T], out: &mut [T]) {
        let mut out = ArrayViewMutD::from_shape(self.a_shape.clone(), out)
            .unwrap_or_else(|_| unreachable!("A's gradient has A's shape"));
        let mut result = ArrayViewD::from_shape(run.shape.clone(), result)
            .unwrap_or_else(|_| unreachable!("the result has the phase kernel's shape"));
        for (&at, axis) in self.a_axes.iter().zip(&run.axes) {
            let end = axis.first + (axis.count - 1) * axis.step + 1;
            out.slice_axis_inplace(
                Axis(at),
                Slice::new(axis.first as isize, Some(end as isize), axis.step as isize),
            );
            let skip = axis.skip as isize;
            result.slice_axis_inplace(Axis(at), Slice::from(skip..skip + axis.count as isize));
        }
        out.assign(&result);
    }
}

#[cfg(test)]
mod tests {
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
        let mut got = vec![f64::NAN; want.len()];
        let taken = path_of(call, Pass::GradA) == Path::Transposed;
        assert!(crate::lowered::grad_a(call, b, &grad_y, &mut got));
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
        let taken: [(String, [&[usize]; 2]); 11] = [
            // Strided: 3x3 and 4x4 stride 2 (phases of 2 and 1 taps, of 2 each), 7x7
            // stride 2 with stride 1 beside it, stride 3 over a window of 2 (a phase of
            // no taps), a pad wider than the window (skipped values of grad_y).
            (
                conv("unfold x.h by k, stride = 2, pad = 1; unfold x.w by j, stride = 2, pad = 1;"),
                [&[2, 3, 9, 36], &[13, 3, 3, 3]],
            ),
            (
                conv("unfold x.h by k, stride = 2, pad = 1; unfold x.w by j, stride = 2, pad = 1;"),
                [&[1, 2, 8, 40], &[5, 2, 4, 4]],
            ),
            (
                conv("unfold x.h by k, pad = 3; unfold x.w by j, stride = 2, pad = 3;"),
                [&[1, 3, 9, 45], &[7, 3, 7, 7]],
            ),
            (
                "c(x, w) = \"nclk,dck->ndl\" { unfold x.l by k, stride = 3, pad = (1, 0); }".into(),
                [&[2, 3, 50], &[4, 3, 2]],
            ),
            (conv("unfold x.h by k, pad = 3; unfold x.w by j;"), [&[1, 2, 8, 20], &[3, 2, 3, 3]]),
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
        let declined: [(String, [&[usize]; 2]); 2] = [
            (
                conv("unfold x.h by k, pad = 1, mode = reflect; unfold x.w by j;"),
                [&[1, 2, 8, 20], &[3, 2, 3, 3]],
            ),
            (
                conv("unfold x.h by k, stride = 2, dilation = 2; unfold x.w by j;"),
                [&[1, 2, 9, 20], &[3, 2, 3, 3]],
            ),
        ];
        for (source, shapes) in &declined {
            assert!(!transposed_grad(source, *shapes), "{source}: declined");
        }
    }
}
