//! The gradient of a windowed operand, split by phase into stride-1 forward
//! convolutions of `grad_y`.
//!
//! Along a window of stride S (dilation 1, zero padding `lo`), position `h` of the operand
//! receives `grad_y[a] * b[k]` wherever `a*S + k = h + lo`. The positions whose
//! `h + lo` is `r` modulo S (phase r) meet exactly the taps `k = r + S*m`, and there the
//! sum is `x_r[t] = sum over m of grad_y[q0 + t - m] * b[r + S*m]`: a stride-1
//! correlation of `grad_y` with those taps reversed, which [`super::facts::Transposed`]'s
//! kernel computes once its pads and taps are filled in. A window of stride 1 is one
//! phase holding every tap (its dilation kept). A phase of several windows is one choice
//! of phase along each.

use crate::facts::Transposed;
use crate::kernel::{Geometry, Kernel, Pad, PadMode, Window};

/// Where one phase lies along one window's axis.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PhaseAxis {
    /// The taps of the phase, indices into the original window, in the phase kernel's
    /// order (which reads them reversed, as every transposed kernel does).
    pub taps: Vec<usize>,
    /// The operand's first position in the phase, the step to the next, and how many.
    pub first: usize,
    pub step: usize,
    pub count: usize,
    /// The phase kernel's zero pads of `grad_y` along this axis.
    pub pads: (usize, usize),
    /// The phase kernel's results along this axis that come before the first position:
    /// where a pad wider than the window skips the first values of `grad_y` (a negative
    /// pad). Results after the last position (the same at the far end) are not read.
    pub skip: usize,
}

/// One phase of every window at once.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Phase {
    /// The stride-1 transposed kernel of the phase's taps; `None` when some window has no
    /// tap in it (its positions receive no gradient).
    pub kernel: Option<Kernel>,
    /// Per window, in declaration order.
    pub axes: Vec<PhaseAxis>,
}

impl Phase {
    /// Whether the phase is the whole operand with every tap in order (no window strided,
    /// no pad wider than its window): its kernel then writes the gradient in place.
    pub fn is_whole(&self) -> bool {
        self.axes
            .iter()
            .all(|a| a.step == 1 && a.skip == 0 && a.taps.iter().copied().eq(0..a.taps.len()))
    }
}

impl Transposed {
    /// Every phase with at least one position, for the original windows' geometries (in
    /// declaration order). `None` when a window pads in a mode other than zeros, or is
    /// strided and dilated at once.
    pub fn phases(&self, original: &Kernel, geometries: &[Geometry]) -> Option<Vec<Phase>> {
        let mut per_window = Vec::new();
        for (w, g) in original.windows.iter().zip(geometries) {
            if w.mode != PadMode::Zeros && (g.lo, g.hi) != (0, 0) {
                return None;
            }
            per_window.push(axis_phases(w, g)?);
        }
        let mut phases = vec![Vec::new()];
        for choices in &per_window {
            phases = phases
                .iter()
                .flat_map(|chosen: &Vec<PhaseAxis>| {
                    choices.iter().map(move |axis| {
                        let mut next = chosen.clone();
                        next.push(axis.clone());
                        next
                    })
                })
                .collect();
        }
        Some(
            phases
                .into_iter()
                .map(|axes| Phase {
                    kernel: self.phase_kernel(&axes),
                    axes,
                })
                .collect(),
        )
    }

    /// The transposed kernel with each window's pads and taps those of its phase.
    fn phase_kernel(&self, axes: &[PhaseAxis]) -> Option<Kernel> {
        let mut kernel = self.kernel.clone();
        for (w, axis) in kernel.windows.iter_mut().zip(axes) {
            if axis.taps.is_empty() {
                return None;
            }
            if axis.step > 1 {
                w.dilation = 1;
            }
            w.pad = Pad::Explicit {
                lo: axis.pads.0,
                hi: axis.pads.1,
            };
            kernel.sizes.insert(w.window, axis.taps.len());
        }
        Some(kernel)
    }
}

