//! Payload files: deterministic pretty JSON, hashed and trimmed in the same pass as written.
mod trim;

use super::{StoreError, atomic};
use crate::secrets::Secrets;
use serde_json::Value;
use std::fs::File;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use tempfile::NamedTempFile;
use trim::TrimWriter;

/// The line that ends a trimmed payload file.
pub const TRIMMED_MARK: &[u8] = b"\n[trimmed]\n";

/// Size and hashes of an encoded payload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Encoded {
    /// Bytes of the file as stored.
    pub bytes: u64,
    /// blake3 of the file as stored.
    pub blake3: String,
    /// Whether the file holds only the start of the payload.
    pub trimmed: bool,
    /// Bytes of the whole payload.
    pub full_bytes: u64,
    /// blake3 of the whole payload.
    pub full_blake3: String,
    /// Whether a secret was masked out of it.
    pub masked: bool,
}

/// A payload written to a temporary file in its final folder, synced, not yet named.
pub(crate) struct Pending {
    temp: Temp,
    /// What was written.
    pub(crate) encoded: Encoded,
}

/// The temporary file of a [`Pending`]: open, or closed (see [`Pending::close`]).
enum Temp {
    Open(NamedTempFile),
    Closed(tempfile::TempPath),
}

impl Pending {
    /// A second handle on the temporary file, and its path (e.g. to sync it elsewhere).
    ///
    /// # Errors
    /// The handle could not be duplicated (or the closed file opened again).
    pub(crate) fn handle(&self) -> Result<(File, PathBuf), StoreError> {
        let (path, file) = match &self.temp {
            Temp::Open(temp) => (temp.path(), temp.as_file().try_clone()),
            Temp::Closed(path) => (&**path, File::open(path)),
        };
        let file = file.map_err(|e| StoreError::io(path, e))?;
        Ok((file, path.to_path_buf()))
    }

    /// The same payload with its file closed (still removed if it is never named), for
    /// a writer that keeps many of them before they are named: no descriptor each.
    pub(crate) fn close(self) -> Pending {
        let temp = match self.temp {
            Temp::Open(temp) => Temp::Closed(temp.into_temp_path()),
            closed @ Temp::Closed(_) => closed,
        };
        Pending {
            temp,
            encoded: self.encoded,
        }
    }

    /// Makes the file's data durable.
    ///
    /// # Errors
    /// The sync failed.
    pub(crate) fn sync(&self) -> Result<(), StoreError> {
        let (file, path) = self.handle()?;
        file.sync_data().map_err(|e| StoreError::io(&path, e))
    }

    /// Gives the file its final name (atomically).
    ///
    /// # Errors
    /// The rename failed.
    pub(crate) fn commit(self, path: &Path) -> Result<(), StoreError> {
        match self.temp {
            Temp::Open(temp) => temp.persist(path).map(drop).map_err(|e| e.error),
            Temp::Closed(temp) => temp.persist(path).map_err(|e| e.error),
        }
        .map_err(|e| StoreError::io(path, e))?;
        super::backend::get().stored(path)
    }
}

/// How payload files are written.
#[derive(Debug, Clone, Copy)]
pub struct Encoding<'a> {
    /// Trim stored files to this many bytes (0 = never).
    pub max_bytes: u64,
    /// Values to mask out (see [`Secrets::mask_value`]).
    pub secrets: &'a Secrets,
    /// Threads that may print one large payload.
    pub threads: usize,
}

/// Writes `value` as pretty JSON to a temporary file in `dir` (not yet synced: see
/// [`Pending::sync`]), hashing it and trimming it in the same pass. Every secret is masked out before anything is written.
///
/// # Errors
/// The file could not be written.
pub(crate) fn encode_to_temp(
    dir: &Path,
    value: &Value,
    how: Encoding<'_>,
) -> Result<Pending, StoreError> {
    let temp = atomic::temp_in(dir)?;
    let file = temp
        .as_file()
        .try_clone()
        .map_err(|e| StoreError::io(dir, e))?;
    let mut trim = TrimWriter::new(file, how.max_bytes);
    let masked_value = how.secrets.mask_value(value);
    let masked = masked_value.is_some();
    let written = crate::json::write_pretty_par(
        &mut trim,
        masked_value.as_ref().unwrap_or(value),
        how.threads,
    );
    let (file, mut encoded) = written
        .and_then(|()| trim.finish())
        .map_err(|e| StoreError::io(temp.path(), e))?;
    encoded.masked = masked;
    drop(file);
    Ok(Pending {
        temp: Temp::Open(temp),
        encoded,
    })
}

