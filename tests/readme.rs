//! README.md against the repository it describes. Its Rust snippets are compiled and run
//! as doc tests of the root package (src/lib.rs includes the README under
//! `cfg(doctest)`); these tests check what doc tests cannot: the two commands come first,
//! every code block says what language it is, the training layers shown are the
//! example's, and the examples and files the README names exist.

use std::path::Path;

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

fn read(path: &str) -> String {
    std::fs::read_to_string(Path::new(ROOT).join(path))
        .unwrap_or_else(|e| panic!("cannot read {path}: {e}"))
}

/// The fenced code blocks of a Markdown text, as (info string, body); fences may be
/// indented (blocks inside list items).
fn code_blocks(text: &str) -> Vec<(String, String)> {
    let mut blocks = Vec::new();
    let mut open: Option<(String, usize, Vec<&str>)> = None;
    for line in text.lines() {
        let trimmed = line.trim_start();
        let indent = line.len() - trimmed.len();
        match &mut open {
            None => {
                if let Some(info) = trimmed.strip_prefix("```") {
                    open = Some((info.trim().to_string(), indent, Vec::new()));
                }
            }
            Some((info, indent, body)) => {
                if trimmed.starts_with("```") {
                    blocks.push((std::mem::take(info), body.join("\n")));
                    open = None;
                } else {
                    body.push(line.get(*indent..).unwrap_or(line.trim_start()));
                }
            }
        }
    }
    assert!(open.is_none(), "a code block of the README is never closed");
    blocks
}

#[test]
fn the_two_commands_come_first() {
    let readme = read("README.md");
    let blocks = code_blocks(&readme);
    let (info, body) = &blocks[0];
    assert_eq!(info, "sh", "the README's first block is not the commands");
    let commands: Vec<&str> = body
        .lines()
        .map(|line| line.split('#').next().unwrap_or("").trim())
        .collect();
    assert_eq!(
        commands,
        [
            "cargo run --release --example conv2d",
            "cargo test --workspace"
        ]
    );
    // Nothing but the title before them.
    let before = &readme[..readme.find("```").unwrap()];
    assert_eq!(before.trim(), "# conv-kernels");
}

/// A block without a language would be compiled as Rust by rustdoc, or be meant as Rust
/// and not be: every block says what it is.
#[test]
fn every_code_block_names_its_language() {
    let blocks = code_blocks(&read("README.md"));
    let rust = blocks.iter().filter(|(info, _)| info == "rust").count();
    assert!(rust >= 5, "only {rust} Rust snippets");
    for (info, body) in &blocks {
        assert!(
            // `rust,ignore`: a snippet of another workspace crate, which the root
            // package's doc tests cannot build (the candle section's: conv-candle's
            // tests run it and compare it with the README's).
            ["rust", "rust,ignore", "text", "sh", "toml"].contains(&info.as_str()),
            "code block marked {info:?}:\n{body}"
        );
    }
}

/// The Rust snippets show what a user writes: no lines hidden from the reader with `# `.
#[test]
fn rust_snippets_hide_nothing() {
    for (info, body) in code_blocks(&read("README.md")) {
        if info == "rust" {
            for line in body.lines() {
                assert!(
                    !line.trim_start().starts_with("# ") && line.trim() != "#",
                    "hidden line {line:?} in\n{body}"
                );
            }
        }
    }
}

/// The layers the tutorial shows are those examples/train/model.rs trains, word for word.
#[test]
fn training_layers_are_those_of_the_example() {
    let blocks = code_blocks(&read("README.md"));
    let (_, snippet) = blocks
        .iter()
        .find(|(info, body)| info == "rust" && body.contains("pub conv1(x, weight)"))
        .expect("the README shows the training example's layers");
    let start = snippet.find("conv_kernel! {").unwrap();
    let end = start + snippet[start..].find("\n}\n").unwrap() + 2;
    let layers = &snippet[start..end];
    assert!(layers.contains("pub linear(x, weight)"), "{layers}");
    let model = read("examples/train/model.rs");
    assert!(
        model.contains(layers),
        "examples/train/model.rs does not declare the README's layers:\n{layers}"
    );
}

/// Every example the README runs or names exists, and every example is in the README.
#[test]
fn examples_named_in_the_readme_exist() {
    let readme = read("README.md");
    let runs: Vec<&str> = readme.split("--example ").collect();
    for (i, run) in runs.iter().enumerate().skip(1) {
        let name: String = run
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect();
        if name.is_empty() {
            continue; // `--example <name>`
        }
        // `cargo run -p CRATE --example NAME`: an example of that workspace crate.
        let command = runs[i - 1].rsplit('\n').next().unwrap_or("");
        let dir = command
            .split_once(" -p ")
            .and_then(|(_, rest)| rest.split_whitespace().next())
            .map_or(String::new(), |krate| format!("{krate}/"));
        let path = format!("{dir}examples/{name}.rs");
        assert!(Path::new(ROOT).join(&path).exists(), "no {path}");
    }
    let mut names = Vec::new();
    for entry in std::fs::read_dir(Path::new(ROOT).join("examples")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "rs") {
            names.push(path.file_stem().unwrap().to_string_lossy().into_owned());
        }
    }
    assert!(names.len() >= 10, "{names:?}");
    for name in names {
        assert!(
            readme.contains(&format!("`{name}`")),
            "examples/{name}.rs is not in the README's table of examples"
        );
    }
}

/// Every file of the repository the README names (`dir/file.ext`, globs included) exists.
#[test]
fn files_named_in_the_readme_exist() {
    let readme = read("README.md");
    let mut checked = 0;
    for word in readme.split(|c: char| c.is_whitespace() || "`()[],;:".contains(c)) {
        let word = word.trim_end_matches('.');
        let named_file = word.contains('/')
            && !word.starts_with("../")
            && !word.contains("://")
            && !word.contains('<') // a placeholder, `examples/<name>.rs`
            && [".rs", ".md", ".py", ".svg", ".json"]
                .iter()
                .any(|ext| word.ends_with(ext));
        if !named_file {
            continue;
        }
        let (dir, file) = word.rsplit_once('/').unwrap();
        let found = match file.split_once('*') {
            None => Path::new(ROOT).join(word).exists(),
            Some((prefix, suffix)) => std::fs::read_dir(Path::new(ROOT).join(dir))
                .map(|entries| {
                    entries.flatten().any(|e| {
                        let name = e.file_name().to_string_lossy().into_owned();
                        name.starts_with(prefix) && name.ends_with(suffix)
                    })
                })
                .unwrap_or(false),
        };
        assert!(found, "the README names {word}, which does not exist");
        checked += 1;
    }
    assert!(checked >= 15, "only {checked} paths found in the README");
}
