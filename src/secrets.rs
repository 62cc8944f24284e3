//! Secrets: the one place that masks resolved secret values, in every form they can
//! take on the way out (as given, percent-encoded, JSON-escaped, base64), for every path
//! that writes or prints — payload files, manifest fields, dedupe state, command output
//! and the runner's log. Excerpts are cut only after masking, never before.

use aho_corasick::{AhoCorasick, MatchKind};
use base64::Engine as _;
use serde_json::Value;
use std::borrow::Cow;
use std::fmt::Write as _;
use std::sync::RwLock;

/// What a masked secret is replaced with.
pub(crate) const MASK: &str = "***";

/// Secrets shorter than this (in characters) are refused when a run starts and reported
/// by `check`: masking a value like `3` or `erp` everywhere it occurs would corrupt
/// payloads, and a short value is guessable from the context around its mask.
pub(crate) const MIN_SECRET_CHARS: usize = 6;

/// A set of secret values and the matcher over all of their encoded forms.
#[derive(Debug, Clone, Default)]
pub struct Secrets {
    values: Vec<String>,
    patterns: Vec<String>,
    matcher: Option<AhoCorasick>,
}

impl Secrets {
    /// No secrets.
    #[must_use]
    pub(crate) const fn new() -> Secrets {
        Secrets {
            values: Vec::new(),
            patterns: Vec::new(),
            matcher: None,
        }
    }

    /// The empty set, for writers that have no secrets to mask.
    #[must_use]
    pub fn none() -> &'static Secrets {
        static NONE: Secrets = Secrets::new();
        &NONE
    }

    /// Whether there is nothing to mask.
    #[must_use]
    pub(crate) fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    /// The values as given.
    #[must_use]
    pub(crate) fn values(&self) -> &[String] {
        &self.values
    }

    /// Adds a secret value (with all of its encoded forms). Empty values are ignored.
    pub(crate) fn add(&mut self, value: &str) {
        if value.is_empty() || self.values.iter().any(|v| v == value) {
            return;
        }
        self.values.push(value.to_owned());
        let mut forms = encodings(value);
        forms.extend(base64_forms(value.as_bytes()));
        self.extend_patterns(forms);
    }

    /// Adds the credentials of HTTP Basic authentication: the password as a secret, and
    /// the base64 of `user:password` as it travels in the `Authorization` header.
    pub(crate) fn add_basic(&mut self, user: &str, password: &str) {
        self.add(password);
        let pair = format!("{user}:{password}");
        self.extend_patterns(base64_forms(pair.as_bytes()));
    }

    /// Adds every secret of `other`.
    pub(crate) fn merge(&mut self, other: &Secrets) {
        for v in &other.values {
            if !self.values.contains(v) {
                self.values.push(v.clone());
            }
        }
        self.extend_patterns(other.patterns.clone());
    }

    fn extend_patterns(&mut self, forms: Vec<String>) {
        let before = self.patterns.len();
        for f in forms {
            if !f.is_empty() && !self.patterns.contains(&f) {
                self.patterns.push(f);
            }
        }
        if self.patterns.len() == before {
            return;
        }
        self.matcher = AhoCorasick::builder()
            .match_kind(MatchKind::LeftmostLongest)
            .build(&self.patterns)
            .ok();
    }

    /// Whether `text` holds any form of any secret.
    #[must_use]
    pub(crate) fn found_in(&self, text: &str) -> bool {
        self.matcher.as_ref().is_some_and(|m| m.is_match(text))
    }

    /// `text` with every form of every secret replaced by [`MASK`].
    #[must_use]
    pub(crate) fn mask<'t>(&self, text: &'t str) -> Cow<'t, str> {
        match &self.matcher {
            Some(m) if m.is_match(text) => {
                Cow::Owned(m.replace_all(text, &vec![MASK; self.patterns.len()]))
            }
            _ => Cow::Borrowed(text),
        }
    }

    /// `text` masked, then cut to at most its last `chars` characters (for a stderr tail).
    #[must_use]
    pub(crate) fn mask_tail(&self, text: &str, chars: usize) -> String {
        let masked = self.mask(text);
        let count = masked.chars().count();
        masked.chars().skip(count.saturating_sub(chars)).collect()
    }

    /// `text` masked, then cut to at most its first `chars` characters; the flag says
    /// whether anything was cut.
    #[must_use]
    pub(crate) fn mask_head(&self, text: &str, chars: usize) -> (String, bool) {
        let masked = self.mask(text);
        let cut: String = masked.chars().take(chars).collect();
        let more = cut.len() < masked.len();
        (cut, more)
    }

    /// `value` with every secret masked inside strings (keys too), and numbers that read
    /// exactly as a secret replaced by the string `"***"`, so the result is still valid
    /// JSON; `None` when no secret occurs. Only whole numbers are replaced: a secret that
    /// happens to be digits must not turn an unrelated number into a string.
    #[must_use]
    pub(crate) fn mask_value(&self, value: &Value) -> Option<Value> {
        self.matcher.as_ref()?;
        self.found(value).then(|| self.masked(value))
    }

    fn number_is_secret(&self, n: &serde_json::Number) -> bool {
        let text = n.to_string();
        self.values.contains(&text)
    }

    fn found(&self, v: &Value) -> bool {
        match v {
            Value::String(s) => self.found_in(s),
            Value::Number(n) => self.number_is_secret(n),
            Value::Array(items) => items.iter().any(|i| self.found(i)),
            Value::Object(map) => map.iter().any(|(k, v)| self.found_in(k) || self.found(v)),
            Value::Null | Value::Bool(_) => false,
        }
    }

    fn masked(&self, v: &Value) -> Value {
        match v {
            Value::String(s) => Value::String(self.mask(s).into_owned()),
            Value::Number(n) if self.number_is_secret(n) => Value::String(MASK.to_owned()),
            Value::Array(items) => Value::Array(items.iter().map(|i| self.masked(i)).collect()),
            Value::Object(map) => Value::Object(
                map.iter()
                    .map(|(k, v)| (self.mask(k).into_owned(), self.masked(v)))
                    .collect(),
            ),
            other => other.clone(),
        }
    }
}

