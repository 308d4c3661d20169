//! The whole front end on one kernel text, with every property it must hold whatever
//! the text: parse → check → derive → derivation text → kernel source round trip, and
//! `emit::expand` on the tokens of the same text. Each stage returns code or errors
//! with messages; none may panic. Used by the fuzz tests (`fuzz_front_end.rs`) and the
//! named regression tests (`robustness.rs`).

#![allow(dead_code)] // each test file uses its own part of these helpers

use conv_codegen::kernel::Kernel;
use conv_codegen::parse::parse_text;
use conv_codegen::{check, derive, emit, source, text};
use proc_macro2::{TokenStream, TokenTree};
use std::time::{Duration, Instant};

/// What the front end made of a text.
#[derive(Clone, Debug, Default)]
pub struct Outcome {
    /// Kernels that passed every check (and were derived, written and emitted).
    pub kernels: usize,
    /// Syntax errors and check errors, with their messages.
    pub errors: Vec<String>,
    /// The time the front end took: parse, check, derive, derivation text, kernel source
    /// and expansion, without the checks of this test.
    pub took: Duration,
}

/// Runs the front end on `text`, checking on the way that:
/// - every syntax and check error has a non-empty message and a location that maps back
///   to a span;
/// - every kernel that passes the checks derives, has a derivation text, and its kernel
///   source (what generated modules carry as `SOURCE` and the runtime parses again)
///   parses and checks to the same kernel;
/// - `emit::expand` on the text's tokens returns items that parse as Rust, with a
///   `compile_error!` exactly when there were errors.
///
/// Panics (with the reason) when one of these fails; the caller reports the text.
///
/// Parsing the expansion as Rust is a check of the test, not part of the front end, and
/// costs more than the rest together for a kernel that compiles; it is done for texts
/// of at most [`VALIDATE_CHARS`] characters (syn's expression parser, which rustc does
/// not use, recurses on long operator chains that attributes pass through).
pub fn run(text: &str) -> Outcome {
    run_with(text, true)
}

/// The longest text whose expansion [`run`] parses as Rust.
pub const VALIDATE_CHARS: usize = 2_000;

/// Stack for parsing an expansion with syn.
const PARSE_STACK: usize = 256 << 20;

/// [`run`], parsing the expansion as Rust only when `validate`.
pub fn run_with(text: &str, validate: bool) -> Outcome {
    let start = Instant::now();
    let parsed = parse_text(text);
    let mut outcome = Outcome::default();
    for error in &parsed.errors {
        for e in error.clone() {
            outcome.errors.push(e.to_string());
        }
    }
    let mut names: Vec<&str> = Vec::new();
    let mut test_time = Duration::ZERO;
    for kernel in &parsed.kernels {
        let duplicate = names.contains(&kernel.ast.name.value.as_str());
        names.push(&kernel.ast.name.value);
        match check::check(&kernel.ast) {
            Ok(checked) => {
                let program = derive::lower(&checked);
                let derivation = text::derivation(&program);
                assert!(
                    derivation.starts_with("kernel "),
                    "derivation without its header: {derivation}"
                );
                let t = Instant::now();
                round_trip(&checked);
                test_time += t.elapsed();
                if duplicate {
                    outcome.errors.push("duplicate kernel name".into());
                } else {
                    outcome.kernels += 1;
                }
            }
            Err(diagnostics) => {
                assert!(!diagnostics.is_empty(), "check failed without a diagnostic");
                for d in diagnostics {
                    // Every location maps back to a span (this indexes the span table).
                    let _ = parsed.spans.span(d.loc);
                    outcome.errors.push(d.message);
                }
            }
        }
    }
    for message in &outcome.errors {
        assert!(!message.trim().is_empty(), "an error without a message");
    }
    // The macro's entry point, on the same tokens.
    if let Ok(tokens) = text.parse::<TokenStream>() {
        let expanded = emit::expand(tokens);
        outcome.took = start.elapsed() - test_time;
        assert!(
            !expanded.is_empty() || (outcome.kernels == 0 && outcome.errors.is_empty()),
            "expand returned nothing for {outcome:?}"
        );
        // `compile_error!` items, at the top level of the expansion.
        let has_error = expanded
            .clone()
            .into_iter()
            .any(|t| matches!(t, TokenTree::Ident(i) if i == "compile_error"));
        assert_eq!(
            has_error,
            !outcome.errors.is_empty(),
            "expand reported errors: {has_error}, the front end found {:?}",
            outcome.errors
        );
        if validate && text.chars().count() <= VALIDATE_CHARS {
            // syn recurses some 30 frames per nested loop, and the loop nest of a kernel
            // with many windows is deep: on a test thread's 2 MiB of stack the parse
            // overflowed for one seed in two (a fatal abort of the whole test binary).
            let code = expanded.to_string();
            let parsed = std::thread::Builder::new()
                .stack_size(PARSE_STACK)
                .spawn(move || syn::parse_file(&code).map(drop).map_err(|e| e.to_string()))
                .expect("a thread")
                .join()
                .expect("syn does not panic");
            if let Err(e) = parsed {
                panic!("expand returned code that does not parse as items: {e}\n{expanded}");
            }
        }
    } else {
        outcome.took = start.elapsed() - test_time;
        assert!(
            !outcome.errors.is_empty(),
            "a text that does not lex, without an error"
        );
    }
    outcome
}

/// The kernel source of a checked kernel parses and checks to the same kernel.
fn round_trip(kernel: &Kernel) {
    let source = source::kernel_source(kernel);
    let parsed = parse_text(&source);
    let errors: Vec<String> = parsed.errors.iter().map(|e| e.to_string()).collect();
    assert!(errors.is_empty(), "kernel source {source:?}: {errors:?}");
    assert_eq!(parsed.kernels.len(), 1, "kernel source {source:?}");
    let again = check::check(&parsed.kernels[0].ast)
        .unwrap_or_else(|d| panic!("kernel source {source:?} does not check: {d:?}"));
    assert_eq!(
        again,
        Kernel {
            docs: Vec::new(),
            ..kernel.clone()
        },
        "kernel source {source:?} is another kernel"
    );
}
