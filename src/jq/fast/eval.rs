//! Running a compiled [`Expr`] on a `Value`: each output goes to a sink, and `None`
//! abandons the evaluation to the interpreter.

use super::ops::{call, call1, compare, holds, math, neg};
use super::{Expr, NULL, Sink, Step};
use crate::jq::truthy;
use serde_json::{Map, Value};
use std::borrow::Cow;

impl Expr {
    pub(super) fn run(&self, input: &Value, out: &mut Sink) -> Option<()> {
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
