//! BENCHMARKS.md and the chart of ratios, from a run's numbers.

use crate::chart::{self, Series};
use crate::compile_cost::{self, BuildTime, Cost};
use crate::report::{self, Row};

/// Everything BENCHMARKS.md shows.
pub struct Document<'a> {
    pub command: String,
    pub date: String,
    pub cpu: String,
    /// The load averages at the start and the end of the run.
    pub load: (Option<f64>, Option<f64>),
    /// (threads, FLOP/s)
    pub peaks: &'a [(usize, f64)],
    pub rule: String,
    pub rows: &'a [Row],
    pub threads: &'a [usize],
    /// PyTorch's version, or why it is missing.
    pub torch: &'a Result<String, String>,
    pub costs: &'a [Cost],
    /// Winograd's rounding on each layer that takes it.
    pub errors: &'a [crate::accuracy::Errors],
    /// (threads, bytes per second of a large copy), and the depthwise table.
    pub bandwidths: &'a [(usize, f64)],
    /// Peak memory of the Winograd layers' passes, ours and PyTorch's.
    pub memory: &'a [Vec<String>],
    pub depthwise: &'a [Vec<String>],
    /// `cargo build --release --examples` from clean, if measured.
    pub build: Option<&'a Result<BuildTime, String>>,
    /// Where the chart is, relative to BENCHMARKS.md.
    pub chart: &'a str,
}

/// The terms of the measurement, shared by the terminal output and BENCHMARKS.md.
pub const FLOPS_NOTE: &str = "GFLOP/s = 2 x output elements x reduction length / time, for \
forward, grad_x and grad_w+b alike; padded taps count as work; the bias add and the bias \
gradient's sums are not counted. Transposed convolutions: 2 x input elements x \
out_channels / groups x taps (every product of the scatter, those falling in the cropped \
padding included), the count of the convolution they transpose. Passes on Winograd's \
tiles count the same direct-equivalent work (they do 4x fewer multiplications), so they \
can pass 100% of the peak. % peak: of the FMA peak measured in the same run at the \
same thread count. Tiny cases: ns per call instead of GFLOP/s.";

/// How the depthwise passes are held to the memory bandwidth.
pub const BANDWIDTH_NOTE: &str = "GB/s = the bytes a pass must move at least (each tensor \
it reads or writes, once) / its time; % of copy: of the bandwidth of a copy between two \
buffers larger than the last-level cache (bytes read + written), measured in the same run \
at the same thread count";

/// How peak memory is measured.
pub const MEMORY_NOTE: &str = "each pass in a fresh process on one thread, the resident \
set's high-water mark over a warm-up call and a second call, above the resident set once \
the inputs exist, in MiB (ours: the padded copy, Winograd's transforms of the inputs and \
weights, the output; PyTorch: oneDNN's workspaces, the output, and for forward+backward \
every gradient)";

/// How Winograd's rounding is measured.
pub const ACCURACY_NOTE: &str = "the largest error of each pass on Winograd's tiles, \
relative to the largest value, against the interpreter's sums in f64 on the same N(0, 1) \
inputs and weights (one image, spatial axes cropped to 32; \"another path\": the pass does \
not take them); PyTorch's tolerance class for f32 convolution is 1e-4";

