//! HTML building blocks: escaping, the page frame, status badges, highlighted JSON.

pub(crate) use crate::names::url_part;
use std::fmt::Write as _;

/// `text` with `& < > " '` escaped, safe inside elements and quoted attributes.
#[must_use]
pub(crate) fn esc(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + text.len() / 8);
    push_esc(&mut out, text);
    out
}

/// Appends `text` escaped.
pub(crate) fn push_esc(out: &mut String, text: &str) {
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
}

/// A whole page: `title` (text) and `body` (HTML).
#[must_use]
pub(crate) fn page(title: &str, body: &str) -> String {
    format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
<title>{} · flowrun</title><link rel=\"stylesheet\" href=\"/assets/ui.css\">\
<script src=\"/assets/ui.js\" defer></script></head>\n<body>\
<header><a class=\"brand\" href=\"/\">flowrun</a> <span class=\"muted\">run logs</span></header>\n\
<main>\n{body}\n</main></body></html>\n",
        esc(title)
    )
}

/// A status word in its colour (`success`, `failure`, …: the store's words).
#[must_use]
pub(crate) fn badge(status: &str) -> String {
    let s = esc(status);
    format!("<span class=\"status s-{s}\">{s}</span>")
}

/// An error box: `title` and `message` are text.
#[must_use]
pub(crate) fn error_box(title: &str, message: &str) -> String {
    format!(
        "<div class=\"error-box\" role=\"alert\"><strong>{}</strong><pre>{}</pre></div>",
        esc(title),
        esc(message)
    )
}

/// JSON text (as stored; possibly cut short by trimming) as highlighted HTML: keys,
/// strings, numbers and literals in spans, every `{`/`[` a fold handle for the script.
/// Works token by token on the text, so what is shown is exactly the file.
#[must_use]
pub(crate) fn json_html(text: &str) -> String {
    let mut out = String::with_capacity(text.len() * 2);
    let mut depth = 0usize;
    let chars: Vec<char> = text.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        match c {
            '"' => {
                let start = i;
                i += 1;
                while i < chars.len() && chars[i] != '"' {
                    if chars[i] == '\\' {
                        i += 1;
                    }
                    i += 1;
                }
                i = (i + 1).min(chars.len());
                let s: String = chars[start..i].iter().collect();
                let mut j = i;
                while j < chars.len() && chars[j].is_whitespace() {
                    j += 1;
                }
                let class = if chars.get(j) == Some(&':') {
                    "j-k"
                } else {
                    "j-s"
                };
                let _ = write!(out, "<span class=\"{class}\">{}</span>", esc(&s));
                continue;
            }
            '{' | '[' => {
                depth += 1;
                let _ = write!(out, "<span class=\"j-o\">{c}</span><span class=\"j-c\">");
            }
            '}' | ']' if depth > 0 => {
                depth -= 1;
                let _ = write!(out, "</span><span class=\"j-p\">{c}</span>");
            }
            '-' | '0'..='9' => {
                let start = i;
                while i < chars.len() && matches!(chars[i], '-' | '+' | '.' | 'e' | 'E' | '0'..='9')
                {
                    i += 1;
                }
                let s: String = chars[start..i].iter().collect();
                let _ = write!(out, "<span class=\"j-n\">{}</span>", esc(&s));
                continue;
            }
            't' | 'f' | 'n' => {
                let rest: String = chars[i..chars.len().min(i + 5)].iter().collect();
                if let Some(word) = ["true", "false", "null"]
                    .into_iter()
                    .find(|w| rest.starts_with(w))
                {
                    let _ = write!(out, "<span class=\"j-l\">{word}</span>");
                    i += word.len();
                    continue;
                }
                out.push(c);
            }
            c => push_esc(&mut out, c.encode_utf8(&mut [0; 4])),
        }
        i += 1;
    }
    for _ in 0..depth {
        out.push_str("</span>");
    }
    out
}

/// A byte count for people.
#[must_use]
pub(crate) fn size(bytes: u64) -> String {
    crate::commands::size(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payload_text_cannot_open_tags() {
        let h = json_html(r#"{"a": "</script><img src=x onerror=alert(1)>", "b": [1, true]}"#);
        assert!(!h.contains("<img"), "{h}");
        assert!(!h.contains("</script>"), "{h}");
        assert!(h.contains("&lt;/script&gt;&lt;img"), "{h}");
        assert!(h.contains("<span class=\"j-l\">true</span>"), "{h}");
        // Cut short (trimmed): every opened span is closed.
        let cut = json_html("{\"a\": [1, \"x");
        assert_eq!(cut.matches("<span").count(), cut.matches("</span>").count());
        assert_eq!(esc("a'\"&"), "a&#39;&quot;&amp;");
    }
}
