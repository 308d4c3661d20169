//! Shared by the tests/pytorch_*.rs tests: the fixture table written by
//! tests/fixtures/generate.py, loading a fixture's .npy files, and comparing results with
//! PyTorch's within a tolerance per dtype, relative to the magnitude of the tensor.

// Each test file uses a different subset of these helpers.
#![allow(dead_code)]

use conv_kernels::{Element, Interpreter, Kernel, Wrt};
use ndarray::{ArrayD, ArrayViewD, IxDyn};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};

/// One fixture case, as the generator describes it in manifest.json.
#[derive(Debug)]
pub struct Case {
    pub name: &'static str,
    /// tutorial, conv1d, conv2d, conv3d, grouped, depthwise, channels_last or einsum.
    pub family: &'static str,
    /// "f32" or "f64".
    pub dtype: &'static str,
    /// The module in tests/fixtures/kernels.rs (shared by cases that differ only in
    /// shapes and values).
    pub kernel: &'static str,
    /// The kernel as kernel text, for the interpreter.
    pub source: &'static str,
    pub operands: &'static [&'static str],
    pub bias: bool,
    /// For y and each gradient, the largest entry of the same computation on the absolute
    /// values of its arguments (in f64): the scale of rounding errors, however much the
    /// sums cancel. Tolerances are relative to it.
    pub magnitudes: &'static [(&'static str, f64)],
}

include!("../fixtures/cases.rs");

/// The case of this name.
pub fn case(name: &str) -> &'static Case {
    CASES
        .iter()
        .find(|c| c.name == name)
        .unwrap_or_else(|| panic!("no fixture case {name} in tests/fixtures/cases.rs"))
}

/// Largest allowed `max |actual - PyTorch| / magnitude` for results of this type, the
/// magnitude being the tensor's entry in [`Case::magnitudes`] (at least max |PyTorch|).
///
/// PyTorch's f32 results carry their own rounding (sums of up to ~100 products, ~1000 in
/// the fast-path cases' grad_w), so an f32 kernel may differ from them by some tens of
/// units in the last place of the magnitude (2^-24 = 6e-8); f64 results differ only by
/// summation order. The largest errors seen are at least 25 times below these tolerances.
pub fn tolerance(dtype: &str) -> f64 {
    match dtype {
        "f32" => 4e-6,
        _ => 1e-14,
    }
}

/// Everything one case stores: the inputs and what PyTorch computed from them.
pub struct Fixture<T> {
    pub operands: Vec<ArrayD<T>>,
    pub bias: Option<ArrayD<T>>,
    pub grad_y: ArrayD<T>,
    pub y: ArrayD<T>,
    /// The gradient of every operand, in operand order.
    pub grads: Vec<ArrayD<T>>,
    pub grad_bias: Option<ArrayD<T>>,
}

