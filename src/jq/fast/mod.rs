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
use jaq_core::load::lex::StrPart;
use jaq_core::load::parse::{BinaryOp, Term};
use jaq_core::ops::{Cmp, Math};
use jaq_core::path::{Opt, Part};
use serde_json::{Map, Number, Value};
use std::borrow::Cow;

mod ops;
use ops::{call, call1, compare, finish, holds, math, neg};

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

    fn run(&self, input: &Value, out: &mut Sink) -> Option<()> {
        match self {
            Expr::Id => out(Cow::Borrowed(input)),
            Expr::Lit(v) => out(Cow::Borrowed(v)),
            Expr::Empty => Some(()),
            Expr::Pipe(l, r) => l.run(input, &mut |v| r.run(&v, out)),
            Expr::Comma(l, r) => {
                l.run(input, out)?;
                r.run(input, out)
            }
            Expr::Path(head, steps) => {
                let mut keys = Vec::new();
                for (step, _) in steps {
                    if let Step::Dyn(f) = step {
                        keys.push(one(f, input)?);
                    }
                }
                head.run(input, &mut |v| walk(&v, steps, &keys, out))
            }
            Expr::Arr(f) => out(Cow::Owned(Value::Array(collect(f, input)?))),
            Expr::Obj(entries) => out(Cow::Owned(object(entries, input)?)),
            Expr::Neg(f) => f.run(input, &mut |v| out(Cow::Owned(neg(&v)?))),
            Expr::Math(l, op, r) => l.run(input, &mut |x| {
                r.run(input, &mut |y| out(Cow::Owned(math(*op, &x, &y)?)))
            }),
            Expr::Cmp(l, op, r) => l.run(input, &mut |x| {
                r.run(input, &mut |y| {
                    let ord = compare(&x, &y)?;
                    out(Cow::Owned(Value::Bool(holds(*op, ord))))
                })
            }),
            Expr::Logic(l, stop, r) => l.run(input, &mut |x| {
                if truthy(&x) == *stop {
                    out(Cow::Owned(Value::Bool(*stop)))
                } else {
                    r.run(input, &mut |y| out(Cow::Owned(Value::Bool(truthy(&y)))))
                }
            }),
            Expr::Alt(l, r) => {
                // The left side runs once (running it twice made `a // b // …` cost 2^n);
                // its truthy outputs are kept until we know whether there are any.
                let mut kept: Vec<Value> = Vec::new();
                l.run(input, &mut |v| {
                    if truthy(&v) {
                        kept.push(v.into_owned());
                    }
                    Some(())
                })?;
                if kept.is_empty() {
                    r.run(input, out)
                } else {
                    kept.into_iter().try_for_each(|v| out(Cow::Owned(v)))
                }
            }
            Expr::If(cond, then, else_) => cond.run(input, &mut |c| {
                if truthy(&c) { then } else { else_ }.run(input, out)
            }),
            Expr::Map(f) => {
                let mut items = Vec::with_capacity(input.as_array().map_or(0, Vec::len));
                each(input, |x| {
                    f.run(x, &mut |v| {
                        items.push(v.into_owned());
                        Some(())
                    })
                })?;
                out(Cow::Owned(Value::Array(items)))
            }
            Expr::Select(f) => f.run(input, &mut |c| {
                if truthy(&c) {
                    out(Cow::Borrowed(input))
                } else {
                    Some(())
                }
            }),
            Expr::Fun(fun) => out(Cow::Owned(call(*fun, input)?)),
            Expr::Fun1(fun, arg) => {
                arg.run(input, &mut |a| out(Cow::Owned(call1(*fun, input, &a)?)))
            }
        }
    }
}

