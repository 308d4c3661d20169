//! The front end never panics and never hangs, whatever the text: property tests that feed
//! generated kernel texts through the whole pipeline (`pipeline::run`: parse → check →
//! derive → derivation text → kernel source round trip → `emit::expand` on the same
//! tokens) and require code or errors with messages from each input, within a time
//! budget per input.
//!
//! The inputs are kernels assembled from pieces (right and wrong letters, operands,
//! statements, options, integers up to and beyond 2^64, unicode), known good kernels,
//! both with random mutations (characters and tokens deleted, inserted, duplicated,
//! replaced, the text cut short), random text over the characters of the grammar, random
//! unicode, and large inputs (long specs with repeated letters, many operands, long
//! statement lists, deep nesting).
//!
//! `CONV_FUZZ_CASES` sets the number of generated inputs of a run, split among the tests
//! below (default 100,000: about 50 s of CPU in a `cargo test` build, which optimises syn,
//! quote, proc-macro2 and conv-codegen but keeps overflow checks: see the workspace's
//! Cargo.toml). `CONV_FUZZ_SEED` replays a run (every test prints its seed). A longer
//! local run, about 40 minutes on two cores (not with `--release`, which would turn
//! arithmetic overflows into silent wrap-arounds instead of failures):
//!
//! ```sh
//! CONV_FUZZ_CASES=5000000 cargo test -p conv-codegen --test fuzz_front_end -- --nocapture
//! ```
//!
//! A failing input is shrunk by proptest and printed; make it a named test in
//! `robustness.rs` when fixing it.

mod pipeline;

use proptest::prelude::*;
use proptest::sample::{select, Index};
use proptest::test_runner::{Config, RngAlgorithm, RngSeed, TestCaseError, TestRunner};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The most one input may take in the front end (parse to expansion; twice in a row, so
/// that a stall of the machine is not a failure): far above what any input needs (under
/// 0.1 s in a debug build, 0.5 s on a machine loaded five times over), far below what a
/// blow-up needs.
const BUDGET: Duration = Duration::from_secs(1);
/// An input still running after this long is a hang: the watchdog stops the process.
const HANG: Duration = Duration::from_secs(30);

/// The number of generated inputs of the whole run.
fn total_cases() -> u64 {
    std::env::var("CONV_FUZZ_CASES")
        .ok()
        .and_then(|v| v.replace('_', "").parse().ok())
        .unwrap_or(100_000)
}

/// Runs the pipeline on `share` of the run's inputs, drawn from `strategy`.
fn fuzz<S>(name: &str, share: f64, strategy: S)
where
    S: Strategy<Value = String>,
{
    let cases = ((total_cases() as f64 * share).ceil() as u64).clamp(1, u32::MAX as u64) as u32;
    let seed: u64 = match std::env::var("CONV_FUZZ_SEED") {
        Ok(v) => v.parse().expect("CONV_FUZZ_SEED is a u64"),
        Err(_) => std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64),
    };
    eprintln!("{name}: {cases} inputs, CONV_FUZZ_SEED={seed}");
    let config = Config {
        cases,
        failure_persistence: None,
        max_shrink_iters: 2_000,
        // ChaCha, the default, takes a third of the run in a debug build.
        rng_algorithm: RngAlgorithm::XorShift,
        rng_seed: RngSeed::Fixed(seed),
        ..Config::default()
    };
    let mut runner = TestRunner::new(config);
    let watchdog = Watchdog::start(name);
    let start = Instant::now();
    // The slowest input, its text, and the time of the front end on all inputs.
    let slowest = Mutex::new((Duration::ZERO, String::new(), Duration::ZERO));
    let result = runner.run(&strategy, |text| {
        watchdog.begin(&text);
        // Parsing the expansion as Rust costs as much as the front end itself: one text
        // in 16 gets it.
        let took = pipeline::run_with(&text, text.len() % 16 == 0).took;
        watchdog.end();
        let mut slow = slowest.lock().unwrap_or_else(|e| e.into_inner());
        slow.2 += took;
        if took > slow.0 {
            slow.0 = took;
            slow.1 = text.chars().take(200).collect();
        }
        // Other processes can stall one run; a blow-up is slow every time.
        if took > BUDGET && pipeline::run_with(&text, false).took > BUDGET {
            return Err(TestCaseError::fail(format!(
                "took {took:?}, and again more than the budget of {BUDGET:?}"
            )));
        }
        Ok(())
    });
    let (took, text, front_end) = slowest.into_inner().unwrap_or_else(|e| e.into_inner());
    eprintln!(
        "{name}: {cases} inputs in {:?} ({front_end:?} in the front end); slowest {took:?}: {text:?}",
        start.elapsed()
    );
    if let Err(e) = result {
        panic!("{name} (CONV_FUZZ_SEED={seed}): {e}");
    }
}

