//! The operations of the direct evaluator: numbers as jaq has them, arithmetic,
//! comparison and the builtins of the subset.

use super::super::interp::float_value;
use super::super::truthy;
use super::eval::each;
use super::{Fun, Fun1};
use jaq_core::ops::{Cmp, Math};
use serde_json::{Number, Value};
use std::borrow::Cow;
use std::cmp::Ordering;

/// A number as jaq sees it; `None` for integers beyond `i64` (jaq's big integers).
#[derive(Clone, Copy)]
pub(super) enum Num {
    Int(i64),
    Float(f64),
}

pub(super) fn num(n: &Number) -> Option<Num> {
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
pub(super) fn float(f: f64) -> Option<Value> {
    Number::from_f64(f).map(Value::Number)
}

pub(super) fn num_math(op: Math, x: Num, y: Num) -> Option<Value> {
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

pub(super) fn math(op: Math, x: &Value, y: &Value) -> Option<Value> {
    match (op, x, y) {
        (Math::Add, ..) => add(x.clone(), y),
        (_, Value::Number(a), Value::Number(b)) => num_math(op, num(a)?, num(b)?),
        _ => None,
    }
}

/// `acc + y`, reusing `acc` (as `add` folds left from null).
pub(super) fn add(acc: Value, y: &Value) -> Option<Value> {
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

pub(super) fn neg(v: &Value) -> Option<Value> {
    match num(v.as_number()?)? {
        Num::Int(i) => i.checked_neg().map(Value::from),
        Num::Float(f) => float(-f),
    }
}

pub(super) fn holds(op: Cmp, ord: Ordering) -> bool {
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
pub(super) fn compare(x: &Value, y: &Value) -> Option<Ordering> {
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

pub(super) fn seq_cmp<'v>(
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
pub(super) fn float_cmp(a: f64, b: f64) -> Ordering {
    if a == 0.0 && b == 0.0 {
        Ordering::Equal
    } else {
        a.total_cmp(&b)
    }
}

pub(super) fn call(fun: Fun, v: &Value) -> Option<Value> {
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
pub(super) fn parse_int(s: &str) -> Option<i64> {
    let digits = s.strip_prefix('-').unwrap_or(s);
    let plain = !digits.is_empty()
        && digits.len() <= 18
        && digits.bytes().all(|b| b.is_ascii_digit())
        && (digits == "0" || !digits.starts_with('0'));
    if plain { s.parse().ok() } else { None }
}

pub(super) fn call1(fun: Fun1, v: &Value, arg: &Value) -> Option<Value> {
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
pub(super) fn kind(v: &Value) -> u8 {
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
pub(super) fn contains(a: &Value, b: &Value) -> Option<bool> {
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
pub(super) fn finish(v: Cow<'_, Value>) -> Value {
    match v {
        Cow::Borrowed(v) => normalized(v),
        Cow::Owned(mut v) => {
            normalize(&mut v);
            v
        }
    }
}

pub(super) fn normalized(v: &Value) -> Value {
    match v {
        Value::Number(n) if n.is_f64() => float_value(n.as_f64().unwrap_or(f64::NAN)),
        Value::Array(a) => Value::Array(a.iter().map(normalized).collect()),
        Value::Object(o) => {
            Value::Object(o.iter().map(|(k, v)| (k.clone(), normalized(v))).collect())
        }
        v => v.clone(),
    }
}

pub(super) fn normalize(v: &mut Value) {
    match v {
        Value::Number(n) if n.is_f64() => *v = float_value(n.as_f64().unwrap_or(f64::NAN)),
        Value::Array(a) => a.iter_mut().for_each(normalize),
        Value::Object(o) => o.values_mut().for_each(normalize),
        _ => {}
    }
}
