//! The machine's memory bandwidth, measured, and the depthwise passes against it:
//! depthwise convolutions do a few multiply-adds per element they read, so memory, not
//! the FMA peak, bounds them.

use crate::cases::Case;
use crate::report::Row;
use rayon::prelude::*;
use std::time::Instant;

/// Bytes per second (read plus written) of a copy between two buffers of twice the
/// last-level cache (at least 256 MiB, at most 1 GiB each), split over the current rayon
/// pool's threads; the best of `repeats`.
pub fn copy_bandwidth(repeats: usize) -> f64 {
    let bytes = (2 * last_level_cache()).clamp(256 << 20, 1 << 30);
    let len = bytes / 4;
    let src = vec![1f32; len];
    let mut dst = vec![0f32; len];
    let chunk = len.div_ceil(rayon::current_num_threads());
    let best = (0..repeats.max(1))
        .map(|_| {
            let start = Instant::now();
            dst.par_chunks_mut(chunk)
                .zip(src.par_chunks(chunk))
                .for_each(|(d, s)| d.copy_from_slice(s));
            start.elapsed().as_secs_f64()
        })
        .fold(f64::INFINITY, f64::min);
    std::hint::black_box(&dst);
    2.0 * bytes as f64 / best
}

/// The largest cache's size in bytes (sysfs; 32 MiB if unknown).
fn last_level_cache() -> usize {
    (0..8)
        .filter_map(|i| {
            let path = format!("/sys/devices/system/cpu/cpu0/cache/index{i}/size");
            let text = std::fs::read_to_string(path).ok()?;
            let text = text.trim();
            let (digits, unit) = text.split_at(text.find(|c: char| !c.is_ascii_digit())?);
            let n: usize = digits.parse().ok()?;
            Some(n * if unit == "M" { 1 << 20 } else { 1 << 10 })
        })
        .max()
        .unwrap_or(32 << 20)
}

/// Whether the case is depthwise (one input channel per group).
pub fn depthwise(case: &Case) -> bool {
    case.torch.groups > 1 && case.torch.weight.get(1) == Some(&1)
}

/// Bytes a pass must move at least, each tensor read or written once: forward x, w and
/// y; grad_x grad_y, w and grad_x; grad_w+b x, grad_y and grad_w.
pub fn pass_bytes(case: &Case) -> [f64; 3] {
    let size = |s: &[usize]| (s.iter().product::<usize>() * 4) as f64;
    let (x, w, y) = (size(&case.x), size(&case.weight), size(&case.y));
    [x + w + y, y + w + x, x + y + w]
}

/// `| case | threads | pass GB/s (% of bandwidth) ... |` for the depthwise rows.
pub fn table(rows: &[Row], cases: &[Case], bandwidth: &[(usize, f64)]) -> Vec<Vec<String>> {
    let mut out = vec![[
        "case",
        "threads",
        "forward GB/s (% of copy)",
        "grad_x",
        "grad_w+b",
    ]
    .map(String::from)
    .to_vec()];
    for row in rows {
        let Some(case) = cases.iter().find(|c| c.name == row.case && depthwise(c)) else {
            continue;
        };
        let Some(&(_, copy)) = bandwidth.iter().find(|(t, _)| *t == row.threads) else {
            continue;
        };
        let bytes = pass_bytes(case);
        let times = [&row.forward, &row.grad_x, &row.grad_weight_bias];
        let mut line = vec![row.case.clone(), row.threads.to_string()];
        line.extend(bytes.iter().zip(times).map(|(b, t)| {
            let rate = b / t.seconds;
            format!("{:.1} ({:.0}%)", rate / 1e9, 100.0 * rate / copy)
        }));
        out.push(line);
    }
    out
}
