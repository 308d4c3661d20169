//! Symbolic derivation: the forward contraction of a checked kernel and the gradient of
//! every operand and of the bias, each again a contraction.
//!
//! For `y = contract(v_1, ..., v_n)` with `v_i` the (unfolded) view of operand `i`, the
//! gradient of `<y, grad_y>` with respect to `v_i` is the same contraction with `v_i`
//! replaced by `grad_y` and the result given `v_i`'s subscript. An operand read through
//! windows gets that view gradient folded back through each window (gather form).
//!
//! The rule is the same on both sides: a window on the output makes the forward result
//! a fold of the contraction's view, and every gradient reads `grad_y` through that
//! window (the adjoint of a fold is an unfold). So each derived gradient is again a
//! kernel of the language, and differentiating it again goes through this same code.

use crate::ir::{Access, Contraction, FoldAxis, Gradient, Index, Program, Source, Wrt};
use crate::kernel::{Kernel, Window};

pub fn lower(kernel: &Kernel) -> Program {
    let forward = Contraction {
        inputs: (0..kernel.operands.len())
            .map(|i| operand_access(kernel, i))
            .collect(),
        output: kernel.output_view.clone(),
    };
    let folds = kernel.output_windows().map(|w| fold_axis(*w)).collect();
    let mut gradients: Vec<Gradient> = (0..kernel.operands.len())
        .map(|i| operand_gradient(kernel, &forward, i))
        .collect();
    if let Some(axis) = kernel.bias {
        gradients.push(Gradient {
            wrt: Wrt::Bias,
            contraction: Contraction {
                inputs: vec![Access {
                    source: Source::GradOutput,
                    view: kernel.output.clone(),
                    dims: kernel.output.iter().map(|&a| Index::Axis(a)).collect(),
                }],
                output: vec![axis],
            },
            folds: Vec::new(),
        });
    }
    Program {
        kernel: kernel.clone(),
        forward,
        folds,
        gradients,
    }
}

fn operand_access(kernel: &Kernel, operand: usize) -> Access {
    let op = &kernel.operands[operand];
    Access {
        source: Source::Operand(operand),
        view: op.view.clone(),
        dims: dims(kernel, operand, &op.physical),
    }
}

/// `grad_y`, read through the output's windows.
fn grad_output_access(kernel: &Kernel) -> Access {
    Access {
        source: Source::GradOutput,
        view: kernel.output_view.clone(),
        dims: dims(kernel, kernel.output_slot(), &kernel.output),
    }
}

/// How each physical axis of the tensor in `slot` is indexed: through its window, if
/// one slides along it.
fn dims(kernel: &Kernel, slot: usize, physical: &[char]) -> Vec<Index> {
    physical
        .iter()
        .map(
            |&axis| match kernel.windows_on(slot).find(|w| w.axis == axis) {
                Some(window) => Index::Window(*window),
                None => Index::Axis(axis),
            },
        )
        .collect()
}

fn operand_gradient(kernel: &Kernel, forward: &Contraction, operand: usize) -> Gradient {
    let mut inputs = forward.inputs.clone();
    inputs[operand] = grad_output_access(kernel);
    Gradient {
        wrt: Wrt::Operand(operand),
        contraction: Contraction {
            inputs,
            output: kernel.operands[operand].view.clone(),
        },
        folds: kernel.windows_on(operand).map(|w| fold_axis(*w)).collect(),
    }
}

/// Resolves, once for all positions, which taps of a window can reach which phase.
pub fn fold_axis(window: Window) -> FoldAxis {
    let gcd = gcd(window.stride, window.dilation);
    let step = window.stride / gcd;
    FoldAxis {
        window,
        gcd,
        step,
        inverse: inverse_mod(window.dilation / gcd, step),
    }
}

fn gcd(mut a: usize, mut b: usize) -> usize {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

/// `x` with `a * x ≡ 1 (mod m)`, for `a` coprime to `m` (0 when `m` is 1).
fn inverse_mod(a: usize, m: usize) -> usize {
    // Extended Euclid on i128, so no intermediate overflows for any usize input.
    let (mut r0, mut r1) = (m as i128, (a % m.max(1)) as i128);
    let (mut t0, mut t1) = (0i128, 1i128);
    while r1 != 0 {
        let q = r0 / r1;
        (r0, r1) = (r1, r0 - q * r1);
        (t0, t1) = (t1, t0 - q * t1);
    }
    if m <= 1 {
        0
    } else {
        t0.rem_euclid(m as i128) as usize
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernel::{Pad, PadMode};

    fn window(stride: usize, dilation: usize) -> Window {
        Window {
            operand: 0,
            axis: 'h',
            window: 'k',
            stride,
            dilation,
            pad: Pad::Explicit { lo: 0, hi: 0 },
            mode: PadMode::Zeros,
            output_padding: 0,
        }
    }

    /// The phase table must list exactly the taps k with k*dilation ≡ q (mod stride).
    #[test]
    fn first_taps_solve_the_divisibility_test() {
        for stride in 1..=7 {
            for dilation in 1..=7 {
                let fold = fold_axis(window(stride, dilation));
                for q in 0..40 {
                    let expected: Vec<usize> = (0..20)
                        .filter(|k| k * dilation <= q && (q - k * dilation) % stride == 0)
                        .collect();
                    let got: Vec<usize> = match fold.first_tap(q) {
                        None => Vec::new(),
                        Some(first) => (first..20)
                            .step_by(fold.step)
                            .filter(|k| k * dilation <= q)
                            .collect(),
                    };
                    assert_eq!(got, expected, "stride {stride} dilation {dilation} q {q}");
                }
            }
        }
    }

    #[test]
    fn inverse_is_exact_for_huge_moduli() {
        let m = usize::MAX - 58; // odd, so 2 is invertible
        let x = inverse_mod(2, m);
        assert_eq!((2u128 * x as u128) % m as u128, 1);
    }
}
