//! Translating jaq's syntax tree into an [`Expr`]; `None` for anything outside the
//! subset.

use super::{Expr, Fun, Fun1, Step};
use jaq_core::load::lex::StrPart;
use jaq_core::load::parse::{BinaryOp, Term};
use jaq_core::path::{Opt, Part};
use serde_json::{Map, Number, Value};

/// Translates jaq's syntax tree; `None` for anything outside the subset.
pub(super) fn translate(term: Term<&str>) -> Option<Expr> {
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
