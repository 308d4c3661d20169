//! PyTorch's side: one Python process runs `torch_bench.py` on every case, with the
//! request as JSON on stdin and the timings as JSON on stdout.

use crate::cases::Case;
use crate::timing::{Rule, Timing};
use serde_json::{json, Value};
use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

/// PyTorch's times for one case at one thread count.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct TorchTiming {
    pub forward: Timing,
    pub forward_backward: Timing,
}

/// Everything PyTorch reported.
#[derive(Clone, Debug, PartialEq)]
pub struct TorchRun {
    pub version: String,
    /// (case, threads, timing)
    pub results: Vec<(String, usize, TorchTiming)>,
}

impl TorchRun {
    pub fn get(&self, case: &str, threads: usize) -> Option<TorchTiming> {
        self.results
            .iter()
            .find(|(c, t, _)| c == case && *t == threads)
            .map(|r| r.2)
    }
}

/// The request `torch_bench.py` reads.
pub fn request(cases: &[&Case], threads: &[usize], rule: &Rule) -> Value {
    let cases: Vec<Value> = cases
        .iter()
        .map(|case| {
            let t = &case.torch;
            json!({
                "name": case.name, "dims": t.dims, "x": t.x.as_ref().unwrap_or(&case.x),
                "weight": t.weight,
                "stride": t.stride, "padding": t.padding, "dilation": t.dilation,
                "groups": t.groups, "channels_last": t.channels_last,
                "transposed": t.transposed, "output_padding": t.output_padding,
                "y_elements": case.y.iter().product::<usize>(),
            })
        })
        .collect();
    json!({
        "rule": {
            "min_time": rule.min_time, "min_runs": rule.min_runs, "max_time": rule.max_time,
            "batch_time": rule.batch_time,
        },
        "threads": threads,
        "cases": cases,
    })
}

/// Runs `python script` on `request`. `Err` says why PyTorch's side is missing.
pub fn run(python: &str, script: &Path, request: &Value) -> Result<TorchRun, String> {
    run_command(Command::new(python).arg(script), request)
}

fn run_command(command: &mut Command, request: &Value) -> Result<TorchRun, String> {
    let what = format!("{command:?}");
    let mut child = command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .map_err(|e| format!("cannot run {what}: {e}"))?;
    let mut stdin = child.stdin.take().expect("stdin is piped");
    stdin
        .write_all(request.to_string().as_bytes())
        .map_err(|e| format!("cannot write to {what}: {e}"))?;
    drop(stdin);
    let output = child
        .wait_with_output()
        .map_err(|e| format!("{what} failed: {e}"))?;
    if !output.status.success() {
        return Err(format!("{what} exited with {}", output.status));
    }
    parse(&String::from_utf8_lossy(&output.stdout))
}

/// Reads `torch_bench.py`'s answer.
pub fn parse(text: &str) -> Result<TorchRun, String> {
    let value: Value =
        serde_json::from_str(text).map_err(|e| format!("unreadable answer ({e}): {text:.200}"))?;
    if let Some(error) = value.get("error") {
        return Err(error.as_str().unwrap_or("unknown error").to_string());
    }
    let bad = || format!("malformed answer: {text:.200}");
    let timing = |v: &Value| -> Option<Timing> {
        Some(Timing {
            seconds: v.get("seconds")?.as_f64()?,
            runs: v.get("runs")?.as_u64()? as usize,
            batch: v.get("batch")?.as_u64()? as usize,
        })
    };
    let result = |r: &Value| -> Option<(String, usize, TorchTiming)> {
        let timing = TorchTiming {
            forward: timing(r.get("forward")?)?,
            forward_backward: timing(r.get("forward_backward")?)?,
        };
        let case = r.get("case")?.as_str()?.to_string();
        Some((case, r.get("threads")?.as_u64()? as usize, timing))
    };
    let results = value
        .get("results")
        .and_then(Value::as_array)
        .ok_or_else(bad)?;
    Ok(TorchRun {
        version: value
            .get("torch")
            .and_then(Value::as_str)
            .unwrap_or("?")
            .to_string(),
        results: results
            .iter()
            .map(result)
            .collect::<Option<_>>()
            .ok_or_else(bad)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// torch_bench.py on every case, against the stand-in for PyTorch in
    /// tests/fake_torch, which checks each call's shapes, groups and memory format and
    /// computes output shapes by PyTorch's rule: the PyTorch description of every case
    /// is consistent, and the whole exchange works, without PyTorch installed.
    #[test]
    fn every_case_goes_through_torch_bench_py() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR"));
        let cases = crate::cases::all();
        let refs: Vec<&Case> = cases.iter().collect();
        let rule = Rule {
            min_time: 0.0,
            min_runs: 1,
            max_time: 0.0,
            batch_time: 0.0,
        };
        let request = request(&refs, &[1, 2], &rule);
        let mut command = Command::new("python3");
        command
            .arg(dir.join("torch_bench.py"))
            .env("PYTHONPATH", dir.join("tests/fake_torch"));
        if Command::new("python3").arg("--version").output().is_err() {
            eprintln!("no python3: skipped");
            return;
        }
        let run = run_command(&mut command, &request).unwrap();
        assert_eq!(run.version, "fake");
        assert_eq!(run.results.len(), 2 * cases.len());
        for case in &cases {
            let timing = run.get(case.name, 2).unwrap();
            assert!(timing.forward.seconds > 0.0 && timing.forward_backward.runs >= 1);
        }
    }

    #[test]
    fn answers_are_read() {
        let text = r#"{"torch": "2.5.0", "results": [{"case": "tiny", "threads": 2,
            "forward": {"seconds": 1e-5, "runs": 10, "batch": 8},
            "forward_backward": {"seconds": 3e-5, "runs": 9, "batch": 4}}]}"#;
        let run = parse(text).unwrap();
        assert_eq!(run.version, "2.5.0");
        let timing = run.get("tiny", 2).unwrap();
        assert_eq!(timing.forward.seconds, 1e-5);
        assert_eq!(timing.forward_backward.batch, 4);
        assert!(run.get("tiny", 1).is_none());
        assert_eq!(parse(r#"{"error": "no torch"}"#).unwrap_err(), "no torch");
        assert!(parse(r#"{"results": [{"case": "tiny"}]}"#).is_err());
        assert!(parse("Traceback").is_err());
    }
}
