//! Compile-fail cases pin every diagnostic's text and span; pass cases compile and run
//! one kernel per feature of the language.

#[test]
fn ui() {
    let t = trybuild::TestCases::new();
    t.compile_fail("tests/ui/fail/*.rs");
    t.pass("tests/ui/pass/*.rs");
}
