//! Shared helpers of the tests of generated kernels: deterministic random arrays in
//! several memory layouts, comparisons with tolerances relative to the tensors'
//! magnitude, and `check_generated!`, which holds a generated module's forward and every
//! gradient against the reference interpreter.

// Each test file uses a different subset of these helpers.
#![allow(dead_code, unused_macros, unused_imports)]

use conv_kernels::check::max_error;
use conv_kernels::Element;
use ndarray::{Array, ArrayD, Axis, Dimension, IntoDimension, ShapeBuilder, Slice};
use proptest::prelude::*;
use std::collections::BTreeMap;
use std::sync::Mutex;

/// A 64-bit linear congruential generator (Knuth's MMIX constants); the top 31 bits of
/// the state give values spread evenly over [-1, 1). Proptest picks the seed, so a
/// failing case shrinks over shapes and seed alike.
pub struct Lcg(u64);

impl Lcg {
    pub fn new(seed: u64) -> Self {
        Lcg(seed ^ 0x9e37_79b9_7f4a_7c15)
    }

    pub fn next_f64(&mut self) -> f64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((self.0 >> 33) as f64) / f64::from(1u32 << 30) - 1.0
    }
}

/// How an argument's elements lie in memory.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Layout {
    /// Row-major.
    Standard,
    /// Column-major: every axis transposed.
    Fortran,
    /// A view of every other element along the last axis.
    Strided,
    /// The first axis runs backwards (a negative stride).
    Reversed,
}

/// Mostly standard layout, one case in two something else.
pub fn layout() -> impl Strategy<Value = Layout> {
    prop_oneof![
        3 => Just(Layout::Standard),
        1 => Just(Layout::Fortran),
        1 => Just(Layout::Strided),
        1 => Just(Layout::Reversed),
    ]
}

/// An array of this shape with entries in [-1, 1), laid out in memory as `layout` says.
pub fn random<T: Element, D: Dimension>(
    shape: impl IntoDimension<Dim = D>,
    layout: Layout,
    rng: &mut Lcg,
) -> Array<T, D> {
    let dim = shape.into_dimension();
    let mut next = || T::from_f64(rng.next_f64());
    let rank = dim.ndim();
    match layout {
        Layout::Strided if rank > 0 => {
            let mut wide = dim.clone();
            wide[rank - 1] *= 2;
            let mut a = Array::from_shape_fn(wide, |_| next());
            a.slice_axis_inplace(Axis(rank - 1), Slice::new(0, None, 2));
            a
        }
        Layout::Fortran => Array::from_shape_fn(dim.f(), |_| next()),
        Layout::Reversed if rank > 0 => {
            let mut a = Array::from_shape_fn(dim, |_| next());
            a.invert_axis(Axis(0));
            a
        }
        _ => Array::from_shape_fn(dim, |_| next()),
    }
}

/// Every entry widened to f64, with dynamic rank.
pub fn wide<T: Element, D: Dimension>(a: &Array<T, D>) -> ArrayD<f64> {
    a.mapv(|v| v.to_f64()).into_dyn()
}

/// The tolerance for results of element type `T`, relative to the tensors' magnitude.
pub fn tolerance<T: Element>() -> f64 {
    if T::NAME == "f32" {
        1e-4
    } else {
        1e-10
    }
}

static LARGEST: Mutex<BTreeMap<String, f64>> = Mutex::new(BTreeMap::new());

/// Records an error of some kind (`"f32"`, `"f64 adjoint"`, ...), printing it when it
/// is the largest of its kind so far in this test binary (`cargo test -- --nocapture`
/// shows them).
pub fn record(kind: &str, what: &str, error: f64) {
    let mut largest = LARGEST.lock().unwrap_or_else(|e| e.into_inner());
    let slot = largest.entry(kind.to_string()).or_insert(0.0);
    if error > *slot {
        *slot = error;
        eprintln!("largest {kind} error so far: {error:.3e} ({what})");
    }
}

