//! Text forms of values as jq writes them: `tojson`/`tostring` (jq's number format) and
//! the `@csv`, `@tsv`, `@sh`, `@base64`, `@base64d`, `@base32`, `@base32d`, `@uri`,
//! `@urid` and `@html` formats.

use super::value::describe;
use jaq_json::{Num, Val};
use std::fmt::Write as _;

/// A float as jq prints it: the shortest digits that read back the same, with an
/// exponent (`1e-05`, `1e+20`) only when the point is far from them (jq's `g_fmt` rule).
pub(crate) fn float_text(f: f64) -> String {
    if f.is_nan() {
        return "null".into();
    }
    let f = if f.is_infinite() {
        f64::MAX.copysign(f)
    } else {
        f
    };
    if f == 0.0 {
        return if f.is_sign_negative() { "-0" } else { "0" }.into();
    }
    let sci = format!("{f:e}");
    let (mantissa, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let digits = i32::try_from(mantissa.bytes().filter(u8::is_ascii_digit).count()).unwrap_or(17);
    let point = exp + 1;
    if point <= -4 || point > digits + 15 {
        let sign = if exp < 0 { '-' } else { '+' };
        format!("{mantissa}e{sign}{:02}", exp.abs())
    } else {
        format!("{f}")
    }
}

fn num_text(n: &Num) -> String {
    match n {
        Num::Int(i) => i.to_string(),
        Num::Float(f) => float_text(*f),
        // Big integers and decimal literals are kept as written, as jq 1.7+ does.
        _ => n.to_string(),
    }
}

/// Compact JSON, as jq's `tojson` writes it.
pub(crate) fn dump(v: &Val) -> String {
    let mut out = String::new();
    write(v, &mut out, 0);
    out
}

/// jq writes values nested deeper than this as a placeholder string.
const MAX_DUMP_DEPTH: usize = 10_000;

fn write_str(b: &[u8], out: &mut String) {
    let s = String::from_utf8_lossy(b);
    out.push_str(&serde_json::to_string(&*s).unwrap_or_default());
}

fn write(v: &Val, out: &mut String, depth: usize) {
    if depth > MAX_DUMP_DEPTH && matches!(v, Val::Arr(_) | Val::Obj(_)) {
        out.push_str("\"<skipped: too deep>\"");
        return;
    }
    match v {
        Val::Null => out.push_str("null"),
        Val::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Val::Num(n) => out.push_str(&num_text(n)),
        Val::TStr(b) | Val::BStr(b) => write_str(b, out),
        Val::Arr(a) => {
            out.push('[');
            for (i, x) in a.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write(x, out, depth + 1);
            }
            out.push(']');
        }
        Val::Obj(o) => {
            out.push('{');
            for (i, (k, x)) in o.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                match k {
                    Val::TStr(b) | Val::BStr(b) => write_str(b, out),
                    other => write_str(dump(other).as_bytes(), out),
                }
                out.push(':');
                write(x, out, depth + 1);
            }
            out.push('}');
        }
    }
}

/// `tostring`: strings as they are, everything else as JSON.
pub(crate) fn text(v: &Val) -> String {
    match v {
        Val::TStr(b) | Val::BStr(b) => String::from_utf8_lossy(b).into_owned(),
        other => dump(other),
    }
}

fn row(v: &Val, what: &str) -> Result<Vec<Val>, String> {
    match v {
        Val::Arr(a) => Ok(a.to_vec()),
        other => Err(format!(
            "{} cannot be {what}-formatted, only an array can be",
            describe(other)
        )),
    }
}

