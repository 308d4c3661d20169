//! The README's candle example: the root package's doc tests cannot compile it (it does
//! not depend on candle), so its block is marked `rust,ignore` there and the same text
//! is compiled and run here, from tests/readme/snippet.rs.

mod snippet {
    include!("readme/snippet.rs");

    pub fn run() -> candle_core::Result<()> {
        main()
    }
}

#[test]
fn the_readme_example_runs() -> candle_core::Result<()> {
    snippet::run()
}

#[test]
fn the_readme_shows_this_example_word_for_word() {
    let readme = include_str!("../../README.md");
    let snippet = include_str!("readme/snippet.rs");
    let start = readme
        .find("\n## candle\n")
        .expect("the README has a section \"candle\"");
    let section = &readme[start..];
    let block = section
        .split("```rust,ignore\n")
        .nth(1)
        .and_then(|b| b.split("\n```").next())
        .expect("the candle section shows its example in a rust,ignore block");
    assert_eq!(
        block.trim(),
        snippet.trim(),
        "README's candle example differs from conv-candle/tests/readme/snippet.rs"
    );
}