/// Asserts that `actual` is `expected` within [`tolerance`] relative to the largest
/// entry of `magnitude`, the same computation on the absolute values of its arguments
/// (which bounds what rounding can do, however much the sums cancel). On failure it
/// names the tensor and its largest error.
pub fn assert_close<T: Element, D: Dimension>(
    what: &str,
    actual: &Array<T, D>,
    expected: &ArrayD<T>,
    magnitude: &ArrayD<f64>,
) {
    let (actual, expected) = (wide(actual), expected.mapv(|v| v.to_f64()));
    assert_eq!(actual.shape(), expected.shape(), "{what}: shapes differ");
    let (absolute, _) = max_error(&actual, &expected);
    let scale = magnitude.iter().fold(0.0f64, |m, v| m.max(v.abs()));
    let relative = if scale == 0.0 {
        absolute
    } else {
        absolute / scale
    };
    record(T::NAME, what, relative);
    assert!(
        relative <= tolerance::<T>(),
        "{what}: largest error {absolute:.3e}, {relative:.3e} relative to the magnitude \
         {scale:.3e} (tolerance {:.0e}) for shape {:?}",
        tolerance::<T>(),
        actual.shape()
    );
}

/// Asserts that two results of the same generated code are identical.
pub fn assert_same<T: Element, D: Dimension, E: Dimension>(
    what: &str,
    actual: &Array<T, D>,
    expected: &Array<T, E>,
) {
    assert_eq!(actual.shape(), expected.shape(), "{what}: shapes differ");
    assert!(
        actual.iter().zip(expected.iter()).all(|(a, e)| a == e),
        "{what}: values differ"
    );
}

/// Holds a generated module against the reference interpreter running its `SOURCE` on
/// the same arguments (local variables named like the operands, of any layout): the
/// result of `forward` and `output_shape`; every field of `backward` (each operand's
/// gradient and the bias's) for a random `grad_y` of layout `$layout` from `$rng`; and
/// the module's `Kernel` (`forward_dyn`, `gradient_dyn`), which must agree exactly.
///
/// `check_generated!(conv2d(x, weight) bias b, &mut rng, Layout::Standard)`; leave out
/// `bias b` for a kernel without a bias.
macro_rules! check_generated {
    ($m:ident ($($op:ident),+) $(bias $b:ident)?, $rng:expr, $layout:expr) => {{
        use conv_kernels::{Kernel as _, Wrt};
        let interp = conv_kernels::Interpreter::new($m::SOURCE)
            .unwrap_or_else(|e| panic!("{}\n{e}", $m::SOURCE));
        let views = [$($op.view().into_dyn()),+];
        let bias_view = None $(.or(Some($b.view().into_dyn())))?;
        let family = stringify!($m);
        let shapes = [$(format!("{}{:?}", stringify!($op), $op.shape())),+].join(" ");
        // The same computations on absolute values, in f64: the scale of the errors.
        let abs: Vec<ndarray::ArrayD<f64>> =
            vec![$($crate::common::wide(&$op).mapv(f64::abs)),+];
        let abs: Vec<_> = abs.iter().map(|a| a.view()).collect();
        let abs_bias: Option<ndarray::ArrayD<f64>> = None $(.or(Some($crate::common::wide(&$b).mapv(f64::abs))))?;
        let expected = interp
            .forward(&views, bias_view.clone())
            .unwrap_or_else(|e| panic!("{family} {shapes}: interpreter: {e}"));
        let magnitude = interp.forward(&abs, abs_bias.as_ref().map(|b| b.view())).unwrap();
        let y_dim = $m::forward($(&$op,)+ $(&$b)?)
            .unwrap_or_else(|e| panic!("{family} {shapes}: forward: {e}"))
            .raw_dim();
        let grad_y = $crate::common::random::<$m::Elem, _>(y_dim, $layout, $rng);
        let expected_grads = interp
            .backward(&views, grad_y.view().into_dyn())
            .unwrap_or_else(|e| panic!("{family} {shapes}: interpreter backward: {e}"));
        let abs_grad_y = $crate::common::wide(&grad_y).mapv(f64::abs);
        let magnitude_grads = interp.backward(&abs, abs_grad_y.view()).unwrap();
        // Both ways a kernel runs: its loop nest, and (for kernels that are batches of matrix
        // products) panels and GEMMs, which small shapes reach only with the threshold at 0;
        // on one thread (outer points own their chunks) and three (blocks split further).
        for (threshold, threads) in [(usize::MAX, 2), (0, 1), (0, 3)] {
          let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
          pool.install(|| {
            conv_kernels::set_gemm_threshold(threshold);
            let family = format!("{family} (gemm threshold {threshold}, {threads} threads)");
            let y = $m::forward($(&$op,)+ $(&$b)?)
                .unwrap_or_else(|e| panic!("{family} {shapes}: forward: {e}"));
            let what = format!("{family} forward {shapes}");
            $crate::common::assert_close(&what, &y, &expected, &magnitude);
            let shape = $m::output_shape($($op.shape().try_into().unwrap()),+).unwrap();
            assert_eq!(&shape[..], y.shape(), "{family}: output_shape");
            let (expected, magnitude) = (&expected_grads, &magnitude_grads);
            let grads = $m::backward($(&$op,)+ &grad_y)
                .unwrap_or_else(|e| panic!("{family} {shapes}: backward: {e}"));
            let mut i = 0;
            $(
                let what = format!("{family} grad_{} {shapes}", stringify!($op));
                let scale = &magnitude.operands[i];
                $crate::common::assert_close(&what, &grads.$op, &expected.operands[i], scale);
                let dynamic = $m::Kernel
                    .gradient_dyn(Wrt::Operand(i), &views, grad_y.view().into_dyn())
                    .unwrap_or_else(|e| panic!("{what}: gradient_dyn: {e}"));
                $crate::common::assert_same(&what, &dynamic, &grads.$op);
                i += 1;
            )+
            let _ = i;
            $(
                let _ = &$b;
                let what = format!("{family} grad_bias {shapes}");
                let (bias, scale) = (expected.bias.as_ref(), magnitude.bias.as_ref());
                $crate::common::assert_close(&what, &grads.bias, bias.unwrap(), scale.unwrap());
                $crate::common::assert_same(&what, &$m::grad_bias(&grad_y).unwrap(), &grads.bias);
                let dynamic = $m::Kernel
                    .gradient_dyn(Wrt::Bias, &views, grad_y.view().into_dyn())
                    .unwrap_or_else(|e| panic!("{what}: gradient_dyn: {e}"));
                $crate::common::assert_same(&what, &dynamic, &grads.bias);
            )?
            let dynamic = $m::Kernel
                .forward_dyn(&views, bias_view.clone())
                .unwrap_or_else(|e| panic!("{family} {shapes}: forward_dyn: {e}"));
            $crate::common::assert_same(&format!("{family} forward_dyn"), &dynamic, &y);
          });
        }
    }};
}

