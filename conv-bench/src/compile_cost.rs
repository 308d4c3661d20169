//! What the benchmark kernels cost to compile: the macro's expansion time and the amount
//! of code it emits, per kernel, and (on request) a release build of the examples.
//!
//! The kernels are read from cases.rs itself, so what is expanded here is exactly what
//! `conv_kernel!` expands there.

use proc_macro2::{Delimiter, TokenStream, TokenTree};
use std::hint::black_box;
use std::path::Path;
use std::process::Command;
use std::time::Instant;

/// One kernel declaration of cases.rs.
pub struct Declaration {
    pub name: String,
    pub tokens: TokenStream,
    /// The benchmark cases that run it.
    pub cases: Vec<String>,
}

/// The cost of one kernel.
pub struct Cost {
    pub kernel: String,
    pub cases: Vec<String>,
    /// `conv_codegen::expand` on the declaration alone: the minimum over repeats.
    pub expand_seconds: f64,
    /// Lines of the emitted code, formatted by prettyplease.
    pub lines: usize,
}

/// Every kernel declared by the `conv_kernel!` invocation of `source` (cases.rs's text),
/// with the cases that `case!("NAME", kernel, ...)` lines run on it.
pub fn declarations(source: &str) -> Result<Vec<Declaration>, String> {
    let tokens: TokenStream = source.parse().map_err(|e| format!("cases.rs: {e:?}"))?;
    let tokens: Vec<TokenTree> = tokens.into_iter().collect();
    let mut uses: Vec<(String, String)> = Vec::new();
    let mut body = None;
    visit(&tokens, &mut |macro_name, group| match macro_name {
        "conv_kernel" if group.delimiter() == Delimiter::Brace => body = Some(group.stream()),
        "case" => {
            let args: Vec<TokenTree> = group.stream().into_iter().collect();
            if let [TokenTree::Literal(name), _, TokenTree::Ident(kernel), ..] = &args[..] {
                let name = name.to_string().trim_matches('"').to_string();
                uses.push((name, kernel.to_string()));
            }
        }
        _ => {}
    });
    let body = body.ok_or("cases.rs has no conv_kernel! { ... }")?;
    let mut declarations = Vec::new();
    let mut current = TokenStream::new();
    for token in body {
        let ends = match &token {
            TokenTree::Group(g) => g.delimiter() == Delimiter::Brace,
            TokenTree::Punct(p) => p.as_char() == ';',
            _ => false,
        };
        current.extend([token]);
        if ends {
            let tokens = std::mem::take(&mut current);
            let name = name_of(&tokens).ok_or("a kernel declaration without a name")?;
            let cases = uses.iter().filter(|u| u.1 == name).map(|u| u.0.clone());
            declarations.push(Declaration {
                cases: cases.collect(),
                name,
                tokens,
            });
        }
    }
    Ok(declarations)
}

/// Calls `found(name, group)` for every `name ! group` in `tokens`, at any depth.
fn visit(tokens: &[TokenTree], found: &mut dyn FnMut(&str, &proc_macro2::Group)) {
    for (i, token) in tokens.iter().enumerate() {
        if let TokenTree::Group(group) = token {
            if let [.., TokenTree::Ident(name), TokenTree::Punct(bang)] = &tokens[..i] {
                if bang.as_char() == '!' {
                    found(&name.to_string(), group);
                }
            }
            let inner: Vec<TokenTree> = group.stream().into_iter().collect();
            visit(&inner, found);
        }
    }
}

/// The first identifier that is not `pub` and not inside an attribute.
fn name_of(tokens: &TokenStream) -> Option<String> {
    tokens.clone().into_iter().find_map(|t| match t {
        TokenTree::Ident(ident) if ident != "pub" => Some(ident.to_string()),
        _ => None,
    })
}

/// Expands each declaration `repeats` times (after one warm-up) and counts its code.
pub fn measure(declarations: &[Declaration], repeats: usize) -> Result<Vec<Cost>, String> {
    declarations
        .iter()
        .map(|d| {
            black_box(conv_codegen::expand(d.tokens.clone()));
            let best = (0..repeats.max(1))
                .map(|_| {
                    let start = Instant::now();
                    black_box(conv_codegen::expand(black_box(d.tokens.clone())));
                    start.elapsed().as_secs_f64()
                })
                .fold(f64::INFINITY, f64::min);
            let code = conv_runtime::expanded_code(&d.tokens.to_string())
                .map_err(|e| format!("{}: {e}", d.name))?;
            Ok(Cost {
                kernel: d.name.clone(),
                cases: d.cases.clone(),
                expand_seconds: best,
                lines: code.lines().count(),
            })
        })
        .collect()
}

/// What a clean build of the examples took.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct BuildTime {
    pub wall: f64,
    /// User + system CPU seconds of cargo and every compiler it ran (Linux only): unlike
    /// the wall time, hardly affected by other processes competing for the CPUs.
    pub cpu: Option<f64>,
    /// CPU seconds that other processes used meanwhile (Linux only: the busy time of
    /// every CPU in /proc/stat, less `cpu`): on a shared machine, why `wall` can be far
    /// more than `cpu` over the number of CPUs.
    pub others_cpu: Option<f64>,
}