/// The phases along one window with at least one position; `None` when the window is
/// strided and dilated.
fn axis_phases(w: &Window, g: &Geometry) -> Option<Vec<PhaseAxis>> {
    let stride = w.stride;
    if stride > 1 && w.dilation != 1 {
        return None;
    }
    // One phase per position below the stride (each a different phase; a stride may be
    // as large as usize::MAX), in the order of their first positions.
    let mut phases = Vec::new();
    for first in 0..g.len.min(stride) {
        let r = ((first as u128 + (g.lo % stride) as u128) % stride as u128) as usize;
        let count = (g.len - 1 - first) / stride + 1;
        let taps: Vec<usize> = (r..g.window).step_by(stride).collect();
        let (pads, skip) = match taps.len() {
            0 => ((0, 0), 0),
            len => {
                // Position `first` is padded position `q0*S + r`, and reads `grad_y` from
                // `q0 - (span - 1)`: a negative start is a pad, a positive one skipped.
                let span = if stride > 1 { len } else { g.span };
                let q0 = (first.checked_add(g.lo)? - r) / stride;
                let lo = (span - 1).saturating_sub(q0);
                let skip = q0.saturating_sub(span - 1);
                let reach = skip.checked_add(count)?.checked_add(span - 1)?;
                let hi = reach.saturating_sub(g.out.checked_add(lo)?);
                ((lo, hi), skip)
            }
        };
        phases.push(PhaseAxis {
            taps,
            first,
            step: stride,
            count,
            pads,
            skip,
        });
    }
    Some(phases)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// grad_x of a 1-D convolution by its definition: every (output, tap) pair adds
    /// `g[a] * w[k]` at `a*S + k*D - lo`.
    fn by_definition(g: &[i64], w: &[i64], geo: &Geometry, stride: usize, dil: usize) -> Vec<i64> {
        let mut x = vec![0; geo.len];
        for (a, gv) in g.iter().enumerate() {
            for (k, wv) in w.iter().enumerate() {
                let p = a * stride + k * dil;
                if p >= geo.lo && p - geo.lo < geo.len {
                    x[p - geo.lo] += gv * wv;
                }
            }
        }
        x
    }

    /// grad_x by the phases: each a stride-1 correlation of the padded `g` with the
    /// phase's taps reversed, its results placed at `first + t*step`.
    fn by_phases(
        phases: &[PhaseAxis],
        g: &[i64],
        w: &[i64],
        geo: &Geometry,
        dil: usize,
    ) -> Vec<i64> {
        let mut x = vec![i64::MIN; geo.len];
        for phase in phases {
            let taps = phase.taps.len();
            let dil = if phase.step > 1 { 1 } else { dil };
            let (lo, hi) = phase.pads;
            if taps > 0 {
                // The phase kernel's results cover the skipped ones and the phase's.
                let results = g.len() + lo + hi - dil * (taps - 1);
                assert!(results >= phase.skip + phase.count, "{phase:?}");
            }
            for t in 0..phase.count {
                let mut sum = 0;
                for m in 0..taps {
                    let at = (t + phase.skip + m * dil) as i64 - lo as i64;
                    if at >= 0 && (at as usize) < g.len() {
                        sum += g[at as usize] * w[phase.taps[taps - 1 - m]];
                    }
                }
                let h = phase.first + t * phase.step;
                assert_eq!(x[h], i64::MIN, "position {h} in two phases");
                x[h] = sum;
            }
        }
        assert!(!x.contains(&i64::MIN), "every position in a phase");
        x
    }

    #[test]
    fn phases_sum_to_the_gradient_by_definition() {
        let mut checked = 0;
        for len in 1..12 {
            for window in 1..6 {
                for stride in 1..4 {
                    for dil in 1..3 {
                        for lo in 0..4 {
                            for hi in 0..4 {
                                let w = Window {
                                    operand: 0,
                                    axis: 'h',
                                    window: 'k',
                                    stride,
                                    dilation: dil,
                                    pad: Pad::Explicit { lo, hi },
                                    mode: PadMode::Zeros,
                                    output_padding: 0,
                                };
                                let Ok(geo) = w.geometry(len, window) else {
                                    continue;
                                };
                                let Some(phases) = axis_phases(&w, &geo) else {
                                    assert!(stride > 1 && dil > 1, "declined {w:?} {geo:?}");
                                    continue;
                                };
                                let g: Vec<i64> = (0..geo.out as i64).map(|i| 3 * i + 1).collect();
                                let taps: Vec<i64> =
                                    (0..window as i64).map(|k| 1 << (4 * k)).collect();
                                assert_eq!(
                                    by_phases(&phases, &g, &taps, &geo, dil),
                                    by_definition(&g, &taps, &geo, stride, dil),
                                    "{w:?} {geo:?}"
                                );
                                checked += 1;
                            }
                        }
                    }
                }
            }
        }
        assert!(checked > 3000, "{checked} geometries checked");
    }

    #[test]
    fn a_3x3_stride_2_window_with_pad_1_has_two_phases() {
        let w = Window {
            operand: 0,
            axis: 'h',
            window: 'k',
            stride: 2,
            dilation: 1,
            pad: Pad::Explicit { lo: 1, hi: 1 },
            mode: PadMode::Zeros,
            output_padding: 0,
        };
        let geo = w.geometry(56, 3).expect("fits");
        let phases = axis_phases(&w, &geo).expect("zero padding");
        // Even positions meet tap 1 alone; odd positions (h + 1 even) taps 0 and 2.
        assert_eq!(
            phases,
            vec![
                PhaseAxis {
                    taps: vec![1],
                    first: 0,
                    step: 2,
                    count: 28,
                    pads: (0, 0),
                    skip: 0
                },
                PhaseAxis {
                    taps: vec![0, 2],
                    first: 1,
                    step: 2,
                    count: 28,
                    pads: (0, 1),
                    skip: 0
                },
            ]
        );
    }

    #[test]
    fn a_stride_of_usize_max_has_one_phase_per_position() {
        let w = Window {
            operand: 0,
            axis: 'h',
            window: 'k',
            stride: usize::MAX,
            dilation: 1,
            pad: Pad::Explicit { lo: 2, hi: 0 },
            mode: PadMode::Zeros,
            output_padding: 0,
        };
        let geo = w.geometry(3, 4).expect("fits");
        let phases = axis_phases(&w, &geo).expect("zero padding");
        // One window at padded 0..4 reads x[0] and x[1] with taps 2 and 3; x[2] none.
        let taps: Vec<Vec<usize>> = phases.iter().map(|p| p.taps.clone()).collect();
        assert_eq!(taps, [vec![2], vec![3], vec![]]);
    }
}
