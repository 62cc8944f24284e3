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

use super::interp::float_value;
use super::truthy;
use jaq_core::load::lex::StrPart;
use jaq_core::load::parse::{BinaryOp, Term};
use jaq_core::ops::{Cmp, Math};
use jaq_core::path::{Opt, Part};
use serde_json::{Map, Number, Value};
use std::borrow::Cow;
use std::cmp::Ordering;

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
fn each(v: &Value, f: impl FnMut(&Value) -> Option<()>) -> Option<()> {
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

/// A number as jaq sees it; `None` for integers beyond `i64` (jaq's big integers).
#[derive(Clone, Copy)]
enum Num {
    Int(i64),
    Float(f64),
}

fn num(n: &Number) -> Option<Num> {
    match n.as_i64() {
        Some(i) => Some(Num::Int(i)),
        None if n.is_f64() => n.as_f64().map(Num::Float),
        None => None,
    }
}

impl Num {
    #[allow(
        clippy::cast_precision_loss,
        reason = "jaq converts integers to floats the same way"
    )]
    fn as_f64(self) -> f64 {
        match self {
            Num::Int(i) => i as f64,
            Num::Float(f) => f,
        }
    }
}

/// A float result; NaN and infinities are left to the interpreter.
fn float(f: f64) -> Option<Value> {
    Number::from_f64(f).map(Value::Number)
}

fn num_math(op: Math, x: Num, y: Num) -> Option<Value> {
    // jq computes in doubles: integers beyond 2^53 are left to the interpreter.
    const EXACT: i64 = 1 << 53;
    if let (Num::Int(a), Num::Int(b)) = (x, y) {
        if a.unsigned_abs() > EXACT.unsigned_abs() || b.unsigned_abs() > EXACT.unsigned_abs() {
            return None;
        }
        let int = match op {
            Math::Add => a.checked_add(b),
            Math::Sub => a.checked_sub(b),
            Math::Mul => a.checked_mul(b),
            Math::Rem if b == 0 => None,
            // `i64::MIN % -1` is 0 in jaq.
            Math::Rem => Some(a.checked_rem(b).unwrap_or(0)),
            Math::Div => return float(x.as_f64() / y.as_f64()),
        };
        return int
            .filter(|c| c.unsigned_abs() <= EXACT.unsigned_abs())
            .map(Value::from);
    }
    let (a, b) = (x.as_f64(), y.as_f64());
    float(match op {
        Math::Add => a + b,
        Math::Sub => a - b,
        Math::Mul => a * b,
        Math::Div => a / b,
        // jq truncates the operands of `%` to integers: left to the interpreter.
        Math::Rem => return None,
    })
}

fn math(op: Math, x: &Value, y: &Value) -> Option<Value> {
    match (op, x, y) {
        (Math::Add, ..) => add(x.clone(), y),
        (_, Value::Number(a), Value::Number(b)) => num_math(op, num(a)?, num(b)?),
        _ => None,
    }
}

/// `acc + y`, reusing `acc` (as `add` folds left from null).
fn add(acc: Value, y: &Value) -> Option<Value> {
    match (acc, y) {
        (Value::Null, y) => Some(y.clone()),
        (acc, Value::Null) => Some(acc),
        (Value::Number(a), Value::Number(b)) => num_math(Math::Add, num(&a)?, num(b)?),
        (Value::String(mut a), Value::String(b)) => {
            a.push_str(b);
            Some(Value::String(a))
        }
        (Value::Array(mut a), Value::Array(b)) => {
            a.extend(b.iter().cloned());
            Some(Value::Array(a))
        }
        (Value::Object(mut a), Value::Object(b)) => {
            a.extend(b.iter().map(|(k, v)| (k.clone(), v.clone())));
            Some(Value::Object(a))
        }
        _ => None,
    }
}

fn neg(v: &Value) -> Option<Value> {
    match num(v.as_number()?)? {
        Num::Int(i) => i.checked_neg().map(Value::from),
        Num::Float(f) => float(-f),
    }
}

fn holds(op: Cmp, ord: Ordering) -> bool {
    match op {
        Cmp::Lt => ord.is_lt(),
        Cmp::Le => ord.is_le(),
        Cmp::Gt => ord.is_gt(),
        Cmp::Ge => ord.is_ge(),
        Cmp::Eq => ord.is_eq(),
        Cmp::Ne => ord.is_ne(),
    }
}

