//! Direct evaluation of the common jq subset on `Value`s, without the jaq interpreter.
//!
//! [`compile`] translates jaq's own syntax tree into an [`Expr`] when every part of the
//! filter is in the subset below; anything else stays with the interpreter. At run time
//! the rule is: whenever this evaluator is not certain to produce exactly what jaq
//! produces (a type error, an integer overflow, NaN or infinity, a big integer, an
//! unusual combination of types), it returns `None` and the caller runs the whole filter
//! in the interpreter, which then gives the exact result or error message.
//!
//! Numbers follow jaq: `i64` inputs are integers, `f64` inputs are floats, an operation on
//! two integers stays an integer and anything else is a float. Floats are turned into
//! output numbers only at the end, by [`float_value`] (as the interpreter path does), so
//! intermediate results keep jaq's integer/float distinction.

use super::truthy;
use jaq_core::ops::{Cmp, Math};
use serde_json::Value;
use std::borrow::Cow;

mod eval;
mod ops;
mod translate;

use ops::finish;
use translate::translate;

/// A filter compiled to direct operations on `Value`s.
pub(crate) enum Expr {
    /// `.`
    Id,
    /// A constant: number, string, boolean, null, `[]` or `{}`.
    Lit(Value),
    /// `empty`
    Empty,
    /// `f | g`
    Pipe(Box<Expr>, Box<Expr>),
    /// `f, g`
    Comma(Box<Expr>, Box<Expr>),
    /// `f` followed by path steps such as `.a`, `[0]`, `[]`; `true` marks an optional step (`?`).
    Path(Box<Expr>, Vec<(Step, bool)>),
    /// `[f]`
    Arr(Box<Expr>),
    /// `{k: v, …}`
    Obj(Vec<(Expr, Expr)>),
    /// `-f`
    Neg(Box<Expr>),
    /// `f + g`, `f - g`, …
    Math(Box<Expr>, Math, Box<Expr>),
    /// `f < g`, `f == g`, …
    Cmp(Box<Expr>, Cmp, Box<Expr>),
    /// `f and g` (stops on `false`) or `f or g` (stops on `true`).
    Logic(Box<Expr>, bool, Box<Expr>),
    /// `f // g`
    Alt(Box<Expr>, Box<Expr>),
    /// `if c then t else e end` (`elif` nests).
    If(Box<Expr>, Box<Expr>, Box<Expr>),
    /// `map(f)`
    Map(Box<Expr>),
    /// `select(f)`
    Select(Box<Expr>),
    /// A builtin without arguments.
    Fun(Fun),
    /// A builtin with one argument, called once per output of the argument.
    Fun1(Fun1, Box<Expr>),
}

/// One step of a path.
pub(crate) enum Step {
    /// `.name` or `."name"`
    Key(String),
    /// `.[n]`
    Index(i64),
    /// `.[f]`, with `f` run on the input of the whole path.
    Dyn(Expr),
    /// `.[]`
    Iter,
}

/// Builtins without arguments: `length`, `type`, `keys`, `add`, `not`, `tostring`,
/// `tonumber`, `ascii_downcase`, `ascii_upcase`.
#[derive(Clone, Copy)]
pub(crate) enum Fun {
    Length,
    Type,
    Keys,
    Add,
    Not,
    ToString,
    ToNumber,
    Downcase,
    Upcase,
}

/// Builtins with one argument: `contains`, `has`, `startswith`, `endswith`, `ltrimstr`,
/// `rtrimstr`, `join`.
#[derive(Clone, Copy)]
pub(crate) enum Fun1 {
    Contains,
    Has,
    StartsWith,
    EndsWith,
    LtrimStr,
    RtrimStr,
    Join,
}

/// Receives outputs one at a time; returning `None` abandons the evaluation.
type Sink<'s> = dyn FnMut(Cow<'_, Value>) -> Option<()> + 's;

static NULL: Value = Value::Null;

/// Compiles `source` when every part of it is in the supported subset.
#[must_use]
pub(crate) fn compile(source: &str) -> Option<Expr> {
    // `parse` fails unless the whole input is one term (no module header, no leftovers).
    let term = jaq_core::load::parse(source, |p| p.term())?;
    translate(term)
}

impl Expr {
    /// All outputs; `None` when this input needs the interpreter.
    #[must_use]
    pub(crate) fn eval_all(&self, input: &Value) -> Option<Result<Vec<Value>, String>> {
        let mut outs = Vec::new();
        self.run(input, &mut |v| {
            outs.push(finish(v));
            Some(())
        })?;
        Some(Ok(outs))
    }

    /// Condition test; `None` when this input needs the interpreter.
    #[must_use]
    pub(crate) fn eval_test(&self, input: &Value) -> Option<Result<bool, String>> {
        // Every output is still computed: the interpreter would report an error in a
        // later output, so this path must not answer for such inputs either.
        let mut first = None;
        self.run(input, &mut |v| {
            first.get_or_insert_with(|| truthy(&v));
            Some(())
        })?;
        Some(Ok(first.unwrap_or(false)))
    }
}

#[cfg(test)]
mod tests;
