//! Validation of flow text: every problem of a file, each located by line and column.

use super::text::Text;
use super::{
    BodyMode, DEFAULT_MAX_PAYLOAD_BYTES, DedupeMode, HttpSpec, JqOpt, LineFormat, Problem,
    ReadFormat, ResponseMode, Settings, Spec, StepDef, Trigger, duration, is_name, nesting,
};
use crate::jq::Jq;
use serde_json::Value;
use std::ops::Range;
use std::sync::Arc;
use std::time::Duration;
use toml::Spanned;
use toml::de::{DeTable, DeValue};

/// What a flow file holds once it validates.
pub struct Parsed {
    pub description: Option<String>,
    pub trigger: Option<Trigger>,
    pub settings: Settings,
    pub steps: Vec<StepDef>,
}

const STEP_KEYS: &[&str] = &["id", "kind", "skip", "description"];
const KINDS: &[&str] = &[
    "read", "write", "http", "command", "map", "filter", "assert", "split", "merge", "dedupe",
];
const MAX_NESTING: usize = 64;

/// 1-based line and column (in characters) of byte `offset` in `src`.
pub fn line_col(src: &str, offset: usize) -> (usize, usize) {
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

struct Cx<'s> {
    src: &'s str,
    /// Problems at a byte offset; `None` for one about the whole file.
    problems: Vec<(Option<usize>, String)>,
}

