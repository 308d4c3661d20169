//! What generated code calls. Not a stable API: only `conv_kernel!` output uses it.

pub use crate::lowered::Tensor;
pub use crate::padding::{copies, source as padded_source};
pub use crate::shapes::{check_tensor, Extents};
pub use conv_codegen::gemm_plan::GemmPlan;
pub use conv_codegen::kernel::{Geometry, Kernel, PadMode};
pub use ndarray;

use crate::{Element, ShapeError};
use ndarray::{Array, ArrayView, ArrayViewD, CowArray, Dimension, IxDyn};
use rayon::iter::ParallelExtend;
use std::cell::RefCell;
use std::sync::{Arc, OnceLock};

/// A generated module's kernel, rebuilt from its source text, and its plan as a batch of
/// matrix products if it is one.
pub struct Compiled {
    pub kernel: Kernel,
    pub plan: Option<GemmPlan>,
}

/// The kernel written as `source`, compiled on first use.
pub fn compiled(cell: &'static OnceLock<Compiled>, source: &str) -> &'static Compiled {
    cell.get_or_init(|| {
        let mut programs = crate::compile_text(source)
            .unwrap_or_else(|e| unreachable!("conv_kernel! checked this kernel: {e}"));
        let kernel = programs.remove(0).kernel;
        let plan = conv_codegen::gemm_plan::gemm_plan(&kernel);
        Compiled { kernel, plan }
    })
}

/// Shapes remembered per thread by [`resolve`].
const REMEMBERED: usize = 16;

/// A kernel, by the address of its `Compiled` (a `static`, so the address is the
/// kernel's for good), the shapes it was last resolved for, and their extents.
type Resolved = (usize, Vec<Vec<usize>>, Arc<Extents>);

thread_local! {
    static RESOLVED: RefCell<Vec<Resolved>> = const { RefCell::new(Vec::new()) };
}

/// Resolves every extent of a compiled kernel from its operands' shapes. A small kernel
/// is called again and again on the same shapes, where working the extents out (maps,
/// and the geometry of every window) cost a third of a 1 µs call: the last shapes of
/// each kernel on each thread are remembered, and their extents shared.
pub fn resolve(
    compiled: &'static Compiled,
    shapes: &[&[usize]],
) -> Result<Arc<Extents>, ShapeError> {
    let key = compiled as *const Compiled as usize;
    let same = |remembered: &[Vec<usize>]| {
        remembered.len() == shapes.len() && remembered.iter().zip(shapes).all(|(r, s)| r == s)
    };
    RESOLVED.with(|resolved| {
        let mut resolved = resolved.borrow_mut();
        if let Some((_, _, extents)) = resolved.iter().find(|(k, s, _)| *k == key && same(s)) {
            return Ok(Arc::clone(extents));
        }
        let extents = Arc::new(crate::shapes::resolve(&compiled.kernel, shapes)?);
        let entry = (
            key,
            shapes.iter().map(|s| s.to_vec()).collect(),
            Arc::clone(&extents),
        );
        match resolved.iter().position(|(k, _, _)| *k == key) {
            Some(at) => resolved[at] = entry,
            None if resolved.len() < REMEMBERED => resolved.push(entry),
            // The oldest kernel gives way.
            None => {
                resolved.remove(0);
                resolved.push(entry);
            }
        }
        Ok(extents)
    })
}

/// The shape of operand `operand` (unfolded axes at their input length).
pub fn physical_shape(kernel: &Kernel, operand: usize, extents: &Extents) -> Vec<usize> {
    kernel.operands[operand]
        .physical
        .iter()
        .map(|&axis| {
            kernel
                .windows
                .iter()
                .zip(&extents.windows)
                .find(|(w, _)| w.operand == operand && w.axis == axis)
                .map_or_else(|| extents.of(axis), |(_, g)| g.len)
        })
        .collect()
}

/// The elements of a view in row-major order, borrowed when the view already is;
/// `TooLarge` naming the tensor when the copy cannot be allocated (a huge zero-stride
/// view).
pub fn contiguous<'a, T: Clone, D: Dimension>(
    name: &str,
    view: ArrayView<'a, T, D>,
) -> Result<CowArray<'a, T, D>, ShapeError> {
    if view.is_standard_layout() {
        return Ok(CowArray::from(view));
    }
    let mut data = allocate(name, view.shape())?;
    data.extend(view.iter().cloned());
    let array = Array::from_shape_vec(view.raw_dim(), data)
        .unwrap_or_else(|_| unreachable!("as many elements as the view has"));
    Ok(CowArray::from(array))
}