/// Reads tests/fixtures/data/<case>/<file>.npy.
pub fn read<T: Element>(case: &str, file: &str) -> ArrayD<T> {
    let path: PathBuf = [
        env!("CARGO_MANIFEST_DIR"),
        "tests",
        "fixtures",
        "data",
        case,
    ]
    .iter()
    .collect::<PathBuf>()
    .join(format!("{file}.npy"));
    let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    npy(&bytes).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The array in a .npy file as tests/fixtures/generate.py writes them (`numpy.save`:
/// format 1.0, little-endian `<f4` or `<f8`, C order), which must hold `T`s. Read here
/// rather than with the ndarray-npy crate, whose dependencies (a parser generator, big
/// integers, a stack-growing C library) were 18 of the CPU seconds of every clean release
/// build, the examples' included.
fn npy<T: Element>(bytes: &[u8]) -> Result<ArrayD<T>, String> {
    let rest = bytes
        .strip_prefix(b"\x93NUMPY\x01\x00")
        .ok_or("not a .npy file of format 1.0")?;
    let (len, rest) = rest.split_at_checked(2).ok_or("truncated header")?;
    let len = usize::from(u16::from_le_bytes([len[0], len[1]]));
    let (header, data) = rest.split_at_checked(len).ok_or("truncated header")?;
    let header = std::str::from_utf8(header).map_err(|_| "header not UTF-8")?;
    let value = |key: &str| {
        let at = header
            .find(&format!("'{key}': "))
            .ok_or(format!("no '{key}' in header {header}"))?;
        Ok::<_, String>(&header[at + key.len() + 4..])
    };
    let (descr, size) = match T::NAME {
        "f32" => ("'<f4'", 4),
        _ => ("'<f8'", 8),
    };
    if !value("descr")?.starts_with(descr) || !value("fortran_order")?.starts_with("False") {
        return Err(format!("header {header}: expected {descr} in C order"));
    }
    let extents = value("shape")?
        .strip_prefix('(')
        .and_then(|s| s.split_once(')'))
        .ok_or(format!("header {header}: no shape"))?
        .0;
    let shape = extents
        .split(',')
        .map(str::trim)
        .filter(|e| !e.is_empty())
        .map(|e| e.parse::<usize>().map_err(|_| format!("extent {e:?}")))
        .collect::<Result<Vec<_>, _>>()?;
    if Some(data.len()) != shape.iter().product::<usize>().checked_mul(size) {
        return Err(format!("{} bytes for shape {shape:?}", data.len()));
    }
    // Both widen to f64 exactly, and `from_f64` rounds back to the same value.
    let values = data
        .chunks_exact(size)
        .map(|b| match *b {
            [b0, b1, b2, b3] => T::from_f64(f64::from(f32::from_le_bytes([b0, b1, b2, b3]))),
            _ => T::from_f64(f64::from_le_bytes(b.try_into().expect("8 bytes"))),
        })
        .collect();
    ArrayD::from_shape_vec(IxDyn(&shape), values).map_err(|e| e.to_string())
}

impl<T: Element> Fixture<T> {
    pub fn load(case: &Case) -> Self {
        let file = |f: &str| read::<T>(case.name, f);
        Fixture {
            operands: case.operands.iter().map(|o| file(o)).collect(),
            bias: case.bias.then(|| file("bias")),
            grad_y: file("grad_y"),
            y: file("y"),
            grads: case
                .operands
                .iter()
                .map(|o| file(&format!("grad_{o}")))
                .collect(),
            grad_bias: case.bias.then(|| file("grad_bias")),
        }
    }
}

impl<T> Fixture<T> {
    pub fn views(&self) -> Vec<ArrayViewD<'_, T>> {
        self.operands.iter().map(|a| a.view()).collect()
    }
}

/// What a kernel (generated or interpreted) computed for a case.
pub struct Results<T> {
    pub y: ArrayD<T>,
    pub grads: Vec<ArrayD<T>>,
    pub grad_bias: Option<ArrayD<T>>,
}

impl Case {
    /// The magnitude of result `what` (y, grad_x, ..., grad_bias).
    pub fn magnitude(&self, what: &str) -> f64 {
        let found = self.magnitudes.iter().find(|(name, _)| *name == what);
        found
            .unwrap_or_else(|| panic!("{}: no magnitude for {what}", self.name))
            .1
    }
}

/// `max |actual - expected|` and that divided by `scale` (by 1 when it is 0).
pub fn errors<T: Element>(actual: &ArrayD<T>, expected: &ArrayD<T>, scale: f64) -> (f64, f64) {
    assert_eq!(actual.shape(), expected.shape(), "shapes differ");
    let worst = actual.iter().zip(expected).fold(0.0f64, |m, (a, e)| {
        let d = (a.to_f64() - e.to_f64()).abs();
        if d.is_nan() {
            f64::NAN
        } else {
            m.max(d)
        }
    });
    (worst, worst / if scale == 0.0 { 1.0 } else { scale })
}

static LARGEST_F32: AtomicU64 = AtomicU64::new(0);
static LARGEST_F64: AtomicU64 = AtomicU64::new(0);

/// The largest relative error recorded so far in this test binary for this dtype.
pub fn largest(dtype: &str) -> f64 {
    let cell = if dtype == "f32" {
        &LARGEST_F32
    } else {
        &LARGEST_F64
    };
    f64::from_bits(cell.load(Ordering::Relaxed))
}

/// Compares every result with the fixture; returns the largest relative error, or a
/// message naming each tensor out of tolerance with its largest error.
pub fn compare<T: Element>(
    case: &Case,
    who: &str,
    fixture: &Fixture<T>,
    results: &Results<T>,
) -> Result<f64, String> {
    let mut pairs = vec![("y".to_string(), &results.y, &fixture.y)];
    for ((name, got), want) in case.operands.iter().zip(&results.grads).zip(&fixture.grads) {
        pairs.push((format!("grad_{name}"), got, want));
    }
    if let (Some(got), Some(want)) = (&results.grad_bias, &fixture.grad_bias) {
        pairs.push(("grad_bias".to_string(), got, want));
    }
    let tolerance = tolerance(case.dtype);
    let (mut worst, mut failures) = (0.0f64, Vec::new());
    for (what, got, want) in pairs {
        if got.shape() != want.shape() {
            failures.push(format!(
                "{what}: shape {:?}, PyTorch's {:?}",
                got.shape(),
                want.shape()
            ));
            continue;
        }
        let magnitude = case.magnitude(&what);
        let (absolute, relative) = errors(got, want, magnitude);
        worst = if relative.is_nan() {
            f64::NAN
        } else {
            worst.max(relative)
        };
        // NaN is out of tolerance too.
        if relative.is_nan() || relative > tolerance {
            failures.push(format!(
                "{what}: largest error {absolute:.3e}, {relative:.3e} relative to its magnitude \
                 {magnitude:.3e} (tolerance {tolerance:.0e})"
            ));
        }
    }
    let cell = if case.dtype == "f32" {
        &LARGEST_F32
    } else {
        &LARGEST_F64
    };
    cell.fetch_max(worst.to_bits(), Ordering::Relaxed);
    if failures.is_empty() {
        Ok(worst)
    } else {
        Err(format!(
            "{} ({}, {}) by the {who}:\n  {}\n  kernel: {}",
            case.name,
            case.family,
            case.dtype,
            failures.join("\n  "),
            case.source
        ))
    }
}

/// Runs a case through a generated kernel: forward with the bias, then the gradient of
/// every operand and of the bias for the fixture's grad_y.
pub fn run_kernel<K: Kernel>(kernel: &K, fixture: &Fixture<K::Elem>) -> Results<K::Elem> {
    let views = fixture.views();
    let fail = |what: &str, e: conv_kernels::ShapeError| -> ! { panic!("{what}: {e}") };
    let bias = fixture.bias.as_ref().map(|b| b.view());
    let y = kernel
        .forward_dyn(&views, bias)
        .unwrap_or_else(|e| fail("forward", e));
    let gradient = |wrt| {
        kernel
            .gradient_dyn(wrt, &views, fixture.grad_y.view())
            .unwrap_or_else(|e| fail(&format!("gradient {wrt:?}"), e))
    };
    Results {
        y,
        grads: (0..views.len())
            .map(|i| gradient(Wrt::Operand(i)))
            .collect(),
        grad_bias: fixture.bias.as_ref().map(|_| gradient(Wrt::Bias)),
    }
}

/// Runs a case through the reference interpreter, from the case's kernel text.
pub fn run_interpreter<T: Element>(case: &Case, fixture: &Fixture<T>) -> Results<T> {
    let interpreter =
        Interpreter::new(case.source).unwrap_or_else(|e| panic!("{}: {e}", case.source));
    let views = fixture.views();
    let bias = fixture.bias.as_ref().map(|b| b.view());
    let y = interpreter
        .forward(&views, bias)
        .unwrap_or_else(|e| panic!("{}: forward: {e}", case.name));
    let grads = interpreter
        .backward(&views, fixture.grad_y.view())
        .unwrap_or_else(|e| panic!("{}: backward: {e}", case.name));
    Results {
        y,
        grads: grads.operands,
        grad_bias: grads.bias,
    }
}

/// The test of one case against one generated kernel: panics with every tensor out of
/// tolerance, prints the largest relative error otherwise. Cases of family `fast_path`
/// must also be big enough for the fast path ([`assert_on_fast_path`]).
pub fn check_kernel<K: Kernel>(kernel: &K, name: &str) {
    let case = case(name);
    assert_eq!(
        K::Elem::NAME,
        case.dtype,
        "{name}: kernel and fixture dtypes differ"
    );
    let fixture = Fixture::<K::Elem>::load(case);
    if case.family == "fast_path" {
        assert_on_fast_path(case, &fixture);
    }
    let results = run_kernel(kernel, &fixture);
    match compare(case, "generated kernel", &fixture, &results) {
        Ok(worst) => println!(
            "{name} ({}): largest relative error {worst:.2e}",
            case.dtype
        ),
        Err(message) => panic!("{message}"),
    }
}

/// From how many multiply-adds a kernel that is a batch of matrix products leaves its loop
/// nest for the fast path (conv-runtime/src/lowered): the default of
/// `conv_kernels::set_gemm_threshold`, which no test of the fixtures changes.
pub const FAST_PATH_MIN_MACS: usize = 16384;

/// The multiply-adds of a case's kernel on its fixture's shapes, as the runtime counts
/// them to choose the fast path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Macs {
    /// Every axis of the spec at its extent (an unfolded axis at its view's, the output's,
    /// length): `y`'s entries times the reduction's length. The forward pass, grad_w and
    /// the fold of grad_x (strided windows, channels last) are this product, run
    /// backwards for the gradients, and are counted alike.
    pub product: usize,
    /// grad_x as a forward convolution of grad_y (stride-1 windows under zero padding,
    /// the transposed direct kernel): the first operand's entries times the extents of
    /// every axis it is not indexed by (the other operand's channels and the taps).
    pub gathered: usize,
}

