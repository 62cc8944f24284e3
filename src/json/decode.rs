//! The one decoder for JSON from outside: byte-order mark, wide integers, deep nesting.

use super::parse::{in_string, is_json_space, parse};
use serde_json::Value;

/// Values nest at most this many arrays and objects deep: the same bound as the jq
/// layer's limit on the values it builds (10,000 levels below the top value), so that
/// every payload flowrun stores can be read back.
pub(crate) const MAX_DEPTH: usize = 10_001;

/// Why some bytes are not a JSON value flowrun takes, and where (1-based line and
/// column; callers put the file name in front).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{line}:{column}: {message}")]
pub(crate) struct DecodeError {
    /// Line of the fault.
    pub(crate) line: usize,
    /// Column of the fault.
    pub(crate) column: usize,
    /// What is wrong, e.g. `not valid JSON: …`.
    pub(crate) message: String,
}

/// The one decoder for JSON that comes from outside (files a `read` finds, dropped
/// files, `--input`, recorded payloads read back, a `command`'s output, an `http`
/// response). It decides what such bytes hold:
/// - a leading UTF-8 byte-order mark is skipped (as jq does);
/// - an integer literal beyond 64 bits is refused, naming it: the parser would
///   silently turn it into a float that prints as a different number;
/// - values nest up to [`MAX_DEPTH`] levels (the parser's own limit is 128, less than
///   the payloads flowrun itself writes).
///
/// A large top-level array is parsed on `threads` threads (see [`parse`]).
///
/// # Errors
/// The text is not one JSON value, holds a too-large integer or nests too deep.
pub(crate) fn decode(bytes: &[u8], threads: usize) -> Result<Value, DecodeError> {
    let bytes = strip_bom(bytes);
    let value = match parse(bytes, threads) {
        Ok(v) => v,
        Err(e) if is_depth_error(&e) => parse_deep(bytes)?,
        Err(e) => return Err(syntax_error(&e)),
    };
    check_integers(bytes, &value, (1, 1))?;
    Ok(value)
}

/// [`decode`] for NDJSON: one value per non-blank line (`\n` or `\r\n` ends a line).
/// Line numbers in errors are those of the whole text.
///
/// # Errors
/// A line is not one JSON value (see [`decode`]).
pub(crate) fn decode_lines(bytes: &[u8]) -> Result<Vec<Value>, DecodeError> {
    let bytes = strip_bom(bytes);
    let mut values = Vec::new();
    for (i, line) in bytes.split(|b| *b == b'\n').enumerate() {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.iter().all(|b| is_json_space(*b)) {
            continue;
        }
        let at_line = |mut e: DecodeError| {
            e.line += i;
            e
        };
        let value = match serde_json::from_slice(line) {
            Ok(v) => v,
            Err(e) if is_depth_error(&e) => parse_deep(line).map_err(at_line)?,
            Err(e) => return Err(at_line(syntax_error(&e))),
        };
        check_integers(line, &value, (i + 1, 1))?;
        values.push(value);
    }
    Ok(values)
}

/// `bytes` without a leading UTF-8 byte-order mark.
fn strip_bom(bytes: &[u8]) -> &[u8] {
    bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes)
}

fn syntax_error(e: &serde_json::Error) -> DecodeError {
    DecodeError {
        line: e.line(),
        column: e.column(),
        message: format!("not valid JSON: {e}"),
    }
}

/// Whether the parser stopped at its own nesting limit (its error has no kind of its own).
fn is_depth_error(e: &serde_json::Error) -> bool {
    e.to_string().starts_with("recursion limit exceeded")
}

/// Parses text that nests deeper than the parser's default limit, once a scan has
/// shown it stays within [`MAX_DEPTH`] (commands and steps run on a large stack:
/// `crate::cores::STEP_STACK`).
fn parse_deep(bytes: &[u8]) -> Result<Value, DecodeError> {
    use serde::Deserialize as _;
    if let Some(at) = too_deep(bytes) {
        let (line, column) = line_col(bytes, at);
        return Err(DecodeError {
            line,
            column,
            message: format!("the value nests more than {MAX_DEPTH} arrays and objects deep"),
        });
    }
    let mut de = serde_json::Deserializer::from_slice(bytes);
    de.disable_recursion_limit();
    let value = Value::deserialize(&mut de).map_err(|e| syntax_error(&e))?;
    de.end().map_err(|e| syntax_error(&e))?;
    Ok(value)
}