/// jaq's total order: null < booleans < numbers < strings < arrays < objects.
/// (jaq's equality agrees with it on every value a `Value` can hold.)
fn compare(x: &Value, y: &Value) -> Option<Ordering> {
    fn rank(v: &Value) -> u8 {
        match v {
            Value::Null => 0,
            Value::Bool(_) => 1,
            Value::Number(_) => 2,
            Value::String(_) => 3,
            Value::Array(_) => 4,
            Value::Object(_) => 5,
        }
    }
    Some(match (x, y) {
        (Value::Bool(a), Value::Bool(b)) => a.cmp(b),
        (Value::Number(a), Value::Number(b)) => match (num(a)?, num(b)?) {
            (Num::Int(a), Num::Int(b)) => a.cmp(&b),
            (a, b) => float_cmp(a.as_f64(), b.as_f64()),
        },
        (Value::String(a), Value::String(b)) => a.cmp(b),
        (Value::Array(a), Value::Array(b)) => seq_cmp(a.iter(), b.iter())?,
        (Value::Object(a), Value::Object(b)) => {
            if a.is_empty() || b.is_empty() {
                a.len().min(1).cmp(&b.len().min(1))
            } else {
                let mut a: Vec<_> = a.iter().collect();
                let mut b: Vec<_> = b.iter().collect();
                a.sort_unstable_by_key(|(k, _)| *k);
                b.sort_unstable_by_key(|(k, _)| *k);
                let keys = a.iter().map(|(k, _)| k).cmp(b.iter().map(|(k, _)| k));
                if keys.is_ne() {
                    keys
                } else {
                    seq_cmp(a.iter().map(|(_, v)| *v), b.iter().map(|(_, v)| *v))?
                }
            }
        }
        _ => rank(x).cmp(&rank(y)),
    })
}

fn seq_cmp<'v>(
    mut a: impl Iterator<Item = &'v Value>,
    mut b: impl Iterator<Item = &'v Value>,
) -> Option<Ordering> {
    loop {
        match (a.next(), b.next()) {
            (None, None) => return Some(Ordering::Equal),
            (None, Some(_)) => return Some(Ordering::Less),
            (Some(_), None) => return Some(Ordering::Greater),
            (Some(x), Some(y)) => match compare(x, y)? {
                Ordering::Equal => {}
                ord => return Some(ord),
            },
        }
    }
}

/// Floats compare totally, with `-0.0 == 0.0` (no NaN can reach here).
fn float_cmp(a: f64, b: f64) -> Ordering {
    if a == 0.0 && b == 0.0 {
        Ordering::Equal
    } else {
        a.total_cmp(&b)
    }
}

fn call(fun: Fun, v: &Value) -> Option<Value> {
    Some(match (fun, v) {
        (Fun::Not, v) => Value::Bool(!truthy(v)),
        (Fun::Length, Value::Null) => Value::from(0),
        (Fun::Length, Value::Number(n)) => match num(n)? {
            Num::Int(i) => Value::from(i.checked_abs()?),
            Num::Float(f) => float(f.abs())?,
        },
        (Fun::Length, Value::String(s)) => Value::from(s.chars().count()),
        (Fun::Length, Value::Array(a)) => Value::from(a.len()),
        (Fun::Length, Value::Object(o)) => Value::from(o.len()),
        (Fun::Type, v) => Value::from(match v {
            Value::Null => "null",
            Value::Bool(_) => "boolean",
            Value::Number(_) => "number",
            Value::String(_) => "string",
            Value::Array(_) => "array",
            Value::Object(_) => "object",
        }),
        (Fun::Keys, Value::Object(o)) => {
            let mut keys: Vec<&String> = o.keys().collect();
            keys.sort_unstable();
            Value::Array(keys.into_iter().map(|k| Value::String(k.clone())).collect())
        }
        (Fun::Keys, Value::Array(a)) => Value::Array((0..a.len()).map(Value::from).collect()),
        (Fun::Add, v) => {
            let mut acc = Value::Null;
            each(v, |x| {
                acc = add(std::mem::take(&mut acc), x)?;
                Some(())
            })?;
            acc
        }
        (Fun::ToString, Value::String(_)) | (Fun::ToNumber, Value::Number(_)) => v.clone(),
        // jaq prints floats its own way (`3.0`, decimals as written): not handled here.
        (Fun::ToString, Value::Number(n)) if !n.is_f64() => Value::String(n.to_string()),
        (Fun::ToString, Value::Null | Value::Bool(_)) => Value::String(v.to_string()),
        (Fun::ToNumber, Value::String(s)) => Value::from(parse_int(s)?),
        (Fun::Downcase, Value::String(s)) => Value::String(s.to_ascii_lowercase()),
        (Fun::Upcase, Value::String(s)) => Value::String(s.to_ascii_uppercase()),
        _ => return None,
    })
}