/// [`Macs`] of a two-operand kernel from its source text and the shapes of its operands
/// and of `y`; the window extents come from the operand that has the window axis.
pub fn macs(source: &str, operands: &[&str], shapes: &[&[usize]], y: &[usize]) -> Macs {
    let mut quoted = source.split('"');
    let (spec, statements) = (
        quoted.nth(1).expect("a spec"),
        quoted.next().expect("statements"),
    );
    let (inputs, output) = spec.split_once("->").expect("->");
    let subscripts: Vec<&str> = inputs.split(',').map(str::trim).collect();
    assert_eq!(subscripts.len(), operands.len(), "{source}");
    // (operand, window axis) of every `unfold OP.A by K`.
    let windows: Vec<(&str, char)> = statements
        .split(';')
        .filter_map(|s| {
            s.trim()
                .trim_start_matches('{')
                .trim()
                .strip_prefix("unfold ")
        })
        .map(|u| {
            let (op_axis, rest) = u.split_once(" by ").expect("unfold OP.A by K");
            let (op, axis) = op_axis.trim().split_once('.').expect("OP.A");
            let axis = axis.chars().next().expect("an axis");
            assert!(
                output.contains(axis),
                "{source}: unfolded axis {axis} not in the output"
            );
            let window = rest.trim().chars().next().expect("a window axis");
            (op, window)
        })
        .collect();
    let mut extents: Vec<(char, usize)> = output.chars().zip(y.iter().copied()).collect();
    let mut physical_axes = Vec::new();
    for ((op, subscript), shape) in operands.iter().zip(&subscripts).zip(shapes) {
        let physical: Vec<char> = subscript
            .chars()
            .filter(|&a| !windows.contains(&(*op, a)))
            .collect();
        assert_eq!(physical.len(), shape.len(), "{source}: the shape of {op}");
        for (&a, &n) in physical.iter().zip(*shape) {
            if !extents.iter().any(|&(b, _)| b == a) {
                extents.push((a, n));
            }
        }
        physical_axes.push(physical);
    }
    for axis in subscripts.concat().chars() {
        assert!(
            extents.iter().any(|&(a, _)| a == axis),
            "{source}: no extent for axis {axis}"
        );
    }
    let product = extents.iter().map(|&(_, n)| n).product();
    let x_entries: usize = shapes[0].iter().product();
    let gathered = x_entries
        * extents
            .iter()
            .filter(|(a, _)| !physical_axes[0].contains(a))
            .map(|&(_, n)| n)
            .product::<usize>();
    Macs { product, gathered }
}

/// Panics unless a case's kernel runs the fast path for its forward pass and every
/// gradient: both of its [`Macs`] at least [`FAST_PATH_MIN_MACS`]. Returns them.
pub fn assert_on_fast_path<T>(case: &Case, fixture: &Fixture<T>) -> Macs {
    let shapes: Vec<&[usize]> = fixture.operands.iter().map(|a| a.shape()).collect();
    let macs = macs(case.source, case.operands, &shapes, fixture.y.shape());
    assert!(
        macs.product >= FAST_PATH_MIN_MACS && macs.gathered >= FAST_PATH_MIN_MACS,
        "{}: {macs:?} multiply-adds on shapes {shapes:?} -> {:?}, below the fast path's \
         {FAST_PATH_MIN_MACS}: the case would test the loop nest; make it bigger",
        case.name,
        fixture.y.shape()
    );
    macs
}
