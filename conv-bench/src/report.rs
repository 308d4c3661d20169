//! The numbers of a run, the ratios and geometric means derived from them, and the tables
//! they are shown in (aligned text for the terminal, Markdown for BENCHMARKS.md).

use crate::cases::Case;
use crate::timing::Timing;
use crate::torch::TorchTiming;

/// One case at one thread count.
#[derive(Clone, Debug)]
pub struct Row {
    pub case: String,
    pub shapes: String,
    pub threads: usize,
    /// Reported in ns rather than GFLOP/s.
    pub tiny: bool,
    /// A transposed convolution: its own geometric mean, in no other.
    pub transposed: bool,
    /// FLOPs of one pass: 2 x output elements x reduction length, padded taps included
    /// (transposed: 2 x input elements x out_channels / groups x taps).
    pub flops: f64,
    /// The measured FMA peak at this thread count, FLOP/s.
    pub peak: f64,
    pub forward: Timing,
    pub grad_x: Timing,
    pub grad_weight_bias: Timing,
    pub torch: Option<TorchTiming>,
}

impl Row {
    /// Our forward + grad_x + grad_weight_bias: what PyTorch's forward+backward does.
    pub fn forward_backward(&self) -> f64 {
        self.forward.seconds + self.grad_x.seconds + self.grad_weight_bias.seconds
    }

    /// PyTorch's forward time / ours: above 1, we are faster.
    pub fn forward_ratio(&self) -> Option<f64> {
        self.torch.map(|t| t.forward.seconds / self.forward.seconds)
    }

    /// PyTorch's forward+backward time / our forward + grad_x + grad_weight_bias.
    pub fn forward_backward_ratio(&self) -> Option<f64> {
        self.torch
            .map(|t| t.forward_backward.seconds / self.forward_backward())
    }

    /// `GFLOP/s (% of peak)`, or `ns (% of peak)` for tiny cases.
    fn cell(&self, timing: &Timing) -> String {
        let rate = self.flops / timing.seconds;
        let percent = format!("{:.1}%", 100.0 * rate / self.peak);
        if self.tiny {
            format!("{:.0} ns ({percent})", timing.seconds * 1e9)
        } else {
            format!("{:.2} ({percent})", rate / 1e9)
        }
    }
}

/// The benchmark's shapes and options of a case, for the tables.
pub fn shapes(case: &Case) -> String {
    let t = &case.torch;
    let join = |s: &[usize]| s.iter().map(usize::to_string).collect::<Vec<_>>().join("×");
    let mut text = format!("x {} w {}", join(&case.x), join(&case.weight));
    for (name, value, default) in [
        ("stride", t.stride, 1),
        ("pad", t.padding, 0),
        ("output_padding", t.output_padding, 0),
        ("dilation", t.dilation, 1),
        ("groups", t.groups, 1),
    ] {
        if value != default {
            text += &format!(" {name} {value}");
        }
    }
    if t.channels_last {
        text += " channels-last";
    }
    if t.transposed {
        text += " transposed";
    }
    text
}

/// The geometric mean, or `None` when there is nothing to average.
pub fn geomean(values: impl IntoIterator<Item = f64>) -> Option<f64> {
    let (sum, n) = values
        .into_iter()
        .fold((0.0, 0usize), |(s, n), v| (s + v.ln(), n + 1));
    (n > 0).then(|| (sum / n as f64).exp())
}

/// The cases that the 3x3 and 1x1 targets are about.
pub const LAYERS: [&str; 6] = ["3x3 56", "3x3 14", "3x3 s2", "dilated", "1x1", "nhwc"];

/// Layers of real networks outside the original set (issue 18): ResNet stages, MobileNet,
/// ResNeXt, a U-Net decoder, audio.
pub const NETWORK_LAYERS: [&str; 9] = [
    "resnet 3x3 28",
    "resnet 3x3 7",
    "resnet s2 56",
    "1x1 w 28",
    "1x1 w 7",
    "mobilenet dw s2",
    "resnext g32",
    "unet 3x3 112",
    "audio conv1d",
];

/// The name of the transposed convolutions' geometric mean.
pub const TRANSPOSED: &str = "transposed convolutions";

/// A geometric mean of PyTorch/ours over a group of cases at one thread count.
#[derive(Clone, Debug, PartialEq)]
pub struct Geomean {
    pub what: &'static str,
    pub cases: usize,
    pub forward: f64,
    pub forward_backward: f64,
}