/// Plain decimal integers that jaq's JSON reader parses to the same `i64`.
fn parse_int(s: &str) -> Option<i64> {
    let digits = s.strip_prefix('-').unwrap_or(s);
    let plain = !digits.is_empty()
        && digits.len() <= 18
        && digits.bytes().all(|b| b.is_ascii_digit())
        && (digits == "0" || !digits.starts_with('0'));
    if plain { s.parse().ok() } else { None }
}

fn call1(fun: Fun1, v: &Value, arg: &Value) -> Option<Value> {
    let strs = match (v, arg) {
        (Value::String(s), Value::String(a)) => Some((s, a)),
        _ => None,
    };
    Some(match fun {
        // jq refuses to compare containment of different types: the interpreter errors.
        Fun1::Contains if kind(v) != kind(arg) => return None,
        Fun1::Contains => Value::Bool(contains(v, arg)?),
        Fun1::Has => Value::Bool(match (v, arg) {
            (Value::Object(o), Value::String(k)) => o.contains_key(k),
            (Value::Array(a), Value::Number(i)) => {
                let i = i.as_i64()?;
                i >= 0 && usize::try_from(i).ok()? < a.len()
            }
            _ => return None,
        }),
        Fun1::StartsWith => strs.map(|(s, a)| Value::Bool(s.starts_with(a.as_str())))?,
        Fun1::EndsWith => strs.map(|(s, a)| Value::Bool(s.ends_with(a.as_str())))?,
        Fun1::LtrimStr => {
            strs.map(|(s, a)| Value::from(s.strip_prefix(a.as_str()).unwrap_or(s)))?
        }
        Fun1::RtrimStr => {
            strs.map(|(s, a)| Value::from(s.strip_suffix(a.as_str()).unwrap_or(s)))?
        }
        Fun1::Join => {
            // jaq's `join` turns non-strings into their JSON text; only strings here.
            let (Value::Array(items), Value::String(sep)) = (v, arg) else {
                return None;
            };
            let mut joined = String::new();
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    joined.push_str(sep);
                }
                joined.push_str(item.as_str()?);
            }
            Value::String(joined)
        }
    })
}

/// A value's jq type, as a number.
fn kind(v: &Value) -> u8 {
    match v {
        Value::Null => 0,
        Value::Bool(_) => 1,
        Value::Number(_) => 2,
        Value::String(_) => 3,
        Value::Array(_) => 4,
        Value::Object(_) => 5,
    }
}

/// jq's `contains`: substrings, recursive for arrays and objects, else equality;
/// values of different types never contain each other.
fn contains(a: &Value, b: &Value) -> Option<bool> {
    if kind(a) != kind(b) {
        return Some(false);
    }
    match (a, b) {
        (Value::String(a), Value::String(b)) => Some(a.contains(b.as_str())),
        (Value::Array(a), Value::Array(b)) => {
            for y in b {
                let mut found = false;
                for x in a {
                    if contains(x, y)? {
                        found = true;
                        break;
                    }
                }
                if !found {
                    return Some(false);
                }
            }
            Some(true)
        }
        (Value::Object(a), Value::Object(b)) => {
            for (k, y) in b {
                match a.get(k) {
                    Some(x) if contains(x, y)? => {}
                    _ => return Some(false),
                }
            }
            Some(true)
        }
        _ => Some(compare(a, b)? == Ordering::Equal),
    }
}