pub fn markdown(doc: &Document) -> String {
    let mut out = String::from("# Benchmarks\n\n");
    out += &format!(
        "Produced by `{}` on {} (UTC date), on this machine: {}.\n\n",
        doc.command, doc.date, doc.cpu
    );
    out += "Measured FMA peak (f32, 12 independent vector FMA chains per thread, every thread \
            at once):";
    for (threads, flops) in doc.peaks {
        out += &format!(" {threads} thread(s) {:.1} GFLOP/s;", flops / 1e9);
    }
    out.pop();
    out += &format!(
        ".\n\n{}\n\n## How it is measured\n\n",
        crate::machine::load_line(doc.load.0, doc.load.1)
    );
    let torch = match doc.torch {
        Ok(version) => format!("PyTorch {version}"),
        Err(why) => format!("PyTorch (not available in this run: {why}; when it is)"),
    };
    for line in [
        format!("- {FLOPS_NOTE}"),
        format!("- Timing: {}.", doc.rule),
        "- Threads: our kernels run inside a rayon pool of that many threads; PyTorch runs \
         with `torch.set_num_threads` set to the same number."
            .to_string(),
        format!(
            "- {torch}: `torch.nn.functional.conv1d/2d/3d` with the same shapes, stride, \
             padding, dilation and groups, bias included; forward under `torch.no_grad()`, \
             forward+backward as the convolution then `backward(grad_y)` through autograd \
             (grad_x, grad_w and grad_b). The transposed cases run \
             `torch.nn.functional.conv_transpose2d` with the same stride, padding and \
             output_padding. The channels-last case gives PyTorch the same \
             N,H,W,C buffer as an N,C,H,W tensor with channels-last strides, weight in \
             `channels_last` format. Timed by `conv-bench/torch_bench.py` in the same run, \
             with the same timing rule."
        ),
        "- PyTorch/ours: PyTorch's time divided by ours (above 1: ours is faster). For \
         forward+backward, ours is forward + grad_x + grad_w+b, each its own minimum."
            .to_string(),
    ] {
        out += &line;
        out += "\n";
    }
    out += "\n## Results\n\n";
    out += &report::markdown(&report::results_table(doc.rows));
    out += "\nGeometric means of PyTorch/ours:\n\n";
    if doc
        .threads
        .iter()
        .all(|&t| report::geomeans(doc.rows, t).is_empty())
    {
        out += "- none: no PyTorch timings in this run.\n";
    }
    for &threads in doc.threads {
        for g in report::geomeans(doc.rows, threads) {
            out += &format!(
                "- {threads} thread(s), {} ({}): forward {}, forward+backward {}\n",
                g.what,
                g.cases,
                report::ratio(g.forward),
                report::ratio(g.forward_backward)
            );
        }
    }
    out += &format!(
        "\n(3x3 and 1x1 layers: {}. The transposed convolutions count in their own mean \
         only, not in the large cases'.)\n\n![PyTorch/ours, log scale]({})\n\n",
        report::LAYERS.join(", "),
        doc.chart
    );
    out += "## Depthwise against the memory bandwidth\n\nMeasured copy bandwidth:";
    for (threads, rate) in doc.bandwidths {
        out += &format!(" {threads} thread(s) {:.1} GB/s;", rate / 1e9);
    }
    out.pop();
    out += &format!(". {BANDWIDTH_NOTE}.\n\n");
    out += &report::markdown(doc.depthwise);
    out += &format!("\n## Winograd's rounding\n\nMeasured as {ACCURACY_NOTE}.\n\n");
    out += &report::markdown(&crate::accuracy::table(doc.errors));
    if doc.memory.len() > 1 {
        out += &format!("\n## Peak memory\n\nMeasured for {MEMORY_NOTE}.\n\n");
        out += &report::markdown(doc.memory);
    }
    out += "\n## Times\n\n";
    out += &report::markdown(&report::times_table(doc.rows));
    out += "\n## Cost of compiling\n\n";
    out += "`conv_codegen::expand` on each kernel declaration of `conv-bench/src/cases.rs` \
            alone, in process (release build: conv-codegen at opt-level 3, syn, quote and \
            proc-macro2 at 0 as the workspace's release profile builds them; minimum over \
            repeats after a warm-up; rustc's proc-macro bridge and the compilation of the \
            emitted code are not included), and \
            the lines of the code it emits, formatted by prettyplease \
            (`conv_runtime::expanded_code`).\n\n";
    out += &report::markdown(&compile_cost::table(doc.costs));
    out += &format!("\n{}\n", build_line(doc.build));
    out
}

/// The sentence about the release build of the examples.
pub fn build_line(build: Option<&Result<BuildTime, String>>) -> String {
    match build {
        Some(Ok(time)) => format!(
            "`cargo build --release --examples` from clean (fresh target directory, every \
             dependency compiled): {:.0} s wall time{}{}.",
            time.wall,
            time.cpu.map_or(String::new(), |cpu| format!(
                ", {cpu:.0} s of CPU time (user + system, cargo and every rustc)"
            )),
            time.others_cpu.map_or(String::new(), |others| format!(
                "; other processes used {others:.0} s of CPU time meanwhile"
            ))
        ),
        Some(Err(why)) => format!("`cargo build --release --examples` failed: {why}."),
        None => "`cargo build --release --examples` from clean: not measured in this run \
                 (pass `--build-time`)."
            .to_string(),
    }
}

