//! The command line.

use std::path::PathBuf;

pub const USAGE: &str = "\
usage: cargo run --release -p conv-bench -- [OPTIONS]

  --quick            a short run: fewer repeats, a shorter peak measurement
  --write            write BENCHMARKS.md and docs/bench_ratios.svg at the repository root
  --threads 1,2      thread counts to run (default 1,2)
  --case NAME        only the cases whose name contains NAME, or is NAME with '=NAME'
                     (repeatable, or NAME,NAME)
  --no-torch         do not time PyTorch
  --torch-script F   the PyTorch timing script (default conv-bench/torch_bench.py)
  --python P         the Python interpreter (default python3)
  --peak-iterations N  FMA loop iterations per repeat of the peak measurement
                     (default 5000000, 2000000 with --quick)
  --out DIR          where --write writes (default: the repository root)
  --build-time       also time `cargo build --release --examples` from clean, in a
                     fresh target directory (loads every core for a minute or two)
  --profile PASS     no timing: run PASS (forward, grad_x or grad_w) of each selected case
                     --repeats times on the calling thread, for perf or callgrind
  --repeats N        calls per pass with --profile (default 10)
  --rounds N         run the whole set N times, ours and PyTorch's in turn, and keep each
                     figure's best round (default 3, 1 with --quick)
  --memory-probe CASE PASS
                     no timing: print the peak memory in bytes of PASS (forward, grad_x
                     or grad_w+b) of CASE on one thread (the full run calls this in a
                     fresh process for each pass of the layers on Winograd's tiles)
  --help             this text";

#[derive(Clone, Debug, PartialEq)]
pub struct Options {
    pub quick: bool,
    pub write: bool,
    pub threads: Vec<usize>,
    pub cases: Vec<String>,
    pub torch: bool,
    pub torch_script: PathBuf,
    pub python: String,
    pub build_time: bool,
    pub peak_iterations: Option<u64>,
    pub out: Option<PathBuf>,
    pub help: bool,
    pub profile: Option<String>,
    pub repeats: usize,
    pub rounds: Option<usize>,
    /// `[case, pass]` for `--memory-probe`, else empty.
    pub memory_probe: Vec<String>,
}

impl Options {
    /// Whether the case named `name` is selected by `--case`.
    pub fn selects(&self, name: &str) -> bool {
        let selects = |c: &String| match c.strip_prefix('=') {
            Some(exact) => name == exact,
            None => name.contains(c.as_str()),
        };
        self.cases.is_empty() || self.cases.iter().any(selects)
    }
}

pub fn parse(args: impl IntoIterator<Item = String>) -> Result<Options, String> {
    let mut options = Options {
        quick: false,
        write: false,
        threads: vec![1, 2],
        cases: Vec::new(),
        torch: true,
        torch_script: PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("torch_bench.py"),
        python: "python3".into(),
        build_time: false,
        peak_iterations: None,
        out: None,
        help: false,
        profile: None,
        repeats: 10,
        rounds: None,
        memory_probe: Vec::new(),
    };
    let mut args = args.into_iter();
    while let Some(arg) = args.next() {
        let mut value = |name: &str| args.next().ok_or(format!("{name} needs a value"));
        match arg.as_str() {
            "--quick" => options.quick = true,
            "--write" => options.write = true,
            "--no-torch" => options.torch = false,
            "--build-time" => options.build_time = true,
            "--help" | "-h" => options.help = true,
            "--threads" => {
                options.threads = value("--threads")?
                    .split(',')
                    .map(|t| match t.trim().parse::<usize>() {
                        Ok(n) if n > 0 => Ok(n),
                        _ => Err(format!("--threads: `{t}` is not a positive integer")),
                    })
                    .collect::<Result<_, _>>()?;
            }
            "--case" => {
                let names = value("--case")?;
                options
                    .cases
                    .extend(names.split(',').map(|n| n.trim().to_string()));
            }
            "--torch-script" => options.torch_script = value("--torch-script")?.into(),
            "--python" => options.python = value("--python")?,
            "--out" => options.out = Some(value("--out")?.into()),
            "--peak-iterations" => {
                let n = value("--peak-iterations")?;
                let n = n.parse().map_err(|_| format!("--peak-iterations: `{n}`"))?;
                options.peak_iterations = Some(n);
            }
            "--profile" => {
                let pass = value("--profile")?;
                if !["forward", "grad_x", "grad_w"].contains(&pass.as_str()) {
                    return Err(format!(
                        "--profile: `{pass}` is not forward, grad_x or grad_w"
                    ));
                }
                options.profile = Some(pass);
            }
            "--memory-probe" => {
                options.memory_probe = vec![value("--memory-probe")?, value("--memory-probe")?];
            }
            "--repeats" => {
                let n = value("--repeats")?;
                options.repeats = n.parse().map_err(|_| format!("--repeats: `{n}`"))?;
            }
            "--rounds" => {
                let n = value("--rounds")?;
                match n.parse::<usize>() {
                    Ok(n) if n > 0 => options.rounds = Some(n),
                    _ => return Err(format!("--rounds: `{n}` is not a positive integer")),
                }
            }
            other => return Err(format!("unknown argument `{other}`\n{USAGE}")),
        }
    }
    Ok(options)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parsed(args: &[&str]) -> Result<Options, String> {
        parse(args.iter().map(|a| a.to_string()))
    }

    #[test]
    fn defaults_and_flags() {
        let options = parsed(&[]).unwrap();
        assert_eq!(options.threads, [1, 2]);
        assert!(options.torch && !options.quick && !options.write && options.selects("stem"));
        let options = parsed(&["--quick", "--threads", "2", "--case", "3x3,tiny", "--write"]);
        let options = options.unwrap();
        assert!(options.quick && options.write);
        assert_eq!(options.threads, [2]);
        assert!(options.selects("3x3 56") && options.selects("tiny") && !options.selects("stem"));
        let exact = parsed(&["--case", "=3x3 s2"]).unwrap();
        assert!(exact.selects("3x3 s2") && !exact.selects("unet up 3x3 s2"));
    }

    #[test]
    fn errors() {
        assert!(parsed(&["--threads", "0"]).is_err());
        assert!(parsed(&["--threads"]).is_err());
        assert!(parsed(&["--fast"]).is_err());
        assert!(parsed(&["--rounds", "0"]).is_err());
        assert_eq!(parsed(&["--rounds", "2"]).unwrap().rounds, Some(2));
    }
}