/// Translates jaq's syntax tree; `None` for anything outside the subset.
fn translate(term: Term<&str>) -> Option<Expr> {
    let bx = |t: Term<&str>| translate(t).map(Box::new);
    Some(match term {
        Term::Id => Expr::Id,
        Term::Num(n) => Expr::Lit(number(n)?),
        Term::Str(None, parts) => Expr::Lit(Value::String(plain_str(parts)?)),
        Term::Arr(None) => Expr::Lit(Value::Array(Vec::new())),
        Term::Arr(Some(f)) => Expr::Arr(bx(*f)?),
        Term::Obj(entries) if entries.is_empty() => Expr::Lit(Value::Object(Map::new())),
        Term::Obj(entries) => Expr::Obj(entries.into_iter().map(obj_entry).collect::<Option<_>>()?),
        Term::Neg(f) => match translate(*f)? {
            // Constant folding, so that `.[-1]` is a plain index.
            Expr::Lit(Value::Number(n)) if n.as_i64().is_some() => {
                Expr::Lit(Value::from(n.as_i64()?.checked_neg()?))
            }
            f => Expr::Neg(Box::new(f)),
        },
        Term::BinOp(l, op, r) => {
            let (l, r) = (bx(*l)?, bx(*r)?);
            match op {
                BinaryOp::Pipe(None) => Expr::Pipe(l, r),
                BinaryOp::Comma => Expr::Comma(l, r),
                BinaryOp::Alt => Expr::Alt(l, r),
                BinaryOp::Or => Expr::Logic(l, true, r),
                BinaryOp::And => Expr::Logic(l, false, r),
                BinaryOp::Math(op) => Expr::Math(l, op, r),
                BinaryOp::Cmp(op) => Expr::Cmp(l, op, r),
                _ => return None,
            }
        }
        Term::IfThenElse(branches, else_) => {
            let mut acc = match else_ {
                Some(e) => translate(*e)?,
                None => Expr::Id,
            };
            for (cond, then) in branches.into_iter().rev() {
                acc = Expr::If(bx(cond)?, bx(then)?, Box::new(acc));
            }
            acc
        }
        Term::Call(name, args) => builtin(name, args)?,
        Term::Path(head, path) => {
            let steps = path.0.into_iter().map(|(part, opt)| {
                let step = match part {
                    Part::Range(None, None) => Step::Iter,
                    Part::Index(i) => match translate(i)? {
                        Expr::Lit(Value::String(s)) => Step::Key(s),
                        // A float index is an error in jaq: leave it to the interpreter.
                        Expr::Lit(Value::Number(n)) => Step::Index(n.as_i64()?),
                        f => Step::Dyn(f),
                    },
                    Part::Range(..) => return None,
                };
                Some((step, matches!(opt, Opt::Optional)))
            });
            Expr::Path(bx(*head)?, steps.collect::<Option<_>>()?)
        }
        _ => return None,
    })
}

/// A number literal: jaq keeps integers as integers and other literals as decimal
/// text, printed as written; only non-integral finite ones print like their float.
fn number(text: &str) -> Option<Value> {
    if let Ok(i) = text.parse::<i64>() {
        return Some(Value::from(i));
    }
    let f: f64 = text.parse().ok()?;
    if f.fract() == 0.0 {
        return None;
    }
    Number::from_f64(f).map(Value::Number)
}

fn plain_str(parts: Vec<StrPart<&str, Term<&str>>>) -> Option<String> {
    let mut s = String::new();
    for part in parts {
        match part {
            StrPart::Str(text) => s.push_str(text),
            StrPart::Char(c) => s.push(c),
            StrPart::Term(_) => return None,
        }
    }
    Some(s)
}

fn obj_entry((key, value): (Term<&str>, Option<Term<&str>>)) -> Option<(Expr, Expr)> {
    let key = translate(key)?;
    let value = match (value, &key) {
        (Some(v), _) => translate(v)?,
        // `{name}` is `{name: .name}`
        (None, Expr::Lit(Value::String(s))) => {
            Expr::Path(Box::new(Expr::Id), vec![(Step::Key(s.clone()), false)])
        }
        (None, _) => return None,
    };
    Some((key, value))
}

fn builtin(name: &str, args: Vec<Term<&str>>) -> Option<Expr> {
    let mut args: Vec<Expr> = args.into_iter().map(translate).collect::<Option<_>>()?;
    let index = |i: i64| Expr::Path(Box::new(Expr::Id), vec![(Step::Index(i), false)]);
    let fun1 = match (name, args.len()) {
        ("empty", 0) => return Some(Expr::Empty),
        ("true", 0) => return Some(Expr::Lit(Value::Bool(true))),
        ("false", 0) => return Some(Expr::Lit(Value::Bool(false))),
        ("null", 0) => return Some(Expr::Lit(Value::Null)),
        ("first", 0) => return Some(index(0)),
        ("last", 0) => return Some(index(-1)),
        ("length", 0) => return Some(Expr::Fun(Fun::Length)),
        ("type", 0) => return Some(Expr::Fun(Fun::Type)),
        ("keys", 0) => return Some(Expr::Fun(Fun::Keys)),
        ("add", 0) => return Some(Expr::Fun(Fun::Add)),
        ("not", 0) => return Some(Expr::Fun(Fun::Not)),
        ("tostring", 0) => return Some(Expr::Fun(Fun::ToString)),
        ("tonumber", 0) => return Some(Expr::Fun(Fun::ToNumber)),
        ("ascii_downcase", 0) => return Some(Expr::Fun(Fun::Downcase)),
        ("ascii_upcase", 0) => return Some(Expr::Fun(Fun::Upcase)),
        ("map", 1) => return Some(Expr::Map(Box::new(args.pop()?))),
        ("select", 1) => return Some(Expr::Select(Box::new(args.pop()?))),
        ("contains", 1) => Fun1::Contains,
        ("has", 1) => Fun1::Has,
        ("startswith", 1) => Fun1::StartsWith,
        ("endswith", 1) => Fun1::EndsWith,
        ("ltrimstr", 1) => Fun1::LtrimStr,
        ("rtrimstr", 1) => Fun1::RtrimStr,
        ("join", 1) => Fun1::Join,
        _ => return None,
    };
    Some(Expr::Fun1(fun1, Box::new(args.pop()?)))
}

