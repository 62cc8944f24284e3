//! Printing an array element's JSON text straight as the payload printer prints its
//! parsed value, without building the value: a shortcut for the elements of a streamed
//! `read` that no step keeps in memory. Anything it does not take on is left to the
//! parser (the caller parses and prints as before), so the bytes are always the same.
//!
//! Hand-written because it earns its place: building each element's value only to print
//! and drop it was ~18% of W's instructions; with this shortcut W at 20k orders
//! (`valgrind --tool=callgrind flowrun --root w20 run w -q`, `FLOWRUN_HOLD_MB=3`) went
//! from 2.78 G to 2.49 G instructions, and building read-back payloads straight into
//! values here (not through serde's visitor) took it to 2.36 G.

use super::decode::has_wide_float;
use super::pretty::{push_indent, push_scalar, push_str};
use serde_json::Value;

/// Nesting (arrays and objects) this shortcut takes on; deeper text is left to the
/// parser, whose own limit is 128.
const MAX_DEPTH: usize = 100;
/// Keys of one object this shortcut checks for repeats (a repeated key keeps its first
/// place with the last value in a parsed object); larger objects are left to the parser.
const MAX_KEYS: usize = 64;

/// Appends the JSON text `raw` (one value, white space around it allowed) printed as
/// `push_pretty_at(out, &parsed, indent)` would print it. `false`, with `out` as it
/// was, when `raw` holds anything left to the parser: invalid JSON, a number that is
/// not a short integer and would not print back from its own parse (see
/// [`number`](Cursor::number)), an integral number beyond 64 bits, a key with an escape,
/// a repeated key, an object of more than [`MAX_KEYS`] keys, or nesting deeper than
/// [`MAX_DEPTH`].
pub(crate) fn push_pretty_raw(out: &mut Vec<u8>, raw: &[u8], indent: usize) -> bool {
    let start = out.len();
    let mut r = Cursor {
        text: raw,
        pos: 0,
        out,
        keys: Vec::new(),
    };
    r.skip_ws();
    let ok = r.value(indent, 0).is_some() && {
        r.skip_ws();
        r.pos == raw.len()
    };
    if !ok {
        out.truncate(start);
    }
    ok
}

struct Cursor<'a, 'o> {
    text: &'a [u8],
    pos: usize,
    out: &'o mut Vec<u8>,
    /// The keys of the objects being printed (ranges of `raw`), innermost last.
    keys: Vec<(usize, usize)>,
}

impl Cursor<'_, '_> {
    fn skip_ws(&mut self) {
        while let Some(b' ' | b'\n' | b'\r' | b'\t') = self.text.get(self.pos) {
            self.pos += 1;
        }
    }

    fn peek(&self) -> Option<u8> {
        self.text.get(self.pos).copied()
    }

    fn value(&mut self, indent: usize, depth: usize) -> Option<()> {
        match self.peek()? {
            b'{' => self.object(indent, depth + 1),
            b'[' => self.array(indent, depth + 1),
            b'"' => self.string(),
            b't' => self.literal(b"true"),
            b'f' => self.literal(b"false"),
            b'n' => self.literal(b"null"),
            b'-' | b'0'..=b'9' => self.number(),
            _ => None,
        }
    }

    fn literal(&mut self, word: &[u8]) -> Option<()> {
        let end = self.pos + word.len();
        (self.text.get(self.pos..end)? == word).then_some(())?;
        self.out.extend_from_slice(word);
        self.pos = end;
        Some(())
    }

    fn array(&mut self, indent: usize, depth: usize) -> Option<()> {
        if depth > MAX_DEPTH {
            return None;
        }
        self.pos += 1;
        self.skip_ws();
        if self.peek()? == b']' {
            self.pos += 1;
            self.out.extend_from_slice(b"[]");
            return Some(());
        }
        self.out.push(b'[');
        let mut first = true;
        loop {
            self.out
                .extend_from_slice(if first { b"\n" } else { b",\n" });
            first = false;
            push_indent(self.out, indent + 1);
            self.value(indent + 1, depth)?;
            self.skip_ws();
            match self.peek()? {
                b',' => {
                    self.pos += 1;
                    self.skip_ws();
                }
                b']' => break,
                _ => return None,
            }
        }
        self.pos += 1;
        self.out.push(b'\n');
        push_indent(self.out, indent);
        self.out.push(b']');
        Some(())
    }