/// Geometric means of the PyTorch ratios at one thread count: every convolution but the
/// tiny ones, [`LAYERS`], [`NETWORK_LAYERS`], then the transposed convolutions (which
/// count in no other mean: the first three stay comparable with runs before them).
pub fn geomeans(rows: &[Row], threads: usize) -> Vec<Geomean> {
    fn all(row: &Row) -> bool {
        !row.tiny && !row.transposed
    }
    fn layer(row: &Row) -> bool {
        LAYERS.contains(&row.case.as_str())
    }
    fn network(row: &Row) -> bool {
        NETWORK_LAYERS.contains(&row.case.as_str())
    }
    fn transposed(row: &Row) -> bool {
        row.transposed && !row.tiny
    }
    type Keep = fn(&Row) -> bool;
    let groups: [(&'static str, Keep); 4] = [
        ("large cases", all),
        ("3x3 and 1x1 layers", layer),
        ("real-network layers", network),
        (TRANSPOSED, transposed),
    ];
    groups
        .iter()
        .filter_map(|&(what, keep)| {
            let rows: Vec<&Row> = rows
                .iter()
                .filter(|r| r.threads == threads && r.torch.is_some() && keep(r))
                .collect();
            Some(Geomean {
                what,
                cases: rows.len(),
                forward: geomean(rows.iter().filter_map(|r| r.forward_ratio()))?,
                forward_backward: geomean(rows.iter().filter_map(|r| r.forward_backward_ratio()))?,
            })
        })
        .collect()
}

/// `0.0123x`, `1.23x`, `123x`: three significant digits.
pub fn ratio(value: f64) -> String {
    let decimals = (2 - value.abs().log10().floor() as i32).clamp(0, 6) as usize;
    format!("{value:.decimals$}x")
}

/// A duration with a unit that suits it.
pub fn duration(seconds: f64) -> String {
    match seconds {
        s if s < 1e-6 => format!("{:.0} ns", s * 1e9),
        s if s < 1e-3 => format!("{:.1} µs", s * 1e6),
        s if s < 1.0 => format!("{:.2} ms", s * 1e3),
        s => format!("{s:.2} s"),
    }
}

/// The main table: header, then one line per row.
pub fn results_table(rows: &[Row]) -> Vec<Vec<String>> {
    let header = [
        "case",
        "shapes",
        "threads",
        "forward GFLOP/s (% peak)",
        "grad_x GFLOP/s (% peak)",
        "grad_w+b GFLOP/s (% peak)",
        "PyTorch/ours fwd",
        "PyTorch/ours fwd+bwd",
    ];
    let missing = || "-".to_string();
    let lines = rows.iter().map(|r| {
        vec![
            r.case.clone(),
            r.shapes.clone(),
            r.threads.to_string(),
            r.cell(&r.forward),
            r.cell(&r.grad_x),
            r.cell(&r.grad_weight_bias),
            r.forward_ratio().map_or_else(missing, ratio),
            r.forward_backward_ratio().map_or_else(missing, ratio),
        ]
    });
    std::iter::once(header.map(String::from).to_vec())
        .chain(lines)
        .collect()
}

/// Absolute times and repeat counts, ours and PyTorch's.
pub fn times_table(rows: &[Row]) -> Vec<Vec<String>> {
    let header = [
        "case",
        "threads",
        "forward",
        "grad_x",
        "grad_w+b",
        "fwd+grad_x+grad_w+b",
        "PyTorch fwd",
        "PyTorch fwd+bwd",
        "repeats (ours f/x/w; PyTorch f/fb)",
    ];
    let lines = rows.iter().map(|r| {
        let torch = |f: fn(&TorchTiming) -> Timing| r.torch.map(|t| f(&t));
        let (tf, tb) = (torch(|t| t.forward), torch(|t| t.forward_backward));
        let time = |t: Option<Timing>| t.map_or("-".to_string(), |t| duration(t.seconds));
        let runs = |t: Option<Timing>| t.map_or("-".to_string(), |t| t.runs.to_string());
        vec![
            r.case.clone(),
            r.threads.to_string(),
            duration(r.forward.seconds),
            duration(r.grad_x.seconds),
            duration(r.grad_weight_bias.seconds),
            duration(r.forward_backward()),
            time(tf),
            time(tb),
            format!(
                "{}/{}/{}; {}/{}",
                r.forward.runs,
                r.grad_x.runs,
                r.grad_weight_bias.runs,
                runs(tf),
                runs(tb)
            ),
        ]
    });
    std::iter::once(header.map(String::from).to_vec())
        .chain(lines)
        .collect()
}

/// Columns padded to their widest cell.
pub fn text(table: &[Vec<String>]) -> String {
    let columns = table.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> = (0..columns)
        .map(|c| {
            let width = |row: &Vec<String>| row.get(c).map_or(0, |s| s.chars().count());
            table.iter().map(width).max().unwrap_or(0)
        })
        .collect();
    let mut out = String::new();
    for row in table {
        let cells: Vec<String> = row
            .iter()
            .zip(&widths)
            .map(|(cell, &w)| format!("{cell:<w$}"))
            .collect();
        out += cells.join("  ").trim_end();
        out.push('\n');
    }
    out
}

/// A Markdown table.
pub fn markdown(table: &[Vec<String>]) -> String {
    let line = |cells: &[String]| format!("| {} |\n", cells.join(" | "));
    let mut out = String::new();
    if let Some((header, rows)) = table.split_first() {
        out += &line(header);
        out += &line(&vec!["---".to_string(); header.len()]);
        for row in rows {
            out += &line(row);
        }
    }
    out
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    fn timing(seconds: f64) -> Timing {
        Timing {
            seconds,
            runs: 5,
            batch: 1,
        }
    }

    /// A row with round numbers: 1 GFLOP per pass, a 100 GFLOP/s peak.
    pub(crate) fn row(case: &str, threads: usize, torch: Option<(f64, f64)>) -> Row {
        Row {
            case: case.to_string(),
            shapes: "x 1×2 w 3×4".to_string(),
            threads,
            tiny: case == "tiny",
            transposed: case.starts_with("unet up") || case.starts_with("gan"),
            flops: 1e9,
            peak: 100e9,
            forward: timing(0.1),
            grad_x: timing(0.2),
            grad_weight_bias: timing(0.5),
            torch: torch.map(|(f, fb)| TorchTiming {
                forward: timing(f),
                forward_backward: timing(fb),
            }),
        }
    }

    #[test]
    fn ratios_and_geometric_means() {
        let rows = [
            row("3x3 56", 1, Some((0.2, 1.6))),
            row("stem", 1, Some((0.05, 0.2))),
            row("1x1", 1, None),
            row("3x3 56", 2, Some((0.1, 0.8))),
            row("tiny", 1, Some((0.01, 0.01))),
            row("resnet 3x3 7", 2, Some((0.3, 0.3))),
            row("unet up k2s2", 2, Some((0.2, 0.4))),
            row("gan 4x4 s2", 2, Some((0.8, 0.1))),
            row("unet up 3x3 s2", 1, None),
        ];
        assert_eq!(rows[0].forward_backward(), 0.8);
        assert_eq!(rows[0].forward_ratio(), Some(2.0));
        assert_eq!(rows[0].forward_backward_ratio(), Some(2.0));
        assert_eq!(rows[1].forward_backward_ratio(), Some(0.25));
        assert_eq!(rows[2].forward_ratio(), None);
        let one = geomeans(&rows, 1);
        assert_eq!(one.len(), 2);
        assert_eq!((one[0].what, one[0].cases), ("large cases", 2));
        assert!((one[0].forward - 1.0).abs() < 1e-12);
        assert!((one[0].forward_backward - 0.5_f64.sqrt()).abs() < 1e-12);
        let layers = &one[1];
        assert_eq!(
            (layers.cases, layers.forward, layers.forward_backward),
            (1, 2.0, 2.0)
        );
        // Tiny cases count in no mean; real-network layers have their own, and so do the
        // transposed convolutions, which count in no other.
        let two = geomeans(&rows, 2);
        assert_eq!((two[0].what, two[0].cases), ("large cases", 2));
        assert!((two[0].forward - 3.0_f64.sqrt()).abs() < 1e-12);
        assert_eq!((two[2].what, two[2].cases), ("real-network layers", 1));
        assert!((two[2].forward - 3.0).abs() < 1e-12);
        assert_eq!((two[3].what, two[3].cases), ("transposed convolutions", 2));
        assert!((two[3].forward - 4.0).abs() < 1e-12);
        assert!((two[3].forward_backward - 0.25).abs() < 1e-12);
        assert!(geomeans(&rows, 3).is_empty());
        assert_eq!(geomean([]), None);
        assert!((geomean([4.0, 1.0, 16.0]).unwrap() - 4.0).abs() < 1e-12);
    }

    #[test]
    fn formatting() {
        assert_eq!(ratio(0.012345), "0.0123x");
        assert_eq!(ratio(1.5), "1.50x");
        assert_eq!(ratio(123.4), "123x");
        assert_eq!(duration(812e-9), "812 ns");
        assert_eq!(duration(0.0123), "12.30 ms");
        assert_eq!(row("stem", 1, None).cell(&timing(0.1)), "10.00 (10.0%)");
        assert_eq!(
            row("tiny", 1, None).cell(&timing(1e-6)),
            "1000 ns (1000000.0%)"
        );
        let table = results_table(&[row("stem", 2, Some((0.05, 1.6)))]);
        assert_eq!(
            table[1][2..].join(" | "),
            "2 | 10.00 (10.0%) | 5.00 (5.0%) | 2.00 (2.0%) | 0.500x | 2.00x"
        );
        let md = markdown(&table);
        assert!(md.starts_with("| case | shapes | threads |"), "{md}");
        assert_eq!(
            md.lines().nth(1).unwrap(),
            "| --- | --- | --- | --- | --- | --- | --- | --- |"
        );
        assert_eq!(
            text(&[vec!["a".into(), "b".into()], vec!["ccc".into(), "d".into()]]),
            "a    b\nccc  d\n"
        );
    }
}