/// Stops the process, naming the input, when one input runs for longer than [`HANG`]
/// (a panic cannot interrupt a loop that never ends).
struct Watchdog {
    current: Arc<Mutex<Option<(Instant, String)>>>,
}

impl Watchdog {
    fn start(name: &str) -> Self {
        let current: Arc<Mutex<Option<(Instant, String)>>> = Arc::default();
        let watched = Arc::downgrade(&current);
        let name = name.to_string();
        std::thread::spawn(move || loop {
            std::thread::sleep(Duration::from_millis(200));
            let Some(current) = watched.upgrade() else {
                return;
            };
            let guard = current.lock().unwrap_or_else(|e| e.into_inner());
            if let Some((start, text)) = guard.as_ref() {
                if start.elapsed() > HANG {
                    eprintln!("{name}: hang: an input has run for {HANG:?}: {text:?}");
                    std::process::exit(101);
                }
            }
        });
        Watchdog { current }
    }

    fn begin(&self, text: &str) {
        *self.current.lock().unwrap_or_else(|e| e.into_inner()) =
            Some((Instant::now(), text.to_string()));
    }

    fn end(&self) {
        *self.current.lock().unwrap_or_else(|e| e.into_inner()) = None;
    }
}

// ---------------------------------------------------------------------------------------
// Pieces of kernel texts.

/// The axis letters most pieces use, so that generated statements often name real axes.
const AXES: &[char] = &['n', 'c', 'h', 'w', 'k', 'j', 'd', 'g', 'a', 'b'];

fn axis_char() -> impl Strategy<Value = char> {
    prop_oneof![
        40 => select(AXES),
        2 => select(&['A', 'Z', 'q', 'z', 'K'][..]),
        1 => select(&[' ', '.', ',', '-', '>', '1', '_', '"', '\\', '\n', 'é', '→', 'ß', '\u{301}', '\0'][..]),
    ]
}

fn subscript() -> impl Strategy<Value = String> {
    prop::collection::vec(axis_char(), 0..7).prop_map(|v| v.into_iter().collect())
}

fn arrow() -> impl Strategy<Value = &'static str> {
    prop_oneof![30 => Just("->"), 1 => select(&["", "-", ">", "->->", " -> ", "=>", "—>"][..])]
}

fn operand_name() -> impl Strategy<Value = String> {
    prop_oneof![
        40 => select(&["x", "w", "a", "b", "weight"][..]),
        3 => select(&[
            "r#type", "r#x", "_", "self", "café", "grad_y", "bias", "x1", "X", "out", "acc",
            "extents", "Kernel", "π", "r#self", "r#_x", "s_x", "st_out", "i_h", "len_k", "super",
            "r#fn", "Σ",
        ][..]),
    ]
    .prop_map(str::to_string)
}

fn kernel_name() -> impl Strategy<Value = &'static str> {
    prop_oneof![
        20 => select(&["k", "conv", "mm", "conv2d"][..]),
        1 => select(&["r#mod", "r#k", "Kernel", "_k", "_", "k2", "café", "self", "SPEC", "r#crate", "𝔨", "fn", "r#async"][..]),
    ]
}

/// An integer as written: mostly small, sometimes at or beyond the limits of u32, u64
/// and u128, sometimes not a plain integer at all.
fn integer() -> impl Strategy<Value = String> {
    prop_oneof![
        20 => (0u8..6).prop_map(|n| n.to_string()),
        4 => select(&["8", "9", "16", "17", "64", "1000"][..]).prop_map(str::to_string),
        4 => select(&[
            "4294967296",
            "9223372036854775807",
            "9223372036854775808",
            "18446744073709551615",
            "18446744073709551616",
            "340282366920938463463374607431768211456",
            "99999999999999999999999999999999999999999999999999",
        ][..]).prop_map(str::to_string),
        2 => any::<u64>().prop_map(|n| n.to_string()),
        1 => select(&["0x10", "1_0", "3usize", "007", "-1", "2.5", "1e3", "0b1", "x", "'a'", "\"3\"", "()"][..]).prop_map(str::to_string),
    ]
}