    fn object(&mut self, indent: usize, depth: usize) -> Option<()> {
        if depth > MAX_DEPTH {
            return None;
        }
        self.pos += 1;
        self.skip_ws();
        if self.peek()? == b'}' {
            self.pos += 1;
            self.out.extend_from_slice(b"{}");
            return Some(());
        }
        self.out.push(b'{');
        let mine = self.keys.len();
        let mut first = true;
        loop {
            if self.peek()? != b'"' {
                return None;
            }
            let (from, to) = self.plain_string()?;
            let key = &self.text[from..to];
            if self.keys.len() - mine >= MAX_KEYS
                || self.keys[mine..]
                    .iter()
                    .any(|&(a, b)| &self.text[a..b] == key)
            {
                return None;
            }
            self.keys.push((from, to));
            self.out
                .extend_from_slice(if first { b"\n" } else { b",\n" });
            first = false;
            push_indent(self.out, indent + 1);
            self.out.extend_from_slice(&self.text[from - 1..=to]);
            self.out.extend_from_slice(b": ");
            self.skip_ws();
            if self.peek()? != b':' {
                return None;
            }
            self.pos += 1;
            self.skip_ws();
            self.value(indent + 1, depth)?;
            self.skip_ws();
            match self.peek()? {
                b',' => {
                    self.pos += 1;
                    self.skip_ws();
                }
                b'}' => break,
                _ => return None,
            }
        }
        self.keys.truncate(mine);
        self.pos += 1;
        self.out.push(b'\n');
        push_indent(self.out, indent);
        self.out.push(b'}');
        Some(())
    }

    /// A string with no escape and no control character, valid UTF-8: the range of its
    /// contents (between the quotes); the position moves past it. `None` otherwise.
    fn plain_string(&mut self) -> Option<(usize, usize)> {
        let from = self.pos + 1;
        let rest = self.text.get(from..)?;
        let len = rest
            .iter()
            .position(|&b| b == b'"' || b == b'\\' || b < 0x20)?;
        if rest[len] != b'"' {
            return None;
        }
        std::str::from_utf8(&rest[..len]).ok()?;
        self.pos = from + len + 1;
        Some((from, from + len))
    }

    /// A string value: copied when plain, else decoded and printed as the printer
    /// prints it (escapes come out in its one form).
    fn string(&mut self) -> Option<()> {
        let at = self.pos;
        if let Some((from, to)) = self.plain_string() {
            self.out.extend_from_slice(&self.text[from - 1..=to]);
            return Some(());
        }
        // Find the closing quote, stepping over escapes; the parser checks the rest.
        let mut i = at + 1;
        loop {
            match *self.text.get(i)? {
                b'"' => break,
                b'\\' => i += 2,
                _ => i += 1,
            }
        }
        let s: String = serde_json::from_slice(&self.text[at..=i]).ok()?;
        push_str(self.out, &s);
        self.pos = i + 1;
        Some(())
    }