/// The chart: per case, forward and forward+backward ratios at each thread count, and
/// the geometric means.
pub fn chart(rows: &[Row], threads: &[usize]) -> String {
    let mut series = Vec::new();
    for &t in threads {
        for what in ["forward", "fwd+bwd"] {
            series.push(Series {
                name: format!("{what}, {t} thread(s)"),
                colour: chart::COLOURS[series.len() % chart::COLOURS.len()],
            });
        }
    }
    let mut names: Vec<&str> = Vec::new();
    for row in rows {
        if !names.contains(&row.case.as_str()) {
            names.push(&row.case);
        }
    }
    let mut groups: Vec<(String, Vec<Option<f64>>)> = names
        .iter()
        .map(|&name| {
            let values = threads.iter().flat_map(|&t| {
                let row = rows.iter().find(|r| r.case == name && r.threads == t);
                [
                    row.and_then(Row::forward_ratio),
                    row.and_then(Row::forward_backward_ratio),
                ]
            });
            (name.to_string(), values.collect())
        })
        .collect();
    let means = [
        ("geomean, large", "large cases"),
        ("geomean, 3x3+1x1", "3x3 and 1x1 layers"),
        ("geomean, networks", "real-network layers"),
        ("geomean, transposed", report::TRANSPOSED),
    ];
    for (label, what) in means {
        let values: Vec<Option<f64>> = threads
            .iter()
            .flat_map(|&t| {
                let means = report::geomeans(rows, t);
                let mean = means.iter().find(|m| m.what == what);
                [mean.map(|m| m.forward), mean.map(|m| m.forward_backward)]
            })
            .collect();
        if values.iter().any(Option::is_some) {
            groups.push((label.to_string(), values));
        }
    }
    chart::svg(
        "PyTorch time / our time (right of 1x: ours is faster)",
        &series,
        &groups,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::tests::row;

    #[test]
    fn the_document_has_every_part() {
        let rows = [
            row("3x3 56", 1, Some((0.2, 1.6))),
            row("3x3 56", 2, Some((0.1, 0.8))),
        ];
        let doc = Document {
            command: "cargo run --release -p conv-bench -- --write".into(),
            date: "2024-10-04".into(),
            cpu: "Xeon".into(),
            load: (Some(0.5), None),
            peaks: &[(1, 90e9), (2, 180e9)],
            rule: "a rule".into(),
            rows: &rows,
            threads: &[1, 2],
            torch: &Ok("2.5.0".into()),
            costs: &[],
            errors: &[],
            bandwidths: &[(1, 10e9)],
            depthwise: &[],
            memory: &[],
            build: Some(&Ok(BuildTime {
                wall: 83.4,
                cpu: Some(150.2),
                others_cpu: Some(3.4),
            })),
            chart: "docs/bench_ratios.svg",
        };
        let md = markdown(&doc);
        for part in [
            "`cargo run --release -p conv-bench -- --write` on 2024-10-04",
            "1 thread(s) 90.0 GFLOP/s; 2 thread(s) 180.0 GFLOP/s.",
            "PyTorch 2.5.0",
            "at the start and the end of the run: 0.50 and ?",
            "| 3x3 56 | x 1×2 w 3×4 | 2 | 10.00 (10.0%) |",
            "- 1 thread(s), large cases (1): forward 2.00x, forward+backward 2.00x",
            "![PyTorch/ours, log scale](docs/bench_ratios.svg)",
            "| total |  | 0.00 ms | 0 |",
            "83 s wall time, 150 s of CPU time",
            "; other processes used 3 s of CPU time meanwhile.",
        ] {
            assert!(md.contains(part), "{part}\n{md}");
        }
        let without_torch = Document {
            torch: &Err("no torch".into()),
            rows: &[row("3x3 56", 1, None)],
            ..doc
        };
        let md = markdown(&without_torch);
        assert!(md.contains("PyTorch (not available in this run: no torch; when it is): "));
        assert!(
            md.contains("- none: no PyTorch timings in this run."),
            "{md}"
        );
        let svg = chart(&rows, &[1, 2]);
        // Two cases' worth of groups (one case, two geomeans), four series each.
        assert_eq!(svg.matches("<title>").count(), 12);
    }
}
