//! The README's burn example: the root package's doc tests cannot compile it (it does not
//! depend on burn), so its block is marked `rust,ignore` there and the same text is
//! compiled and run here, from tests/readme/snippet.rs.

mod snippet {
    include!("readme/snippet.rs");

    pub fn run() {
        main()
    }
}

#[test]
fn the_readme_example_runs() {
    snippet::run()
}

#[test]
fn the_readme_shows_this_example_word_for_word() {
    let readme = include_str!("../../README.md");
    let snippet = include_str!("readme/snippet.rs");
    let start = readme
        .find("\n## burn\n")
        .expect("the README has a section \"burn\"");
    let block = readme[start..]
        .split("```rust,ignore\n")
        .nth(1)
        .and_then(|b| b.split("\n```").next())
        .expect("the burn section shows its example in a rust,ignore block");
    assert_eq!(
        block.trim(),
        snippet.trim(),
        "README's burn example differs from conv-burn/tests/readme/snippet.rs"
    );
}