/// A word naming an axis in a statement: mostly one of the common letters.
fn axis_word() -> impl Strategy<Value = String> {
    prop_oneof![
        30 => select(AXES).prop_map(String::from),
        1 => select(&["hh", "1", "é", "r#h", "_", "H", "z", "self", "by", "unfold"][..]).prop_map(str::to_string),
    ]
}

fn option() -> impl Strategy<Value = String> {
    let key = prop_oneof![
        10 => select(&["stride", "dilation", "pad", "mode"][..]),
        1 => select(&["strides", "padding", "r#pad", "size", "by"][..]),
    ];
    let value = prop_oneof![
        10 => integer(),
        4 => (integer(), integer()).prop_map(|(a, b)| format!("({a}, {b})")),
        4 => select(&["same", "valid", "zeros", "reflect", "replicate", "circular"][..]).prop_map(str::to_string),
        1 => select(&["bogus", "(1)", "(1, 2, 3)", "(1,)", "()", "[1, 2]", "-1", "r#same", "Same"][..]).prop_map(str::to_string),
    ];
    (key, value).prop_map(|(k, v)| format!("{k} = {v}"))
}

fn statement() -> impl Strategy<Value = String> {
    let unfold = (
        operand_name(),
        axis_word(),
        axis_word(),
        prop::collection::vec(option(), 0..4),
    )
        .prop_map(|(op, a, k, options)| {
            let mut s = format!("unfold {op}.{a} by {k}");
            for o in options {
                s.push_str(", ");
                s.push_str(&o);
            }
            s.push(';');
            s
        });
    let size = prop::collection::vec((axis_word(), integer()), 1..4).prop_map(|entries| {
        let entries: Vec<String> = entries.iter().map(|(a, n)| format!("{a} = {n}")).collect();
        format!("size {};", entries.join(", "))
    });
    prop_oneof![
        8 => unfold,
        4 => size,
        2 => axis_word().prop_map(|a| format!("bias {a};")),
        2 => select(&["f32", "f64", "f16", "i32", "F64", "r#f64"][..]).prop_map(|t| format!("dtype {t};")),
        1 => select(&[
            "", ";", ";;", "unfold;", "unfold x.", "unfold x.h by", "unfold x.h by k,;",
            "unfold x.h by k stride = 2;", "unfold x h by k;", "size;", "size k =", "size k = 3,;",
            "bias;", "dtype;", "pad = 1;", "{ }", "( )", "#[doc] unfold x.h by k;",
            "unfold x.h by k, stride = 2, stride = 3;", "bias d; bias d;", "const X: u8 = 1;",
        ][..]).prop_map(str::to_string),
    ]
}

fn doc() -> impl Strategy<Value = &'static str> {
    select(
        &[
            "/// A kernel.\n",
            "/** block */\n",
            "#[doc = \"x\"]\n",
            "#[doc = 1]\n",
            "#[doc(hidden)]\n",
            "#[inline]\n",
            "#[cfg(any())]\n",
            "#![doc = \"inner\"]\n",
            "#[]\n",
        ][..],
    )
}

fn visibility() -> impl Strategy<Value = &'static str> {
    prop_oneof![
        10 => Just(""),
        10 => Just("pub "),
        1 => select(&["pub(crate) ", "pub(super) ", "pub(in crate::a) ", "pub(self) ", "pub(x) ", "crate "][..]),
    ]
}

/// The spec as a literal: mostly a plain string, sometimes raw, a byte string, or none.
fn spec_literal(spec: String, form: u8) -> String {
    match form {
        0 => format!("r#\"{spec}\"#"),
        1 => format!("b{spec:?}"),
        2 => spec,
        3 => format!("{spec:?}{spec:?}"),
        _ => format!("{spec:?}"),
    }
}

