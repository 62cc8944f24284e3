//! JSON text as flowrun writes it: pretty payload files, compact one-liners for messages.

use serde_json::Value;
use std::fmt::Write as _;
use std::io::{self, Write};

/// Writes `value` as pretty JSON (2-space indent, keys in their order) and a final
/// newline — byte for byte what `serde_json::to_writer_pretty` writes, plus the newline.
///
/// # Errors
/// The writer failed.
pub(crate) fn write_pretty(w: &mut impl Write, value: &Value) -> io::Result<()> {
    // One buffer per thread, reused: fresh buffers for every payload cost page faults.
    thread_local! {
        static BUF: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
    }
    let mut buf = BUF.with(std::cell::RefCell::take);
    buf.clear();
    buf.reserve(FLUSH_AT + 4096);
    let mut sink = Sink {
        buf,
        w,
        flush_at: FLUSH_AT,
    };
    let result = sink.value(value, 0).and_then(|()| {
        sink.buf.push(b'\n');
        sink.flush()
    });
    let buf = std::mem::take(&mut sink.buf);
    if buf.capacity() <= 4 * FLUSH_AT {
        BUF.with(|cell| cell.replace(buf));
    }
    result
}

/// Like [`write_pretty`], printing the elements of a large top-level array on `threads`
/// threads (the bytes are the same).
///
/// # Errors
/// The writer failed.
pub fn write_pretty_par(w: &mut impl Write, value: &Value, threads: usize) -> io::Result<()> {
    match value {
        Value::Array(items) if threads > 1 && items.len() >= 2 * CHUNK => {
            par_array(w, items, threads)?;
            w.write_all(b"\n")
        }
        _ => write_pretty(w, value),
    }
}

/// The bytes [`write_pretty`] writes.
#[must_use]
pub fn to_pretty(value: &Value) -> Vec<u8> {
    let mut out = Vec::new();
    write_pretty(&mut out, value).expect("writing to a Vec cannot fail");
    out
}

/// Buffered bytes are handed to the writer once there are this many.
const FLUSH_AT: usize = 64 * 1024;
/// Array elements per chunk when printing in parallel.
const CHUNK: usize = 256;

struct Sink<'w, W: Write + ?Sized> {
    buf: Vec<u8>,
    w: &'w mut W,
    /// Hand the buffer to `w` once it holds this many bytes.
    flush_at: usize,
}

impl<W: Write + ?Sized> Sink<'_, W> {
    fn flush(&mut self) -> io::Result<()> {
        self.w.write_all(&self.buf)?;
        self.buf.clear();
        Ok(())
    }

    fn value(&mut self, v: &Value, indent: usize) -> io::Result<()> {
        match v {
            Value::Array(items) if !items.is_empty() => {
                self.buf.push(b'[');
                for (i, item) in items.iter().enumerate() {
                    self.buf
                        .extend_from_slice(if i == 0 { b"\n" } else { b",\n" });
                    push_indent(&mut self.buf, indent + 1);
                    self.value(item, indent + 1)?;
                    if self.buf.len() >= self.flush_at {
                        self.flush()?;
                    }
                }
                self.buf.push(b'\n');
                push_indent(&mut self.buf, indent);
                self.buf.push(b']');
            }
            Value::Object(map) if !map.is_empty() => {
                self.buf.push(b'{');
                for (i, (k, item)) in map.iter().enumerate() {
                    self.buf
                        .extend_from_slice(if i == 0 { b"\n" } else { b",\n" });
                    push_indent(&mut self.buf, indent + 1);
                    push_str(&mut self.buf, k);
                    self.buf.extend_from_slice(b": ");
                    self.value(item, indent + 1)?;
                    if self.buf.len() >= self.flush_at {
                        self.flush()?;
                    }
                }
                self.buf.push(b'\n');
                push_indent(&mut self.buf, indent);
                self.buf.push(b'}');
            }
            other => push_scalar(&mut self.buf, other),
        }
        Ok(())
    }
}

