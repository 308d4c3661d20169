//! The length of an output that windows sit on, against PyTorch's rule for a transposed
//! convolution, and against the unfold it is the adjoint of.

use conv_model::kernel::{Misfit, Pad, PadMode, Window};

fn window(stride: usize, dilation: usize, lo: usize, hi: usize, output_padding: usize) -> Window {
    Window {
        operand: 2,
        axis: 'i',
        window: 'k',
        stride,
        dilation,
        pad: Pad::Explicit { lo, hi },
        mode: PadMode::Zeros,
        output_padding,
    }
}

#[test]
fn fold_lengths_are_pytorch_s_and_unfold_back_to_the_view() {
    for stride in 1..=4 {
        for dilation in 1..=3 {
            for taps in 1..=4 {
                for (lo, hi) in [(0, 0), (1, 1), (2, 0), (0, 3)] {
                    for output_padding in 0..stride.max(dilation) {
                        let w = window(stride, dilation, lo, hi, output_padding);
                        for view in 1..=6usize {
                            let reach =
                                (view - 1) * stride + dilation * (taps - 1) + 1 + output_padding;
                            let g = w.fold_geometry(view, taps);
                            if reach < lo + hi {
                                assert!(
                                    matches!(g, Err(Misfit::PadsTooLarge { .. })),
                                    "{w:?} {view}"
                                );
                                continue;
                            }
                            let g = g.expect("fits");
                            assert_eq!(g.len, reach - lo - hi, "{w:?} view {view} taps {taps}");
                            assert_eq!((g.out, g.lo, g.hi), (view, lo, hi));
                            // Unfolding the output with the same window gives the view
                            // back, one more position per `stride` of output_padding.
                            if let Ok(back) = w.geometry(g.len, taps) {
                                assert_eq!(
                                    back.out,
                                    view + output_padding / stride,
                                    "{w:?} {view}"
                                );
                            }
                        }
                    }
                }
            }
        }
    }
}

#[test]
fn an_empty_view_folds_to_an_empty_output() {
    let g = window(2, 1, 1, 1, 1).fold_geometry(0, 3).expect("fits");
    assert_eq!((g.len, g.out), (0, 0));
    assert_eq!(
        window(1, 1, 0, 0, 0).fold_geometry(4, 0),
        Err(Misfit::EmptyWindow)
    );
}