/// Writes a payload whose pretty JSON `print` produces piece by piece (already masked;
/// it returns whether anything was) to a temporary file in `dir` (not yet synced),
/// hashing and trimming it as [`encode_to_temp`] does: the same bytes give the same
/// file and record.
///
/// # Errors
/// The file could not be written, or `print` failed.
pub(crate) fn stream_to_temp(
    dir: &Path,
    max_bytes: u64,
    print: impl FnOnce(&mut dyn Write) -> io::Result<bool>,
) -> Result<Pending, StoreError> {
    let temp = atomic::temp_in(dir)?;
    let file = temp
        .as_file()
        .try_clone()
        .map_err(|e| StoreError::io(dir, e))?;
    let mut trim = TrimWriter::new(io::BufWriter::with_capacity(1 << 16, file), max_bytes);
    let written = print(&mut trim);
    let (file, encoded) = written
        .and_then(|masked| {
            let (w, mut e) = trim.finish()?;
            e.masked = masked;
            Ok((w, e))
        })
        .map_err(|e| StoreError::io(temp.path(), e))?;
    file.into_inner()
        .map_err(|e| StoreError::io(temp.path(), e.into_error()))?;
    Ok(Pending {
        temp: Temp::Open(temp),
        encoded,
    })
}

/// Copies an already stored payload file (whose encoding is `encoded`) to a temporary
/// file in `dir` (not yet synced).
///
/// # Errors
/// The file could not be copied.
pub(crate) fn copy_to_temp(
    dir: &Path,
    from: &Path,
    encoded: Encoded,
) -> Result<Pending, StoreError> {
    let mut temp = atomic::temp_in(dir)?;
    let (src, _) = super::recorded::open(from, super::recorded::MAX_PAYLOAD_BYTES)?;
    super::recorded::copy(
        from,
        src,
        super::recorded::MAX_PAYLOAD_BYTES,
        temp.as_file_mut(),
    )?;
    Ok(Pending {
        temp: Temp::Open(temp),
        encoded,
    })
}

/// Writes `value` to `path` atomically and returns what was written.
///
/// # Errors
/// The file could not be written.
pub fn write(path: &Path, value: &Value, how: Encoding<'_>) -> Result<Encoded, StoreError> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let pending = encode_to_temp(dir, value, how)?;
    pending.sync()?;
    let encoded = pending.encoded.clone();
    pending.commit(path)?;
    Ok(encoded)
}

/// Reads a payload file back.
///
/// # Errors
/// The file is missing, unreadable, trimmed or not JSON.
pub fn read(path: &Path) -> Result<Value, StoreError> {
    let bytes = super::recorded::read(path, super::recorded::MAX_PAYLOAD_BYTES)?;
    if bytes.ends_with(TRIMMED_MARK) {
        return Err(StoreError::Trimmed(path.to_path_buf()));
    }
    // Almost every payload file is flowrun's own plain pretty JSON: built straight
    // into its value; anything else goes through the one decoder (which reports faults).
    if let Some(value) = crate::json::parse_plain(&bytes) {
        return Ok(value);
    }
    crate::json::decode(&bytes, 1).map_err(|e| StoreError::bad_json(path, e))
}

/// Hashes a file as stored: size and blake3.
///
/// # Errors
/// The file could not be read.
pub(crate) fn hash_file(path: &Path) -> Result<(u64, String), StoreError> {
    let mut hasher = blake3::Hasher::new();
    let (file, _) = super::recorded::open(path, super::recorded::MAX_PAYLOAD_BYTES)?;
    let n = super::recorded::copy(path, file, super::recorded::MAX_PAYLOAD_BYTES, &mut hasher)?;
    Ok((n, hasher.finalize().to_hex().to_string()))
}

