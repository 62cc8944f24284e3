//! The interpreter's value type: jaq-json's `Val` with jq's semantics where jaq's differ
//! (null paths create containers, deleting keeps key order, division by zero and
//! non-string object keys are errors, jq's error messages) and with the budgets of
//! [`super::limits`] checked as values are built and copied. Arithmetic is in [`super::ops`],
//! indexing and path updates in [`valt`].

#![allow(
    clippy::many_single_char_names,
    reason = "short names for operands, as in jaq"
)]

mod valt;

use super::limits;
use jaq_core::val;
use jaq_json::{Num, Val};
use std::fmt;
use std::rc::Rc;

/// A jq value.
#[derive(Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) struct V(pub(crate) Val);

/// An error of the interpreter, carrying a [`V`].
pub(super) type Error = jaq_core::Error<V>;

impl Clone for V {
    fn clone(&self) -> Self {
        // jaq copies its input for every sub-filter: a cheap place to watch the budgets.
        limits::tick();
        V(self.0.clone())
    }
}

/// A number as a float.
pub(crate) fn num_f64(n: &Num) -> f64 {
    match n {
        #[allow(clippy::cast_precision_loss, reason = "as jq does")]
        Num::Int(i) => *i as f64,
        Num::Float(f) => *f,
        other => other.to_string().parse().unwrap_or(f64::NAN),
    }
}

/// jq's name for a value's type.
pub(crate) fn type_name(v: &Val) -> &'static str {
    match v {
        Val::Null => "null",
        Val::Bool(_) => "boolean",
        Val::Num(_) => "number",
        Val::TStr(_) | Val::BStr(_) => "string",
        Val::Arr(_) => "array",
        Val::Obj(_) => "object",
    }
}

/// A value as jq names it in messages: `number (1)`, `string ("very-long-lo...")`.
pub(crate) fn describe(v: &Val) -> String {
    if let Val::Null = v {
        return "null (null)".into();
    }
    let mut text = super::format::dump(v);
    if text.len() > 29 {
        let string = matches!(v, Val::TStr(_) | Val::BStr(_));
        let mut cut = if string { 25 } else { 26 };
        while !text.is_char_boundary(cut) {
            cut -= 1;
        }
        text.truncate(cut);
        text.push_str(if string { "...\"" } else { "..." });
    }
    format!("{} ({text})", type_name(v))
}

/// An error with jq's message `msg`.
pub(super) fn err(msg: impl ToString) -> Error {
    Error::str(msg)
}

pub(super) fn math_err(l: &Val, verb: &str, r: &Val) -> Error {
    err(format!(
        "{} and {} cannot be {verb}",
        describe(l),
        describe(r)
    ))
}

pub(super) fn str_val(s: Vec<u8>) -> Val {
    Val::utf8_str(s)
}

impl V {
    fn key(k: &Val) -> Result<(), Error> {
        match k {
            Val::TStr(_) | Val::BStr(_) => Ok(()),
            other => Err(err(format!("Cannot use {} as object key", describe(other)))),
        }
    }

    fn arr(a: Vec<Val>) -> V {
        limits::check_len(a.len());
        V(Val::Arr(Rc::new(a)))
    }
}

impl fmt::Display for V {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str(&super::format::dump(&self.0))
    }
}

impl From<bool> for V {
    fn from(b: bool) -> Self {
        V(Val::from(b))
    }
}
impl From<isize> for V {
    fn from(i: isize) -> Self {
        V(Val::from(i))
    }
}
impl From<usize> for V {
    fn from(i: usize) -> Self {
        V(Val::from(i))
    }
}
impl From<f64> for V {
    fn from(f: f64) -> Self {
        V(Val::from(f))
    }
}
impl From<String> for V {
    fn from(s: String) -> Self {
        // jaq's own message for a non-path in a path expression, caught as a value.
        const JAQ: &str = "invalid path expression with input ";
        match s.strip_prefix(JAQ) {
            Some(rest) => V(Val::from(format!(
                "Invalid path expression with result {rest}"
            ))),
            None => V(Val::from(s)),
        }
    }
}

/// How deeply `v` nests (a scalar: 0), counting no further than `limit + 1`.
pub(crate) fn depth(v: &Val, limit: usize) -> usize {
    let mut deepest = 0;
    let mut todo = vec![(v, 0)];
    while let Some((v, d)) = todo.pop() {
        deepest = deepest.max(d);
        if d > limit {
            break;
        }
        match v {
            Val::Arr(a) => todo.extend(a.iter().map(|x| (x, d + 1))),
            Val::Obj(o) => todo.extend(o.values().map(|x| (x, d + 1))),
            _ => {}
        }
    }
    deepest
}
impl From<val::Range<V>> for V {
    fn from(r: val::Range<V>) -> Self {
        V(Val::from(r.start.map(|v| v.0)..r.end.map(|v| v.0)))
    }
}
impl FromIterator<V> for V {
    fn from_iter<T: IntoIterator<Item = V>>(iter: T) -> Self {
        let mut out = Vec::new();
        for v in iter {
            out.push(v.0);
            limits::check_len(out.len());
        }
        V::arr(out)
    }
}

pub(crate) use super::ops::MAX_NESTING;
