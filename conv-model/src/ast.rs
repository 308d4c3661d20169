//! The syntax tree of one kernel declaration, as written, before any check.
//!
//! It holds no tokens: every piece that a diagnostic may point at carries a [`Loc`], an
//! opaque handle that the parse layer maps back to a span (a `proc_macro2::Span` inside
//! the macro, a line and column for kernel text).

/// Where a piece of the declaration was written.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Loc(pub u32);

/// A value together with the place it was written.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Located<T> {
    pub value: T,
    pub loc: Loc,
}

impl<T> Located<T> {
    pub fn new(value: T, loc: Loc) -> Self {
        Located { value, loc }
    }
}

/// `[docs] [vis] name(op, ...) [-> out] = "spec" { statements }` or `... = "spec";`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KernelAst {
    pub docs: Vec<String>,
    pub name: Located<String>,
    /// The parenthesised operand list as a whole (for "operand count" errors).
    pub operand_list: Loc,
    pub operands: Vec<Located<String>>,
    /// The output's name, when the header gives one (`-> y`): windows may then sit on it.
    pub output: Option<Located<String>>,
    pub spec: Located<String>,
    pub statements: Vec<Statement>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Statement {
    Unfold(UnfoldAst),
    /// `size a = 3, b = 4;`
    Size(Vec<SizeAst>),
    /// `bias d;` (`keyword` is the `bias` token).
    Bias {
        keyword: Loc,
        axis: Located<String>,
    },
    /// `dtype f64;`
    Dtype {
        keyword: Loc,
        name: Located<String>,
    },
    /// `algorithm direct;`
    Algorithm {
        keyword: Loc,
        name: Located<String>,
    },
}

/// `unfold OP.A by K [, key = value]*;`
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UnfoldAst {
    pub keyword: Loc,
    pub operand: Located<String>,
    pub axis: Located<String>,
    pub window: Located<String>,
    pub options: Vec<OptionAst>,
}

/// `key = value` inside an unfold.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OptionAst {
    pub key: Located<String>,
    pub value: Located<OptionValue>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum OptionValue {
    Int(u64),
    Pair(u64, u64),
    Word(String),
}

/// `a = 3` inside a `size` statement.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SizeAst {
    pub axis: Located<String>,
    pub extent: Located<u64>,
}