pub(crate) use check_generated;

/// A property test of a one-dimensional kernel `"nclk,dck->ndl"` against the
/// interpreter: windows `k` drawn from `$k`, input lengths from `$least` (an expression
/// in the window `k`) up; `, b` for a kernel with a bias.
macro_rules! conv1d_property {
    ($test:ident: $m:ident, k in $k:expr, len >= |$kk:ident| $least:expr $(, $bias:ident)?) => {
        ::proptest::proptest! {
            #![proptest_config(::proptest::prelude::ProptestConfig::with_cases(24))]

            #[test]
            fn $test(
                (n, c, d) in (1..3usize, 1..4usize, 1..4usize),
                k in $k,
                extra in 0..7usize,
                (lx, lw, lg) in (
                    $crate::common::layout(),
                    $crate::common::layout(),
                    $crate::common::layout(),
                ),
                seed in ::proptest::prelude::any::<u64>(),
            ) {
                use $crate::common::{random, Lcg};
                let rng = &mut Lcg::new(seed);
                let $kk: usize = k;
                let l = $least + extra;
                let x = random::<$m::Elem, _>([n, c, l], lx, rng);
                let weight = random::<$m::Elem, _>([d, c, k], lw, rng);
                $(let $bias = random::<$m::Elem, _>([d], $crate::common::Layout::Standard, rng);)?
                $crate::common::check_generated!($m(x, weight) $(bias $bias)?, rng, lg);
            }
        }
    };
}

pub(crate) use conv1d_property;

/// The smallest input length along an unfolded axis for which the padded input holds
/// one window: `max(min, span - pad_lo - pad_hi)`.
pub fn least_len(window: usize, dilation: usize, pad: usize, min: usize) -> usize {
    let span = dilation * (window - 1) + 1;
    span.saturating_sub(pad).max(min)
}

/// The path of every pass but the bias's (forward, then each operand's gradient) at these
/// shapes, with the calling thread's threshold.
pub fn paths<K: conv_kernels::Kernel>(kernel: &K, shapes: &[&[usize]]) -> Vec<&'static str> {
    let paths = conv_kernels::paths::paths(kernel.facts(), shapes).unwrap();
    paths
        .iter()
        .filter(|p| p.pass != "grad_bias")
        .map(|p| p.path)
        .collect()
}
