//! The benchmark: every case of cases.rs as forward, grad_x and grad_w+b at each thread
//! count, against the FMA peak measured in the same run and against PyTorch, plus the
//! cost of compiling the kernels. `--help` for the options.

mod accuracy;
mod bandwidth;
mod cases;
mod chart;
mod compile_cost;
mod document;
mod machine;
mod memory;
mod options;
mod peak;
mod report;
mod rounds;
mod timing;
mod torch;

use options::Options;
use report::Row;
use std::error::Error;
use std::path::Path;
use std::process::ExitCode;
use timing::Rule;

fn main() -> ExitCode {
    let options = match options::parse(std::env::args().skip(1)) {
        Ok(options) => options,
        Err(message) => {
            eprintln!("{message}");
            return ExitCode::from(2);
        }
    };
    if options.help {
        println!("{}", options::USAGE);
        return ExitCode::SUCCESS;
    }
    if let [case, pass] = &options.memory_probe[..] {
        memory_probe(case, pass);
        return ExitCode::SUCCESS;
    }
    if let Some(pass) = &options.profile {
        profile(&options, pass);
        return ExitCode::SUCCESS;
    }
    match run(&options) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("conv-bench: {error}");
            ExitCode::FAILURE
        }
    }
}

/// Calls one pass of every selected case, untimed, for a profiler to watch.
fn profile(options: &Options, pass: &str) {
    for case in selected_cases(options) {
        let call = match pass {
            "forward" => &case.forward,
            "grad_x" => &case.grad_x,
            _ => &case.grad_weight_bias,
        };
        for _ in 0..options.repeats {
            call();
        }
        println!("{}: {pass} x {}", case.name, options.repeats);
    }
}

/// Prints the peak memory of one pass of one case, on one thread ([`memory`]).
fn memory_probe(name: &str, pass: &str) {
    let Ok(pool) = rayon::ThreadPoolBuilder::new().num_threads(1).build() else {
        return;
    };
    // The cases are built inside the pool: their closures are not Send.
    let bytes = pool.install(|| {
        let case = cases::all().into_iter().find(|c| c.name == name)?;
        let call = match pass {
            "forward" => &case.forward,
            "grad_x" => &case.grad_x,
            _ => &case.grad_weight_bias,
        };
        memory::peak_above_now(call)
    });
    if let Some(bytes) = bytes {
        println!("{bytes}");
    }
}