/// Prints a large array's elements in chunks on several threads, writing them in order.
fn par_array(w: &mut impl Write, items: &[Value], threads: usize) -> io::Result<()> {
    use std::sync::atomic::{AtomicUsize, Ordering};
    let chunks: Vec<&[Value]> = items.chunks(CHUNK).collect();
    let next = AtomicUsize::new(0);
    let (tx, rx) = std::sync::mpsc::sync_channel::<(usize, Vec<u8>)>(threads * 2);
    // Chunk buffers go back to the workers once written, instead of being freed.
    let spare: std::sync::Mutex<Vec<Vec<u8>>> = std::sync::Mutex::new(Vec::new());
    w.write_all(b"[")?;
    std::thread::scope(|scope| {
        for _ in 0..threads {
            let (tx, chunks, next, spare) = (tx.clone(), &chunks, &next, &spare);
            scope.spawn(move || {
                loop {
                    let k = next.fetch_add(1, Ordering::Relaxed);
                    let Some(chunk) = chunks.get(k) else { break };
                    let buf = spare
                        .lock()
                        .ok()
                        .and_then(|mut s| s.pop())
                        .unwrap_or_default();
                    // Printed into memory only: this sink never flushes.
                    let mut sink = Sink {
                        buf,
                        w: &mut io::sink(),
                        flush_at: usize::MAX,
                    };
                    for (i, item) in chunk.iter().enumerate() {
                        let sep: &[u8] = if k == 0 && i == 0 { b"\n  " } else { b",\n  " };
                        sink.buf.extend_from_slice(sep);
                        sink.value(item, 1)
                            .expect("printing into memory cannot fail");
                    }
                    if tx.send((k, sink.buf)).is_err() {
                        break;
                    }
                }
            });
        }
        drop(tx);
        let mut ready = std::collections::BTreeMap::new();
        let mut want = 0;
        for (k, buf) in rx {
            ready.insert(k, buf);
            while let Some(mut buf) = ready.remove(&want) {
                w.write_all(&buf)?;
                want += 1;
                buf.clear();
                if let Ok(mut s) = spare.lock() {
                    s.push(buf);
                }
            }
        }
        Ok::<(), io::Error>(())
    })?;
    w.write_all(b"\n]")
}

/// Appends `value` printed as [`write_pretty`] prints it `indent` levels deep (no final
/// newline): the bytes of an array element in a payload file, for writers that
/// assemble an array one element at a time.
pub(crate) fn push_pretty_at(buf: &mut Vec<u8>, value: &Value, indent: usize) {
    let mut sink = Sink {
        buf: std::mem::take(buf),
        w: &mut io::sink(),
        flush_at: usize::MAX,
    };
    sink.value(value, indent)
        .expect("printing into memory cannot fail");
    *buf = sink.buf;
}

/// The elements of a top-level JSON array read from a stream one at a time, each
/// parsed as [`decode`] would parse it, so that a large array never has to be in
/// memory at once. Anything this reader does not take on (not an array, a syntax
/// error, an integer too wide, nesting beyond the parser's limit) ends it with
/// [`NotStreamed`]: the caller then reads the text whole with [`decode`], which
/// reports the problem with its line and column.
pub(crate) struct ArrayElements<R: io::Read> {
    r: R,
    buf: Vec<u8>,
    /// Start of the element being scanned.
    start: usize,
    /// Where scanning stopped.
    scan: usize,
    depth: usize,
    in_str: bool,
    esc: bool,
    state: ArrayState,
    /// The last element returned ended the array: what follows is checked next call.
    ended: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ArrayState {
    Before,
    First,
    Inside,
    Done,
}

/// Why [`ArrayElements`] stopped before the end of a well-formed array.
#[derive(Debug)]
pub(crate) enum NotStreamed {
    /// Reading failed.
    Io(
        #[allow(
            dead_code,
            reason = "shown by Debug; the caller falls back and reads the file again"
        )]
        io::Error,
    ),
    /// The text is not an array this reader takes on (see [`ArrayElements`]).
    Text,
}

const READ_CHUNK: usize = 1 << 20;

impl<R: io::Read> ArrayElements<R> {
    /// Elements of the array that `r` holds.
    pub(crate) fn new(r: R) -> Self {
        ArrayElements {
            r,
            buf: Vec::with_capacity(READ_CHUNK),
            start: 0,
            scan: 0,
            depth: 0,
            in_str: false,
            esc: false,
            state: ArrayState::Before,
            ended: false,
        }
    }