/// The row-major slice of a standard-layout array.
pub fn flat<'a, T, D: Dimension>(array: &'a CowArray<'_, T, D>) -> &'a [T] {
    // `contiguous` made the array standard layout, so it is one slice.
    array
        .as_slice()
        .unwrap_or_else(|| unreachable!("standard layout arrays are contiguous"))
}

/// Row-major strides of a shape.
pub fn row_major(shape: &[usize]) -> Vec<usize> {
    let mut strides = vec![1; shape.len()];
    for i in (0..shape.len().saturating_sub(1)).rev() {
        strides[i] = strides[i + 1] * shape[i + 1];
    }
    strides
}

/// Row-major strides of a shape of rank `R` (`shape` has `R` entries), without allocating.
pub fn strides<const R: usize>(shape: &[usize]) -> [usize; R] {
    let mut strides = [1; R];
    for i in (0..R.saturating_sub(1)).rev() {
        strides[i] = strides[i + 1] * shape.get(i + 1).copied().unwrap_or(1);
    }
    strides
}

/// A zeroed row-major buffer for the tensor `name` of this shape, or `TooLarge`.
pub fn zeros<T: Element>(name: &str, shape: &[usize]) -> Result<Vec<T>, ShapeError> {
    /// From this many elements, the zeros are written by every thread of the pool: the
    /// first write to each page faults it in, and with 2 threads, sharing that work made
    /// 3x3 layers' forward and grad_x 2-18% faster (measured side by side; 1 thread:
    /// no change).
    const PARALLEL: usize = 1 << 16;
    let mut data = allocate(name, shape)?;
    // `allocate` reserved room for the product, so it does not overflow.
    let count = shape.iter().product();
    if count >= PARALLEL {
        data.par_extend(rayon::iter::repeat_n(T::zero(), count));
    } else {
        data.resize(count, T::zero());
    }
    Ok(data)
}

/// The bias's values in order, zeros when there is none, or `TooLarge`.
pub fn bias_values<T: Element>(
    bias: Option<ArrayView<'_, T, ndarray::Ix1>>,
    len: usize,
) -> Result<Vec<T>, ShapeError> {
    match bias {
        Some(bias) => {
            let mut data = allocate("bias", &[len])?;
            data.extend(bias.iter().copied());
            Ok(data)
        }
        None => zeros("bias", &[len]),
    }
}

/// An empty vector with room for exactly the elements of a tensor of this shape; an
/// error rather than a panic or an abort when it cannot be allocated.
fn allocate<T>(name: &str, shape: &[usize]) -> Result<Vec<T>, ShapeError> {
    let count = shape.iter().try_fold(1usize, |acc, &n| acc.checked_mul(n));
    let mut data = Vec::new();
    match count.map(|count| data.try_reserve_exact(count)) {
        Some(Ok(())) => Ok(data),
        _ => Err(ShapeError::TooLarge {
            operand: name.to_string(),
            what: format!("a tensor of shape {shape:?}"),
        }),
    }
}

/// The buffer as an array of this shape.
pub fn into_array<T, D: Dimension>(
    name: &str,
    shape: &[usize],
    data: Vec<T>,
) -> Result<Array<T, D>, ShapeError> {
    Array::from_shape_vec(IxDyn(shape), data)
        .ok()
        .and_then(|array| array.into_dimensionality::<D>().ok())
        .ok_or_else(|| ShapeError::TooLarge {
            operand: name.to_string(),
            what: format!("a tensor of shape {shape:?}"),
        })
}

