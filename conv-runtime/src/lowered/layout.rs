//! Where every element of the product `C[b][m][n] = sum_k A[b][m][k] B[b][k][n]` lives in
//! the row-major tensors of a kernel: the offsets of every row, column and reduction index.

use crate::padding;
use crate::shapes::Extents;
use conv_model::gemm_plan::GemmPlan;
use conv_model::kernel::{Geometry, Kernel, Window};

/// The positions a window reads: `table[a * taps + t]` is the input position at padded
/// position `a*stride + t*dilation`, or `None` for a zero.
pub(crate) struct WindowTable {
    pub window: Window,
    pub geometry: Geometry,
    pub taps: usize,
    pub positions: Vec<Option<usize>>,
}

impl WindowTable {
    fn new(window: Window, geometry: Geometry) -> Self {
        let taps = geometry.window;
        let positions = (0..geometry.out)
            .flat_map(|a| (0..taps).map(move |t| (a, t)))
            .map(|(a, t)| {
                padding::source(
                    window.mode,
                    &geometry,
                    a * window.stride + t * window.dilation,
                )
            })
            .collect();
        WindowTable {
            window,
            geometry,
            taps,
            positions,
        }
    }

    /// The run of view positions `a` in `0..out` whose read at tap `t` is inside the input
    /// (a plain copy), as `a_lo..a_hi`, and the input position of `a_lo`.
    pub fn interior(&self, t: usize) -> (usize, usize, usize) {
        let w = &self.window;
        let reach = t * w.dilation;
        let (lo, len, s) = (self.geometry.lo, self.geometry.len, w.stride);
        // a*s + reach - lo in [0, len)  <=>  a in [ceil((lo - reach) / s), ceil((lo + len - reach) / s))
        let a_lo = lo.saturating_sub(reach).div_ceil(s);
        let a_hi = (lo + len)
            .saturating_sub(reach)
            .div_ceil(s)
            .min(self.geometry.out);
        let a_lo = a_lo.min(a_hi);
        (a_lo, a_hi, (a_lo * s + reach).saturating_sub(lo))
    }
}

/// How one dimension of a tensor is indexed in the product.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum DimIndex {
    Axis(char),
    /// Through the window with this index in [`Layout::windows`].
    Window(usize),
}

/// One tensor: how each dimension is indexed and its row-major stride.
pub(crate) struct TensorLayout {
    pub dims: Vec<(DimIndex, usize)>,
}

impl TensorLayout {
    /// `kept[w]`: where kernel window `w` is in the layout's windows, `None` for one read
    /// as a plain axis.
    fn new(
        kernel: &Kernel,
        physical: &[char],
        shape: &[usize],
        operand: Option<usize>,
        kept: &[Option<usize>],
    ) -> Option<Self> {
        let strides = conv_model::layout::row_major(shape)?;
        let dims = physical
            .iter()
            .zip(strides)
            .map(|(&axis, stride)| {
                let window = operand.and_then(|op| {
                    kernel
                        .windows
                        .iter()
                        .position(|w| w.operand == op && w.axis == axis)
                });
                (
                    window
                        .and_then(|w| kept[w])
                        .map_or(DimIndex::Axis(axis), DimIndex::Window),
                    stride,
                )
            })
            .collect();
        Some(TensorLayout { dims })
    }

    /// The stride of the dimension indexed by `axis` directly, 0 if none is.
    pub fn stride_of(&self, axis: char) -> usize {
        self.dims
            .iter()
            .find(|(d, _)| *d == DimIndex::Axis(axis))
            .map_or(0, |(_, s)| *s)
    }
}

/// Everything the lowered kernels need to find their operands' elements.
pub(crate) struct Layout {
    pub len: std::collections::BTreeMap<char, usize>,
    pub windows: Vec<WindowTable>,
    pub a: TensorLayout,
    pub b: TensorLayout,
    pub c: TensorLayout,
    pub batch: Vec<char>,
    /// Row axes looped over one at a time (they do not merge with the rows after them in C).
    pub m_outer: Vec<char>,
    /// Row axes merged into one stride of C: the rows of one product.
    pub m_inner: Vec<char>,
    pub n: Vec<char>,
    /// Reduction axes in the order of the panels.
    pub k: Vec<char>,
    /// C's stride between consecutive rows and consecutive columns.
    pub c_row_stride: usize,
    pub c_col_stride: usize,
}

impl Layout {
    /// `None` when the output's columns do not form one stride (then the nest runs).
    pub fn new(
        kernel: &Kernel,
        plan: &GemmPlan,
        extents: &Extents,
        a_shape: &[usize],
        b_shape: &[usize],
    ) -> Option<Self> {
        let len = extents.axes.clone();
        // A window of one tap, stride 1 and no padding reads its input as it is: its
        // axis is read directly, so a 1x1 convolution spelled with windows of size 1 is
        // the window-free product and runs as one (the tap axis, of extent 1, is then
        // an axis of B alone).
        let mut kept = Vec::with_capacity(kernel.windows.len());
        let mut windows = Vec::new();
        for (w, g) in kernel.windows.iter().zip(&extents.windows) {
            let plain = g.window == 1 && w.stride == 1 && (g.lo, g.hi) == (0, 0);
            kept.push((!plain).then_some(windows.len()));
            if !plain {
                windows.push(WindowTable::new(*w, *g));
            }
        }
        let c_shape: Vec<usize> = kernel.output.iter().map(|a| len[a]).collect();
        let a = TensorLayout::new(
            kernel,
            &kernel.operands[plan.a].physical,
            a_shape,
            Some(plan.a),
            &kept,
        )?;
        let b_axes = &kernel.operands[plan.b].physical;
        let b = TensorLayout::new(kernel, b_axes, b_shape, None, &kept)?;
        let c = TensorLayout::new(kernel, &kernel.output, &c_shape, None, &kept)?;
        let merges =
            |outer: char, inner: char| c.stride_of(outer) == c.stride_of(inner) * len[&inner];
        // The longest tail of the row axes that C stores as one stride.
        let mut split = plan.m.len() - 1;
        while split > 0 && merges(plan.m[split - 1], plan.m[split]) {
            split -= 1;
        }
        let (m_outer, m_inner) = (plan.m[..split].to_vec(), plan.m[split..].to_vec());
        if !plan.n.windows(2).all(|p| merges(p[0], p[1])) {
            return None;
        }
        let c_row_stride = c.stride_of(*m_inner.last()?);
        // No column axes (a depthwise convolution, a matrix-vector product): one column.
        let c_col_stride = plan.n.last().map_or(0, |&n| c.stride_of(n));
        Some(Layout {
            len,
            windows,
            a,
            b,
            c,
            batch: plan.batch.clone(),
            m_outer,
            m_inner,
            n: plan.n.clone(),
            k: plan.k.clone(),
            c_row_stride,
            c_col_stride,
        })
    }

    pub fn extent(&self, axes: &[char]) -> usize {
        axes.iter().map(|a| self.len[a]).product()
    }

    /// Every combination of values of these axes, row-major.
    pub fn points(&self, axes: &[char]) -> Vec<Vec<usize>> {
        let extents: Vec<usize> = axes.iter().map(|a| self.len[a]).collect();
        let mut points = Vec::with_capacity(extents.iter().product());
        crate::interp::for_each_point(&extents, |p| points.push(p.to_vec()));
        points
    }
}
