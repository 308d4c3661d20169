//! The einsum spec string: `"nchwkj,dckj->ndhw"` into subscripts.
//!
//! Stable Rust cannot point inside a string literal, so messages quote the offending
//! letter and its 1-based position in the spec.

/// The subscripts of a spec: one per input, and the output.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Subscripts {
    pub inputs: Vec<Vec<char>>,
    pub output: Vec<char>,
    /// The 1-based position in the spec of each letter of `output`, for messages.
    pub output_positions: Vec<usize>,
}

/// A spec reports at most this many problems one by one, then how many more it has: a
/// spec of thousands of repeated letters would otherwise make thousands of messages, each
/// quoting the spec.
pub const MAX_SPEC_ERRORS: usize = 16;

/// The problems of a spec: the first [`MAX_SPEC_ERRORS`] written out, the others counted.
#[derive(Default)]
struct Problems {
    list: Vec<String>,
    more: usize,
}

impl Problems {
    /// Records a problem, writing its message only while there is room for it.
    fn push(&mut self, message: impl FnOnce() -> String) {
        if self.list.len() < MAX_SPEC_ERRORS {
            self.list.push(message());
        } else {
            self.more += 1;
        }
    }

    fn into_messages(mut self) -> Vec<String> {
        if self.more > 0 {
            self.list.push(format!(
                "and {} more problem{} like these in the spec",
                self.more,
                if self.more == 1 { "" } else { "s" }
            ));
        }
        self.list
    }
}

/// Splits and validates a spec; returns every problem found (the first
/// [`MAX_SPEC_ERRORS`] of them, and how many more there are).
pub fn parse_spec(spec: &str) -> Result<Subscripts, Vec<String>> {
    let mut errors = Problems::default();
    let parts: Vec<&str> = spec.split("->").collect();
    if spec.trim().is_empty() {
        return Err(vec![
            "the spec is empty: write the inputs' subscripts, `->` and the output's, e.g. \"ik,kj->ij\""
                .into(),
        ]);
    }
    if parts.len() != 2 {
        let message = if parts.len() == 1 {
            format!("the spec \"{spec}\" has no `->`: write the output subscript after it, e.g. \"{spec}->...\"")
        } else {
            format!(
                "the spec \"{spec}\" has {} `->`: write exactly one, between inputs and output",
                parts.len() - 1
            )
        };
        return Err(vec![message]);
    }
    // Character positions (1-based) let messages say where in the literal a letter is.
    let output_start = parts[0].chars().count() + 2;
    let mut inputs = Vec::new();
    let mut position = 0;
    for subscript in parts[0].split(',') {
        let axes = letters(spec, subscript, position, "input", &mut errors);
        inputs.push(axes.into_iter().map(|(c, _)| c).collect());
        position += subscript.chars().count() + 1;
    }
    let (output, output_positions) = letters(spec, parts[1], output_start, "output", &mut errors)
        .into_iter()
        .unzip();
    if errors.list.is_empty() {
        Ok(Subscripts {
            inputs,
            output,
            output_positions,
        })
    } else {
        Err(errors.into_messages())
    }
}

/// The axis letters of one subscript with their 1-based positions in the spec; spaces
/// are ignored, as numpy does.
fn letters(
    spec: &str,
    subscript: &str,
    offset: usize,
    role: &str,
    errors: &mut Problems,
) -> Vec<(char, usize)> {
    let mut axes: Vec<(char, usize)> = Vec::new();
    let mut previous = ' ';
    for (i, c) in subscript.chars().enumerate() {
        let position = offset + i + 1;
        let after = std::mem::replace(&mut previous, c);
        if c == ' ' || (c == '.' && after == '.') {
            // An ellipsis is one mistake, reported at its first dot.
            continue;
        }
        if !c.is_ascii_alphabetic() {
            let what = if c == '.' {
                "ellipses are not supported; name every axis with a letter"
            } else {
                "every axis is one ASCII letter (a-z, A-Z)"
            };
            errors.push(|| format!("the spec \"{spec}\" has {c:?} at position {position}: {what}"));
        } else if axes.iter().any(|&(a, _)| a == c) {
            errors.push(|| {
                format!(
                    "axis '{c}' appears twice in the {role} subscript \"{}\" (position {position} of the spec): \
                     repeated axes (diagonals) are not supported; use a different letter for each axis",
                    subscript.trim()
                )
            });
        } else {
            axes.push((c, position));
        }
    }
    axes
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_a_conv_spec() {
        let s = parse_spec("nchwkj,dckj->ndhw").unwrap();
        assert_eq!(
            s.inputs,
            vec![
                "nchwkj".chars().collect::<Vec<_>>(),
                "dckj".chars().collect()
            ]
        );
        assert_eq!(s.output, "ndhw".chars().collect::<Vec<_>>());
    }

    #[test]
    fn allows_spaces_and_a_scalar_output() {
        let s = parse_spec("i j, j ->").unwrap();
        assert_eq!(s.inputs, vec![vec!['i', 'j'], vec!['j']]);
        assert!(s.output.is_empty());
    }

    #[test]
    fn quotes_the_bad_letter_and_its_position() {
        let e = parse_spec("ab,b1->a").unwrap_err();
        assert_eq!(e.len(), 1);
        assert!(
            e[0].contains("'1'") && e[0].contains("position 5"),
            "{}",
            e[0]
        );
    }

    #[test]
    fn output_positions_count_every_character_of_the_spec() {
        let s = parse_spec("ab, bc->a c").unwrap();
        assert_eq!(s.output, ['a', 'c']);
        assert_eq!(s.output_positions, [9, 11]);
    }

    #[test]
    fn an_ellipsis_is_one_error() {
        let e = parse_spec("a...,b->ab").unwrap_err();
        assert_eq!(e.len(), 1, "{e:?}");
        assert!(e[0].contains("position 2"), "{}", e[0]);
    }

    #[test]
    fn rejects_repeated_axes_missing_arrow_and_empty() {
        assert!(parse_spec("ii->i").unwrap_err()[0].contains("appears twice in the input"));
        assert!(parse_spec("i->ii").unwrap_err()[0].contains("appears twice in the output"));
        assert!(parse_spec("ij,jk").unwrap_err()[0].contains("no `->`"));
        assert!(parse_spec("i->j->k").unwrap_err()[0].contains("2 `->`"));
        assert!(parse_spec("").unwrap_err()[0].contains("empty"));
        assert!(parse_spec("a...->a").unwrap_err()[0].contains("ellipses"));
    }
}
