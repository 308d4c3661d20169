//! Named regression tests for the failures the fuzz tests (`fuzz_front_end.rs`) found:
//! each input once made the front end panic, overflow its stack or take seconds to
//! minutes; now each gives code or errors with messages, quickly. `pipeline::run`
//! checks every property the fuzz tests check.

mod pipeline;

use conv_codegen::parse::{parse_text, MAX_ATTRIBUTE_TOKENS, MAX_NESTING};
use pipeline::{run, Outcome};
use std::time::Duration;

/// The front end on `text` must take less than this, even in a debug build on a
/// loaded machine.
const BUDGET: Duration = Duration::from_secs(2);

/// [`run`], asserting that the front end took less than [`BUDGET`].
fn timed(text: &str) -> Outcome {
    let outcome = run(text);
    assert!(
        outcome.took < BUDGET,
        "took {:?} for a text of {} characters",
        outcome.took,
        text.len()
    );
    outcome
}

/// The messages of a text that must fail, asserting that some message contains each of
/// `fragments`.
fn errors(text: &str, fragments: &[&str]) -> Vec<String> {
    let outcome = timed(text);
    assert!(!outcome.errors.is_empty(), "{text}");
    for fragment in fragments {
        assert!(
            outcome.errors.iter().any(|e| e.contains(fragment)),
            "no error mentions {fragment:?}: {:?}",
            outcome.errors
        );
    }
    outcome.errors
}