    /// A number: a short integer in its one form (`0`, or up to 18 digits not starting
    /// with `0`, maybe after `-`) is copied; any other is parsed alone, exactly as the
    /// whole parse would parse it, and printed from that (so `1.50` prints `1.5`).
    fn number(&mut self) -> Option<()> {
        let from = self.pos;
        let len = self.text[from..]
            .iter()
            .position(|b| !matches!(b, b'0'..=b'9' | b'-' | b'+' | b'.' | b'e' | b'E'))
            .unwrap_or(self.text.len() - from);
        let text = &self.text[from..from + len];
        let digits = text.strip_prefix(b"-").unwrap_or(text);
        let short = !digits.is_empty()
            && digits.len() <= 18
            && digits.iter().all(u8::is_ascii_digit)
            && (digits[0] != b'0' || (digits.len() == 1 && digits.len() == text.len()));
        if short {
            self.out.extend_from_slice(text);
        } else {
            let value: Value = serde_json::from_slice(text).ok()?;
            if !value.is_number() || has_wide_float(&value) {
                return None;
            }
            push_scalar(self.out, &value);
        }
        self.pos = from + len;
        Some(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parsed(raw: &[u8], indent: usize) -> Vec<u8> {
        let v: Value = serde_json::from_slice(raw).unwrap();
        let mut out = Vec::new();
        super::super::push_pretty_at(&mut out, &v, indent);
        out
    }

    #[test]
    fn prints_what_the_parse_prints() {
        let samples: &[&[u8]] = &[
            r#"{"id":1,"customer":{"email":"A@B.example","name":"Zoë"},"lines":[{"sku":"x","qty":2,"price":9.5},{"sku":"y","qty":1,"price":0.1}],"t":true,"f":false,"n":null}"#.as_bytes(),
            b" [ ] ",
            b"{ }",
            b"[[],{},[[1]],-7,0,123456789012345678,-123456789012345678]",
            br#"{"s":"a\"b\\c\n\u00e9\ud83d\ude00\/"}"#,
            b"[1.50,1e2,-0,-0.0,0.1,1E-7,12345678901234567890,1.0]",
            b"\"just a string\"",
            b"  42\n",
        ];
        for raw in samples {
            for indent in [0, 1, 3] {
                let mut out = b"prefix".to_vec();
                assert!(
                    push_pretty_raw(&mut out, raw, indent),
                    "{}",
                    String::from_utf8_lossy(raw)
                );
                let mut want = b"prefix".to_vec();
                want.extend(parsed(raw, indent));
                assert_eq!(
                    String::from_utf8_lossy(&out),
                    String::from_utf8_lossy(&want),
                    "{}",
                    String::from_utf8_lossy(raw)
                );
            }
        }
    }

    #[test]
    fn leaves_to_the_parser_what_it_does_not_take_on() {
        let refused: &[&[u8]] = &[
            br#"{"a":1,"a":2}"#,
            br#"{"\u0061":1}"#,
            b"[1,]",
            b"[1 2]",
            b"{\"a\" 1}",
            b"01",
            b"1.",
            b"-",
            b"1e400",
            b"1e20",
            b"-1e19",
            b"[1] x",
            b"\"tab\there\"",
            b"\"\xff\"",
            b"tru",
            b"[",
            b"\"open",
        ];
        for raw in refused {
            let mut out = b"keep".to_vec();
            assert!(
                !push_pretty_raw(&mut out, raw, 1),
                "{}",
                String::from_utf8_lossy(raw)
            );
            assert_eq!(out, b"keep");
        }
        let deep = format!("{}{}", "[".repeat(MAX_DEPTH + 1), "]".repeat(MAX_DEPTH + 1));
        assert!(!push_pretty_raw(&mut Vec::new(), deep.as_bytes(), 0));
        let ok = format!("{}{}", "[".repeat(MAX_DEPTH), "]".repeat(MAX_DEPTH));
        let mut out = Vec::new();
        assert!(push_pretty_raw(&mut out, ok.as_bytes(), 0));
        assert_eq!(out, parsed(ok.as_bytes(), 0));
    }
}

/// `text` (one JSON value, white space around it allowed) parsed into the value the
/// parser builds from it, without the parser's per-value machinery; `None` when it
/// holds anything [`push_pretty_raw`] leaves to the parser (then the caller parses
/// it as before, which reports any fault). A repeated key here is no reason to refuse:
/// the object keeps its first place with the last value, as the parser's does.
pub(crate) fn parse_plain(text: &[u8]) -> Option<Value> {
    let mut r = Builder { text, pos: 0 };
    r.skip_ws();
    let value = r.value(0)?;
    r.skip_ws();
    (r.pos == text.len()).then_some(value)
}

struct Builder<'a> {
    text: &'a [u8],
    pos: usize,
}

impl Builder<'_> {
    fn skip_ws(&mut self) {
        while let Some(b' ' | b'\n' | b'\r' | b'\t') = self.text.get(self.pos) {
            self.pos += 1;
        }
    }

    fn peek(&self) -> Option<u8> {
        self.text.get(self.pos).copied()
    }

    fn value(&mut self, depth: usize) -> Option<Value> {
        match self.peek()? {
            b'{' => self.object(depth + 1).map(Value::Object),
            b'[' => self.array(depth + 1).map(Value::Array),
            b'"' => self.string().map(Value::String),
            b't' => self.literal(b"true", Value::Bool(true)),
            b'f' => self.literal(b"false", Value::Bool(false)),
            b'n' => self.literal(b"null", Value::Null),
            b'-' | b'0'..=b'9' => self.number(),
            _ => None,
        }
    }

    fn literal(&mut self, word: &[u8], value: Value) -> Option<Value> {
        let end = self.pos + word.len();
        (self.text.get(self.pos..end)? == word).then_some(())?;
        self.pos = end;
        Some(value)
    }

    fn array(&mut self, depth: usize) -> Option<Vec<Value>> {
        if depth > MAX_DEPTH {
            return None;
        }
        self.pos += 1;
        self.skip_ws();
        let mut items = Vec::new();
        if self.peek()? == b']' {
            self.pos += 1;
            return Some(items);
        }
        loop {
            items.push(self.value(depth)?);
            self.skip_ws();
            match self.peek()? {
                b',' => {
                    self.pos += 1;
                    self.skip_ws();
                }
                b']' => break,
                _ => return None,
            }
        }
        self.pos += 1;
        Some(items)
    }

    fn object(&mut self, depth: usize) -> Option<serde_json::Map<String, Value>> {
        if depth > MAX_DEPTH {
            return None;
        }
        self.pos += 1;
        self.skip_ws();
        let mut map = serde_json::Map::new();
        if self.peek()? == b'}' {
            self.pos += 1;
            return Some(map);
        }
        loop {
            if self.peek()? != b'"' {
                return None;
            }
            let key = self.string()?;
            self.skip_ws();
            if self.peek()? != b':' {
                return None;
            }
            self.pos += 1;
            self.skip_ws();
            let value = self.value(depth)?;
            map.insert(key, value);
            self.skip_ws();
            match self.peek()? {
                b',' => {
                    self.pos += 1;
                    self.skip_ws();
                }
                b'}' => break,
                _ => return None,
            }
        }
        self.pos += 1;
        Some(map)
    }

