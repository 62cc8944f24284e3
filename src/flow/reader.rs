//! The located TOML reader: reads tables of a flow file and reports every problem with
//! the byte offset it is at (turned into line:col at the end).

use super::text::Text;
use super::{JqOpt, Problem, duration};
use crate::jq::Jq;
use serde_json::Value;
use std::ops::Range;
use std::sync::Arc;
use std::time::Duration;
use toml::Spanned;
use toml::de::{DeTable, DeValue};

const MAX_NESTING: usize = 64;

/// 1-based line and column (in characters) of byte `offset` in `src`.
pub(crate) fn line_col(src: &str, offset: usize) -> (usize, usize) {
    let mut offset = offset.min(src.len());
    while !src.is_char_boundary(offset) {
        offset -= 1;
    }
    let before = &src[..offset];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let col = before[line_start..].chars().count() + 1;
    (line, col)
}

/// The problems found so far in one flow file.
pub(crate) struct Cx<'s> {
    pub(crate) src: &'s str,
    /// Problems at a byte offset; `None` for one about the whole file.
    pub(crate) problems: Vec<(Option<usize>, String)>,
}

impl<'s> Cx<'s> {
    pub(crate) fn new(src: &'s str) -> Self {
        Cx {
            src,
            problems: Vec::new(),
        }
    }

    /// Reports a problem at byte `at`.
    pub(crate) fn err(&mut self, at: usize, message: impl Into<String>) {
        self.problems.push((Some(at), message.into()));
    }

    /// How many problems were found so far.
    pub(crate) fn count(&self) -> usize {
        self.problems.len()
    }

    pub(crate) fn done(mut self) -> Vec<Problem> {
        // Whole-file problems (`None`) sort first.
        self.problems.sort_by_key(|(at, _)| *at);
        self.problems
            .into_iter()
            .map(|(at, message)| match at {
                Some(at) => {
                    let (line, col) = line_col(self.src, at);
                    Problem { line, col, message }
                }
                None => Problem {
                    line: 0,
                    col: 0,
                    message,
                },
            })
            .collect()
    }
}

/// A TOML value with its place in the file.
pub(crate) type Item<'i> = Spanned<DeValue<'i>>;

/// A TOML table being read: remembers which keys were used so the rest can be reported.
pub(crate) struct Reader<'t, 'i> {
    table: &'t DeTable<'i>,
    /// Where the table starts.
    pub(crate) at: usize,
    /// The table as messages name it, e.g. "step `load` (kind read)".
    pub(crate) what: String,
    /// The table without its kind, e.g. "step `load`".
    pub(crate) label: String,
    allowed: Vec<&'static str>,
}

impl<'t, 'i> Reader<'t, 'i> {
    pub(crate) fn new(table: &'t DeTable<'i>, at: usize, what: impl Into<String>) -> Self {
        let what = what.into();
        Reader {
            table,
            at,
            label: what.clone(),
            what,
            allowed: Vec::new(),
        }
    }

    /// Accepts `keys` too (declared options), whether they were read or not.
    pub(crate) fn allow(&mut self, keys: impl IntoIterator<Item = &'static str>) {
        self.allowed.extend(keys);
    }

    /// The keys read so far.
    pub(crate) fn read_keys(&self) -> &[&'static str] {
        &self.allowed
    }

    pub(crate) fn get(&mut self, key: &'static str) -> Option<&'t Item<'i>> {
        self.allowed.push(key);
        self.table
            .iter()
            .find(|(k, _)| k.get_ref().as_ref() == key)
            .map(|(_, v)| v)
    }

    pub(crate) fn finish(&self, cx: &mut Cx<'_>) {
        for (key, _) in self.table {
            let name: &str = key.get_ref();
            if !self.allowed.contains(&name) {
                let mut expected = self.allowed.clone();
                expected.sort_unstable();
                expected.dedup();
                cx.err(
                    key.span().start,
                    format!(
                        "unknown key `{name}` in {}; expected one of: {}",
                        self.what,
                        expected.join(", ")
                    ),
                );
            }
        }
    }