/// An output as the interpreter path returns it: floats go through [`float_value`].
fn finish(v: Cow<'_, Value>) -> Value {
    match v {
        Cow::Borrowed(v) => normalized(v),
        Cow::Owned(mut v) => {
            normalize(&mut v);
            v
        }
    }
}

fn normalized(v: &Value) -> Value {
    match v {
        Value::Number(n) if n.is_f64() => float_value(n.as_f64().unwrap_or(f64::NAN)),
        Value::Array(a) => Value::Array(a.iter().map(normalized).collect()),
        Value::Object(o) => {
            Value::Object(o.iter().map(|(k, v)| (k.clone(), normalized(v))).collect())
        }
        v => v.clone(),
    }
}

fn normalize(v: &mut Value) {
    match v {
        Value::Number(n) if n.is_f64() => *v = float_value(n.as_f64().unwrap_or(f64::NAN)),
        Value::Array(a) => a.iter_mut().for_each(normalize),
        Value::Object(o) => o.values_mut().for_each(normalize),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::super::{Engine, Jq};
    use serde_json::{Value, json};
    use std::time::Instant;

    const W: &str = concat!(
        "map({order_id: .id, email: (.customer.email|ascii_downcase), ",
        "total: ([.lines[] | .qty * .price] | add), lines: [.lines[] | {sku, qty}]})"
    );

    /// Filters in the subset, one a line; the first four are the hot ones of workload W.
    const SUPPORTED: &str = r#"
.total > 0
.email | contains("@")
.id
map(select(.total > 0))
.
."id"
.customer.email
.[0]
.[-1]
.[]
.lines[]
.lines[0].sku
.lines[-1]
.[]?
.a?
.lines[]?.qty
.customer?.email
.tags[.n]
.[.id]
1
-1
1.5
-2.25
"lit"
"esc\n\u00e9\"\t"
true
false
null
[]
{}
.id, .total
[.[]?]
[.lines[]?.qty]
{a: .id, "b": .total, id, ("k"): 1, "x y"}
{(.id|tostring): 1}
{a: (1,2), b: 3}
{a: empty, b: 1}
{a: 1, a: 2, b: 3}
.total + 1
.total - 1
.total * 2
.total / 2
.total % 2
.n + 1
.n * 2
.m - 1
-.m
1 + 2 * 3 - 4 / 8 % 3
.lines[0].qty * .lines[0].price
.id + "x"
.tags + ["z"]
. + {z: 1}
null + .id
.tags - ["x"]
-.total
-.id
10 / 4
7 % 3
-7 % 3
5 % -2
5.5 % 2
1 / 3
0.1 + 0.2
1 / 0
(1, 2) * (10, 20)
.total >= 0
.total < 10
.total <= 45.48
.total == 45.48
.total != null
.id == "ORD-1"
1 == 1.5 - 0.5
[1, 2] < [1, 3]
{a: 1} == {a: (0.5 + 0.5)}
{b: 1, a: 2} < {a: 3}
{} < {a: 1}
null < false
"a" < "b"
.customer > .lines
.n > .m
.n == .n + 0
.big | tostring
.big + 1
.big == .big
.n < .total
.total > 0 and .id != null
.total < 0 or .email
(true, false) and (true, false)
(true, false) or (true, false)
not
.total | not
.x // "default"
.id // .total
(null, false) // 3
empty // 1
(1, null, 2) // 3
if .total > 0 then "pos" elif .total == 0 then "zero" else "neg" end
if .id then 1 end
if (true, false) then 1 else 2 end
length
.id | length
.email | length
.total | length
type
[.[]? | type]
keys
.customer | keys
has("id")
has(0)
.tags | has(-1)
.tags | has(5)
tostring
.id | tostring
.total | tostring
.n | tostring
tonumber
"12" | tonumber
"-0" | tonumber
"1.5" | tonumber
.id | tonumber
add
.tags | add
[.lines[]? | .qty] | add
.lines | add
map(.qty)
.lines | map(.qty * .price)
map(.)
select(.total > 0)
[.[]? | select(. != null)]
contains({id: 7})
.tags | contains(["x"])
contains(1)
.email | ascii_downcase
.email | ascii_upcase
.email | startswith("a")
.email | endswith(".de")
.id | ltrimstr("ORD-")
.id | rtrimstr("1")
.tags | join(",")
.tags | join(", ")
first
last
.tags | first
empty
[.[]? | -.]
map(.email | contains("@"))
.n - 10
.n + 1
.m - 1
.big * 1
.n * 2
.total % 2
.n % 3
.id | contains(1)
.tags | contains(["x"])
.tags | contains("x")
.tags | has(0)
.email | ltrimstr(1)
.id | tostring
.n | tostring
.total / 0
"#;

    /// Filters outside the subset, one a line: they must stay with the interpreter.
    const UNSUPPORTED: &str = r#"
..
reduce .[] as $x (0; . + $x)
.a as $x | $x
try .a
"\(.id)"
@base64
def f: 1; f
.[1:]
.a = 1
[.[]? | numbers]
1.0
1e3
first(.[])
limit(1; .[])
.[] |= 1
"#;

    /// Inputs, as a stream of JSON texts.
    const INPUTS: &str = r#"
{"id":"ORD-1","customer":{"email":"Anna.Müller@Example.COM","name":"Anna"},
 "lines":[{"sku":"A","qty":2,"price":19.99},{"sku":"B","qty":1,"price":5.5}],
 "total":45.48,"email":"a@b","tags":["x","y"],"n":1}
{"id":"ORD-2","customer":{"email":"BEN@SHOP.TEST"},
 "lines":[{"sku":"C","qty":3,"price":10},{"sku":"D","qty":2,"price":12.0}],
 "total":0,"email":"ben.de","tags":[],"n":0}
{"id":7}
{"id":null,"customer":null,"lines":null,"total":null,"email":null}
{"id":"x","customer":{"email":""},"lines":[],"total":-3,"email":"noat"}
{"id":-5,"total":-1.5,"n":9223372036854775807,"m":-9223372036854775808,
 "big":18446744073709551615,"lines":[{"qty":9223372036854775807,"price":2}]}
{"id":"ÄÖÜ","email":"ÄÖÜ@ß.de","tags":["é","a",null,1],"total":1e300}
{"b":1,"a":{"c":[1,2,{"d":null}]},"é":2,"A":3,"total":1808.1999999999998}
{"a":0.1,"b":0.2,"c":1e17,"d":123456789012345680000.0,"e":-0.0,"total":3.0}
[1, 2.5, "a", null, true, [1], {"a": 1}, -0.0, 3.0]
[{"id":"ORD-1","customer":{"email":"X@Y.Z"},"lines":[{"sku":"A","qty":2,"price":19.99}]},
 {"id":"ORD-2","customer":{"email":"q"},"lines":[{"sku":"B","qty":1,"price":0}],"total":0},
 {"id":"ORD-3","customer":{"email":"W@v"},"lines":[],"total":2.5}]
[] {} 0 -0.0 3.0 1e300 "str" null true [1,2,3] ["a","b"]
"#;

    fn lines(list: &str) -> impl Iterator<Item = &str> {
        list.lines().filter(|l| !l.is_empty())
    }

    #[test]
    fn fast_path_agrees_with_the_interpreter() {
        let inputs = serde_json::Deserializer::from_str(INPUTS).into_iter::<Value>();
        let inputs: Vec<Value> = inputs.collect::<Result<_, _>>().unwrap();
        let mut answered = 0;
        for src in lines(SUPPORTED).chain([W]) {
            let interp = Jq::compile_with(src, Engine::Interpreter).unwrap();
            let fast = super::compile(src).unwrap();
            for input in &inputs {
                let expected = interp.run(input);
                if let Some(got) = fast.eval_all(input) {
                    answered += 1;
                    let got = got.unwrap();
                    let Ok(expected) = &expected else {
                        panic!("{src} on {input}: fast gave {got:?}, interpreter {expected:?}");
                    };
                    assert_eq!(&got, expected, "{src} on {input}");
                    let text = |v: &[Value]| serde_json::to_string(v).unwrap();
                    assert_eq!(text(&got), text(expected), "{src} on {input}");
                }
                if let Some(got) = fast.eval_test(input) {
                    assert_eq!(got, interp.test(input), "{src} on {input} as a condition");
                }
            }
        }
        // Most cases must be answered, not just handed back to the interpreter.
        assert!(
            answered > 1000,
            "the fast path answered only {answered} cases"
        );
    }

    #[test]
    fn subset_is_compiled() {
        for src in lines(SUPPORTED).chain([W]) {
            assert_eq!(Jq::compile(src).unwrap().engine(), Engine::Fast, "{src}");
        }
        for src in lines(UNSUPPORTED) {
            let jq = Jq::compile(src).unwrap();
            assert_eq!(jq.engine(), Engine::Interpreter, "{src}");
        }
    }

    #[test]
    fn hot_filters_answer_on_orders() {
        let mapped = &super::compile(W)
            .unwrap()
            .eval_all(&orders(50))
            .unwrap()
            .unwrap()[0];
        let hot: Vec<_> = lines(SUPPORTED)
            .take(4)
            .map(|f| super::compile(f).unwrap())
            .collect();
        assert!(hot[3].eval_all(mapped).is_some());
        for order in mapped.as_array().unwrap() {
            for fast in &hot[..3] {
                assert!(fast.eval_all(order).is_some() && fast.eval_test(order).is_some());
            }
        }
    }

    /// Orders shaped as `bench/gen_orders.py` makes them (deterministic).
    fn orders(n: usize) -> Value {
        let mut seed: u64 = 20_240_601;
        let mut next = move |m: u64| {
            seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
            (seed >> 33) % m
        };
        let order = |i: usize| {
            let free = next(200) == 0;
            let lines: Vec<Value> = (0..=next(5))
                .map(|_| {
                    let cents = if free { 0 } else { 50 + next(24_950) };
                    let price = format!("{}.{:02}", cents / 100, cents % 100);
                    let price: Value = serde_json::from_str(&price).unwrap();
                    let sku = format!("SKU-{:06}", next(1_000_000));
                    json!({"sku": sku, "qty": 1 + next(6), "price": price})
                })
                .collect();
            let email = format!("Asa.Muller{}@Example.COM", next(1000));
            json!({
                "id": format!("ORD-{i:08}"), "created_at": "2024-03-05T12:34:56Z",
                "status": "shipped", "customer": {"name": "Åsa Müller", "email": email},
                "lines": lines, "shipping": {"country": "DE", "city": "München"},
            })
        };
        (1..=n).map(order).collect()
    }

    #[test]
    #[ignore = "micro-benchmark: cargo test --release --lib jq::fast -- --ignored --nocapture"]
    fn bench_w() {
        let n = 10_000;
        let orders = orders(n);
        let batches: Vec<Value> = orders
            .as_array()
            .unwrap()
            .chunks(1000)
            .map(Value::from)
            .collect();
        let w = Jq::compile(W).unwrap();
        let mapped: Vec<Value> = batches.iter().map(|b| w.run_one(b).unwrap()).collect();
        let time = |src: &str, engine: Engine, inputs: &[Value], per_element: bool| {
            // Compiling loads jaq's definitions (milliseconds): keep it out of the timing.
            let jq = Jq::compile_with(src, engine).unwrap();
            assert_eq!(jq.engine(), engine, "{src}");
            let start = Instant::now();
            let mut outs = Vec::new();
            for batch in inputs {
                if per_element {
                    let elements = batch.as_array().unwrap();
                    outs.extend(elements.iter().map(|x| Value::Bool(jq.test(x).unwrap())));
                } else {
                    outs.extend(jq.run(batch).unwrap());
                }
            }
            #[allow(clippy::cast_precision_loss, reason = "small counts")]
            let micros = start.elapsed().as_secs_f64() * 1e6 / n as f64;
            (micros, outs)
        };
        let cases = [
            (W, &batches, false),
            (".total > 0", &mapped, true),
            (r#".email | contains("@")"#, &mapped, true),
            ("map(select(.total > 0))", &mapped, false),
        ];
        for (src, inputs, per_element) in cases {
            let _ = time(src, Engine::Fast, inputs, per_element);
            let (fast, a) = time(src, Engine::Fast, inputs, per_element);
            let (interp, b) = time(src, Engine::Interpreter, inputs, per_element);
            assert_eq!(a, b, "{src}");
            let ratio = interp / fast;
            println!(
                "{src}\n  fast {fast:.2} µs/order, interpreter {interp:.2} µs/order ({ratio:.1}x)"
            );
        }
    }
}