/// `cargo build --release --examples` in `workspace` with a fresh, empty target
/// directory (removed afterwards): every dependency is compiled.
pub fn build_examples(workspace: &Path) -> Result<BuildTime, String> {
    let target = std::env::temp_dir().join(format!("conv-bench-build-{}", std::process::id()));
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let cpu_before = children_cpu_seconds();
    let busy_before = machine_busy_seconds();
    let start = Instant::now();
    let status = Command::new(cargo)
        .args(["build", "--release", "--examples", "--quiet"])
        .current_dir(workspace)
        .env("CARGO_TARGET_DIR", &target)
        .status();
    let wall = start.elapsed().as_secs_f64();
    let cpu = children_cpu_seconds()
        .zip(cpu_before)
        .map(|(after, before)| after - before);
    let others_cpu = machine_busy_seconds()
        .zip(busy_before)
        .zip(cpu)
        .map(|((after, before), cpu)| (after - before - cpu).max(0.0));
    let _ = std::fs::remove_dir_all(&target);
    match status {
        Ok(s) if s.success() => Ok(BuildTime {
            wall,
            cpu,
            others_cpu,
        }),
        Ok(s) => Err(format!("cargo build --release --examples: {s}")),
        Err(e) => Err(format!("cannot run cargo: {e}")),
    }
}

/// CPU seconds of this process's waited-for children: cutime + cstime of /proc/self/stat
/// (in clock ticks of 1/100 s, Linux's USER_HZ).
fn children_cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let ticks = |i: usize| fields.get(i)?.parse::<f64>().ok();
    Some((ticks(13)? + ticks(14)?) / 100.0)
}

/// CPU seconds that every process has used since boot: user, nice, system, irq and
/// softirq of the first line of /proc/stat (in USER_HZ ticks of 1/100 s), not idle,
/// iowait or steal (time the hypervisor gave to other machines).
fn machine_busy_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    let ticks: Vec<&str> = stat
        .lines()
        .next()?
        .strip_prefix("cpu ")?
        .split_whitespace()
        .collect();
    let tick = |i: usize| ticks.get(i)?.parse::<f64>().ok();
    Some((tick(0)? + tick(1)? + tick(2)? + tick(5)? + tick(6)?) / 100.0)
}

/// The table of costs, with a total line.
pub fn table(costs: &[Cost]) -> Vec<Vec<String>> {
    let header = ["kernel", "cases", "expand (min)", "emitted lines"];
    let total_time = costs.iter().fold(0.0, |t, c| t + c.expand_seconds);
    let total_lines: usize = costs.iter().map(|c| c.lines).sum();
    let line = |c: &Cost| {
        vec![
            c.kernel.clone(),
            c.cases.join(", "),
            format!("{:.2} ms", c.expand_seconds * 1e3),
            c.lines.to_string(),
        ]
    };
    let total = vec![
        "total".to_string(),
        String::new(),
        format!("{:.2} ms", total_time * 1e3),
        total_lines.to_string(),
    ];
    std::iter::once(header.map(String::from).to_vec())
        .chain(costs.iter().map(line))
        .chain([total])
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kernel_of_cases_rs_is_found_with_its_cases() {
        let declarations = declarations(include_str!("cases.rs")).unwrap();
        let names: Vec<&str> = declarations.iter().map(|d| d.name.as_str()).collect();
        assert_eq!(names.len(), 17, "{names:?}");
        assert_eq!(names[0], "tiny");
        // Transposed convolutions (`name(x, weight) -> y = ...`) too.
        assert_eq!(names[14..], ["up_k2s2", "up3x3_s2", "gan4x4_s2"]);
        let up = declarations.iter().find(|d| d.name == "up_k2s2").unwrap();
        assert_eq!(up.cases, ["unet up k2s2"]);
        let conv3x3 = declarations.iter().find(|d| d.name == "conv3x3").unwrap();
        assert_eq!(
            conv3x3.cases,
            [
                "3x3 56",
                "3x3 14",
                "resnet 3x3 28",
                "resnet 3x3 7",
                "unet 3x3 112"
            ]
        );
        assert!(declarations.iter().all(|d| !d.cases.is_empty()));
    }

    #[test]
    fn documented_and_short_form_declarations_are_split() {
        let source = r#"
            conv_kernel! {
                /// docs; with { braces }
                pub a(x, w) = "nc,dc->nd";
                b(x, w) = "nc,dc->nd" { bias d; }
            }
            fn f() { case!("A", a, 1); }
        "#;
        let declarations = declarations(source).unwrap();
        let names: Vec<&str> = declarations.iter().map(|d| d.name.as_str()).collect();
        assert_eq!(names, ["a", "b"]);
        assert_eq!(declarations[0].cases, ["A"]);
        let costs = measure(&declarations, 1).unwrap();
        assert!(costs.iter().all(|c| c.lines > 10 && c.expand_seconds > 0.0));
        assert_eq!(table(&costs).last().unwrap()[0], "total");
    }

    #[test]
    fn children_cpu_time_grows_with_a_busy_child() {
        let before = children_cpu_seconds().unwrap();
        let busy = "i=0; while [ $i -lt 200000 ]; do i=$((i+1)); done";
        let status = Command::new("sh").args(["-c", busy]).status().unwrap();
        assert!(status.success());
        assert!(children_cpu_seconds().unwrap() > before);
    }

    #[test]
    fn machine_busy_time_grows_at_least_by_a_busy_childs_cpu_time() {
        let (busy, child) = (
            machine_busy_seconds().unwrap(),
            children_cpu_seconds().unwrap(),
        );
        let spin = "i=0; while [ $i -lt 300000 ]; do i=$((i+1)); done";
        let status = Command::new("sh").args(["-c", spin]).status().unwrap();
        assert!(status.success());
        let child = children_cpu_seconds().unwrap() - child;
        // Both count whole ticks, read at slightly different moments.
        assert!(machine_busy_seconds().unwrap() - busy >= child - 0.05);
        assert!(child > 0.0);
    }
}
