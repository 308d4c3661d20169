//! Verbose mode: `CONV_KERNELS_VERBOSE=1` makes every pass print its kernel, pass, path,
//! extents and time to stderr. The variable is read once per process, so the test runs
//! this test binary again as a child with the variable set.

use conv_runtime::conv_kernel;
use ndarray::{Array1, Array4};
use std::process::Command;

conv_kernel! {
    conv(x, weight) = "nchwkj,dckj->ndhw" {
        unfold x.h by k, pad = 1;
        unfold x.w by j, pad = 1;
        bias d;
    }
}

/// Every pass of `conv`, above the fast path's threshold (4 * 8 * 24 * 24 outputs of
/// 72 multiply-adds each; grad_y has 18432 elements, enough for the bias sum too).
#[test]
fn passes_run() {
    let x =
        Array4::<f32>::from_shape_fn((4, 8, 24, 24), |(n, c, h, w)| ((n + c + h * w) % 7) as f32);
    let weight =
        Array4::<f32>::from_shape_fn((8, 8, 3, 3), |(d, c, k, j)| ((d * c + k + j) % 5) as f32);
    let y = conv::forward(&x, &weight, &Array1::zeros(8)).expect("shapes fit");
    let grads = conv::backward(&x, &weight, &y).expect("shapes fit");
    assert_eq!(grads.x.shape(), x.shape());
}

#[test]
fn verbose_mode_prints_every_pass_with_its_path() {
    let child = |verbose: Option<&str>| {
        let mut command = Command::new(std::env::current_exe().expect("the test binary"));
        command.args(["passes_run", "--exact", "--nocapture", "--test-threads=1"]);
        command.env_remove(conv_runtime::trace::VARIABLE);
        if let Some(value) = verbose {
            command.env(conv_runtime::trace::VARIABLE, value);
        }
        let output = command.output().expect("the child runs");
        assert!(output.status.success(), "{output:?}");
        String::from_utf8(output.stderr).expect("utf-8")
    };
    let stderr = child(Some("1"));
    let lines: Vec<&str> = stderr
        .lines()
        .filter(|l| l.starts_with("conv_kernels: "))
        .collect();
    let all = "extents=c=8,d=8,h=24,j=3,k=3,n=4,w=24 time=";
    // grad_bias reads its extents off grad_y alone.
    let output = "extents=d=8,h=24,n=4,w=24 time=";
    for (pass, path, extents) in [
        ("forward", "direct", all),
        ("grad_x", "transposed direct", all),
        ("grad_weight", "direct", all),
        ("grad_bias", "bias sum", output),
    ] {
        let start = format!("conv_kernels: conv {pass} path={path} {extents}");
        let line = lines.iter().find(|l| l.starts_with(&start));
        let line = line.unwrap_or_else(|| panic!("no `{start}` in\n{stderr}"));
        let time = line
            .rsplit("time=")
            .next()
            .and_then(|t| t.strip_suffix("ms"));
        assert!(time.and_then(|t| t.parse::<f64>().ok()).is_some(), "{line}");
    }
    assert_eq!(lines.len(), 4, "{stderr}");
    // Off by default, and with 0.
    for quiet in [None, Some("0")] {
        let stderr = child(quiet);
        assert!(!stderr.contains("conv_kernels:"), "{quiet:?}: {stderr}");
    }
}
