//! jq's destructuring alternatives, which jaq's parser lacks, by rewriting the text:
//! `T as P1 ?// P2 | B` becomes
//! `T as $__alt | . as $__in | try ($__in | V | $__alt as P1 | B) catch ($__in | V | $__alt as P2 | B)`,
//! where `V` binds
//! every variable of every pattern to `null` (as jq does for the ones a pattern lacks).
//! An error in one alternative (binding or body) moves on to the next; the last one's
//! error stands.

use std::fmt::Write as _;

/// Byte offsets of the code tokens of interest, outside strings and comments.
fn code_bytes(src: &str) -> Vec<(usize, u8)> {
    let b = src.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'"' => {
                i += 1;
                while i < b.len() && b[i] != b'"' {
                    i += if b[i] == b'\\' { 2 } else { 1 };
                }
            }
            b'#' => {
                while i < b.len() && b[i] != b'\n' {
                    i += 1;
                }
            }
            c => out.push((i, c)),
        }
        i += 1;
    }
    out
}

fn is_word(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_' || c == b'$'
}

/// The keyword starting at `i`, if `src` has a whole word there.
fn word_at(src: &str, i: usize) -> &str {
    let b = src.as_bytes();
    if i > 0 && is_word(b[i - 1]) {
        return "";
    }
    let end = (i..b.len()).find(|&j| !is_word(b[j])).unwrap_or(b.len());
    &src[i..end]
}

/// Rewrites every destructuring alternative; `None` when there is none (or the text
/// does not have the expected shape, left for the parser to report).
pub(crate) fn rewrite(src: &str) -> Option<String> {
    let mut text = src.to_owned();
    let mut changed = false;
    for _ in 0..64 {
        match rewrite_one(&text) {
            Some(next) => {
                text = next;
                changed = true;
            }
            None => break,
        }
    }
    changed.then_some(text)
}

fn rewrite_one(src: &str) -> Option<String> {
    let code = code_bytes(src);
    let first = code
        .iter()
        .position(|&(i, _)| src[i..].starts_with("?//"))?;
    // Back to the `as` at the same depth.
    let mut depth = 0i32;
    let mut as_at = None;
    for &(i, c) in code[..first].iter().rev() {
        match c {
            b')' | b']' | b'}' => depth += 1,
            b'(' | b'[' | b'{' => depth -= 1,
            _ if depth == 0 && word_at(src, i) == "as" => {
                as_at = Some(i);
                break;
            }
            _ => {}
        }
        if depth < 0 {
            return None;
        }
    }
    let as_at = as_at?;
    // Patterns up to the `|` at depth 0, then the body up to its end.
    let mut patterns = Vec::new();
    let mut start = as_at + 2;
    let mut depth = 0i32;
    let mut pipe = None;
    let mut end = src.len();
    let mut k = code.iter().position(|&(i, _)| i > as_at)?;
    while k < code.len() {
        let (i, c) = code[k];
        let w = word_at(src, i);
        match c {
            b'(' | b'[' | b'{' => depth += 1,
            b')' | b']' | b'}' if depth == 0 => {
                end = i;
                break;
            }
            b')' | b']' | b'}' => depth -= 1,
            _ if w == "if" => depth += 1,
            _ if w == "end" && depth > 0 => depth -= 1,
            _ if depth == 0
                && pipe.is_some()
                && (w == "then" || w == "elif" || w == "else" || w == "end" || c == b';') =>
            {
                end = i;
                break;
            }
            _ if depth == 0 && pipe.is_none() && src[i..].starts_with("?//") => {
                patterns.push(src[start..i].trim().to_owned());
                start = i + 3;
                k += 2;
            }
            b'|' if depth == 0 && pipe.is_none() && !src[i..].starts_with("|=") => {
                patterns.push(src[start..i].trim().to_owned());
                pipe = Some(i);
            }
            _ => {}
        }
        k += 1;
    }
    let pipe = pipe?;
    let body = src[pipe + 1..end].trim();
    let mut vars: Vec<String> = Vec::new();
    for p in &patterns {
        for (i, _) in p.match_indices('$') {
            let name: String = p[i..]
                .char_indices()
                .take_while(|&(j, c)| j == 0 || c.is_ascii_alphanumeric() || c == '_')
                .map(|(_, c)| c)
                .collect();
            if name.len() > 1 && !vars.contains(&name) {
                vars.push(name);
            }
        }
    }
    let mut nulls = String::new();
    for v in &vars {
        let _ = write!(nulls, "null as {v} | ");
    }
    let mut alts = String::new();
    for (n, p) in patterns.iter().enumerate() {
        let alt = format!("($__in | {nulls}$__alt as {p} | {body})");
        if n + 1 < patterns.len() {
            let _ = write!(alts, "try {alt} catch ");
        } else {
            alts.push_str(&alt);
        }
    }
    Some(format!(
        "{}as $__alt | . as $__in | ({alts}){}",
        &src[..as_at],
        &src[end..]
    ))
}

#[cfg(test)]
mod tests {
    use super::rewrite;

    #[test]
    fn alternatives_become_try_chains() {
        let out = rewrite(".[] as [$a] ?// $a | $a").unwrap();
        assert_eq!(
            out,
            ".[] as $__alt | . as $__in | (try ($__in | null as $a | $__alt as [$a] | $a) catch ($__in | null as $a | $__alt as $a | $a))"
        );
        assert!(rewrite(". as [$a] | $a").is_none());
    }
}
