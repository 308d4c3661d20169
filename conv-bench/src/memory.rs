//! Peak memory of one pass, ours and PyTorch's, each in a fresh process on one thread:
//! the resident set's high-water mark over a warm-up call and a second call, above the
//! resident set once the inputs exist (Linux: `/proc/self/clear_refs` resets the mark).
//! Ours then includes the padded copy and Winograd's transforms (kept per thread from
//! call to call), the output, and the prepared plan; PyTorch's its workspaces and
//! output. Both run with glibc's mmap threshold at 64 KiB, so that every large block
//! is fresh pages when allocated and returned when freed: memory freed earlier (while
//! the inputs were built) and reused would hide a pass's allocations.

use crate::cases::Case;
use serde_json::json;
use std::path::Path;
use std::process::Command;

/// Resident bytes now and the high-water mark, from `/proc/self/status`.
fn status() -> Option<(u64, u64)> {
    let text = std::fs::read_to_string("/proc/self/status").ok()?;
    let field = |name: &str| -> Option<u64> {
        let line = text.lines().find(|l| l.starts_with(name))?;
        let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
        Some(kb * 1024)
    };
    Some((field("VmRSS:")?, field("VmHWM:")?))
}

/// The bytes above the current resident set that `f`, called twice, reaches at most.
pub fn peak_above_now(f: &dyn Fn()) -> Option<u64> {
    let (before, _) = status()?;
    std::fs::write("/proc/self/clear_refs", "5").ok()?;
    f();
    f();
    let (_, peak) = status()?;
    Some(peak.saturating_sub(before))
}

/// The passes whose peak is reported: ours, then PyTorch's.
pub const OURS: [&str; 3] = ["forward", "grad_x", "grad_w+b"];
pub const TORCH: [&str; 2] = ["forward", "forward_backward"];

/// A fresh process whose large allocations are their own pages.
fn fresh(program: impl AsRef<std::ffi::OsStr>) -> Command {
    let mut command = Command::new(program);
    command
        .env("MALLOC_MMAP_THRESHOLD_", "65536")
        .env("GLIBC_TUNABLES", "glibc.malloc.mmap_threshold=65536");
    command
}

/// Our pass `pass` of `case`, measured in a fresh process of this binary.
pub fn ours(case: &Case, pass: &str) -> Option<u64> {
    let exe = std::env::current_exe().ok()?;
    let out = fresh(exe)
        .args(["--memory-probe", case.name, pass])
        .output()
        .ok()?;
    String::from_utf8(out.stdout).ok()?.trim().parse().ok()
}

/// PyTorch's `pass` (`forward` or `forward_backward`) of `case`, in a fresh Python.
pub fn torch(python: &str, script: &Path, case: &Case, pass: &str) -> Option<u64> {
    let request = crate::torch::request(&[case], &[1], &crate::timing::Rule::QUICK);
    let out = fresh(python)
        .arg(script)
        .args(["--memory", pass, &json!(request).to_string()])
        .output()
        .ok()?;
    String::from_utf8(out.stdout).ok()?.trim().parse().ok()
}

/// One layer's peaks: its name, ours ([`OURS`]) and PyTorch's ([`TORCH`]), in bytes.
pub type Peaks<'a> = (&'a str, [Option<u64>; 3], [Option<u64>; 2]);

/// `| case | ours: forward | grad_x | grad_w+b | PyTorch: forward | forward+backward |`
/// in MiB.
pub fn table(rows: &[Peaks]) -> Vec<Vec<String>> {
    let mib = |b: &Option<u64>| b.map_or("-".into(), |b| format!("{:.1}", b as f64 / 1048576.0));
    let mut out = vec![[
        "case",
        "ours: forward",
        "grad_x",
        "grad_w+b",
        "PyTorch: forward",
        "forward+backward",
    ]
    .map(String::from)
    .to_vec()];
    for (case, ours, torch) in rows {
        let mut row = vec![case.to_string()];
        row.extend(ours.iter().map(mib));
        row.extend(torch.iter().map(mib));
        out.push(row);
    }
    out
}