/// `r#mod` as a kernel name, `r#type` as an operand: the stub of the failed kernel
/// built `Ident::new("r#mod")`, which panics.
#[test]
fn raw_identifier_names_are_errors() {
    errors(
        r#"r#mod() = "->" {}"#,
        &["`r#mod` is a raw identifier", "at least one operand"],
    );
    errors(
        r#"pub r#mod(x, r#type) = "i,i->i";"#,
        &[
            "`r#mod` is a raw identifier",
            "`r#type` is a raw identifier",
        ],
    );
    errors(r#"k(r#x) = "i->i";"#, &["`grad_x`"]);
}

/// Brackets nested 50,000 deep anywhere in the text: syn's token buffer and expression
/// parser recurse once per level and overflowed the stack (an abort, not a panic).
#[test]
fn deep_nesting_is_an_error() {
    let deep = |open: &str, close: &str, n: usize| (open.repeat(n), close.repeat(n));
    for (open, close) in [("(", ")"), ("[", "]"), ("{", "}")] {
        let (o, c) = deep(open, close, 50_000);
        for text in [
            format!(r#"k(x) = "i->i" {{ unfold x.i by k, pad = {o}1{c}; }}"#),
            format!("k{o}x{c}"),
            format!(r#"#[doc = {o}1{c}] k(x) = "i->i";"#),
            format!(r#"k(x) = "i->i"; {o}{c}"#),
        ] {
            errors(&text, &["brackets nest more than 32 deep"]);
        }
    }
    // Just within the limit: the usual errors.
    let (o, c) = deep("(", ")", MAX_NESTING - 3);
    errors(
        &format!(r#"k(x) = "i->i" {{ unfold x.i by k, pad = {o}1{c}; }}"#),
        &["expected a non-negative integer"],
    );
    let (o, c) = deep("(", ")", MAX_NESTING - 2);
    let outcome = timed(&format!(r#"#[doc = {o}1{c}] k(x, w) = "ik,k->i";"#));
    assert_eq!((outcome.kernels, outcome.errors.len()), (1, 0));
    // The error points at the bracket that goes too deep.
    let (o, c) = deep("(", ")", 40);
    let parsed = parse_text(&format!("k{o}{c}"));
    let start = parsed.errors[0].span().start();
    assert_eq!((start.line, start.column), (1, 1 + MAX_NESTING));
}

/// Attribute values that are long chains of operators or closures (`#[doc = - - - 1]`):
/// syn's expression parser recursed once per operator and overflowed the stack. A value
/// of more than 64 tokens that is not one literal is an error; shorter ones are parsed.
#[test]
fn long_attribute_values_are_errors() {
    for chain in ["- ", "! ", "|| ", "& ", "* "] {
        let text = format!(
            r#"#[doc = {}1] pub k(x, w) = "ik,k->i";"#,
            chain.repeat(20_000)
        );
        errors(&text, &["this attribute's value has more than 64 tokens"]);
    }
    let text = format!(
        r#"#[doc = {}1] pub k(x, w) = "ik,k->i";"#,
        "- ".repeat(MAX_ATTRIBUTE_TOKENS - 1)
    );
    let outcome = timed(&text);
    assert_eq!((outcome.kernels, outcome.errors.len()), (1, 0));
    // A literal value is still the documentation.
    let parsed = parse_text(r#"#[doc = "docs"] #[doc = 1 + 1] #[allow(unused)] k(x) = "i->i";"#);
    assert_eq!(parsed.kernels[0].ast.docs, ["docs"]);
    assert_eq!(parsed.kernels[0].attrs.len(), 3);
}

/// `#[doc = À "x"]`: while attribute values were kept as tokens, this one went into the
/// expansion as it was, which is not Rust; it is a syntax error, as in syn's parser.
#[test]
fn attribute_value_that_is_no_expression() {
    errors(
        "#[doc =\u{c0}\"x\"]\npub k(x) = \"n->\" {  }\nconv(x, x) =",
        &["expected the einsum spec as a string"],
    );
    let outcome = timed("#[doc = \u{c0} \"x\"] k(x) = \"i->i\";");
    assert_eq!(outcome.kernels, 0);
    assert_eq!(outcome.errors.len(), 1, "{:?}", outcome.errors);
}

/// A fixed window whose taps lie beyond usize (3 taps, dilation 2^63): code generation
/// computed `2 * 2^63` for the last tap and overflowed.
#[test]
fn huge_dilation_of_a_fixed_window() {
    errors(
        r#"k(x, w, a, b) = "hk,hej,hin,->" { unfold x.k by h; unfold a.n by i, dilation = 9223372036854775808; size i = 3; }"#,
        &["the window 'i' of 3 taps with dilation 9223372036854775808 spans more positions than usize holds"],
    );
    // Two taps still fit: the last is at 2^63.
    let outcome = timed(
        r#"k(x) = "ni->" { unfold x.n by i, dilation = 9223372036854775808, stride = 3; size i = 2; }"#,
    );
    assert_eq!((outcome.kernels, outcome.errors.len()), (1, 0));
}

/// A spec of 20,000 letters (only 52 exist, so most repeat): one message per repeated
/// letter, each quoting its subscript, made hundreds of megabytes of messages.
#[test]
fn spec_of_thousands_of_repeated_letters() {
    let letters: String = ('a'..='z').chain('A'..='Z').cycle().take(20_000).collect();
    let errors = errors(
        &format!(r#"k(x, w) = "{letters},{letters}->ab";"#),
        &[
            "axis 'a' appears twice",
            "more problems like these in the spec",
        ],
    );
    assert_eq!(errors.len(), conv_codegen::einsum::MAX_SPEC_ERRORS + 1);
    let junk = "1".repeat(20_000);
    let errors = errors_of(&format!(r#"k(x) = "{junk}->";"#));
    assert_eq!(errors.len(), conv_codegen::einsum::MAX_SPEC_ERRORS + 1);
    assert!(
        errors[16].starts_with("and 19984 more problems"),
        "{}",
        errors[16]
    );
}

fn errors_of(text: &str) -> Vec<String> {
    timed(text).errors
}

/// Thousands of operands: every generated function takes every operand, so the code
/// (and the stub of a failed kernel) grew with the square of their number, minutes of
/// expansion for 2,000. A kernel takes at most 32.
#[test]
fn thousands_of_operands() {
    let kernel = |n: usize| {
        let names: Vec<String> = (0..n).map(|i| format!("x{i}")).collect();
        let letters: Vec<char> = ('a'..='z').chain('A'..='Z').collect();
        let subscripts: Vec<String> = (0..n).map(|i| letters[i % 52].to_string()).collect();
        format!(
            r#"k({}) = "{}->a";"#,
            names.join(", "),
            subscripts.join(",")
        )
    };
    errors(
        &kernel(2_000),
        &["2000 operands are too many: a kernel takes at most 32"],
    );
    errors(&kernel(33), &["33 operands are too many"]);
    let outcome = timed(&kernel(32));
    assert_eq!((outcome.kernels, outcome.errors.len()), (1, 0));
}

/// 26 unfolds by windows of 16 taps each: unrolling every window loop copied the loop
/// body 16^26 times. Windows are unrolled while the copies stay within a budget.
#[test]
fn many_fixed_windows_unroll_within_a_budget() {
    let axes: Vec<char> = ('a'..='z').collect();
    let windows: Vec<char> = ('A'..='Z').collect();
    let x: String = axes
        .iter()
        .zip(&windows)
        .flat_map(|(a, k)| [*a, *k])
        .collect();
    let w: String = windows.iter().collect();
    let output: String = axes.iter().collect();
    for stride in [1, 3] {
        let mut statements: Vec<String> = axes
            .iter()
            .zip(&windows)
            .map(|(a, k)| format!("unfold x.{a} by {k}, stride = {stride};"))
            .collect();
        let sizes: Vec<String> = windows.iter().map(|k| format!("{k} = 16")).collect();
        statements.push(format!("size {};", sizes.join(", ")));
        let text = format!(
            r#"k(x, w) = "{x},{w}->{output}" {{ {} }}"#,
            statements.join(" ")
        );
        // Parsing megabytes of expansion as Rust would take longer than the rest.
        let outcome = pipeline::run_with(&text, false);
        assert!(outcome.took < BUDGET, "took {:?}", outcome.took);
        assert_eq!((outcome.kernels, outcome.errors.len()), (1, 0));
        let expanded = conv_codegen::expand(text.parse().unwrap()).to_string();
        assert!(expanded.len() < 4_000_000, "{} bytes", expanded.len());
    }
}
