//! Parsing JSON text, a large top-level array on several threads, and the byte scan it shares.

use serde_json::Value;

/// For a byte scan of JSON text: whether byte `b` is inside a string (then it has been
/// taken into account), with `in_str`/`esc` the scan's state.
pub(super) fn in_string(b: u8, in_str: &mut bool, esc: &mut bool) -> bool {
    if !*in_str {
        return false;
    }
    match b {
        _ if *esc => *esc = false,
        b'\\' => *esc = true,
        b'"' => *in_str = false,
        _ => {}
    }
    true
}

/// Parses JSON text; a large top-level array is parsed on `threads` threads (its
/// elements are found by one scan for top-level commas, then parsed side by side).
///
/// # Errors
/// The text is not one JSON value (the error is the sequential parser's, with its
/// line and column).
pub fn parse(bytes: &[u8], threads: usize) -> serde_json::Result<Value> {
    const MIN_PARALLEL: usize = 4 << 20;
    if threads > 1
        && bytes.len() >= MIN_PARALLEL
        && let Some(v) = par_array_parse(bytes, threads)
    {
        return Ok(v);
    }
    serde_json::from_slice(bytes)
}

/// The top-level array in `bytes` parsed in parallel, or `None` to let the sequential
/// parser handle (and report) anything else.
fn par_array_parse(bytes: &[u8], threads: usize) -> Option<Value> {
    // Nesting the sequential parser would refuse (its limit counts the outer array too)
    // is left to it, so that both paths agree.
    const MAX_NESTING: usize = 127;
    let open = bytes.iter().position(|b| !is_json_space(*b))?;
    if bytes[open] != b'[' {
        return None;
    }
    // Element boundaries: commas at depth 1, outside strings; then the closing bracket.
    let mut bounds = vec![open + 1];
    let (mut depth, mut in_str, mut esc) = (1usize, false, false);
    let mut close = None;
    for (i, &b) in bytes.iter().enumerate().skip(open + 1) {
        if in_string(b, &mut in_str, &mut esc) {
            continue;
        }
        match b {
            b'"' => in_str = true,
            b'[' | b'{' => {
                depth += 1;
                if depth > MAX_NESTING {
                    return None;
                }
            }
            b']' | b'}' => {
                depth -= 1;
                if depth == 0 {
                    close = Some(i);
                    break;
                }
            }
            b',' if depth == 1 => bounds.push(i + 1),
            _ => {}
        }
    }
    let close = close?;
    // Each element is validated by the parser; the array's own end must be `]`.
    if bytes[close] != b']' || !bytes[close + 1..].iter().all(|b| is_json_space(*b)) {
        return None;
    }
    bounds.push(close + 1);
    let spans: Vec<(usize, usize)> = bounds.windows(2).map(|w| (w[0], w[1] - 1)).collect();
    if spans.len() == 1
        && bytes[spans[0].0..spans[0].1]
            .iter()
            .all(|b| is_json_space(*b))
    {
        return Some(Value::Array(Vec::new()));
    }
    let per = spans.len().div_ceil(threads);
    let parts: Vec<Option<Vec<Value>>> = std::thread::scope(|scope| {
        let handles: Vec<_> = spans
            .chunks(per)
            .map(|chunk| {
                scope.spawn(move || {
                    chunk
                        .iter()
                        .map(|&(a, b)| serde_json::from_slice(&bytes[a..b]).ok())
                        .collect::<Option<Vec<Value>>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().ok().flatten())
            .collect()
    });
    let mut items = Vec::with_capacity(spans.len());
    for part in parts {
        items.extend(part?);
    }
    Some(Value::Array(items))
}

/// JSON's whitespace (not form feed, unlike `u8::is_ascii_whitespace`).
pub(super) fn is_json_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\r')
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use std::fmt::Write as _;

    #[test]
    fn parallel_parse_agrees_with_serde_json() {
        let mut text = String::from(" [\n");
        for i in 0..20_000 {
            if i > 0 {
                text.push_str(" ,\n");
            }
            let _ = write!(
                text,
                r#"{{"id": {i}, "s": "a,]}}[{{\"x\\", "n": [1, {{"k": [2.5e3, null]}}], "e": {{}}}}"#
            );
        }
        text.push_str("\n] \n");
        let want: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(par_array_parse(text.as_bytes(), 3), Some(want.clone()));
        assert_eq!(parse(text.as_bytes(), 2).unwrap(), want);
        assert_eq!(par_array_parse(b" [ ] ", 2), Some(json!([])));
        for bad in [
            &b"[1, 2"[..],
            b"[1}",
            b"[{\"a\": 1], 2}",
            b"[1,,2]",
            b"[1] x",
            b"{\"a\": 1}",
            b"[1, tru]",
        ] {
            assert_eq!(
                par_array_parse(bad, 2),
                None,
                "{}",
                String::from_utf8_lossy(bad)
            );
        }
    }
}