/// The offset of the bracket that opens level [`MAX_DEPTH`] + 1, if there is one.
fn too_deep(bytes: &[u8]) -> Option<usize> {
    let (mut depth, mut in_str, mut esc) = (0usize, false, false);
    for (i, &b) in bytes.iter().enumerate() {
        if in_string(b, &mut in_str, &mut esc) {
            continue;
        }
        match b {
            b'"' => in_str = true,
            b'[' | b'{' => {
                depth += 1;
                if depth > MAX_DEPTH {
                    return Some(i);
                }
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    None
}

/// 1-based line and column (in characters) of byte `at`.
fn line_col(bytes: &[u8], at: usize) -> (usize, usize) {
    let before = &bytes[..at.min(bytes.len())];
    let line_start = before
        .iter()
        .rposition(|b| *b == b'\n')
        .map_or(0, |p| p + 1);
    let line = before.split(|b| *b == b'\n').count();
    let column = 1 + String::from_utf8_lossy(&before[line_start..])
        .chars()
        .count();
    (line, column)
}

/// Refuses an integer literal that does not fit in 64 bits. The parser reads such a
/// literal as the nearest float, so only a value holding an integral float outside
/// the 64-bit range can have come from one: the text is scanned only then. `start`
/// is the line and column of `bytes[0]`.
fn check_integers(bytes: &[u8], value: &Value, start: (usize, usize)) -> Result<(), DecodeError> {
    if !has_wide_float(value) {
        return Ok(());
    }
    let Some((at, len)) = wide_integer(bytes) else {
        return Ok(());
    };
    let (line, column) = line_col(bytes, at);
    let (line, column) = if line == 1 {
        (start.0, start.1 + column - 1)
    } else {
        (start.0 + line - 1, column)
    };
    let literal = String::from_utf8_lossy(&bytes[at..at + len]);
    let shown = if literal.len() > 40 {
        format!("{}… ({} digits)", &literal[..40], literal.len())
    } else {
        literal.into_owned()
    };
    Err(DecodeError {
        line,
        column,
        message: format!(
            "the integer {shown} does not fit in 64 bits; flowrun keeps numbers exact and would have to round it (write it as a string to keep every digit, or with an exponent such as 1.5e21 to accept a float)"
        ),
    })
}

/// Whether `value` holds a float with no fraction beyond the 64-bit integer range.
pub(super) fn has_wide_float(value: &Value) -> bool {
    match value {
        // A wider integer literal rounds to at most -2^63 or at least 2^64 (2^64 - 1
        // itself is a u64).
        Value::Number(n) => {
            n.is_f64()
                && n.as_f64().is_some_and(|f| {
                    f.fract() == 0.0 && (f <= -(2f64.powi(63)) || f >= 2f64.powi(64))
                })
        }
        Value::Array(items) => items.iter().any(has_wide_float),
        Value::Object(map) => map.values().any(has_wide_float),
        _ => false,
    }
}

/// The offset and length of the first integer literal (no fraction, no exponent)
/// outside strings that is not an `i64` or `u64`.
fn wide_integer(bytes: &[u8]) -> Option<(usize, usize)> {
    let (mut in_str, mut esc) = (false, false);
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if in_str {
            match b {
                _ if esc => esc = false,
                b'\\' => esc = true,
                b'"' => in_str = false,
                _ => {}
            }
            i += 1;
            continue;
        }
        if b == b'"' {
            in_str = true;
            i += 1;
            continue;
        }
        if b == b'-' || b.is_ascii_digit() {
            let len = bytes[i..]
                .iter()
                .position(|c| !matches!(c, b'0'..=b'9' | b'-' | b'+' | b'.' | b'e' | b'E'))
                .unwrap_or(bytes.len() - i);
            let token = &bytes[i..i + len];
            let integral = !token.iter().any(|c| matches!(c, b'.' | b'e' | b'E'));
            if integral {
                let text = std::str::from_utf8(token).unwrap_or_default();
                if text.parse::<i64>().is_err() && text.parse::<u64>().is_err() {
                    return Some((i, len));
                }
            }
            i += len.max(1);
            continue;
        }
        i += 1;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::json::to_pretty;
    use serde_json::json;

    #[test]
    fn decode_skips_a_bom_and_refuses_wide_integers() {
        assert_eq!(decode(b"\xEF\xBB\xBF[1]", 1).unwrap(), json!([1]));
        let max = format!("[{}, {}]", u64::MAX, i64::MIN);
        assert!(decode(max.as_bytes(), 1).is_ok());
        for (text, at) in [
            ("[18446744073709551616]", (1, 2)),
            ("{\"a\":\n  -9223372036854775809}", (2, 3)),
            ("[\"1e30\", 1e30, 100000000000000000000000000000]", (1, 16)),
        ] {
            let e = decode(text.as_bytes(), 1).unwrap_err();
            assert_eq!((e.line, e.column), at, "{text}: {e}");
            assert!(e.message.contains("does not fit in 64 bits"), "{e}");
        }
        assert!(decode(b"[1e30, 1.5e300, 12345678901234567890.0]", 1).is_ok());
        let e = decode_lines(b"1\n\n[2,\n").unwrap_err();
        assert_eq!(e.line, 3, "{e}");
        let e = decode_lines(b"1\r\n[99999999999999999999]\r\n").unwrap_err();
        assert_eq!((e.line, e.column), (2, 2), "{e}");
    }

    #[test]
    fn decode_reads_what_flowrun_writes_up_to_the_depth_limit() {
        // On a stack like the one commands and steps run on.
        let check = || {
            let deep = |n: usize| format!("{}{}", "[".repeat(n), "]".repeat(n));
            assert!(decode(deep(MAX_DEPTH).as_bytes(), 1).is_ok());
            let v = decode(deep(1000).as_bytes(), 1).unwrap();
            assert_eq!(decode(&to_pretty(&v), 1).unwrap(), v);
            let e = decode(deep(MAX_DEPTH + 1).as_bytes(), 1).unwrap_err();
            assert!(e.message.contains("nests more than"), "{e}");
            assert_eq!(e.column, MAX_DEPTH + 1);
            let e = decode(format!("{}1", "[".repeat(300)).as_bytes(), 1).unwrap_err();
            assert!(e.message.starts_with("not valid JSON"), "{e}");
        };
        std::thread::Builder::new()
            .stack_size(crate::cores::STEP_STACK)
            .spawn(check)
            .unwrap()
            .join()
            .unwrap();
    }
}