/// One kernel declaration from pieces: operands and subscripts mostly in equal numbers.
fn kernel() -> impl Strategy<Value = String> {
    let header = (
        prop::collection::vec(doc(), 0..2),
        visibility(),
        kernel_name(),
        prop::collection::vec((operand_name(), subscript()), 0..5),
        0u8..12,
        subscript(),
        arrow(),
        0u8..40,
    );
    let body = prop_oneof![
        12 => prop::collection::vec(statement(), 0..6).prop_map(|s| format!(" {{ {} }}", s.join(" "))),
        3 => Just(";".to_string()),
        1 => select(&["", " {", " }", " { ; }", " {} {}", " [ ]", " ( )", ";;"][..]).prop_map(str::to_string),
    ];
    (header, body).prop_map(
        |((docs, vis, name, pairs, extra, out, arrow, form), body)| {
            let mut names: Vec<&str> = pairs.iter().map(|(n, _)| n.as_str()).collect();
            let mut subscripts: Vec<&str> = pairs.iter().map(|(_, s)| s.as_str()).collect();
            match extra {
                0 => {
                    names.pop();
                }
                1 => subscripts.push("ab"),
                _ => {}
            }
            let spec = format!("{}{arrow}{out}", subscripts.join(","));
            format!(
                "{}{vis}{name}({}) = {}{body}",
                docs.concat(),
                names.join(", "),
                spec_literal(spec, form)
            )
        },
    )
}

/// Numbers drawn by proptest, read as a sequence of choices: shrinking them towards 0
/// shrinks a kernel towards the first choice of each piece.
struct Choices<'a> {
    values: &'a [u16],
    at: usize,
}

impl Choices<'_> {
    /// A number below `n`.
    fn below(&mut self, n: usize) -> usize {
        let v = self.values.get(self.at).copied().unwrap_or(0);
        self.at += 1;
        v as usize % n.max(1)
    }

    fn pick<'s>(&mut self, from: &[&'s str]) -> &'s str {
        from[self.below(from.len())]
    }
}

/// A kernel whose pieces agree with each other: operands as many as subscripts, unfolds
/// of axes the operand has by windows it has that are not in the output, sizes of axes
/// of the spec. Most of them pass the checks, so derivation, kernel source and code
/// generation run on every combination of options, small and huge.
fn consistent_kernel() -> impl Strategy<Value = String> {
    prop::collection::vec(any::<u16>(), 80)
        .prop_map(|v| build_kernel(&mut Choices { values: &v, at: 0 }))
}

fn build_kernel(c: &mut Choices) -> String {
    const NAMES: [&str; 4] = ["x", "w", "a", "b"];
    const POOL: [char; 10] = ['n', 'c', 'h', 'w', 'k', 'j', 'd', 'g', 'e', 'i'];
    let n = 1 + c.below(4);
    let subscripts: Vec<Vec<char>> = (0..n)
        .map(|_| {
            let mut s = Vec::new();
            for _ in 0..c.below(7) {
                let letter = POOL[c.below(POOL.len())];
                if !s.contains(&letter) {
                    s.push(letter);
                }
            }
            s
        })
        .collect();
    let mut all: Vec<char> = Vec::new();
    for &letter in subscripts.iter().flatten() {
        if !all.contains(&letter) {
            all.push(letter);
        }
    }
    let mut statements = Vec::new();
    let mut windows = Vec::new();
    for _ in 0..c.below(4) {
        let i = c.below(n);
        let s = &subscripts[i];
        if s.len() < 2 {
            continue;
        }
        let (a, k) = (s[c.below(s.len())], s[c.below(s.len())]);
        windows.push(k);
        let mut u = format!("unfold {}.{a} by {k}", NAMES[i]);
        if c.below(2) == 0 {
            u += &format!(
                ", stride = {}",
                c.pick(&[
                    "1",
                    "2",
                    "3",
                    "5",
                    "8",
                    "9",
                    "4294967296",
                    "18446744073709551615"
                ])
            );
        }
        if c.below(2) == 0 {
            u += &format!(
                ", dilation = {}",
                c.pick(&[
                    "1",
                    "2",
                    "3",
                    "7",
                    "9223372036854775808",
                    "18446744073709551615"
                ])
            );
        }
        if c.below(2) == 0 {
            u += &format!(
                ", pad = {}",
                c.pick(&[
                    "0",
                    "1",
                    "2",
                    "7",
                    "(0, 3)",
                    "(2, 1)",
                    "same",
                    "valid",
                    "18446744073709551615",
                    "(18446744073709551615, 18446744073709551615)",
                    "(0, 18446744073709551615)",
                ])
            );
        }
        if c.below(2) == 0 {
            u += &format!(
                ", mode = {}",
                c.pick(&["zeros", "reflect", "replicate", "circular"])
            );
        }
        statements.push(u + ";");
        // A window in no other operand needs a fixed extent.
        if c.below(5) != 0
            && !subscripts
                .iter()
                .enumerate()
                .any(|(j, s)| j != i && s.contains(&k))
        {
            statements.push(format!(
                "size {k} = {};",
                c.pick(&["1", "2", "3", "4", "16", "17"])
            ));
        }
    }
    let output: Vec<char> = all
        .iter()
        .copied()
        .filter(|a| !windows.contains(a))
        .filter(|_| c.below(3) != 0)
        .collect();
    for _ in 0..c.below(3) {
        if all.is_empty() {
            break;
        }
        let a = all[c.below(all.len())];
        let n = c.pick(&[
            "1",
            "2",
            "3",
            "4",
            "5",
            "16",
            "17",
            "40",
            "4294967296",
            "18446744073709551615",
        ]);
        statements.push(format!("size {a} = {n};"));
    }
    if c.below(3) == 0 && !output.is_empty() {
        statements.push(format!("bias {};", output[c.below(output.len())]));
    }
    if c.below(3) == 0 {
        statements.push("dtype f64;".into());
    }
    let subscripts: Vec<String> = subscripts.iter().map(|s| s.iter().collect()).collect();
    format!(
        "k({}) = \"{}->{}\" {{ {} }}",
        NAMES[..n].join(", "),
        subscripts.join(","),
        output.iter().collect::<String>(),
        statements.join(" ")
    )
}