    pub(crate) fn required(&mut self, cx: &mut Cx<'_>, key: &'static str) -> Option<&'t Item<'i>> {
        let item = self.get(key);
        if item.is_none() {
            cx.err(self.at, format!("{} needs `{key}`", self.what));
        }
        item
    }

    pub(crate) fn str(&mut self, cx: &mut Cx<'_>, key: &'static str) -> Option<(&'t str, usize)> {
        let item = self.get(key)?;
        as_str(cx, item, key)
    }

    pub(crate) fn text(&mut self, cx: &mut Cx<'_>, key: &'static str) -> Option<Text> {
        let item = self.get(key)?;
        text_of(cx, item, key)
    }

    pub(crate) fn req_text(&mut self, cx: &mut Cx<'_>, key: &'static str) -> Option<Text> {
        let item = self.required(cx, key)?;
        text_of(cx, item, key)
    }

    pub(crate) fn bool(&mut self, cx: &mut Cx<'_>, key: &'static str) -> Option<bool> {
        let item = self.get(key)?;
        if let Some(b) = item.get_ref().as_bool() {
            Some(b)
        } else {
            type_err(cx, item, key, "true or false");
            None
        }
    }

    pub(crate) fn uint(&mut self, cx: &mut Cx<'_>, key: &'static str, min: u64) -> Option<u64> {
        let item = self.get(key)?;
        let value = item
            .get_ref()
            .as_integer()
            .and_then(|i| u64::from_str_radix(i.as_str(), i.radix()).ok());
        match value {
            Some(v) if v >= min => Some(v),
            // An integer out of range: show it as written.
            _ if item.get_ref().as_integer().is_some() => {
                let src = cx.src;
                let written = src.get(item.span()).unwrap_or_default();
                cx.err(
                    item.span().start,
                    format!("`{key}` must be a whole number ≥ {min}, not {written}"),
                );
                None
            }
            _ => {
                type_err(cx, item, key, &format!("a whole number ≥ {min}"));
                None
            }
        }
    }

    pub(crate) fn duration(&mut self, cx: &mut Cx<'_>, key: &'static str) -> Option<Duration> {
        let (s, at) = self.str(cx, key)?;
        match duration::parse(s) {
            Ok(d) => Some(d),
            Err(e) => {
                cx.err(at, format!("`{key}`: {e}"));
                None
            }
        }
    }

    pub(crate) fn choice<T: Copy>(
        &mut self,
        cx: &mut Cx<'_>,
        key: &'static str,
        choices: &[(&str, T)],
    ) -> Option<T> {
        let (s, at) = self.str(cx, key)?;
        if let Some((_, v)) = choices.iter().find(|(name, _)| *name == s) {
            Some(*v)
        } else {
            let names: Vec<&str> = choices.iter().map(|(n, _)| *n).collect();
            cx.err(
                at,
                format!("`{key}` must be one of {}, not `{s}`", names.join(", ")),
            );
            None
        }
    }

    pub(crate) fn jq(
        &mut self,
        cx: &mut Cx<'_>,
        key: &'static str,
        required: bool,
    ) -> Option<JqOpt> {
        let item = if required {
            self.required(cx, key)?
        } else {
            self.get(key)?
        };
        jq_of(cx, item, key)
    }

    pub(crate) fn text_table(&mut self, cx: &mut Cx<'_>, key: &'static str) -> Vec<(String, Text)> {
        let Some(item) = self.get(key) else {
            return Vec::new();
        };
        let Some(table) = item.get_ref().as_table() else {
            type_err(
                cx,
                item,
                key,
                "a table of strings, e.g. { Name = \"value\" }",
            );
            return Vec::new();
        };
        let mut out = Vec::new();
        for (k, v) in table {
            if let Some(t) = text_of(cx, v, key) {
                out.push((k.get_ref().to_string(), t));
            }
        }
        out
    }
}

pub(crate) fn type_err(cx: &mut Cx<'_>, item: &Item<'_>, key: &str, expected: &str) {
    cx.err(
        item.span().start,
        format!(
            "`{key}` must be {expected}, not {}",
            item.get_ref().type_str()
        ),
    );
}