fn run(options: &Options) -> Result<(), Box<dyn Error>> {
    let rule = if options.quick {
        Rule::QUICK
    } else {
        Rule::FULL
    };
    let cpu = machine::cpu();
    let load_at_start = machine::load_average();
    println!("machine: {cpu}");
    println!("timing: {}", rule.describe());
    println!("{}\n", document::FLOPS_NOTE);

    let (iterations, repeats) = if options.quick {
        peak::QUICK
    } else {
        peak::FULL
    };
    let iterations = (options.peak_iterations.unwrap_or(iterations), repeats);
    let rounds = options.rounds.unwrap_or(if options.quick { 1 } else { 3 });

    let source = include_str!("cases.rs");
    let declarations: Vec<_> = compile_cost::declarations(source)?
        .into_iter()
        .filter(|d| d.cases.iter().any(|c| options.selects(c)))
        .collect();
    let costs = compile_cost::measure(&declarations, if options.quick { 3 } else { 20 })?;
    println!("\ncost of compiling (conv_codegen::expand, in process):");
    print!("{}", report::text(&compile_cost::table(&costs)));

    let mut rows = Vec::new();
    let mut peaks: Vec<(usize, f64)> = options.threads.iter().map(|&t| (t, 0.0)).collect();
    let mut bandwidths = peaks.clone();
    let mut torch: Result<torch::TorchRun, String> = Err("--no-torch".to_string());
    for round in 1..=rounds {
        println!("\nround {round} of {rounds}");
        for (t, best) in &mut peaks {
            let flops = peak::peak(*t, iterations);
            println!("FMA peak, {t} thread(s): {:.1} GFLOP/s", flops / 1e9);
            *best = best.max(flops);
        }
        let mut these = Vec::new();
        for (&(threads, peak), (_, bandwidth)) in peaks.iter().zip(&mut bandwidths) {
            println!("\n{threads} thread(s):");
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()?;
            let copy =
                pool.install(|| bandwidth::copy_bandwidth(if options.quick { 3 } else { 5 }));
            println!(
                "memory bandwidth (copy, read + written): {:.1} GB/s",
                copy / 1e9
            );
            *bandwidth = bandwidth.max(copy);
            // The cases are built inside the pool: their closures are not Send.
            these.extend(pool.install(|| measure_cases(options, &rule, threads, peak)));
        }
        rounds::merge_rows(&mut rows, these);
        if options.torch {
            let cases = selected_cases(options);
            let refs: Vec<&cases::Case> = cases.iter().collect();
            println!(
                "\nPyTorch ({} {}):",
                options.python,
                options.torch_script.display()
            );
            let request = torch::request(&refs, &options.threads, &rule);
            torch = match (
                torch::run(&options.python, &options.torch_script, &request),
                torch,
            ) {
                (Ok(run), Ok(kept)) => Ok(rounds::merge_torch(Some(kept), run)),
                (Ok(run), Err(_)) => Ok(rounds::merge_torch(None, run)),
                (Err(why), _) => Err(why),
            };
        }
    }
    // Every row against the best peak of its thread count.
    for row in &mut rows {
        row.peak = peaks
            .iter()
            .find(|(t, _)| *t == row.threads)
            .map_or(row.peak, |p| p.1);
    }
    for (t, flops) in &peaks {
        let (t0, first) = peaks[0];
        println!(
            "FMA peak, {t} thread(s), best round: {:.1} GFLOP/s ({:.2}x the {t0}-thread peak)",
            flops / 1e9,
            flops / first
        );
    }
    let order: Vec<&str> = selected_cases(options).iter().map(|c| c.name).collect();
    rows.sort_by_key(|r| (order.iter().position(|&n| n == r.case), r.threads));

    let version = match &torch {
        Ok(run) => {
            for row in &mut rows {
                row.torch = run.get(&row.case, row.threads);
            }
            Ok(run.version.clone())
        }
        Err(why) => {
            println!("PyTorch left out: {why}");
            Err(why.clone())
        }
    };

    println!();
    print!("{}", report::text(&report::results_table(&rows)));
    for &t in &options.threads {
        for g in report::geomeans(&rows, t) {
            println!(
                "geometric mean PyTorch/ours, {t} thread(s), {} ({}): forward {}, forward+backward {}",
                g.what,
                g.cases,
                report::ratio(g.forward),
                report::ratio(g.forward_backward)
            );
        }
    }

    let depthwise = bandwidth::table(&rows, &selected_cases(options), &bandwidths);
    if depthwise.len() > 1 {
        println!(
            "\ndepthwise passes against the memory bandwidth: {}",
            document::BANDWIDTH_NOTE
        );
        print!("{}", report::text(&depthwise));
    }
    println!("\nWinograd's rounding: {}", document::ACCURACY_NOTE);
    let errors: Vec<accuracy::Errors> = selected_cases(options)
        .iter()
        .filter(|c| !c.tiny && !c.torch.transposed)
        .filter_map(|c| {
            let passes = (c.winograd_errors)();
            passes
                .iter()
                .any(Option::is_some)
                .then_some(accuracy::Errors {
                    case: c.name,
                    passes,
                })
        })
        .collect();
    print!("{}", report::text(&accuracy::table(&errors)));

    // Peak memory of the layers with a pass on Winograd's tiles, one process per pass.
    let memory_rows: Vec<_> = if options.quick {
        Vec::new()
    } else {
        selected_cases(options)
            .iter()
            .filter(|c| errors.iter().any(|e| e.case == c.name))
            .map(|c| {
                let ours = memory::OURS.map(|pass| memory::ours(c, pass));
                let torch = memory::TORCH.map(|pass| {
                    options
                        .torch
                        .then(|| memory::torch(&options.python, &options.torch_script, c, pass))?
                });
                (c.name, ours, torch)
            })
            .collect()
    };
    let memory_table = memory::table(&memory_rows);
    if !memory_rows.is_empty() {
        println!("\npeak memory (MiB): {}", document::MEMORY_NOTE);
        print!("{}", report::text(&memory_table));
    }

    // The load at the end of the measurements of kernels, before the build below, which
    // loads every CPU itself.
    let load = (load_at_start, machine::load_average());
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("conv-bench is inside the workspace");
    let build = options.build_time.then(|| {
        println!("\ntiming cargo build --release --examples from clean ...");
        compile_cost::build_examples(workspace)
    });
    println!("{}", document::build_line(build.as_ref()));
    println!("{}", machine::load_line(load.0, load.1));

    if options.write {
        let chart_path = "docs/bench_ratios.svg";
        let args: Vec<String> = std::env::args().skip(1).collect();
        let doc = document::Document {
            command: format!("cargo run --release -p conv-bench -- {}", args.join(" ")),
            date: machine::today(),
            cpu,
            load,
            peaks: &peaks,
            rule: format!(
                "{}. The whole set ran in {rounds} round(s), ours then PyTorch's in each, and \
                 every figure, the FMA peak included, is its best round's: the speed of this \
                 shared machine drifts over minutes",
                rule.describe()
            ),
            rows: &rows,
            threads: &options.threads,
            torch: &version,
            costs: &costs,
            errors: &errors,
            memory: &memory_table,
            bandwidths: &bandwidths,
            depthwise: &depthwise,
            build: build.as_ref(),
            chart: chart_path,
        };
        let out = options.out.as_deref().unwrap_or(workspace);
        std::fs::create_dir_all(out.join("docs"))?;
        let chart = document::chart(&rows, &options.threads);
        std::fs::write(out.join(chart_path), chart)?;
        std::fs::write(out.join("BENCHMARKS.md"), document::markdown(&doc))?;
        println!("wrote BENCHMARKS.md and {chart_path} in {}", out.display());
    }
    Ok(())
}

fn selected_cases(options: &Options) -> Vec<cases::Case> {
    let mut cases = cases::all();
    cases.retain(|c| options.selects(c.name));
    cases
}

/// Our three passes of every selected case, on the current rayon pool.
fn measure_cases(options: &Options, rule: &Rule, threads: usize, peak: f64) -> Vec<Row> {
    selected_cases(options)
        .iter()
        .map(|case| {
            let row = Row {
                case: case.name.to_string(),
                shapes: report::shapes(case),
                threads,
                tiny: case.tiny,
                transposed: case.torch.transposed,
                flops: 2.0 * case.macs,
                peak,
                forward: timing::measure(&*case.forward, rule),
                grad_x: timing::measure(&*case.grad_x, rule),
                grad_weight_bias: timing::measure(&*case.grad_weight_bias, rule),
                torch: None,
            };
            let table = report::results_table(std::slice::from_ref(&row));
            let cells = &table[1];
            println!(
                "{:10} {}t  forward {:20} grad_x {:20} grad_w+b {}",
                row.case, threads, cells[3], cells[4], cells[5]
            );
            row
        })
        .collect()
}
