//! Where a padded position reads from, and which padded positions copy an input position.

use conv_model::kernel::{Geometry, PadMode};

/// The input position that padded position `q` holds, or `None` for a zero.
/// `q` is below `lo + len + hi`; `Window::geometry` has checked that the pads fit `len`.
pub fn source(mode: PadMode, g: &Geometry, q: usize) -> Option<usize> {
    if q >= g.lo && q - g.lo < g.len {
        return Some(q - g.lo);
    }
    if g.len == 0 {
        return None;
    }
    let x = q as i128 - g.lo as i128;
    let last = g.len as i128 - 1;
    let p = match mode {
        PadMode::Zeros => return None,
        PadMode::Reflect if x < 0 => -x,
        PadMode::Reflect => 2 * last - x,
        PadMode::Replicate => x.clamp(0, last),
        PadMode::Circular => x.rem_euclid(g.len as i128),
    };
    usize::try_from(p).ok().filter(|&p| p < g.len)
}

/// Every padded position whose value is a copy of input position `p`: `p + lo` and, for
/// modes other than zeros, the border positions that repeat it.
pub fn copies(mode: PadMode, g: &Geometry, p: usize) -> impl Iterator<Item = usize> + '_ {
    let end = g.lo + g.len;
    let (below, above) = match mode {
        PadMode::Zeros => (0..0, 0..0),
        _ => (0..g.lo, end..end + g.hi),
    };
    std::iter::once(p + g.lo).chain(
        below
            .chain(above)
            .filter(move |&q| source(mode, g, q) == Some(p)),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn geometry(len: usize, lo: usize, hi: usize) -> Geometry {
        Geometry {
            len,
            window: 1,
            lo,
            hi,
            span: 1,
            out: len + lo + hi,
        }
    }

    fn padded(mode: PadMode, g: &Geometry) -> Vec<Option<usize>> {
        (0..g.lo + g.len + g.hi)
            .map(|q| source(mode, g, q))
            .collect()
    }

    /// The same borders as torch.nn.functional.pad(arange(4), (2, 3), mode) (by hand).
    #[test]
    fn borders_match_pytorch() {
        let g = geometry(4, 2, 3);
        let z = None;
        assert_eq!(
            padded(PadMode::Zeros, &g),
            [z, z, Some(0), Some(1), Some(2), Some(3), z, z, z]
        );
        let some = |v: &[usize]| v.iter().map(|&p| Some(p)).collect::<Vec<_>>();
        assert_eq!(
            padded(PadMode::Reflect, &g),
            some(&[2, 1, 0, 1, 2, 3, 2, 1, 0])
        );
        assert_eq!(
            padded(PadMode::Replicate, &g),
            some(&[0, 0, 0, 1, 2, 3, 3, 3, 3])
        );
        assert_eq!(
            padded(PadMode::Circular, &g),
            some(&[2, 3, 0, 1, 2, 3, 0, 1, 2])
        );
    }

    #[test]
    fn copies_invert_source() {
        for mode in PadMode::ALL {
            let g = geometry(5, 3, 4);
            for p in 0..5 {
                let mut expected: Vec<usize> = (0..12)
                    .filter(|&q| source(mode, &g, q) == Some(p))
                    .collect();
                let mut got: Vec<usize> = copies(mode, &g, p).collect();
                expected.sort();
                got.sort();
                assert_eq!(got, expected, "{mode:?} p={p}");
            }
        }
    }
}