pub(crate) fn as_str<'t>(
    cx: &mut Cx<'_>,
    item: &'t Item<'_>,
    key: &str,
) -> Option<(&'t str, usize)> {
    if let Some(s) = item.get_ref().as_str() {
        Some((s, item.span().start))
    } else {
        type_err(cx, item, key, "a string");
        None
    }
}

pub(crate) fn text_of(cx: &mut Cx<'_>, item: &Item<'_>, key: &str) -> Option<Text> {
    let (s, at) = as_str(cx, item, key)?;
    match Text::parse(s) {
        Ok(t) => Some(t),
        Err(bad) => {
            let content = content_start(cx.src, item.span(), s);
            cx.err(
                content.map_or(at, |c| c + bad.offset),
                format!(
                    "`{key}`: a placeholder must read ${{env:NAME}} or ${{secret:NAME}} (NAME: letters, digits, `_`)"
                ),
            );
            None
        }
    }
}

pub(crate) fn jq_of(cx: &mut Cx<'_>, item: &Item<'_>, key: &str) -> Option<JqOpt> {
    let text = text_of(cx, item, key)?;
    // Placeholders become jq variables whose values are given when a run starts; the
    // rewritten code maps back to the text as written, so errors keep their positions.
    let code = text.jq_code();
    match Jq::compile_with_vars(&code.code, text.raw(), &code.var_names()) {
        Ok(jq) => Some(JqOpt {
            text,
            jq: Arc::new(jq),
        }),
        Err(errors) => {
            let content = content_start(cx.src, item.span(), text.raw());
            for e in errors {
                let at = content.map_or(item.span().start, |c| c + code.original(e.range.start));
                cx.err(at, format!("`{key}`: {}", e.message));
            }
            None
        }
    }
}

/// Byte offset in the file where the string value's characters start, when the file
/// text maps one-to-one onto the value (literal strings, basic strings without escapes).
pub(crate) fn content_start(src: &str, span: Range<usize>, value: &str) -> Option<usize> {
    let raw = src.get(span.clone())?;
    let (open, close) = ["'''", "\"\"\"", "'", "\""]
        .iter()
        .find(|d| raw.starts_with(**d))
        .map(|d| (d.len(), d.len()))?;
    let mut start = span.start + open;
    let mut inner = raw.get(open..raw.len().checked_sub(close)?)?;
    if open == 3 {
        // A newline right after the opening delimiter is not part of the value.
        if let Some(rest) = inner.strip_prefix("\r\n") {
            inner = rest;
            start += 2;
        } else if let Some(rest) = inner.strip_prefix('\n') {
            inner = rest;
            start += 1;
        }
    }
    (inner == value).then_some(start)
}

/// Converts an inline TOML value to JSON (datetimes become strings).
pub(crate) fn to_json(cx: &mut Cx<'_>, item: &Item<'_>, depth: usize) -> Option<Value> {
    if depth > MAX_NESTING {
        cx.err(
            item.span().start,
            format!("value nested more than {MAX_NESTING} levels deep"),
        );
        return None;
    }
    Some(match item.get_ref() {
        DeValue::String(s) => Value::String(s.to_string()),
        DeValue::Integer(i) => {
            let n = i64::from_str_radix(i.as_str(), i.radix()).ok()?;
            Value::from(n)
        }
        DeValue::Float(f) => {
            let x: f64 = f.as_str().replace('_', "").parse().ok()?;
            crate::jq::float_json(x)
        }
        DeValue::Boolean(b) => Value::Bool(*b),
        DeValue::Datetime(d) => Value::String(d.to_string()),
        DeValue::Array(a) => Value::Array(
            a.iter()
                .map(|v| to_json(cx, v, depth + 1))
                .collect::<Option<_>>()?,
        ),
        DeValue::Table(t) => {
            let mut map = serde_json::Map::new();
            for (k, v) in t {
                map.insert(k.get_ref().to_string(), to_json(cx, v, depth + 1)?);
            }
            Value::Object(map)
        }
    })
}

pub(crate) fn table<'t, 'i>(
    cx: &mut Cx<'_>,
    item: &'t Item<'i>,
    key: &str,
) -> Option<&'t DeTable<'i>> {
    let t = item.get_ref().as_table();
    if t.is_none() {
        type_err(cx, item, key, "a table");
    }
    t
}