/// `000001.json` for payload 1.
#[must_use]
pub(crate) fn payload_name(n: usize) -> String {
    format!("{n:06}.json")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn store(value: &Value, limit: u64) -> (Vec<u8>, Encoded) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("p.json");
        let enc = write(
            &path,
            value,
            Encoding {
                max_bytes: limit,
                secrets: Secrets::none(),
                threads: 1,
            },
        )
        .unwrap();
        (std::fs::read(&path).unwrap(), enc)
    }

    #[test]
    fn pretty_two_spaces_in_order_with_newline() {
        let (bytes, enc) = store(&json!({"b": 1, "a": [1, {"c": null}], "e": []}), 0);
        let text = String::from_utf8(bytes.clone()).unwrap();
        assert_eq!(
            text,
            "{\n  \"b\": 1,\n  \"a\": [\n    1,\n    {\n      \"c\": null\n    }\n  ],\n  \"e\": []\n}\n"
        );
        assert!(!enc.trimmed);
        assert_eq!(enc.bytes, bytes.len() as u64);
        assert_eq!(enc.blake3, blake3::hash(&bytes).to_hex().to_string());
        assert_eq!(enc.full_blake3, enc.blake3);
    }

    #[test]
    fn trims_at_a_character_boundary() {
        let value = json!("ééééé");
        let full = crate::json::to_pretty(&value);
        for limit in 1..full.len() as u64 {
            let (bytes, enc) = store(&value, limit);
            assert!(enc.trimmed, "limit {limit}");
            assert!(bytes.ends_with(TRIMMED_MARK));
            let kept = &bytes[..bytes.len() - TRIMMED_MARK.len()];
            assert!(kept.len() as u64 <= limit);
            assert!(limit - kept.len() as u64 <= 3);
            assert!(std::str::from_utf8(kept).is_ok(), "limit {limit}");
            assert_eq!(kept, &full[..kept.len()]);
            assert_eq!(enc.full_bytes, full.len() as u64);
            assert_eq!(enc.full_blake3, blake3::hash(&full).to_hex().to_string());
            assert_eq!(enc.blake3, blake3::hash(&bytes).to_hex().to_string());
        }
        let (bytes, enc) = store(&value, full.len() as u64);
        assert!(!enc.trimmed);
        assert_eq!(bytes, full);
    }

    #[test]
    fn reading_a_trimmed_file_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("p.json");
        write(
            &path,
            &json!([1, 2, 3, 4, 5]),
            Encoding {
                max_bytes: 5,
                secrets: Secrets::none(),
                threads: 1,
            },
        )
        .unwrap();
        assert!(matches!(read(&path), Err(StoreError::Trimmed(_))));
    }
}

#[cfg(test)]
mod mask_tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn secrets_are_masked_raw_and_escaped() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("p.json");
        let mut secrets = Secrets::new();
        secrets.add("t0k\"en");
        secrets.add("abc123");
        let enc = write(
            &path,
            &json!({"auth": "Bearer abc123", "odd": "t0k\"en"}),
            Encoding {
                max_bytes: 0,
                secrets: &secrets,
                threads: 1,
            },
        )
        .unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(enc.masked);
        assert!(!text.contains("abc123") && !text.contains("t0k"), "{text}");
        assert!(text.contains("Bearer ***"), "{text}");
    }

    #[test]
    fn masking_keeps_the_file_valid_json() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("p.json");
        let mut secrets = Secrets::new();
        secrets.add("3");
        secrets.add("key");
        let enc = write(
            &path,
            &json!({"n": 13, "m": 3, "a key": ["my key", 3.5, true, null]}),
            Encoding {
                max_bytes: 0,
                secrets: &secrets,
                threads: 1,
            },
        )
        .unwrap();
        assert!(enc.masked);
        let back: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        assert_eq!(
            back,
            json!({"n": 13, "m": "***", "a ***": ["my ***", 3.5, true, null]})
        );
        let enc = write(
            &path,
            &json!({"n": 14}),
            Encoding {
                max_bytes: 0,
                secrets: &secrets,
                threads: 1,
            },
        )
        .unwrap();
        assert!(!enc.masked);
    }
}
