//! Native filters over [`V`] where jaq's differ from jq's or jq has one jaq lacks:
//! `tojson`, `tostring`, `fromjson`, `tonumber`, `length`, `utf8bytelength`,
//! `contains`, `has`, `_strindices`, `bsearch`, `implode`, `ltrimstr`, `rtrimstr`,
//! `trim`/`ltrim`/`rtrim`, `builtins` and the `@format` strings.

#![allow(
    clippy::many_single_char_names,
    reason = "short names for operands, as in jaq"
)]

use super::format::{self, dump};
use super::value::{V, describe};
use jaq_core::native::{Filter, Fun, bome, run, unary, v};
use jaq_core::{DataT, RunPtr};
use jaq_json::{Num, Val};
use std::sync::OnceLock;

type Error = jaq_core::Error<V>;

fn err(msg: impl ToString) -> Error {
    Error::str(msg)
}

fn string(s: impl Into<String>) -> V {
    V::from(s.into())
}

fn length(v: &Val) -> Result<V, Error> {
    Ok(match v {
        Val::Null => V::from(0usize),
        Val::Bool(_) => return Err(err(format!("{} has no length", describe(v)))),
        Val::Num(Num::Dec(lit)) => V(Val::Num(Num::from_dec_str(lit.trim_start_matches('-')))),
        Val::Num(n) => V::from(super::value::num_f64(n).abs()),
        Val::TStr(s) | Val::BStr(s) => V::from(String::from_utf8_lossy(s).chars().count()),
        Val::Arr(a) => V::from(a.len()),
        Val::Obj(o) => V::from(o.len()),
    })
}

fn contains(a: &Val, b: &Val) -> Result<bool, Error> {
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
                    if super::value::type_name(x) == super::value::type_name(y) && contains(y, x)? {
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
                    Some(y) if super::value::type_name(x) == super::value::type_name(y) => {
                        if !contains(y, x)? {
                            return Ok(false);
                        }
                    }
                    _ => return Ok(false),
                }
            }
            true
        }
        (l, r) if super::value::type_name(l) == super::value::type_name(r) => l == r,
        (l, r) => {
            return Err(err(format!(
                "{} and {} cannot have their containment checked",
                describe(l),
                describe(r)
            )));
        }
    })
}

fn has(v: &Val, k: &Val) -> Result<bool, Error> {
    match (v, k) {
        (Val::Obj(o), Val::TStr(_)) => Ok(o.contains_key(k)),
        (Val::Arr(a), Val::Num(n)) => {
            let f = super::value::num_f64(n);
            Ok(f >= 0.0 && f < f64::from(u32::try_from(a.len()).unwrap_or(u32::MAX)))
        }
        _ => Err(err(format!(
            "Cannot check whether {} has a {} key",
            super::value::type_name(v),
            super::value::type_name(k)
        ))),
    }
}