    /// Reads more text; false at the end of it.
    fn fill(&mut self) -> Result<bool, NotStreamed> {
        if self.start > 0 {
            self.buf.drain(..self.start);
            self.scan -= self.start;
            self.start = 0;
        }
        let old = self.buf.len();
        self.buf.resize(old + READ_CHUNK, 0);
        let n = loop {
            match self.r.read(&mut self.buf[old..]) {
                Ok(n) => break n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    self.buf.truncate(old);
                    return Err(NotStreamed::Io(e));
                }
            }
        };
        self.buf.truncate(old + n);
        Ok(n > 0)
    }

    /// The next byte that is not JSON white space, consumed; `None` at the end.
    fn next_token(&mut self) -> Result<Option<u8>, NotStreamed> {
        loop {
            while self.start < self.buf.len() {
                let b = self.buf[self.start];
                self.start += 1;
                if !is_json_space(b) {
                    self.scan = self.start;
                    return Ok(Some(b));
                }
            }
            self.scan = self.start;
            if !self.fill()? {
                return Ok(None);
            }
        }
    }

    /// The next element, or `None` after the last one.
    ///
    /// # Errors
    /// See [`NotStreamed`].
    #[cfg(test)]
    pub(crate) fn next_value(&mut self) -> Result<Option<Value>, NotStreamed> {
        match self.next_raw()? {
            Some(raw) => parse_element(raw).map(Some),
            None => Ok(None),
        }
    }

    /// The text of the next element (as in the input, surrounding white space
    /// included), or `None` after the last one; it is checked only as far as finding
    /// where it ends — [`parse_element`] parses it.
    ///
    /// # Errors
    /// See [`NotStreamed`].
    pub(crate) fn next_raw(&mut self) -> Result<Option<&[u8]>, NotStreamed> {
        if self.ended {
            self.ended = false;
            return self.end();
        }
        match self.state {
            ArrayState::Done => return Ok(None),
            ArrayState::Before => {
                if !self.fill()? {
                    return Err(NotStreamed::Text);
                }
                if self.buf.starts_with(b"\xEF\xBB\xBF") {
                    self.start = 3;
                }
                if self.next_token()? != Some(b'[') {
                    return Err(NotStreamed::Text);
                }
                // An empty array: `]` straight after `[`.
                match self.next_token()? {
                    Some(b']') => return self.end(),
                    Some(_) => {
                        self.start -= 1;
                        self.scan = self.start;
                    }
                    None => return Err(NotStreamed::Text),
                }
                self.state = ArrayState::First;
            }
            ArrayState::First | ArrayState::Inside => {}
        }
        self.state = ArrayState::Inside;
        // Scan to the `,` or `]` that ends this element.
        let end = loop {
            let mut found = None;
            while self.scan < self.buf.len() {
                let b = self.buf[self.scan];
                if self.in_str {
                    if self.esc {
                        self.esc = false;
                    } else if b == b'\\' {
                        self.esc = true;
                    } else if b == b'"' {
                        self.in_str = false;
                    }
                } else {
                    match b {
                        b'"' => self.in_str = true,
                        b'[' | b'{' => self.depth += 1,
                        b']' | b'}' if self.depth > 0 => self.depth -= 1,
                        b']' => {
                            found = Some(b);
                            break;
                        }
                        b',' if self.depth == 0 => {
                            found = Some(b);
                            break;
                        }
                        _ => {}
                    }
                }
                self.scan += 1;
            }
            if let Some(b) = found {
                break b;
            }
            if !self.fill()? {
                return Err(NotStreamed::Text);
            }
        };
        let (from, to) = (self.start, self.scan);
        self.scan += 1;
        self.start = self.scan;
        // The `]` that ends the array: what follows it is checked on the next call
        // (the text returned here stays in the buffer until then).
        self.ended = end == b']';
        Ok(Some(&self.buf[from..to]))
    }

    /// After the closing `]`: only white space may follow.
    fn end(&mut self) -> Result<Option<&[u8]>, NotStreamed> {
        self.state = ArrayState::Done;
        match self.next_token()? {
            None => Ok(None),
            Some(_) => Err(NotStreamed::Text),
        }
    }
}

/// One element's text from [`ArrayElements::next_raw`] parsed as [`decode`] would
/// parse it inside the array; anything `decode` would refuse or report is
/// [`NotStreamed::Text`].
///
/// # Errors
/// See above.
pub(crate) fn parse_element(raw: &[u8]) -> Result<Value, NotStreamed> {
    let value: Value = serde_json::from_slice(raw).map_err(|_| NotStreamed::Text)?;
    if has_wide_float(&value) {
        return Err(NotStreamed::Text);
    }
    Ok(value)
}

fn push_indent(buf: &mut Vec<u8>, indent: usize) {
    for _ in 0..indent {
        buf.extend_from_slice(b"  ");
    }
}

