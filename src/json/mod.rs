//! JSON text as flowrun writes it: pretty payload files, compact one-liners for messages.

mod decode;
mod parse;
mod pretty;
mod raw;
mod stream;

pub(crate) use decode::{DecodeError, decode, decode_lines};
pub use parse::parse;
pub(crate) use pretty::{push_pretty_at, write_pretty};
pub use pretty::{to_pretty, write_pretty_par};
pub(crate) use raw::{parse_plain, push_pretty_raw};
pub(crate) use stream::{ArrayElements, NotStreamed, parse_element};

use serde_json::Value;
use std::fmt::Write as _;

/// blake3 (hex) of a payload's pretty bytes: what the store records as `full_blake3`.
#[must_use]
pub(crate) fn payload_hash(value: &Value) -> String {
    let mut hasher = blake3::Hasher::new();
    write_pretty(&mut hasher, value).expect("hashing cannot fail");
    hasher.finalize().to_hex().to_string()
}

/// A compact rendering for messages, cut to about `max` characters.
#[must_use]
pub(crate) fn brief(value: &Value, max: usize) -> String {
    let text = value.to_string();
    if text.chars().count() <= max {
        text
    } else {
        let cut: String = text.chars().take(max).collect();
        format!("{cut}…")
    }
}

/// Equality as jq sees it: numbers compare by value (1 == 1.0), objects ignore key order.
#[must_use]
pub(crate) fn same(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => {
            if let (Some(i), Some(j)) = (x.as_i64(), y.as_i64()) {
                i == j
            } else if let (Some(i), Some(j)) = (x.as_u64(), y.as_u64()) {
                i == j
            } else {
                x.as_f64() == y.as_f64()
            }
        }
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(a, b)| same(a, b))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| same(v, w)))
        }
        _ => a == b,
    }
}

/// The first place where `actual` differs from `expected`, as a jq path, with both values.
#[must_use]
pub(crate) fn first_difference(
    expected: &Value,
    actual: &Value,
) -> Option<(String, String, String)> {
    fn walk(path: &mut String, e: &Value, a: &Value) -> Option<(String, String, String)> {
        match (e, a) {
            (Value::Array(x), Value::Array(y)) if x.len() == y.len() => {
                for (i, (e, a)) in x.iter().zip(y).enumerate() {
                    let len = path.len();
                    let _ = write!(path, "[{i}]");
                    if let Some(d) = walk(path, e, a) {
                        return Some(d);
                    }
                    path.truncate(len);
                }
                None
            }
            (Value::Object(x), Value::Object(y))
                if x.len() == y.len() && x.keys().all(|k| y.contains_key(k)) =>
            {
                for (k, e) in x {
                    let len = path.len();
                    let _ = write!(path, ".{}", serde_json::to_string(k).unwrap_or_default());
                    if let Some(d) = walk(path, e, &y[k]) {
                        return Some(d);
                    }
                    path.truncate(len);
                }
                None
            }
            _ if same(e, a) => None,
            _ => Some((
                if path.is_empty() {
                    ".".to_owned()
                } else {
                    path.clone()
                },
                brief(e, 80),
                brief(a, 80),
            )),
        }
    }
    walk(&mut String::new(), expected, actual)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn same_compares_numbers_by_value() {
        assert!(same(
            &json!({"a": 1, "b": [2.0]}),
            &json!({"b": [2], "a": 1.0})
        ));
        assert!(!same(&json!([1]), &json!([1, 2])));
    }

    #[test]
    fn finds_first_difference() {
        let d = first_difference(&json!({"a": [1, 2]}), &json!({"a": [1, 3]})).unwrap();
        assert_eq!(d, (".\"a\"[1]".to_owned(), "2".to_owned(), "3".to_owned()));
        assert_eq!(first_difference(&json!(1), &json!(1.0)), None);
    }
}