/// The forms a value takes in text: as given, percent-encoded (every reserved byte, upper
/// and lower hex, and the form style with `+` for a space), JSON-escaped (also with `\/`
/// and with `\u` escapes for non-ASCII characters).
fn encodings(value: &str) -> Vec<String> {
    let mut out = vec![value.to_owned()];
    for upper in [true, false] {
        out.push(percent(value, upper, false));
        out.push(percent(value, upper, true));
    }
    let json = serde_json::to_string(value).expect("a string always serialises");
    let json = json[1..json.len() - 1].to_owned();
    let (mut lower, mut upper) = (String::new(), String::new());
    for c in json.chars() {
        if c.is_ascii() {
            lower.push(c);
            upper.push(c);
        } else {
            let mut units = [0u16; 2];
            for u in c.encode_utf16(&mut units) {
                let _ = write!(lower, "\\u{u:04x}");
                let _ = write!(upper, "\\u{u:04X}");
            }
        }
    }
    for form in [json, lower, upper] {
        out.push(form.replace('/', "\\/"));
        out.push(form);
    }
    out
}

/// Percent-encoding of every byte outside `A-Za-z0-9-._~` (`form`: `A-Za-z0-9*-._`,
/// a space as `+`), in upper or lower case hex.
fn percent(value: &str, upper: bool, form: bool) -> String {
    let mut out = String::with_capacity(value.len() * 3);
    for b in value.bytes() {
        let keep = b.is_ascii_alphanumeric()
            || if form {
                b"*-._".contains(&b)
            } else {
                b"-._~".contains(&b)
            };
        if keep {
            out.push(char::from(b));
        } else if form && b == b' ' {
            out.push('+');
        } else if upper {
            let _ = write!(out, "%{b:02X}");
        } else {
            let _ = write!(out, "%{b:02x}");
        }
    }
    out
}