fn push_scalar(buf: &mut Vec<u8>, v: &Value) {
    match v {
        Value::Null => buf.extend_from_slice(b"null"),
        Value::Bool(true) => buf.extend_from_slice(b"true"),
        Value::Bool(false) => buf.extend_from_slice(b"false"),
        Value::Number(n) => {
            if let Some(u) = n.as_u64() {
                buf.extend_from_slice(itoa::Buffer::new().format(u).as_bytes());
            } else if let Some(i) = n.as_i64() {
                buf.extend_from_slice(itoa::Buffer::new().format(i).as_bytes());
            } else if let Some(f) = n.as_f64().filter(|f| f.is_finite()) {
                buf.extend_from_slice(zmij::Buffer::new().format_finite(f).as_bytes());
            } else {
                buf.extend_from_slice(b"null");
            }
        }
        Value::String(s) => push_str(buf, s),
        Value::Array(_) => buf.extend_from_slice(b"[]"),
        Value::Object(_) => buf.extend_from_slice(b"{}"),
    }
}

/// A JSON string literal, escaped exactly as `serde_json` escapes it.
fn push_str(buf: &mut Vec<u8>, s: &str) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    buf.push(b'"');
    let bytes = s.as_bytes();
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        let esc: &[u8] = match b {
            b'"' => br#"\""#,
            b'\\' => br"\\",
            b'\n' => br"\n",
            b'\r' => br"\r",
            b'\t' => br"\t",
            0x08 => br"\b",
            0x0c => br"\f",
            0..=0x1f => {
                buf.extend_from_slice(&bytes[start..i]);
                buf.extend_from_slice(br"\u00");
                buf.push(HEX[usize::from(b >> 4)]);
                buf.push(HEX[usize::from(b & 0xf)]);
                start = i + 1;
                continue;
            }
            _ => continue,
        };
        buf.extend_from_slice(&bytes[start..i]);
        buf.extend_from_slice(esc);
        start = i + 1;
    }
    buf.extend_from_slice(&bytes[start..]);
    buf.push(b'"');
}

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

/// For a byte scan of JSON text: whether byte `b` is inside a string (then it has been
/// taken into account), with `in_str`/`esc` the scan's state.
fn in_string(b: u8, in_str: &mut bool, esc: &mut bool) -> bool {
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
fn has_wide_float(value: &Value) -> bool {
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
fn is_json_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\r')
}

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

    fn serde_pretty(v: &Value) -> Vec<u8> {
        let mut out = serde_json::to_vec_pretty(v).unwrap();
        out.push(b'\n');
        out
    }

    #[test]
    fn printer_matches_serde_json_byte_for_byte() {
        let samples = [
            json!(null),
            json!([]),
            json!({}),
            json!({"a": [], "b": {}, "c": [[], [{}]]}),
            json!({"s": "quote \" backslash \\ nl \n tab \t cr \r bs \u{8} ff \u{c} nul \u{0} us \u{1f} del \u{7f} é 😀 </"}),
            json!([
                1,
                -1,
                0,
                u64::MAX,
                i64::MIN,
                1.5,
                -0.0,
                1e300,
                1_808.199_999_999_999_8,
                0.1,
                1e-7,
                123_456_789.0
            ]),
            json!({"z": 1, "a": {"y": [true, false, null]}}),
        ];
        for v in &samples {
            assert_eq!(to_pretty(v), serde_pretty(v), "{v}");
        }
    }

    #[test]
    fn parallel_printing_gives_the_same_bytes() {
        let big: Vec<Value> = (0..3000)
            .map(|i| json!({"id": i, "tags": ["a", i % 7], "x": f64::from(i) / 3.0}))
            .collect();
        let v = Value::Array(big);
        let mut out = Vec::new();
        write_pretty_par(&mut out, &v, 3).unwrap();
        assert_eq!(out, serde_pretty(&v));
    }

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
#[cfg(test)]
mod stream_tests {
    //! The streaming array reader against the whole-text parser.
    use super::*;
    #[test]
    fn array_elements_match_the_whole_parse() {
        let text = b"[\n{\"a\":[1,2,{\"b\":\"x]\\\"\"}]}, 2 ,\"s\"]\n";
        let mut e = ArrayElements::new(&text[..]);
        let mut got = Vec::new();
        loop {
            match e.next_value() {
                Ok(Some(v)) => got.push(v),
                Ok(None) => break,
                Err(x) => panic!("{x:?} after {got:?}"),
            }
        }
        assert_eq!(
            Value::Array(got),
            serde_json::from_slice::<Value>(text).unwrap()
        );
    }
}