/// A shape of known rank, or the rank error naming the operand.
pub fn fixed_shape<const R: usize>(name: &str, shape: &[usize]) -> Result<[usize; R], ShapeError> {
    shape.try_into().map_err(|_| ShapeError::Rank {
        operand: name.to_string(),
        expected: R,
        actual: shape.len(),
    })
}

/// A dynamic-rank view as one of fixed rank, or the rank error naming the operand.
pub fn into_dim<'a, T, D: Dimension>(
    name: &str,
    view: ArrayViewD<'a, T>,
) -> Result<ArrayView<'a, T, D>, ShapeError> {
    let actual = view.ndim();
    view.into_dimensionality::<D>()
        .map_err(|_| ShapeError::Rank {
            operand: name.to_string(),
            expected: D::NDIM.unwrap_or(actual),
            actual,
        })
}

/// Copies a result into a caller's array after checking its shape.
pub fn write_into<T: Clone, D: Dimension>(
    axes: &[char],
    result: &Array<T, D>,
    out: &mut ndarray::ArrayViewMut<'_, T, D>,
) -> Result<(), ShapeError> {
    // Only dynamic-rank (IxDyn) arrays can differ in rank here; `assign` would panic.
    if out.ndim() != result.ndim() {
        return Err(ShapeError::Rank {
            operand: "out".to_string(),
            expected: result.ndim(),
            actual: out.ndim(),
        });
    }
    for ((&axis, &expected), &actual) in axes.iter().zip(result.shape()).zip(out.shape()) {
        if expected != actual {
            return Err(ShapeError::Extent {
                operand: "out".to_string(),
                axis,
                expected,
                actual,
                because: "the result's extent".into(),
            });
        }
    }
    out.assign(result);
    Ok(())
}

/// The extents of the output axes, read off the upstream gradient (for `grad_bias`,
/// which needs no operand).
pub fn output_extents(axes: &[char], shape: &[usize]) -> Extents {
    Extents {
        axes: axes.iter().copied().zip(shape.iter().copied()).collect(),
        windows: Vec::new(),
    }
}

/// The matrix-product paths of `crate::lowered` as generated code calls them. Those are
/// generic over the element type, so every crate expanding `conv_kernel!` compiled its
/// own copy of them (rayon, pulp and all) at opt-level 3, some 3 CPU seconds per example
/// in release: these hand each call to [`Lowered`], whose f32 implementation is
/// compiled once, in this crate, with the same code.
pub mod lowered {
    use super::Lowered;
    use crate::lowered::Tensor;
    use crate::shapes::Extents;
    use conv_codegen::gemm_plan::GemmPlan;
    use conv_codegen::kernel::Kernel;

    /// [`crate::lowered::forward`].
    #[allow(clippy::too_many_arguments)]
    pub fn forward<T: Lowered>(
        kernel: &Kernel,
        plan: &GemmPlan,
        extents: &Extents,
        a: Tensor<T>,
        b: Tensor<T>,
        bias: Option<(char, &[T])>,
        out: &mut [T],
    ) -> bool {
        T::forward(kernel, plan, extents, a, b, bias, out)
    }

    /// [`crate::lowered::grad_a`].
    pub fn grad_a<T: Lowered>(
        kernel: &Kernel,
        plan: &GemmPlan,
        extents: &Extents,
        a_shape: &[usize],
        b: Tensor<T>,
        grad_y: &[T],
        out: &mut [T],
    ) -> bool {
        T::grad_a(kernel, plan, extents, a_shape, b, grad_y, out)
    }

    /// [`crate::lowered::grad_bias`]: generic, as it is small.
    pub fn grad_bias<T: crate::Element>(
        output: &[char],
        axis: char,
        extents: &Extents,
        grad_y: &[T],
        out: &mut [T],
    ) -> bool {
        crate::lowered::grad_bias(output, axis, extents, grad_y, out)
    }