    /// A string: its contents copied when it has no escape (and is valid UTF-8 with
    /// no control character), else decoded by the parser.
    fn string(&mut self) -> Option<String> {
        let at = self.pos;
        let rest = self.text.get(at + 1..)?;
        let len = rest
            .iter()
            .position(|&b| b == b'"' || b == b'\\' || b < 0x20)?;
        if rest[len] == b'"' {
            let s = std::str::from_utf8(&rest[..len]).ok()?;
            self.pos = at + len + 2;
            return Some(s.to_owned());
        }
        let mut i = at + 1;
        loop {
            match *self.text.get(i)? {
                b'"' => break,
                b'\\' => i += 2,
                _ => i += 1,
            }
        }
        let s: String = serde_json::from_slice(&self.text[at..=i]).ok()?;
        self.pos = i + 1;
        Some(s)
    }

    /// A number: a short integer in its one form is read here; any other is parsed
    /// alone by the parser (an integral one beyond 64 bits is left to the caller).
    fn number(&mut self) -> Option<Value> {
        let from = self.pos;
        let len = self.text[from..]
            .iter()
            .position(|b| !matches!(b, b'0'..=b'9' | b'-' | b'+' | b'.' | b'e' | b'E'))
            .unwrap_or(self.text.len() - from);
        let text = &self.text[from..from + len];
        let (negative, digits) = match text.strip_prefix(b"-") {
            Some(d) => (true, d),
            None => (false, text),
        };
        let short = !digits.is_empty()
            && digits.len() <= 18
            && digits.iter().all(u8::is_ascii_digit)
            && (digits[0] != b'0' || (digits.len() == 1 && !negative));
        let value = if short {
            let n = digits
                .iter()
                .fold(0i64, |n, d| n * 10 + i64::from(d - b'0'));
            if negative {
                Value::from(-n)
            } else {
                Value::from(n.cast_unsigned())
            }
        } else {
            let value: Value = serde_json::from_slice(text).ok()?;
            if !value.is_number() || has_wide_float(&value) {
                return None;
            }
            value
        };
        self.pos = from + len;
        Some(value)
    }
}

#[cfg(test)]
mod parse_tests {
    use super::*;

    #[test]
    fn parses_what_the_parser_parses() {
        let samples: &[&[u8]] = &[
            r#"{"id":1,"c":{"e":"A@B","n":"Zoë"},"l":[{"q":2,"p":9.5},{"q":-1,"p":0.1}],"t":true,"f":false,"z":null}"#.as_bytes(),
            b" [ ] ",
            b"{ }",
            b"[[],{},[[1]],-7,0,123456789012345678,-123456789012345678]",
            br#"{"s":"a\"b\\c\n\u00e9\ud83d\ude00\/","\u0061":1}"#,
            b"[1.50,1e2,-0,-0.0,0.1,1E-7,12345678901234567890,1.0,-9223372036854775808]",
            br#"{"a":1,"b":2,"a":3}"#,
            b"\"just a string\"",
            b"  42\n",
        ];
        for text in samples {
            let want: Value = serde_json::from_slice(text).unwrap();
            let got = parse_plain(text).expect("taken on");
            assert_eq!(got, want, "{}", String::from_utf8_lossy(text));
            assert_eq!(
                crate::json::to_pretty(&got),
                crate::json::to_pretty(&want),
                "{}",
                String::from_utf8_lossy(text)
            );
        }
    }

    #[test]
    fn leaves_to_the_parser_what_it_does_not_take_on() {
        let refused: &[&[u8]] = &[
            b"[1,]",
            b"[1 2]",
            b"{\"a\" 1}",
            b"{\"a\":1,}",
            b"01",
            b"1.",
            b"-",
            b"1e400",
            b"1e20",
            b"-1e19",
            b"[1] x",
            b"\"tab\there\"",
            b"\"\xff\"",
            b"tru",
            b"[",
            b"\"open",
            b"\xEF\xBB\xBF[]",
            b"",
        ];
        for text in refused {
            assert!(
                parse_plain(text).is_none(),
                "{}",
                String::from_utf8_lossy(text)
            );
        }
        let deep = format!("{}{}", "[".repeat(MAX_DEPTH + 1), "]".repeat(MAX_DEPTH + 1));
        assert!(parse_plain(deep.as_bytes()).is_none());
    }
}
