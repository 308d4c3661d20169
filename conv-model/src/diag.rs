//! Diagnostics: every mistake found in one invocation, each with the place it points at.

use crate::ast::Loc;
use std::fmt;

/// One error: where it is and what to write instead.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diagnostic {
    pub loc: Loc,
    pub message: String,
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

/// Collects every error instead of stopping at the first (as serde_derive's `Ctxt` does),
/// so that the user sees all of them at once.
#[derive(Debug, Default)]
pub struct Errors {
    list: Vec<Diagnostic>,
}

impl Errors {
    pub fn push(&mut self, loc: Loc, message: impl Into<String>) {
        self.list.push(Diagnostic {
            loc,
            message: message.into(),
        });
    }

    pub fn is_empty(&self) -> bool {
        self.list.is_empty()
    }

    pub fn into_vec(self) -> Vec<Diagnostic> {
        self.list
    }
}
