//! The per-point copies of `P` that single-column products (depthwise) fill, written
//! from a table of where each row of a point starts in the operand, worked out once
//! per plan. Found row by row (an odometer over `P`'s dimensions and a sum over them),
//! the rows of a few dozen elements cost more to find than to copy: MobileNet's
//! stride-2 depthwise forward spent 78% of its time filling.

use super::padded::Kind;
use super::plan::Direct;
use crate::lowered::layout::Layout;
use crate::Element;

pub(crate) struct LocalFill {
    /// Where each outer point's block of `P` starts in the operand.
    pub(super) bases: Vec<usize>,
    /// Each row of a point's block: where it starts in the operand, from the point's
    /// base (`None`: zero padding), and its phase (see [`Direct::row_phase`]).
    pub(super) rows: Vec<Option<(usize, usize)>>,
    pub(super) steps: Vec<usize>,
    pub(super) linear: Vec<(usize, usize, usize)>,
}

impl LocalFill {
    /// The table of the first `local_rows` rows of each point, if `P`'s leading
    /// dimensions are exactly the outer points' axes (each point's rows then form one
    /// block, the same for every point but for its base).
    pub(super) fn new(
        direct: &Direct,
        l: &Layout,
        outer_axes: &[char],
        local_rows: usize,
    ) -> Option<Self> {
        let (&last_len, leading) = direct.p_shape.split_last()?;
        let is_outer = |k: &Kind| matches!(k, Kind::Axis(a) if outer_axes.contains(a));
        let k = direct
            .p_dims
            .iter()
            .take_while(|d| is_outer(&d.kind))
            .count();
        if k > leading.len() || direct.p_dims[k..].iter().any(|d| is_outer(&d.kind)) {
            return None;
        }
        // A stride may be as large as usize::MAX (a phase dimension as long): then the
        // rows are found one by one.
        let product = |dims: &[usize]| dims.iter().try_fold(1usize, |p, &d| p.checked_mul(d));
        let block_rows = product(&leading[k..])?;
        let block = block_rows.checked_mul(last_len)?;
        if block == 0 || product(&leading[..k])? != direct.outer.len() {
            return None;
        }
        let steps = direct.steps(l);
        let mut bases = Vec::with_capacity(direct.outer.len());
        for &at in &direct.outer {
            if at % block != 0 {
                return None;
            }
            let index = digits(at / block, &leading[..k]);
            bases.push(index.iter().zip(&steps).map(|(i, s)| i * s).sum());
        }
        // Rows past a point's copy are never filled.
        let rows = (0..block_rows.min(local_rows))
            .map(|r| {
                let mut index = vec![0; k];
                index.extend(digits(r, &leading[k..]));
                index.push(0);
                let phase = direct.row_phase(&index);
                direct.row_source(&index, &steps).map(|s| (s, phase))
            })
            .collect();
        Some(LocalFill {
            bases,
            rows,
            steps,
            linear: direct.linear_runs(),
        })
    }

    /// Writes outer point `o`'s rows of `P` to `local`, whole rows, and zeros past its
    /// block: only lanes past the point's last output position read those, and they
    /// are dropped.
    #[inline(always)]
    pub(super) fn fill<T: Element>(&self, direct: &Direct, a: &[T], o: usize, local: &mut [T]) {
        let last_len = direct.p_shape.last().copied().unwrap_or(1).max(1);
        let base = self.bases[o];
        for (r, out) in local.chunks_exact_mut(last_len).enumerate() {
            match self.rows.get(r) {
                Some(&Some((source, phase))) => {
                    direct.fill_row(a, base + source, phase, &self.steps, &self.linear, out)
                }
                _ => out.fill(T::zero()),
            }
        }
    }
}

/// `value` as digits of the mixed radix `extents`, the last fastest.
fn digits(mut value: usize, extents: &[usize]) -> Vec<usize> {
    let mut out = vec![0; extents.len()];
    for (d, &e) in out.iter_mut().zip(extents).rev() {
        *d = value % e.max(1);
        value /= e.max(1);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::super::tests::values;
    use super::*;
    use crate::lowered::product::Product;
    use crate::Interpreter;
    use conv_model::gemm_plan::gemm_plan;
    use ndarray::ArrayViewD;

    /// The plan of a single-column kernel's forward pass.
    fn plan(source: &str, shapes: &[&[usize]]) -> (Product, Direct) {
        let interp = Interpreter::new(source).expect("a valid kernel");
        let kernel = interp.kernel();
        let gemm = gemm_plan(kernel).expect("a batch of products");
        let extents = crate::shapes::resolve(kernel, shapes).expect("shapes fit");
        let data: Vec<Vec<f32>> = shapes
            .iter()
            .map(|s| values(s.iter().product(), 1))
            .collect();
        let views: Vec<ArrayViewD<f32>> = data
            .iter()
            .zip(shapes)
            .map(|(d, s)| ArrayViewD::from_shape(s.to_vec(), d).expect("shape"))
            .collect();
        let out_len = interp.forward(&views, None).expect("forward").len();
        let product = Product::new(kernel, &gemm, &extents, shapes[gemm.a], shapes[gemm.b])
            .expect("a product");
        let direct = Direct::new(&product, out_len).expect(source);
        (product, direct)
    }

    #[test]
    fn the_table_writes_the_rows_the_odometer_finds() {
        // Depthwise over every padding mode, strides 1 to 3 with dilation, odd extents,
        // asymmetric padding, and a 1-D window.
        let cases: [(&str, &[&[usize]]); 4] = [
            (
                "c(x, w) = \"nchwkj,ckj->nchw\" { unfold x.h by k, stride = 2, pad = 1; \
                 unfold x.w by j, stride = 2, pad = 1; }",
                &[&[2, 3, 11, 37], &[3, 3, 3]],
            ),
            (
                "c(x, w) = \"nchwkj,ckj->nchw\" { unfold x.h by k, stride = 3, dilation = 2, \
                 pad = 2, mode = reflect; unfold x.w by j, stride = 2, pad = (2, 1), \
                 mode = replicate; }",
                &[&[2, 2, 13, 29], &[2, 3, 3]],
            ),
            (
                "c(x, w) = \"nchwkj,ckj->nchw\" { unfold x.h by k, pad = 1, mode = circular; \
                 unfold x.w by j, dilation = 2, pad = 2, mode = reflect; }",
                &[&[1, 3, 9, 20], &[3, 3, 3]],
            ),
            (
                "c(x, w) = \"nclk,ck->ncl\" { unfold x.l by k, stride = 3, pad = (1, 2); }",
                &[&[2, 4, 50], &[4, 5]],
            ),
        ];
        for (source, shapes) in cases {
            let (product, direct) = plan(source, shapes);
            let rows = direct.local_rows(product.n_len).expect("one column");
            let table = direct.local.as_ref().expect("a table");
            let last_len = direct.p_shape[direct.p_shape.len() - 1];
            let block = table.rows.len() * last_len;
            let a: Vec<f32> = values(shapes[0].iter().product(), 3);
            for o in 0..direct.outer.len() {
                let mut want = vec![f32::NAN; rows * last_len];
                direct.fill_rows(&product.layout, &a, direct.outer[o] / last_len, &mut want);
                let mut got = vec![f32::NAN; rows * last_len];
                table.fill(&direct, &a, o, &mut got);
                let own = block.min(got.len());
                assert_eq!(got[..own], want[..own], "{source}: point {o}");
                assert!(got[own..].iter().all(|&v| v == 0.0), "{source}: overhang");
            }
        }
    }
}