/// Known good kernels, the starting points of mutations.
const SEEDS: &[&str] = &[
    r#"/// 3×3 convolution, stride 2, zero padding 1.
    pub conv2d_s2(x, weight) = "nchwkj,dckj->ndhw" {
        unfold x.h by k, stride = 2, pad = 1;
        unfold x.w by j, stride = 2, pad = 1;
        size k = 3, j = 3;
        bias d;
    }"#,
    r#"pub matmul(a, b) = "ik,kj->ij";"#,
    r#"k(x, w) = "nclk,dck->ndl" { unfold x.l by k, stride = 3, dilation = 2, pad = (1, 4), mode = reflect; bias d; dtype f64; }"#,
    r#"dw(x, w) = "nchwkj,ckj->nchw" { unfold x.h by k, pad = same, mode = circular; unfold x.w by j, pad = same, mode = replicate; size k = 5, j = 5; }"#,
    r#"grouped(x, w) = "ngchwkj,gdckj->ngdhw" { unfold x.h by k; unfold x.w by j; size h = 9, w = 9; }"#,
    r#"nhwc(x, w) = "nhwkjc,kjcd->nhwd" { unfold x.h by k, dilation = 3; unfold x.w by j, stride = 4; }"#,
    r#"conv3d(x, w) = "ncdhwijk,ecijk->nedhw" { unfold x.d by i; unfold x.h by j; unfold x.w by k; size i = 2, j = 2, k = 2; }
       pool(x) = "nclk->ncl" { unfold x.l by k, stride = 2; size k = 2; }
       chain(a, b, c) = "ij,jk,kl->il";"#,
    r#"two(x, w) = "lkj,kj->l" { unfold x.l by k; unfold w.k by j, pad = 2; size j = 3; }"#,
];