impl Cx<'_> {
    fn err(&mut self, at: usize, message: impl Into<String>) {
        self.problems.push((Some(at), message.into()));
    }

    fn done(mut self) -> Vec<Problem> {
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

type Item<'i> = Spanned<DeValue<'i>>;

/// A TOML table being read: remembers which keys were used so the rest can be reported.
struct Reader<'t, 'i> {
    table: &'t DeTable<'i>,
    at: usize,
    what: String,
    allowed: Vec<&'static str>,
}

impl<'t, 'i> Reader<'t, 'i> {
    fn new(table: &'t DeTable<'i>, at: usize, what: impl Into<String>) -> Self {
        Reader {
            table,
            at,
            what: what.into(),
            allowed: Vec::new(),
        }
    }

    fn get(&mut self, key: &'static str) -> Option<&'t Item<'i>> {
        self.allowed.push(key);
        self.table
            .iter()
            .find(|(k, _)| k.get_ref().as_ref() == key)
            .map(|(_, v)| v)
    }

    fn finish(&self, cx: &mut Cx<'_>) {
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

    fn required(&mut self, cx: &mut Cx<'_>, key: &'static str) -> Option<&'t Item<'i>> {
        let item = self.get(key);
        if item.is_none() {
            cx.err(self.at, format!("{} needs `{key}`", self.what));
        }
        item
    }

    fn str(&mut self, cx: &mut Cx<'_>, key: &'static str) -> Option<(&'t str, usize)> {
        let item = self.get(key)?;
        as_str(cx, item, key)
    }

    fn text(&mut self, cx: &mut Cx<'_>, key: &'static str) -> Option<Text> {
        let item = self.get(key)?;
        text_of(cx, item, key)
    }

    fn req_text(&mut self, cx: &mut Cx<'_>, key: &'static str) -> Option<Text> {
        let item = self.required(cx, key)?;
        text_of(cx, item, key)
    }

    fn bool(&mut self, cx: &mut Cx<'_>, key: &'static str) -> Option<bool> {
        let item = self.get(key)?;
        if let Some(b) = item.get_ref().as_bool() {
            Some(b)
        } else {
            type_err(cx, item, key, "true or false");
            None
        }
    }

    fn uint(&mut self, cx: &mut Cx<'_>, key: &'static str, min: u64) -> Option<u64> {
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

    fn duration(&mut self, cx: &mut Cx<'_>, key: &'static str) -> Option<Duration> {
        let (s, at) = self.str(cx, key)?;
        match duration::parse(s) {
            Ok(d) => Some(d),
            Err(e) => {
                cx.err(at, format!("`{key}`: {e}"));
                None
            }
        }
    }

    fn choice<T: Copy>(
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

    fn jq(&mut self, cx: &mut Cx<'_>, key: &'static str, required: bool) -> Option<JqOpt> {
        let item = if required {
            self.required(cx, key)?
        } else {
            self.get(key)?
        };
        jq_of(cx, item, key)
    }

    fn text_table(&mut self, cx: &mut Cx<'_>, key: &'static str) -> Vec<(String, Text)> {
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

fn type_err(cx: &mut Cx<'_>, item: &Item<'_>, key: &str, expected: &str) {
    cx.err(
        item.span().start,
        format!(
            "`{key}` must be {expected}, not {}",
            item.get_ref().type_str()
        ),
    );
}

fn as_str<'t>(cx: &mut Cx<'_>, item: &'t Item<'_>, key: &str) -> Option<(&'t str, usize)> {
    if let Some(s) = item.get_ref().as_str() {
        Some((s, item.span().start))
    } else {
        type_err(cx, item, key, "a string");
        None
    }
}

fn text_of(cx: &mut Cx<'_>, item: &Item<'_>, key: &str) -> Option<Text> {
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

fn jq_of(cx: &mut Cx<'_>, item: &Item<'_>, key: &str) -> Option<JqOpt> {
    let text = text_of(cx, item, key)?;
    // Placeholders become jq variables whose values are given when a run starts; the
    // rewritten code maps back to the text as written, so errors keep their positions.
    let code = text.jq_code();
    if let Some(at) = nesting::too_deep(&code.code, nesting::MAX_JQ_DEPTH) {
        let content = content_start(cx.src, item.span(), text.raw());
        cx.err(
            content.map_or(item.span().start, |c| c + code.original(at)),
            format!("`{key}`: {}", nesting::message()),
        );
        return None;
    }
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
fn content_start(src: &str, span: Range<usize>, value: &str) -> Option<usize> {
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
fn to_json(cx: &mut Cx<'_>, item: &Item<'_>, depth: usize) -> Option<Value> {
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

/// Validates `src`, returning the flow parts or every problem found.
pub fn parse(src: &str) -> Result<Parsed, Vec<Problem>> {
    let mut cx = Cx {
        src,
        problems: Vec::new(),
    };
    let (doc, errors) = DeTable::parse_recoverable(src);
    if !errors.is_empty() {
        for e in errors {
            // Some errors (the parser's nesting limit) come without a place: they are
            // about the whole file rather than its first character.
            let at = e.span().map(|s| s.start);
            let message = format!("TOML: {}", e.message().trim_end());
            cx.problems.push((at, message));
        }
        return Err(cx.done());
    }
    let doc = doc.get_ref();
    let mut top = Reader::new(doc, 0, "the flow file");
    let description = top.str(&mut cx, "description").map(|(s, _)| s.to_owned());
    let trigger = top.get("trigger").and_then(|t| trigger(&mut cx, t));
    let settings = match top.get("settings") {
        Some(item) => settings(&mut cx, item),
        None => Settings {
            max_payload_bytes: DEFAULT_MAX_PAYLOAD_BYTES,
            timeout: None,
        },
    };
    let steps = match top.get("steps") {
        Some(item) => steps(&mut cx, item),
        None => {
            cx.err(0, "the flow has no steps: add at least one [[steps]] table");
            Vec::new()
        }
    };
    top.finish(&mut cx);
    if cx.problems.is_empty() {
        Ok(Parsed {
            description,
            trigger,
            settings,
            steps,
        })
    } else {
        Err(cx.done())
    }
}

fn table<'t, 'i>(cx: &mut Cx<'_>, item: &'t Item<'i>, key: &str) -> Option<&'t DeTable<'i>> {
    let t = item.get_ref().as_table();
    if t.is_none() {
        type_err(cx, item, key, "a table");
    }
    t
}

fn trigger(cx: &mut Cx<'_>, item: &Item<'_>) -> Option<Trigger> {
    let t = table(cx, item, "trigger")?;
    let mut r = Reader::new(t, item.span().start, "[trigger]");
    let every = r.get("every");
    let cron = r.get("cron");
    let watch = r.get("watch");
    r.finish(cx);
    let set: Vec<&Item<'_>> = [every, cron, watch].into_iter().flatten().collect();
    if set.len() > 1 {
        cx.err(
            set[1].span().start,
            "[trigger] takes one of `every`, `cron` or `watch`, not several",
        );
        return None;
    }
    if let Some(item) = every {
        let (s, at) = as_str(cx, item, "every")?;
        return match duration::parse(s) {
            Ok(d) => Some(Trigger::Every(d)),
            Err(e) => {
                cx.err(at, format!("`every`: {e}"));
                None
            }
        };
    }
    if let Some(item) = cron {
        let (s, at) = as_str(cx, item, "cron")?;
        if s.split_whitespace().count() != 5 {
            cx.err(
                at,
                format!("`cron`: `{s}` must have 5 fields (minute hour day-of-month month day-of-week), in UTC"),
            );
            return None;
        }
        return match croner::parser::CronParser::new().parse(s) {
            Ok(c) => Some(Trigger::Cron(Arc::new(c), s.to_owned())),
            Err(e) => {
                cx.err(at, format!("`cron`: invalid pattern `{s}`: {e}"));
                None
            }
        };
    }
    if let Some(item) = watch {
        let (s, at) = as_str(cx, item, "watch")?;
        if let Err(e) = glob::Pattern::new(s) {
            cx.err(at, format!("`watch`: invalid glob `{s}`: {e}"));
            return None;
        }
        return Some(Trigger::Watch(s.to_owned()));
    }
    cx.err(
        item.span().start,
        "[trigger] needs one of `every`, `cron` or `watch`",
    );
    None
}

fn settings(cx: &mut Cx<'_>, item: &Item<'_>) -> Settings {
    let mut out = Settings {
        max_payload_bytes: DEFAULT_MAX_PAYLOAD_BYTES,
        timeout: None,
    };
    let Some(t) = table(cx, item, "settings") else {
        return out;
    };
    let mut r = Reader::new(t, item.span().start, "[settings]");
    if let Some(n) = r.uint(cx, "max_payload_bytes", 0) {
        out.max_payload_bytes = n;
    }
    out.timeout = r.duration(cx, "timeout");
    r.finish(cx);
    out
}

fn steps(cx: &mut Cx<'_>, item: &Item<'_>) -> Vec<StepDef> {
    let Some(array) = item.get_ref().as_array() else {
        type_err(cx, item, "steps", "an array of tables ([[steps]])");
        return Vec::new();
    };
    if array.is_empty() {
        cx.err(item.span().start, "the flow has no steps");
    }
    let mut out: Vec<StepDef> = Vec::new();
    let mut seen: Vec<(String, usize)> = Vec::new();
    for (i, entry) in array.iter().enumerate() {
        let Some(t) = table(cx, entry, "steps") else {
            continue;
        };
        let at = entry.span().start;
        // Duplicates are found from the id alone, so that a step with other problems
        // still counts as the first use of its id.
        // Both uses are located at their `id =` values.
        let id = t
            .iter()
            .find(|(k, _)| k.get_ref().as_ref() == "id")
            .and_then(|(_, v)| Some((v.get_ref().as_str()?, v.span().start)))
            .filter(|(id, _)| is_name(id));
        if let Some((id, id_at)) = id {
            if let Some((_, first)) = seen.iter().find(|(seen, _)| seen == id) {
                let (line, col) = line_col(cx.src, *first);
                let (again_line, again_col) = line_col(cx.src, id_at);
                cx.err(
                    id_at,
                    format!(
                        "duplicate step id `{id}`: first used at {line}:{col}, again at {again_line}:{again_col}"
                    ),
                );
            } else {
                seen.push((id.to_owned(), id_at));
            }
        }
        if let Some(step) = step(cx, t, at, i + 1) {
            out.push(step);
        }
    }
    out
}

#[allow(
    clippy::too_many_lines,
    reason = "one arm per step kind reads best in one place"
)]
fn step(cx: &mut Cx<'_>, t: &DeTable<'_>, at: usize, n: usize) -> Option<StepDef> {
    let mut r = Reader::new(t, at, format!("step {n}"));
    // A missing or invalid id is reported and the rest of the step is still checked.
    let id = match r.get("id") {
        Some(item) => match as_str(cx, item, "id") {
            Some((s, _)) if is_name(s) => Some(s.to_owned()),
            Some((s, at)) => {
                cx.err(
                    at,
                    format!("step id `{s}` is not valid: use lower-case letters, digits, `_` and `-` (at most 64, starting with a letter or digit)"),
                );
                None
            }
            None => None,
        },
        None => {
            cx.err(at, format!("step {n} needs an `id`"));
            None
        }
    };
    if let Some(id) = &id {
        r.what = format!("step `{id}`");
    }
    let label = r.what.clone();
    let skip = r.bool(cx, "skip").unwrap_or(false);
    let description = r.str(cx, "description").map(|(s, _)| s.to_owned());
    let (kind, kind_at) = match r.required(cx, "kind") {
        Some(item) => as_str(cx, item, "kind")?,
        None => return None,
    };
    if !KINDS.contains(&kind) {
        cx.err(
            kind_at,
            format!(
                "unknown step kind `{kind}`; expected one of: {}",
                KINDS.join(", ")
            ),
        );
        return None;
    }
    r.what = format!("{label} (kind {kind})");
    let before = cx.problems.len();
    let spec = match kind {
        "read" => {
            let path = r.req_text(cx, "path");
            let format = r
                .choice(
                    cx,
                    "format",
                    &[
                        ("json", ReadFormat::Json),
                        ("ndjson", ReadFormat::Ndjson),
                        ("csv", ReadFormat::Csv),
                    ],
                )
                .unwrap_or(ReadFormat::Json);
            let allow_empty = r.bool(cx, "allow_empty").unwrap_or(false);
            path.map(|path| Spec::Read {
                path,
                format,
                allow_empty,
            })
        }
        "write" => {
            let path = r.req_text(cx, "path");
            if let (Some(p), Some(item)) = (&path, r.get("path")) {
                check_template(cx, item.span().start, p.raw());
            }
            let format = line_format(cx, &mut r, "format");
            path.map(|path| Spec::Write { path, format })
        }
        "command" => {
            let run = match r.required(cx, "run") {
                Some(item) => string_array(cx, item, "run"),
                None => None,
            };
            let timeout = r.duration(cx, "timeout");
            let env = r.text_table(cx, "env");
            let output = line_format(cx, &mut r, "output");
            run.map(|run| Spec::Command {
                run,
                timeout,
                env,
                output,
            })
        }
        "map" => r.jq(cx, "jq", true).map(|jq| Spec::Map { jq }),
        "filter" => {
            let jq = r.jq(cx, "jq", true);
            let keep_empty = r.bool(cx, "keep_empty").unwrap_or(false);
            jq.map(|jq| Spec::Filter { jq, keep_empty })
        }
        "assert" => {
            let jq = r.jq(cx, "jq", false);
            let equals = r.get("equals").and_then(|v| to_json(cx, v, 0));
            let equals_file = r.text(cx, "equals_file");
            let message = r.str(cx, "message").map(|(s, _)| s.to_owned());
            let each = r.bool(cx, "each").unwrap_or(true);
            if equals.is_some() && equals_file.is_some() {
                cx.err(
                    at,
                    format!("{label}: use `equals` or `equals_file`, not both"),
                );
            }
            if jq.is_none() && equals.is_none() && equals_file.is_none() && r.get("jq").is_none() {
                cx.err(
                    at,
                    format!("{label} (kind assert) needs `jq`, `equals` or `equals_file`"),
                );
            }
            Some(Spec::Assert {
                jq,
                each,
                equals,
                equals_file,
                message,
            })
        }
        "split" => {
            let path = r.jq(cx, "path", false);
            let size = match r.required(cx, "size") {
                Some(_) => r.uint(cx, "size", 1),
                None => None,
            };
            size.and_then(|s| usize::try_from(s).ok())
                .map(|size| Spec::Split { path, size })
        }
        "merge" => Some(Spec::Merge),
        "dedupe" => {
            let key = r.jq(cx, "key", true);
            let mode = r
                .choice(
                    cx,
                    "mode",
                    &[
                        ("filter", DedupeMode::Filter),
                        ("track", DedupeMode::Track),
                        ("filter-and-track", DedupeMode::FilterAndTrack),
                    ],
                )
                .unwrap_or(DedupeMode::FilterAndTrack);
            key.map(|key| Spec::Dedupe { key, mode })
        }
        "http" => http(cx, &mut r).map(|h| Spec::Http(Box::new(h))),
        _ => unreachable!("kind checked against KINDS"),
    };
    r.allowed.extend_from_slice(STEP_KEYS);
    r.finish(cx);
    if cx.problems.len() > before {
        return None;
    }
    let id = id?;
    spec.map(|spec| StepDef {
        id,
        skip,
        description,
        spec,
    })
}

fn http(cx: &mut Cx<'_>, r: &mut Reader<'_, '_>) -> Option<HttpSpec> {
    let method = match r.str(cx, "method") {
        Some((m, at)) => {
            let up = m.to_ascii_uppercase();
            if !["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"].contains(&up.as_str())
            {
                cx.err(at, format!("`method`: unsupported HTTP method `{m}`"));
            }
            up
        }
        None => "GET".to_owned(),
    };
    let url = r.req_text(cx, "url");
    let headers = r.text_table(cx, "headers");
    let query = r.text_table(cx, "query");
    let default_body = if matches!(method.as_str(), "POST" | "PUT" | "PATCH") {
        BodyMode::Payload
    } else {
        BodyMode::None
    };
    let body = r
        .choice(
            cx,
            "body",
            &[("payload", BodyMode::Payload), ("none", BodyMode::None)],
        )
        .unwrap_or(default_body);
    let next = r.jq(cx, "next", false);
    let timeout = r.duration(cx, "timeout").unwrap_or(Duration::from_secs(30));
    let retries = r
        .uint(cx, "retries", 0)
        .map_or(0, |n| u32::try_from(n.min(100)).unwrap_or(100));
    let idempotency_key = r.bool(cx, "idempotency_key").unwrap_or(false);
    let response = r
        .choice(
            cx,
            "response",
            &[("json", ResponseMode::Json), ("text", ResponseMode::Text)],
        )
        .unwrap_or(ResponseMode::Json);
    let max_pages = r
        .uint(cx, "max_pages", 1)
        .map_or(1000, |n| u32::try_from(n).unwrap_or(u32::MAX));
    let max_response_bytes = r.uint(cx, "max_response_bytes", 1).unwrap_or(64 << 20);
    Some(HttpSpec {
        method,
        url: url?,
        headers,
        query,
        body,
        next,
        timeout,
        retries,
        idempotency_key,
        response,
        max_pages,
        max_response_bytes,
    })
}

fn line_format(cx: &mut Cx<'_>, r: &mut Reader<'_, '_>, key: &'static str) -> LineFormat {
    r.choice(
        cx,
        key,
        &[("json", LineFormat::Json), ("ndjson", LineFormat::Ndjson)],
    )
    .unwrap_or(LineFormat::Json)
}

fn string_array(cx: &mut Cx<'_>, item: &Item<'_>, key: &str) -> Option<Vec<Text>> {
    let Some(array) = item.get_ref().as_array() else {
        type_err(
            cx,
            item,
            key,
            "an array of strings, e.g. [\"prog\", \"arg\"]",
        );
        return None;
    };
    if array.is_empty() {
        cx.err(
            item.span().start,
            format!("`{key}` needs at least the program to run"),
        );
        return None;
    }
    array.iter().map(|v| text_of(cx, v, key)).collect()
}

/// Checks the `{…}` fields of a `write` path template.
fn check_template(cx: &mut Cx<'_>, at: usize, template: &str) {
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        let after = &rest[open + 1..];
        let Some(close) = after.find('}') else {
            cx.err(at, format!("`path`: unclosed `{{` in `{template}`"));
            return;
        };
        let field = &after[..close];
        // `${env:NAME}`/`${secret:NAME}` is a placeholder (checked by `Text::parse`), not a template field.
        let placeholder = rest[..open].ends_with('$')
            && (field.starts_with("env:") || field.starts_with("secret:"));
        if !placeholder && !["flow", "run", "step", "n", "hash"].contains(&field) {
            cx.err(
                at,
                format!("`path`: unknown field `{{{field}}}`; use {{flow}}, {{run}}, {{step}}, {{n}} or {{hash}}"),
            );
        }
        rest = &after[close + 1..];
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn problems(src: &str) -> Vec<String> {
        match parse(src) {
            Ok(_) => Vec::new(),
            Err(p) => p
                .into_iter()
                .map(|p| format!("{}:{}: {}", p.line, p.col, p.message))
                .collect(),
        }
    }

    #[test]
    fn toml_errors_without_a_place_are_about_the_whole_file() {
        let deep = format!("{} = 1\n", vec!["a"; 10_000].join("."));
        let err = parse(&deep).err().expect("too deep");
        assert_eq!(err.len(), 1, "{err:?}");
        assert_eq!((err[0].line, err[0].col), (0, 0), "{err:?}");
        assert!(err[0].message.starts_with("TOML: "), "{err:?}");
    }

    #[test]
    fn line_col_counts_characters() {
        assert_eq!(line_col("ab\ncé d", 7), (2, 4));
        assert_eq!(line_col("x", 99), (1, 2));
    }

    #[test]
    fn valid_flow_parses() {
        let src = r#"
description = "d"
[trigger]
every = "15m"
[settings]
max_payload_bytes = 10
[[steps]]
id = "load"
kind = "read"
path = "data/*.json"
[[steps]]
id = "m"
kind = "map"
jq = '.a'
"#;
        let p = parse(src).unwrap_or_else(|e| panic!("{e:?}"));
        assert_eq!(p.steps.len(), 2);
        assert_eq!(p.settings.max_payload_bytes, 10);
    }

    #[test]
    fn jq_filters_may_hold_env_placeholders() {
        let step = "[[steps]]\nid = \"m\"\nkind = \"filter\"\njq = ";
        assert_eq!(
            problems(&format!(
                "{step}'.n < ${{env:LIMIT}} and .who == \"${{env:WHO}}\"'\n"
            )),
            Vec::<String>::new()
        );
        let p = problems(&format!("{step}'.n < ${{env:LIMIT}} | nosuch'\n"));
        assert_eq!(p.len(), 1, "{p:?}");
        assert!(p[0].starts_with("4:27: `jq`"), "{p:?}");
    }

    #[test]
    fn jq_errors_point_inside_the_string() {
        let src = "[[steps]]\nid = \"m\"\nkind = \"map\"\njq = '.a | nosuch'\n";
        let p = problems(src);
        assert_eq!(p.len(), 1, "{p:?}");
        assert!(p[0].starts_with("4:12:"), "{p:?}");
    }

    #[test]
    fn deeply_nested_jq_is_refused_before_it_is_compiled() {
        // Compiling this overflowed the stack (an abort, not an error) before the pre-scan.
        let deep = format!("{}.{}", "(".repeat(5000), ")".repeat(5000));
        let p = problems(&format!(
            "[[steps]]\nid = \"m\"\nkind = \"map\"\njq = '{deep}'\n"
        ));
        assert_eq!(p.len(), 1, "{p:?}");
        assert!(
            p[0].starts_with("4:207: `jq`: the filter nests more than"),
            "{p:?}"
        );
        let chain = format!("{}1", "1 + ".repeat(5000));
        let p = problems(&format!(
            "[[steps]]\nid = \"m\"\nkind = \"map\"\njq = '{chain}'\n"
        ));
        assert_eq!(p.len(), 1, "{p:?}");
    }

    #[test]
    fn write_templates_may_hold_env_placeholders() {
        let step = "[[steps]]\nid = \"w\"\nkind = \"write\"\npath = ";
        assert_eq!(
            problems(&format!("{step}\"out/${{env:DIR}}/{{n}}.json\"\n")),
            Vec::<String>::new()
        );
        let p = problems(&format!("{step}\"out/{{env:DIR}}.json\"\n"));
        assert_eq!(p.len(), 1, "{p:?}");
        assert!(p[0].contains("unknown field `{env:DIR}`"), "{p:?}");
    }

    #[test]
    fn duplicate_ids_are_found_when_the_first_step_has_problems() {
        let src =
            "[[steps]]\nid = \"a\"\nkind = \"map\"\n[[steps]]\nid = \"a\"\nkind = \"merge\"\n";
        let p = problems(src);
        assert_eq!(p.len(), 2, "{p:?}");
        assert!(
            p[0].starts_with("1:1: step `a` (kind map) needs `jq`"),
            "{p:?}"
        );
        assert!(
            p[1].starts_with("5:6: duplicate step id `a`: first used at 2:6, again at 5:6"),
            "{p:?}"
        );
    }

    #[test]
    fn unknown_keys_list_each_expected_key_once() {
        let p = problems("[[steps]]\nid = \"m\"\nkind = \"map\"\njq = '.'\nextra = 1\n");
        assert_eq!(
            p,
            [
                "5:1: unknown key `extra` in step `m` (kind map); expected one of: description, id, jq, kind, skip"
            ]
        );
    }

    #[test]
    fn an_invalid_id_does_not_hide_the_step_s_other_problems() {
        let p = problems("[[steps]]\nid = \"A b\"\nkind = \"map\"\njq = 'nosuch'\nextra = 1\n");
        assert_eq!(p.len(), 3, "{p:?}");
        assert!(p[0].starts_with("2:6: step id `A b` is not valid"), "{p:?}");
        assert!(p[1].starts_with("4:7: `jq`"), "{p:?}");
        assert!(
            p[2].starts_with("5:1: unknown key `extra` in step 1"),
            "{p:?}"
        );
    }

    #[test]
    fn out_of_range_numbers_are_shown_as_written() {
        let p = problems("[[steps]]\nid = \"s\"\nkind = \"split\"\nsize = 0\n");
        assert_eq!(p, ["4:8: `size` must be a whole number ≥ 1, not 0"]);
    }

    #[test]
    fn collects_all_problems() {
        let src = "bogus = 1\n[[steps]]\nid = \"a\"\nkind = \"nope\"\n[[steps]]\nid = \"Bad Id\"\nkind = \"map\"\n";
        let p = problems(src);
        assert_eq!(p.len(), 4, "{p:?}");
        assert!(p[0].starts_with("1:1: unknown key `bogus`"), "{p:?}");
        assert!(p[1].starts_with("4:8: unknown step kind"), "{p:?}");
        assert!(
            p[2].starts_with("5:1: step 2 (kind map) needs `jq`"),
            "{p:?}"
        );
        assert!(p[3].starts_with("6:6: step id"), "{p:?}");
    }
}