    /// [`crate::lowered::grad_b`].
    pub fn grad_b<T: Lowered>(
        kernel: &Kernel,
        plan: &GemmPlan,
        extents: &Extents,
        a: Tensor<T>,
        b_shape: &[usize],
        grad_y: &[T],
        out: &mut [T],
    ) -> bool {
        T::grad_b(kernel, plan, extents, a, b_shape, grad_y, out)
    }
}

/// An element type and its matrix-product paths.
pub trait Lowered: Element {
    #[allow(clippy::too_many_arguments)]
    fn forward(
        kernel: &Kernel,
        plan: &GemmPlan,
        extents: &Extents,
        a: Tensor<Self>,
        b: Tensor<Self>,
        bias: Option<(char, &[Self])>,
        out: &mut [Self],
    ) -> bool;
    fn grad_a(
        kernel: &Kernel,
        plan: &GemmPlan,
        extents: &Extents,
        a_shape: &[usize],
        b: Tensor<Self>,
        grad_y: &[Self],
        out: &mut [Self],
    ) -> bool;
    fn grad_b(
        kernel: &Kernel,
        plan: &GemmPlan,
        extents: &Extents,
        a: Tensor<Self>,
        b_shape: &[usize],
        grad_y: &[Self],
        out: &mut [Self],
    ) -> bool;
}

/// The implementations. f32's are `#[inline(never)]`: compiled here, once, and not
/// inlined into (and so instantiated again in) the caller's crate; one more call per
/// kernel run. f64's are `#[inline]`, compiled where f64 kernels are, as before: the tests
/// use them, the examples and the benchmark do not, and compiling them here too took 4
/// more CPU seconds of conv-runtime, which every example of a release build waits for.
macro_rules! lowered_for {
    ($t:ty, #[$inline:meta]) => {
        impl Lowered for $t {
            #[$inline]
            fn forward(
                kernel: &Kernel,
                plan: &GemmPlan,
                extents: &Extents,
                a: Tensor<Self>,
                b: Tensor<Self>,
                bias: Option<(char, &[Self])>,
                out: &mut [Self],
            ) -> bool {
                crate::lowered::forward(kernel, plan, extents, a, b, bias, out)
            }
            #[$inline]
            fn grad_a(
                kernel: &Kernel,
                plan: &GemmPlan,
                extents: &Extents,
                a_shape: &[usize],
                b: Tensor<Self>,
                grad_y: &[Self],
                out: &mut [Self],
            ) -> bool {
                crate::lowered::grad_a(kernel, plan, extents, a_shape, b, grad_y, out)
            }
            #[$inline]
            fn grad_b(
                kernel: &Kernel,
                plan: &GemmPlan,
                extents: &Extents,
                a: Tensor<Self>,
                b_shape: &[usize],
                grad_y: &[Self],
                out: &mut [Self],
            ) -> bool {
                crate::lowered::grad_b(kernel, plan, extents, a, b_shape, grad_y, out)
            }
        }
    };
}
lowered_for!(f32, #[inline(never)]);
lowered_for!(f64, #[inline]);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remembered_extents_are_those_of_the_same_shapes() {
        static CELL: OnceLock<Compiled> = OnceLock::new();
        let conv = compiled(
            &CELL,
            "c(x, w) = \"nclk,dck->ndl\" { unfold x.l by k, pad = 1; }",
        );
        let (x, w): (&[usize], &[usize]) = (&[2, 3, 40], &[4, 3, 3]);
        let first = resolve(conv, &[x, w]).expect("shapes fit");
        let again = resolve(conv, &[x, w]).expect("shapes fit");
        assert!(
            Arc::ptr_eq(&first, &again),
            "the same shapes: the same extents"
        );
        let longer = resolve(conv, &[&[2, 3, 41], w]).expect("shapes fit");
        assert_eq!(longer.of('l'), 41);
        // A mismatch is reported, not remembered, and does not hide the good shapes.
        assert!(resolve(conv, &[x, &[4, 5, 3]]).is_err());
        let back = resolve(conv, &[x, w]).expect("shapes fit");
        assert_eq!(
            *back,
            crate::shapes::resolve(&conv.kernel, &[x, w]).expect("fit")
        );
        assert_eq!(back.of('l'), 40);
    }
}
