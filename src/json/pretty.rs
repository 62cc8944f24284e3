//! Pretty printing of JSON exactly as `serde_json` prints it, sequential or on several threads.

use serde_json::Value;
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

pub(super) fn push_indent(buf: &mut Vec<u8>, indent: usize) {
    const SPACES: &[u8; 64] = &[b' '; 64];
    match SPACES.get(..2 * indent) {
        Some(spaces) => buf.extend_from_slice(spaces),
        None => {
            for _ in 0..indent {
                buf.extend_from_slice(b"  ");
            }
        }
    }
}

pub(super) fn push_scalar(buf: &mut Vec<u8>, v: &Value) {
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
pub(super) fn push_str(buf: &mut Vec<u8>, s: &str) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    buf.push(b'"');
    let bytes = s.as_bytes();
    // Most strings need no escape: one branch-free pass over them, then one copy.
    let special = bytes.iter().fold(0u8, |any, &b| {
        any | u8::from(b < 0x20 || b == b'"' || b == b'\\')
    });
    if special == 0 {
        buf.extend_from_slice(bytes);
        buf.push(b'"');
        return;
    }
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
}