/// Applies path steps to `v`. Dynamic keys were computed beforehand, in step order.
fn walk(v: &Value, steps: &[(Step, bool)], keys: &[Value], out: &mut Sink) -> Option<()> {
    let Some(((step, optional), rest)) = steps.split_first() else {
        return out(Cow::Borrowed(v));
    };
    // A step that fails in jaq is an error, or no output when it is optional.
    let fail = || optional.then_some(());
    let (key, keys) = match step {
        Step::Key(k) => (Key::Name(k), keys),
        Step::Index(i) => (Key::Index(*i), keys),
        Step::Iter => (Key::Iter, keys),
        Step::Dyn(_) => {
            let (k, keys) = keys.split_first()?;
            let key = match k {
                Value::String(s) => Key::Name(s),
                Value::Number(n) => Key::Index(n.as_i64()?),
                _ => return None,
            };
            (key, keys)
        }
    };
    match (key, v) {
        (Key::Iter, Value::Array(a)) => a.iter().try_for_each(|x| walk(x, rest, keys, out)),
        (Key::Iter, Value::Object(o)) => o.values().try_for_each(|x| walk(x, rest, keys, out)),
        (Key::Name(_) | Key::Index(_), Value::Null) => walk(&NULL, rest, keys, out),
        (Key::Name(k), Value::Object(o)) => walk(o.get(k).unwrap_or(&NULL), rest, keys, out),
        (Key::Index(i), Value::Array(a)) => {
            let x = wrap(i, a.len()).map_or(&NULL, |i| &a[i]);
            walk(x, rest, keys, out)
        }
        // jaq looks a number up as an object key (giving null); leave that to it.
        (Key::Index(_), Value::Object(_)) => None,
        _ => fail(),
    }
}

enum Key<'k> {
    Name(&'k str),
    Index(i64),
    Iter,
}

/// An index into a sequence of `len` elements; negative ones count from the end.
fn wrap(i: i64, len: usize) -> Option<usize> {
    let abs = usize::try_from(i.unsigned_abs()).ok()?;
    let i = if i >= 0 { abs } else { len.checked_sub(abs)? };
    (i < len).then_some(i)
}

/// Calls `f` on the elements of an array or the values of an object (`.[]`).
pub(super) fn each(v: &Value, f: impl FnMut(&Value) -> Option<()>) -> Option<()> {
    match v {
        Value::Array(a) => a.iter().try_for_each(f),
        Value::Object(o) => o.values().try_for_each(f),
        _ => None,
    }
}

fn collect(f: &Expr, input: &Value) -> Option<Vec<Value>> {
    let mut outs = Vec::new();
    f.run(input, &mut |v| {
        outs.push(v.into_owned());
        Some(())
    })?;
    Some(outs)
}

/// The single output of `f`; `None` for zero or several (left to the interpreter).
fn one(f: &Expr, input: &Value) -> Option<Value> {
    let (mut first, mut count) = (None, 0);
    f.run(input, &mut |v| {
        count += 1;
        if count == 1 {
            first = Some(v.into_owned());
        }
        Some(())
    })?;
    first.filter(|_| count == 1)
}

/// `{k1: v1, …}` when every key and value has one output. For several, jaq builds the
/// cartesian product (and for none, no object): that is left to the interpreter.
fn object(entries: &[(Expr, Expr)], input: &Value) -> Option<Value> {
    let mut obj = Map::with_capacity(entries.len());
    for (key, value) in entries {
        let key = match key {
            Expr::Lit(Value::String(s)) => s.clone(),
            _ => match one(key, input)? {
                Value::String(s) => s,
                _ => return None,
            },
        };
        obj.insert(key, one(value, input)?);
    }
    Some(Value::Object(obj))
}

#[cfg(test)]
mod tests;