/// A change to a text, at a position drawn as an [`Index`] into its characters.
#[derive(Clone, Debug)]
enum Mutation {
    Delete(Index, usize),
    Insert(Index, &'static str),
    Duplicate(Index, usize),
    Replace(Index, char),
    Truncate(Index),
}

/// Tokens and fragments that mutations insert.
const DICTIONARY: &[&str] = &[
    ";",
    "{",
    "}",
    "(",
    ")",
    "[",
    "]",
    "\"",
    ",",
    ".",
    "=",
    "->",
    "-",
    ">",
    "unfold",
    "size",
    "bias",
    "dtype",
    "by",
    "stride = 0",
    "pad = same",
    "mode = reflect",
    "dilation = 9",
    "18446744073709551616",
    "18446744073709551615",
    "0",
    "r#type",
    "é",
    "'a",
    "/*",
    "*/",
    "//",
    "#",
    "#[doc]",
    "\n",
    " ",
    "k(x) = \"i->i\";",
    "\\",
    "b\"x\"",
    "0x",
    "1e9",
    "'",
    "🦀",
    "\u{0}",
    "\u{feff}",
    "pub",
    "x.h",
    "k",
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ",
    "(1, 2)",
    "r\"",
    "\"#",
    "size k = 18446744073709551615;",
    "unfold x.h by k, stride = 18446744073709551615;",
];

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        3 => (any::<Index>(), 1usize..8).prop_map(|(i, n)| Mutation::Delete(i, n)),
        4 => (any::<Index>(), select(DICTIONARY)).prop_map(|(i, t)| Mutation::Insert(i, t)),
        1 => (any::<Index>(), 1usize..40).prop_map(|(i, n)| Mutation::Duplicate(i, n)),
        2 => (any::<Index>(), any::<char>()).prop_map(|(i, c)| Mutation::Replace(i, c)),
        1 => any::<Index>().prop_map(Mutation::Truncate),
    ]
}

fn mutate(text: &str, mutations: &[Mutation]) -> String {
    let mut chars: Vec<char> = text.chars().collect();
    for m in mutations {
        let at = |i: &Index, len: usize| i.index(len + 1);
        match m {
            Mutation::Delete(i, n) => {
                let start = at(i, chars.len());
                let end = (start + n).min(chars.len());
                chars.drain(start..end);
            }
            Mutation::Insert(i, t) => {
                let start = at(i, chars.len());
                chars.splice(start..start, t.chars());
            }
            Mutation::Duplicate(i, n) => {
                let start = at(i, chars.len());
                let end = (start + n).min(chars.len());
                let copy: Vec<char> = chars[start..end].to_vec();
                chars.splice(end..end, copy);
            }
            Mutation::Replace(i, c) => {
                if !chars.is_empty() {
                    let i = i.index(chars.len());
                    chars[i] = *c;
                }
            }
            Mutation::Truncate(i) => {
                let end = at(i, chars.len());
                chars.truncate(end);
            }
        }
    }
    chars.into_iter().collect()
}

fn mutations(max: usize) -> impl Strategy<Value = Vec<Mutation>> {
    prop_oneof![
        1 => Just(Vec::new()),
        2 => prop::collection::vec(mutation(), 1..max),
    ]
}

// ---------------------------------------------------------------------------------------
// The tests.

/// Kernels assembled from pieces, one to three per text, half of them mutated.
#[test]
fn generated_kernels() {
    let strategy = (prop::collection::vec(kernel(), 1..4), mutations(4))
        .prop_map(|(kernels, m)| mutate(&kernels.join("\n"), &m));
    fuzz("generated_kernels", 0.35, strategy);
}

/// Kernels whose pieces agree, a few of them mutated.
#[test]
fn consistent_kernels() {
    let strategy = (consistent_kernel(), mutations(3), 0u8..4).prop_map(|(kernel, m, keep)| {
        if keep == 0 {
            mutate(&kernel, &m)
        } else {
            kernel
        }
    });
    fuzz("consistent_kernels", 0.2, strategy);
}

/// Known good kernels, mutated.
#[test]
fn mutated_kernels() {
    let strategy = (select(SEEDS), prop::collection::vec(mutation(), 1..6))
        .prop_map(|(seed, m)| mutate(seed, &m));
    fuzz("mutated_kernels", 0.3, strategy);
}

/// Random text over the characters of the grammar, and random unicode.
#[test]
fn random_text() {
    const GRAMMAR: &[char] = &[
        'k', 'x', 'w', 'n', 'c', 'h', 'j', 'd', 'p', 'u', 'b', 'y', 's', 'i', 'e', '(', ')', '{',
        '}', '[', ']', '"', ',', '.', '=', '-', '>', ';', ' ', '\n', '0', '1', '2', '#', '/', '*',
        '\'', '\\', 'r', '_', 'é',
    ];
    let strategy = prop_oneof![
        3 => prop::collection::vec(select(GRAMMAR), 0..80).prop_map(|v| v.into_iter().collect()),
        1 => prop::collection::vec(any::<char>(), 0..40).prop_map(|v| v.into_iter().collect()),
    ];
    fuzz("random_text", 0.15, strategy);
}

