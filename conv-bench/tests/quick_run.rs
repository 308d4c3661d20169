//! The benchmark binary end to end on the tiny case only, with a stand-in for PyTorch:
//! fast enough for CI (the full benchmark never runs in tests).

use std::path::Path;
use std::process::Command;

#[test]
fn quick_tiny_run_reports_rates_ratios_costs_and_writes_the_document() {
    let out = std::env::temp_dir().join(format!("conv-bench-test-{}", std::process::id()));
    // The real torch_bench.py, against a stand-in for PyTorch (tests/fake_torch).
    let fake_torch = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fake_torch");
    let output = Command::new(env!("CARGO_BIN_EXE_conv-bench"))
        .args([
            "--quick",
            "--case",
            "tiny",
            "--peak-iterations",
            "20000",
            "--write",
        ])
        .env("PYTHONPATH", &fake_torch)
        .arg("--out")
        .arg(&out)
        .output()
        .expect("conv-bench runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stdout}\n{stderr}");
    for expected in [
        "FMA peak, 1 thread(s): ",
        "FMA peak, 2 thread(s): ",
        "padded taps count",
        "the minimum is reported",
        "tiny    tiny   ",
        "tiny       1t  forward ",
        "tiny       2t  forward ",
    ] {
        assert!(stdout.contains(expected), "{expected:?} missing:\n{stdout}");
    }
    assert!(
        !stdout.contains("tutorial"),
        "--case tiny selects tiny only:\n{stdout}"
    );
    let python = Command::new("python3").arg("--version").output();
    if python.is_ok_and(|o| o.status.success()) {
        // The tiny case has its PyTorch ratio, and counts in no geometric mean (those are
        // of the large cases).
        let tiny_row = stdout
            .lines()
            .find(|l| l.starts_with("tiny ") && l.contains("x 1×2×5×5"))
            .unwrap_or_else(|| panic!("no table row for tiny:\n{stdout}"));
        assert!(tiny_row.trim_end().ends_with('x'), "{tiny_row}");
        assert!(!stdout.contains("geometric mean PyTorch/ours"), "{stdout}");
        let document = std::fs::read_to_string(out.join("BENCHMARKS.md")).expect("written");
        assert!(document.contains("PyTorch fake:"), "{document}");
        assert!(
            document.contains("| tiny | x 1×2×5×5 w 1×2×3×3 | 1 |"),
            "{document}"
        );
        let svg = std::fs::read_to_string(out.join("docs/bench_ratios.svg")).expect("written");
        assert!(svg.contains("<title>"), "{svg}");
    }
    let _ = std::fs::remove_dir_all(&out);
}
