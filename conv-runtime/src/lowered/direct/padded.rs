//! The layout of `P`, the padded copy the direct kernel reads: the operand's dimensions
//! in order, windows padded, and windows of stride S > 1 split into S phases, so that
//! every tap is still a shifted stretch of consecutive positions. Padded position
//! `q = phase + S * i` of such a window is at index `i` of phase `phase`; a view
//! position `a` and tap `t` (dilation D) read `q = a*S + t*D`, that is phase
//! `t*D mod S` at `a + t*D / S`, linear in `a`. The phases stand in front of the window
//! dimensions (the rows), so that consecutive output rows stay one row of `P` apart.

use crate::lowered::layout::{DimIndex, Layout};
use crate::padding;

pub(super) enum Kind {
    /// An axis, as in the operand.
    Axis(char),
    /// The phase of a strided window (as many as its stride).
    Phase,
    /// A window: the input position of each padded position (`None` in zero padding),
    /// and the index in `P` of its phase dimension when its stride exceeds 1.
    Window {
        window: usize,
        map: Vec<Option<usize>>,
        phase: Option<usize>,
    },
}

pub(super) struct Dim {
    /// The operand's dimension this one indexes (for a phase, its window's).
    pub source: usize,
    pub kind: Kind,
    pub len: usize,
}

/// `P`'s dimensions, or `None` if strided windows are followed by other axes (then
/// phases would not sit in front of the rows). `split_phases` false keeps strided
/// windows whole, for kernels that read each position at its own offset.
pub(super) fn dims(l: &Layout, split_phases: bool) -> Option<Vec<Dim>> {
    let strided = |d: &DimIndex| {
        split_phases && matches!(d, DimIndex::Window(w) if l.windows[*w].window.stride > 1)
    };
    let first_window =
        l.a.dims
            .iter()
            .position(|(d, _)| matches!(d, DimIndex::Window(_)));
    let any_strided = l.a.dims.iter().any(|(d, _)| strided(d));
    let at = match first_window {
        Some(at) if any_strided => {
            if l.a.dims[at..]
                .iter()
                .any(|(d, _)| matches!(d, DimIndex::Axis(_)))
            {
                return None;
            }
            at
        }
        _ => l.a.dims.len(),
    };
    let phases: Vec<usize> = (0..l.a.dims.len())
        .filter(|&i| strided(&l.a.dims[i].0))
        .collect();
    let mut out = Vec::new();
    for (i, (d, _)) in l.a.dims.iter().enumerate() {
        if i == at {
            for &source in &phases {
                let DimIndex::Window(w) = l.a.dims[source].0 else {
                    unreachable!()
                };
                let stride = l.windows[w].window.stride;
                out.push(Dim {
                    source,
                    kind: Kind::Phase,
                    len: stride,
                });
            }
        }
        out.push(match *d {
            DimIndex::Axis(a) => Dim {
                source: i,
                kind: Kind::Axis(a),
                len: l.len[&a],
            },
            DimIndex::Window(w) => {
                let t = &l.windows[w];
                let g = &t.geometry;
                let padded = if g.out == 0 || g.window == 0 {
                    0
                } else {
                    (g.out - 1) * t.window.stride + g.span
                };
                let map: Vec<Option<usize>> = (0..padded)
                    .map(|q| padding::source(t.window.mode, g, q))
                    .collect();
                let stride = t.window.stride;
                let phase = phases.iter().position(|&s| s == i).map(|k| at + k);
                let len = if phase.is_some() {
                    padded.div_ceil(stride)
                } else {
                    padded
                };
                Dim {
                    source: i,
                    kind: Kind::Window {
                        window: w,
                        map,
                        phase,
                    },
                    len,
                }
            }
        });
    }
    Some(out)
}

/// The offset in `P` (dimensions `dims`, strides `strides`) of every point of `axes`:
/// view positions of windows advance by the stride (`taps` false) or taps by the
/// dilation (`taps` true).
pub(super) fn offsets(
    l: &Layout,
    dims: &[Dim],
    strides: &[usize],
    axes: &[char],
    taps: bool,
) -> Vec<usize> {
    l.points(axes)
        .iter()
        .map(|values| {
            let value = |axis: char| axes.iter().position(|&a| a == axis).map(|i| values[i]);
            dims.iter()
                .zip(strides)
                .map(|(d, &s)| match &d.kind {
                    Kind::Axis(a) => value(*a).map_or(0, |v| v * s),
                    Kind::Phase => 0,
                    Kind::Window { window, phase, .. } => {
                        let win = &l.windows[*window].window;
                        let (axis, step) = if taps {
                            (win.window, win.dilation)
                        } else {
                            (win.axis, win.stride)
                        };
                        let q = value(axis).map_or(0, |v| v * step);
                        match phase {
                            Some(p) => (q / win.stride) * s + (q % win.stride) * strides[*p],
                            None => q * s,
                        }
                    }
                })
                .sum()
        })
        .collect()
}