/// Large inputs: specs of thousands of letters (only 52 exist, so most repeat), many
/// operands, long lists of statements and kernels, deep nesting. Each must still finish
/// within the budget.
#[test]
fn large_inputs() {
    let long_spec = (1usize..20_000, 1usize..8, any::<u64>()).prop_map(|(len, parts, seed)| {
        let letters: Vec<char> = ('a'..='z').chain('A'..='Z').collect();
        let mut state = seed;
        let mut spec = String::new();
        for i in 0..len {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            if i > 0 && i % (len / parts).max(1) == 0 {
                spec.push(',');
            }
            spec.push(letters[(state >> 33) as usize % letters.len()]);
        }
        let operands: Vec<String> = (0..parts).map(|i| format!("x{i}")).collect();
        format!("k({}) = \"{spec}->ab\";", operands.join(", "))
    });
    let many_operands = (1usize..2_000, 1usize..4).prop_map(|(n, letters)| {
        let operands: Vec<String> = (0..n).map(|i| format!("x{i}")).collect();
        let all: Vec<char> = ('a'..='z').chain('A'..='Z').collect();
        let subscripts: Vec<String> = (0..n)
            .map(|i| (0..letters).map(|j| all[(i + j) % 52]).collect())
            .collect();
        format!(
            "k({}) = \"{}->a\";",
            operands.join(", "),
            subscripts.join(",")
        )
    });
    let many_statements = (
        1usize..3_000,
        select(
            &[
                "unfold x.h by k;",
                "size k = 3;",
                "bias d;",
                "dtype f64;",
                "unfold x.w by j, pad = 1;",
                "bogus;",
                "unfold x.q by z;",
            ][..],
        ),
    )
        .prop_map(|(n, s)| format!("k(x, w) = \"nchwkj,dckj->ndhw\" {{ {} }}", s.repeat(n)));
    let many_kernels = (1usize..200, select(SEEDS)).prop_map(|(n, seed)| seed.repeat(n));
    let nesting = (1usize..50_000, select(&["(", "{", "["][..])).prop_map(|(depth, open)| {
        let close = match open {
            "(" => ")",
            "{" => "}",
            _ => "]",
        };
        let places = [
            format!(
                "k(x) = \"i->i\" {{ unfold x.i by k, pad = {}1{}; }}",
                open.repeat(depth),
                close.repeat(depth)
            ),
            format!("k{}x{}", open.repeat(depth), close.repeat(depth)),
            format!(
                "#[doc = {}1{}] k(x) = \"i->i\";",
                open.repeat(depth),
                close.repeat(depth)
            ),
            format!("k(x) = \"i->i\" {}", open.repeat(depth)),
        ];
        places[depth % places.len()].clone()
    });
    // Up to 26 unfolds of one operand, each by a window of fixed extent.
    let many_windows = (1usize..27, 1usize..20, any::<bool>()).prop_map(|(n, taps, two)| {
        let axes: Vec<char> = ('a'..='z').take(n).collect();
        let windows: Vec<char> = ('A'..='Z').take(n).collect();
        let x: String = axes
            .iter()
            .zip(&windows)
            .flat_map(|(a, k)| [*a, *k])
            .collect();
        let mut statements: Vec<String> = axes
            .iter()
            .zip(&windows)
            .map(|(a, k)| format!("unfold x.{a} by {k}, stride = {};", 1 + taps % 3))
            .collect();
        let sizes: Vec<String> = windows.iter().map(|k| format!("{k} = {taps}")).collect();
        statements.push(format!("size {};", sizes.join(", ")));
        let output: String = axes.iter().collect();
        if two {
            let w: String = windows.iter().collect();
            format!(
                "k(x, w) = \"{x},{w}->{output}\" {{ {} }}",
                statements.join(" ")
            )
        } else {
            format!("k(x) = \"{x}->{output}\" {{ {} }}", statements.join(" "))
        }
    });
    let strategy = prop_oneof![
        long_spec,
        many_operands,
        many_statements,
        many_kernels,
        nesting,
        many_windows
    ];
    // Each of these inputs is large: a fixed number, not a share of the run.
    let share = 100.0 / total_cases() as f64;
    fuzz("large_inputs", share, strategy);
}