/// `@csv`, `@tsv`, `@sh`, `@html`, `@uri`, `@urid`, `@base64`, `@base64d`, `@base32`, `@base32d`.
pub(crate) fn apply(name: &str, v: &Val) -> Result<String, String> {
    match name {
        "csv" | "tsv" => {
            let csv = name == "csv";
            let mut cells = Vec::new();
            for x in row(v, name)? {
                cells.push(match &x {
                    Val::Null => String::new(),
                    Val::Bool(_) | Val::Num(_) => dump(&x),
                    Val::TStr(b) | Val::BStr(b) => {
                        let s = String::from_utf8_lossy(b);
                        if csv {
                            format!("\"{}\"", s.replace('"', "\"\""))
                        } else {
                            s.replace('\\', "\\\\")
                                .replace('\t', "\\t")
                                .replace('\n', "\\n")
                                .replace('\r', "\\r")
                        }
                    }
                    other => {
                        return Err(format!("{} is not valid in a {name} row", describe(other)));
                    }
                });
            }
            Ok(cells.join(if csv { "," } else { "\t" }))
        }
        "sh" => {
            let items = match v {
                Val::Arr(a) => a.to_vec(),
                other => vec![other.clone()],
            };
            let mut words = Vec::new();
            for x in &items {
                words.push(match x {
                    Val::TStr(b) | Val::BStr(b) => {
                        format!("'{}'", String::from_utf8_lossy(b).replace('\'', "'\\''"))
                    }
                    Val::Arr(_) | Val::Obj(_) => {
                        return Err(format!("{} can not be escaped for shell", describe(x)));
                    }
                    other => dump(other),
                });
            }
            Ok(words.join(" "))
        }
        "html" => Ok(text(v)
            .replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;")
            .replace('\'', "&apos;")
            .replace('"', "&quot;")),
        "uri" => {
            let mut out = String::new();
            for b in text(v).bytes() {
                if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
                    out.push(char::from(b));
                } else {
                    let _ = write!(out, "%{b:02X}");
                }
            }
            Ok(out)
        }
        "urid" => {
            let s = text(v);
            let bad = || format!("{} is not a valid uri encoding", describe(v));
            let bytes = s.as_bytes();
            let mut out = Vec::new();
            let mut i = 0;
            while i < bytes.len() {
                if bytes[i] == b'%' {
                    let hex = s.get(i + 1..i + 3).ok_or_else(bad)?;
                    out.push(u8::from_str_radix(hex, 16).map_err(|_| bad())?);
                    i += 3;
                } else {
                    out.push(bytes[i]);
                    i += 1;
                }
            }
            String::from_utf8(out).map_err(|_| bad())
        }
        "base64" => Ok(base_encode(text(v).as_bytes(), B64, 6)),
        "base32" => Ok(base_encode(text(v).as_bytes(), B32, 5)),
        "base64d" | "base32d" => {
            let (alphabet, bits) = if name == "base64d" {
                (B64, 6)
            } else {
                (B32, 5)
            };
            let s = text(v);
            let data = s.trim_end_matches('=');
            if name == "base64d" && data.len() % 4 == 1 {
                return Err(format!("{} trailing base64 byte found", describe(v)));
            }
            let out = base_decode(s.as_bytes(), alphabet, bits)
                .ok_or_else(|| format!("{} is not valid {} data", describe(v), &name[..6]))?;
            Ok(String::from_utf8_lossy(&out).into_owned())
        }
        _ => Err(format!("{name} is not a valid format")),
    }
}

const B64: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
const B32: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

fn base_encode(input: &[u8], alphabet: &[u8], bits: u32) -> String {
    let mut out = String::new();
    let (mut acc, mut n) = (0u32, 0u32);
    for &b in input {
        acc = (acc << 8) | u32::from(b);
        n += 8;
        while n >= bits {
            n -= bits;
            out.push(char::from(
                alphabet[((acc >> n) & ((1 << bits) - 1)) as usize],
            ));
        }
        acc &= (1 << n) - 1;
    }
    if n > 0 {
        out.push(char::from(
            alphabet[((acc << (bits - n)) & ((1 << bits) - 1)) as usize],
        ));
    }
    let block = if bits == 6 { 4 } else { 8 };
    while !out.len().is_multiple_of(block) {
        out.push('=');
    }
    out
}

/// Decodes like jq: padding optional, trailing bits that make no whole byte dropped;
/// `None` on a symbol outside the alphabet or input that decodes to nothing.
fn base_decode(input: &[u8], alphabet: &[u8], bits: u32) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    let (mut acc, mut n) = (0u32, 0u32);
    let trimmed = input
        .iter()
        .rposition(|&b| b != b'=')
        .map_or(&input[..0], |i| &input[..=i]);
    for &c in trimmed {
        let d = alphabet.iter().position(|&a| a == c)?;
        #[allow(clippy::cast_possible_truncation, reason = "alphabet index < 64")]
        let d = d as u32;
        acc = (acc << bits) | d;
        n += bits;
        if n >= 8 {
            n -= 8;
            #[allow(clippy::cast_possible_truncation, reason = "masked to a byte")]
            out.push(((acc >> n) & 0xff) as u8);
        }
        acc &= (1 << n) - 1;
    }
    if out.is_empty() && !trimmed.is_empty() {
        return None;
    }
    Some(out)
}