/// Base64 forms of `bytes` (standard and URL-safe alphabets): the whole encoding, and
/// for each of the three alignments the characters that depend on `bytes` alone, so
/// that the secret is found inside a longer base64 text too.
fn base64_forms(bytes: &[u8]) -> Vec<String> {
    use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
    let mut out = vec![STANDARD.encode(bytes), URL_SAFE.encode(bytes)];
    for k in 0..3usize {
        let mut padded = vec![0u8; k];
        padded.extend_from_slice(bytes);
        padded.extend_from_slice(&[0, 0]);
        let start = (8 * k).div_ceil(6);
        let end = 8 * (k + bytes.len()) / 6;
        for engine in [&STANDARD_NO_PAD, &URL_SAFE_NO_PAD] {
            let text = engine.encode(&padded);
            // A core shorter than a secret may be allowed to be could match by chance.
            if let Some(core) = text.get(start..end).filter(|c| c.len() >= MIN_SECRET_CHARS) {
                out.push(core.to_owned());
            }
        }
    }
    out
}

/// Every secret resolved in this process: the last line of defence for what it prints.
static PROCESS: RwLock<Secrets> = RwLock::new(Secrets::new());

/// Remembers `secrets` for [`mask_output`].
pub(crate) fn remember(secrets: &Secrets) {
    if secrets.is_empty() {
        return;
    }
    if let Ok(mut all) = PROCESS.write() {
        all.merge(secrets);
    }
}

/// `text` with every secret this process has resolved masked: for lines printed on
/// stdout and stderr and the runner's log.
#[must_use]
pub(crate) fn mask_output(text: &str) -> Cow<'_, str> {
    match PROCESS.read() {
        Ok(all) => all.mask(text),
        Err(_) => Cow::Borrowed(text),
    }
}

/// What is stored instead of a value that must not sit in plain text but must still be
/// recognised again (a `dedupe` key): the blake3 of it, in hex.
#[must_use]
pub(crate) fn fingerprint(text: &str) -> String {
    blake3::hash(text.as_bytes()).to_hex().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const TOKEN: &str = "Sup3rS3cret+tok/en==";

    fn secrets() -> Secrets {
        let mut s = Secrets::new();
        s.add(TOKEN);
        s
    }

    #[test]
    fn every_form_is_masked() {
        let s = secrets();
        for form in [
            TOKEN,
            "Sup3rS3cret%2Btok%2Fen%3D%3D",
            "Sup3rS3cret%2btok%2fen%3d%3d",
            "U3VwM3JTM2NyZXQrdG9rL2VuPT0=",
        ] {
            assert_eq!(s.mask(&format!("a {form} b")), "a *** b", "{form}");
        }
        let b64 = base64::engine::general_purpose::STANDARD.encode(format!("xy{TOKEN}z"));
        assert!(!s.mask(&b64).contains("M3JTM2NyZXQrdG9rL2"), "{b64}");
    }

    #[test]
    fn space_and_quotes_and_non_ascii() {
        let mut s = Secrets::new();
        s.add("pa ss\"wörd/x");
        for form in [
            "pa+ss%22w%C3%B6rd%2Fx",
            "pa%20ss%22w%C3%B6rd%2Fx",
            "pa ss\\\"wörd/x",
            "pa ss\\\"w\\u00f6rd\\/x",
            "pa ss\\\"w\\u00F6rd/x",
        ] {
            assert_eq!(s.mask(form), "***", "{form}");
        }
    }

    #[test]
    fn basic_auth_pair_is_masked() {
        let mut s = Secrets::new();
        s.add_basic("alice", TOKEN);
        let header = base64::engine::general_purpose::STANDARD.encode(format!("alice:{TOKEN}"));
        assert_eq!(s.mask(&format!("Basic {header}")), "Basic ***");
    }

    #[test]
    fn excerpts_are_cut_after_masking() {
        let s = secrets();
        let text = format!("{}{TOKEN}", "x".repeat(10));
        assert_eq!(s.mask_tail(&text, 5), "xx***");
        let (head, more) = s.mask_head(&format!("{TOKEN}tail"), 4);
        assert_eq!((head.as_str(), more), ("***t", true));
    }

    #[test]
    fn values_keep_their_shape() {
        let mut s = secrets();
        s.add("123456");
        let v = json!({"t": format!("Bearer {TOKEN}"), TOKEN: 123_456, "n": 1_234_567});
        let m = s.mask_value(&v).unwrap();
        assert_eq!(m, json!({"t": "Bearer ***", "***": "***", "n": 1_234_567}));
        assert!(s.mask_value(&json!({"a": "b"})).is_none());
    }
}
