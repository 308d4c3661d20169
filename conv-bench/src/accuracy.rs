//! The rounding of Winograd's tiles on each benchmark layer that takes them: the f32
//! kernel against the interpreter, which sums in f64, on N(0, 1) inputs and weights.
//! One image, spatial axes cropped to 32: an output's error depends on its own sum
//! only, so a crop has the same distribution of errors and an f64 reference that is
//! quick to compute.

use ndarray::{ArrayD, IxDyn};

/// Spatial extents kept.
const CROP: usize = 32;

/// The shape the accuracy check runs on: batch 1, every axis after the first two at
/// most [`CROP`].
pub fn cropped(x: &[usize]) -> Vec<usize> {
    x.iter()
        .enumerate()
        .map(|(i, &n)| match i {
            0 => 1,
            1 => n,
            _ => n.min(CROP),
        })
        .collect()
}

/// N(0, 1) values (Box-Muller on a xorshift generator seeded by `seed`).
pub fn normal(shape: &[usize], seed: u64) -> ArrayD<f32> {
    let mut state = 0x2545_f491_4f6c_dd1du64 ^ seed.wrapping_mul(0x9e37_79b9_7f4a_7c15);
    let mut uniform = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        ((state >> 11) as f64 + 0.5) / (1u64 << 53) as f64
    };
    ArrayD::from_shape_simple_fn(IxDyn(shape), || {
        let (u, v) = (uniform(), uniform());
        ((-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()) as f32
    })
}

/// The largest difference between `got` and `want`, relative to the largest `want`.
pub fn error(got: &ArrayD<f32>, want: &ArrayD<f32>) -> f64 {
    let scale = want.iter().fold(0f64, |m, v| m.max(f64::from(v.abs())));
    let worst = (got.iter().zip(want)).fold(0f64, |m, (g, w)| m.max(f64::from((g - w).abs())));
    worst / scale
}

/// One layer's errors: forward, grad_x and grad_w, each `None` when that pass does not
/// take Winograd's tiles.
pub struct Errors {
    pub case: &'static str,
    pub passes: [Option<f64>; 3],
}

/// `| case | forward | grad_x |` rows.
pub fn table(errors: &[Errors]) -> Vec<Vec<String>> {
    let cell = |e: Option<f64>| e.map_or("another path".to_string(), |e| format!("{e:.1e}"));
    let mut rows = vec![["case", "forward", "grad_x", "grad_w"]
        .map(String::from)
        .to_vec()];
    rows.extend(errors.iter().map(|e| {
        let mut row = vec![e.case.to_string()];
        row.extend(e.passes.map(cell));
        row
    }));
    rows
}
