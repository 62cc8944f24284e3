//! Natives over any value: `length`, `contains`, `has`, `indices` and `_strindices`,
//! with jq's rules and messages.

use super::{Error, err};
use crate::jq::value::{V, describe};
use jaq_json::{Num, Val};

pub(super) fn length(v: &Val) -> Result<V, Error> {
    Ok(match v {
        Val::Null => V::from(0usize),
        Val::Bool(_) => return Err(err(format!("{} has no length", describe(v)))),
        Val::Num(Num::Dec(lit)) => V(Val::Num(Num::from_dec_str(lit.trim_start_matches('-')))),
        Val::Num(n) => V::from(crate::jq::value::num_f64(n).abs()),
        Val::TStr(s) | Val::BStr(s) => V::from(String::from_utf8_lossy(s).chars().count()),
        Val::Arr(a) => V::from(a.len()),
        Val::Obj(o) => V::from(o.len()),
    })
}

pub(super) fn contains(a: &Val, b: &Val) -> Result<bool, Error> {
    contains_at(a, b, 0)
}

fn contains_at(a: &Val, b: &Val, depth: usize) -> Result<bool, Error> {
    if depth > 10_000 {
        return Err(err("Containment check too deep"));
    }
    let contains = |a: &Val, b: &Val| contains_at(a, b, depth + 1);
    Ok(match (a, b) {
        (Val::TStr(l), Val::TStr(r)) => r.is_empty() || l.windows(r.len()).any(|w| w == &r[..]),
        (Val::Arr(l), Val::Arr(r)) => {
            for x in r.iter() {
                let mut found = false;
                for y in l.iter() {
                    if crate::jq::value::type_name(x) == crate::jq::value::type_name(y)
                        && contains(y, x)?
                    {
                        found = true;
                        break;
                    }
                }
                if !found {
                    return Ok(false);
                }
            }
            true
        }
        (Val::Obj(l), Val::Obj(r)) => {
            for (k, x) in r.iter() {
                match l.get(k) {
                    Some(y) if crate::jq::value::type_name(x) == crate::jq::value::type_name(y) => {
                        if !contains(y, x)? {
                            return Ok(false);
                        }
                    }
                    _ => return Ok(false),
                }
            }
            true
        }
        (l, r) if crate::jq::value::type_name(l) == crate::jq::value::type_name(r) => l == r,
        (l, r) => {
            return Err(err(format!(
                "{} and {} cannot have their containment checked",
                describe(l),
                describe(r)
            )));
        }
    })
}

pub(super) fn has(v: &Val, k: &Val) -> Result<bool, Error> {
    match (v, k) {
        (Val::Obj(o), Val::TStr(_)) => Ok(o.contains_key(k)),
        (Val::Arr(a), Val::Num(n)) => {
            let f = crate::jq::value::num_f64(n);
            Ok(f >= 0.0 && f < f64::from(u32::try_from(a.len()).unwrap_or(u32::MAX)))
        }
        _ => Err(err(format!(
            "Cannot check whether {} has a {} key",
            crate::jq::value::type_name(v),
            crate::jq::value::type_name(k)
        ))),
    }
}

pub(super) fn str_indices(s: &Val, x: &Val) -> Result<V, Error> {
    match (s, x) {
        (Val::TStr(s), Val::TStr(x)) => {
            if x.is_empty() {
                return Ok(std::iter::empty().collect::<V>());
            }
            // jq 1.8 counts string indices in codepoints.
            let mut chars = 0usize;
            let mut out = Vec::new();
            for (i, &b) in s.iter().enumerate() {
                if b & 0xC0 == 0x80 {
                    continue;
                }
                if s[i..].starts_with(x) {
                    out.push(V::from(chars));
                }
                chars += 1;
            }
            Ok(out.into_iter().collect())
        }
        (Val::TStr(_), other) => Err(err(format!("{} is not a string", describe(other)))),
        (other, _) => Err(err(format!(
            "{} cannot be searched, as it is not a string",
            describe(other)
        ))),
    }
}

pub(super) fn indices(x: &Val, y: &Val) -> Result<V, Error> {
    match (x, y) {
        (Val::Arr(a), Val::Arr(b)) => Ok(if b.is_empty() {
            std::iter::empty().collect::<V>()
        } else {
            a.windows(b.len())
                .enumerate()
                .filter(|(_, w)| *w == &b[..])
                .map(|(i, _)| V::from(i))
                .collect()
        }),
        (Val::Arr(a), y) => Ok(a
            .iter()
            .enumerate()
            .filter(|(_, x)| *x == y)
            .map(|(i, _)| V::from(i))
            .collect()),
        _ => str_indices(x, y),
    }
}
