//! Natives that read or cut strings: `tonumber`, `fromjson`, `implode`, `ltrimstr`,
//! `rtrimstr`, `trim`/`ltrim`/`rtrim`, and the capture groups of a regex.

use super::{Error, err, string};
use crate::jq::value::{V, describe};
use jaq_json::{Num, Val};

pub(super) fn tonumber(v: &Val) -> Result<V, Error> {
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

pub(super) fn fromjson(v: &Val) -> Result<V, Error> {
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

pub(super) fn implode(v: &Val) -> Result<V, Error> {
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
        let f = crate::jq::value::num_f64(n);
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
    crate::jq::limits::check_bytes(out.len());
    Ok(string(out))
}

pub(super) fn trim_str(v: &V, x: &V, left: bool) -> Result<V, Error> {
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

pub(super) fn trim(v: &Val, left: bool, right: bool) -> Result<V, Error> {
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
pub(super) fn groups(re: &str) -> V {
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