fn str_indices(s: &Val, x: &Val) -> Result<V, Error> {
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

fn indices(x: &Val, y: &Val) -> Result<V, Error> {
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

fn tonumber(v: &Val) -> Result<V, Error> {
    match v {
        Val::Num(_) => Ok(V(v.clone())),
        Val::TStr(s) => {
            let text = std::str::from_utf8(s).unwrap_or("");
            let unsigned = text.strip_prefix('+').unwrap_or(text);
            let plain = text.strip_prefix('-').unwrap_or(unsigned);
            let ok = !plain.is_empty()
                && text.trim() == text
                && (plain.starts_with(|c: char| c.is_ascii_digit()) || plain.starts_with('.'))
                && text.parse::<f64>().is_ok()
                && !plain.contains(['x', 'X', 'i', 'I', 'n', 'N']);
            if ok {
                let text = text.strip_prefix('+').unwrap_or(text);
                let lit = if plain.starts_with('.') {
                    text.replacen('.', "0.", 1)
                } else {
                    text.to_owned()
                };
                Ok(V(Val::Num(Num::from_dec_str(&lit))))
            } else {
                Err(err(format!("{} cannot be parsed as a number", describe(v))))
            }
        }
        other => Err(err(format!(
            "{} cannot be parsed as a number",
            describe(other)
        ))),
    }
}

fn fromjson(v: &Val) -> Result<V, Error> {
    let Val::TStr(s) = v else {
        return Err(err(format!("{} cannot be parsed as JSON", describe(v))));
    };
    let text = String::from_utf8_lossy(s);
    match text.trim() {
        "nan" | "NaN" => return Ok(V::from(f64::NAN)),
        "-nan" | "-NaN" => return Ok(V::from(f64::NAN)),
        _ => {}
    }
    let mut depth = 0usize;
    let mut in_str = false;
    let mut escaped = false;
    for &b in s.iter() {
        match (in_str, b) {
            (true, _) if escaped => escaped = false,
            (true, b'\\') => escaped = true,
            (_, b'"') => in_str = !in_str,
            (false, b'[' | b'{') => {
                depth += 1;
                if depth > 10_000 {
                    return Err(err(format!(
                        "Exceeds depth limit for parsing (while parsing '{text}')"
                    )));
                }
            }
            (false, b']' | b'}') => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    jaq_json::read::parse_single(s)
        .map(V)
        .map_err(|e| err(format!("{e} (while parsing '{text}')")))
}

fn implode(v: &Val) -> Result<V, Error> {
    let Val::Arr(a) = v else {
        return Err(err("implode input must be an array"));
    };
    let mut out = String::new();
    for c in a.iter() {
        let Val::Num(n) = c else {
            return Err(err(format!(
                "{} can't be imploded, unicode codepoint needs to be numeric",
                describe(c)
            )));
        };
        let f = super::value::num_f64(n);
        if f.is_nan() {
            return Err(err(
                "number (null) can't be imploded, unicode codepoint needs to be numeric",
            ));
        }
        #[allow(
            clippy::cast_possible_truncation,
            clippy::cast_sign_loss,
            reason = "checked below"
        )]
        let cp = if f < 0.0 { u32::MAX } else { f as u32 };
        out.push(char::from_u32(cp).unwrap_or('\u{FFFD}'));
    }
    super::limits::check_bytes(out.len());
    Ok(string(out))
}

fn trim_str(v: &V, x: &V, left: bool) -> Result<V, Error> {
    let (Val::TStr(s), Val::TStr(p)) = (&v.0, &x.0) else {
        let which = if left { "startswith" } else { "endswith" };
        return Err(err(format!("{which}() requires string inputs")));
    };
    if left && s.starts_with(p) {
        Ok(V(Val::utf8_str(s.slice(p.len()..))))
    } else if !left && s.ends_with(p) {
        Ok(V(Val::utf8_str(s.slice(..s.len() - p.len()))))
    } else {
        Ok(v.clone())
    }
}

fn trim(v: &Val, left: bool, right: bool) -> Result<V, Error> {
    let Val::TStr(s) = v else {
        return Err(err("trim input must be a string"));
    };
    let text = String::from_utf8_lossy(s);
    let t = match (left, right) {
        (true, true) => text.trim(),
        (true, false) => text.trim_start(),
        _ => text.trim_end(),
    };
    Ok(string(t))
}

/// The capture groups of a regex, in order: their names, `null` for unnamed ones.
fn groups(re: &str) -> V {
    let b = re.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    let mut in_class = false;
    while i < b.len() {
        match b[i] {
            b'\\' => i += 1,
            b'[' if !in_class => in_class = true,
            b']' if in_class => in_class = false,
            b'(' if !in_class => {
                let rest = &re[i + 1..];
                let named = rest.strip_prefix("?P<").or_else(|| {
                    rest.strip_prefix("?<")
                        .filter(|r| !r.starts_with(['=', '!']))
                });
                if let Some(named) = named {
                    let name: String = named.chars().take_while(|c| *c != '>').collect();
                    out.push(string(name));
                } else if !rest.starts_with('?') {
                    out.push(V(Val::Null));
                }
            }
            _ => {}
        }
        i += 1;
    }
    out.into_iter().collect()
}

/// Names of all definitions, as `name/arity`, for `builtins`.
pub(crate) static BUILTINS: OnceLock<Vec<String>> = OnceLock::new();

/// The native filters, named `_n_*`; `defs.jq` puts them under jq's names.
pub(crate) fn funs<D: for<'a> DataT<V<'a> = V>>() -> impl Iterator<Item = Fun<D>> {
    base().into_vec().into_iter().map(run)
}

fn base<D: for<'a> DataT<V<'a> = V>>() -> Box<[Filter<RunPtr<D>>]> {
    Box::new([
        ("_n_tojson", v(0), |cv| bome(Ok(string(dump(&cv.1.0))))),
        ("_n_env", v(0), |_| {
            bome(Ok(V(super::interp::to_val(super::environment()))))
        }),
        ("_n_tostring", v(0), |cv| {
            bome(Ok(string(format::text(&cv.1.0))))
        }),
        ("_n_fromjson", v(0), |cv| bome(fromjson(&cv.1.0))),
        ("_n_tonumber", v(0), |cv| bome(tonumber(&cv.1.0))),
        ("_n_length", v(0), |cv| bome(length(&cv.1.0))),
        ("_n_utf8bytelength", v(0), |cv| {
            bome(match &cv.1.0 {
                Val::TStr(s) => Ok(V::from(s.len())),
                other => Err(err(format!(
                    "{} only strings have UTF-8 byte length",
                    describe(other)
                ))),
            })
        }),
        ("_n_contains", v(1), |cv| {
            unary(cv, |x, y| contains(&x.0, &y.0).map(V::from))
        }),
        ("_n_has", v(1), |cv| {
            unary(cv, |x, k| has(&x.0, &k.0).map(V::from))
        }),
        ("_n_strindices", v(1), |cv| {
            unary(cv, |s, x| str_indices(&s.0, &x.0))
        }),
        ("_n_bsearch", v(1), |cv| {
            unary(cv, |a, x| match &a.0 {
                Val::Arr(items) => Ok(V::from(match items.binary_search(&x.0) {
                    Ok(i) => i.cast_signed(),
                    Err(i) => -1 - i.cast_signed(),
                })),
                other => Err(err(format!("{} cannot be searched from", describe(other)))),
            })
        }),
        ("_n_implode", v(0), |cv| bome(implode(&cv.1.0))),
        ("_n_ltrimstr", v(1), |cv| {
            unary(cv, |s, x| trim_str(&s, &x, true))
        }),
        ("_n_rtrimstr", v(1), |cv| {
            unary(cv, |s, x| trim_str(&s, &x, false))
        }),
        ("_n_trim", v(0), |cv| bome(trim(&cv.1.0, true, true))),
        ("_n_ltrim", v(0), |cv| bome(trim(&cv.1.0, true, false))),
        ("_n_rtrim", v(0), |cv| bome(trim(&cv.1.0, false, true))),
        ("_n_format", v(1), |cv| {
            unary(cv, |x, name| {
                let name = format::text(&name.0);
                format::apply(&name, &x.0).map(string).map_err(err)
            })
        }),
        // Under jaq-json's names too: jaq's own definitions call these.
        ("fromjson", v(0), |cv| bome(fromjson(&cv.1.0))),
        ("tojson", v(0), |cv| bome(Ok(string(dump(&cv.1.0))))),
        ("length", v(0), |cv| bome(length(&cv.1.0))),
        ("contains", v(1), |cv| {
            unary(cv, |x, y| contains(&x.0, &y.0).map(V::from))
        }),
        ("has", v(1), |cv| {
            unary(cv, |x, k| has(&x.0, &k.0).map(V::from))
        }),
        ("indices", v(1), |cv| unary(cv, |x, y| indices(&x.0, &y.0))),
        ("_n_isnan", v(0), |cv| {
            bome(Ok(V::from(
                matches!(&cv.1.0, Val::Num(n) if super::value::num_f64(n).is_nan()),
            )))
        }),
        ("_n_comparable", v(0), |cv| {
            let deep = super::value::depth(&cv.1.0, super::value::MAX_NESTING);
            bome(if deep > super::value::MAX_NESTING {
                Err(err("Comparison too deep"))
            } else {
                Ok(cv.1)
            })
        }),
        ("_n_groups", v(1), |cv| {
            unary(cv, |_, re| Ok(groups(&format::text(&re.0))))
        }),
        ("_n_nan", v(0), |_| bome(Ok(V::from(f64::NAN)))),
        ("_n_infinite", v(0), |_| bome(Ok(V::from(f64::INFINITY)))),
        ("_n_describe", v(0), |cv| {
            bome(Ok(string(describe(&cv.1.0))))
        }),
        ("_n_builtins", v(0), |_| {
            let names = BUILTINS.get().cloned().unwrap_or_default();
            bome(Ok(names.into_iter().map(string).collect()))
        }),
    ])
}
