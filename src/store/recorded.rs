//! Opening the files of recorded runs (manifests, payloads, flow copies): regular files
//! only, never followed into a FIFO or device, and read with a size cap.
//!
//! Anything can sit in a run folder by the time a command reads it (a FIFO or
//! `/dev/zero` in place of a payload would block or never end), so every read of a
//! recorded file goes through [`open`] or [`read`].

use super::StoreError;
use std::fs::{File, OpenOptions};
use std::io::{self, Read};
use std::os::unix::fs::{FileTypeExt as _, OpenOptionsExt as _};
use std::path::Path;

/// A manifest larger than this is refused (a run with a million payloads writes about
/// 400 MB of manifest).
pub(crate) const MAX_MANIFEST_BYTES: u64 = 1 << 30;
/// A payload or input file larger than this is refused.
pub(crate) const MAX_PAYLOAD_BYTES: u64 = 8 << 30;
/// A flow copy larger than this is refused (the same limit as flow files).
pub(crate) const MAX_FLOW_BYTES: u64 = crate::names::MAX_FLOW_FILE_BYTES;

/// Opens a recorded file for reading: refused unless it is a regular file (checked on
/// the open handle; the open itself does not block on a FIFO) of at most `max` bytes.
///
/// # Errors
/// The file is missing or unreadable, not a regular file, or too large.
pub(crate) fn open(path: &Path, max: u64) -> Result<(File, u64), StoreError> {
    super::backend::get().load(path)?;
    let file = OpenOptions::new()
        .read(true)
        .custom_flags(rustix::fs::OFlags::NONBLOCK.bits().cast_signed())
        .open(path)
        .map_err(|e| StoreError::io(path, e))?;
    let meta = file.metadata().map_err(|e| StoreError::io(path, e))?;
    let kind = meta.file_type();
    if !kind.is_file() {
        return Err(StoreError::NotRegular {
            path: path.to_path_buf(),
            what: describe(kind),
        });
    }
    if meta.len() > max {
        return Err(StoreError::TooLarge {
            path: path.to_path_buf(),
            bytes: meta.len(),
            max,
        });
    }
    Ok((file, meta.len()))
}

/// What a file that is not a regular file is, for messages (`a FIFO`).
#[must_use]
pub(crate) fn describe(kind: std::fs::FileType) -> &'static str {
    if kind.is_dir() {
        "a folder"
    } else if kind.is_fifo() {
        "a FIFO"
    } else if kind.is_char_device() || kind.is_block_device() {
        "a device"
    } else if kind.is_socket() {
        "a socket"
    } else if kind.is_symlink() {
        "a symbolic link"
    } else {
        "a special file"
    }
}

/// Reads a recorded file whole (see [`open`]); a file that grows past `max` while it is
/// read is refused too.
///
/// # Errors
/// As [`open`], or the read failed.
pub(crate) fn read(path: &Path, max: u64) -> Result<Vec<u8>, StoreError> {
    let (file, len) = open(path, max)?;
    let mut bytes = Vec::with_capacity(usize::try_from(len).unwrap_or(0));
    file.take(max.saturating_add(1))
        .read_to_end(&mut bytes)
        .map_err(|e| StoreError::io(path, e))?;
    if bytes.len() as u64 > max {
        return Err(StoreError::TooLarge {
            path: path.to_path_buf(),
            bytes: bytes.len() as u64,
            max,
        });
    }
    Ok(bytes)
}

/// Reads a recorded text file (a flow copy) whole.
///
/// # Errors
/// As [`read`], or the file is not UTF-8.
pub(crate) fn read_text(path: &Path, max: u64) -> Result<String, StoreError> {
    String::from_utf8(read(path, max)?).map_err(|_| {
        StoreError::io(
            path,
            io::Error::new(io::ErrorKind::InvalidData, "not UTF-8 text"),
        )
    })
}

/// Copies at most `max` bytes of an open recorded file into `to`.
///
/// # Errors
/// The read or write failed, or the file holds more than `max` bytes.
pub(crate) fn copy(
    path: &Path,
    from: File,
    max: u64,
    to: &mut impl io::Write,
) -> Result<u64, StoreError> {
    let n =
        io::copy(&mut from.take(max.saturating_add(1)), to).map_err(|e| StoreError::io(path, e))?;
    if n > max {
        return Err(StoreError::TooLarge {
            path: path.to_path_buf(),
            bytes: n,
            max,
        });
    }
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_regular_files_within_the_limit_are_read() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("a.json");
        std::fs::write(&f, "[1]").unwrap();
        assert_eq!(read(&f, 3).unwrap(), b"[1]");
        assert!(matches!(read(&f, 2), Err(StoreError::TooLarge { .. })));
        assert!(matches!(
            read(dir.path(), 10),
            Err(StoreError::NotRegular {
                what: "a folder",
                ..
            })
        ));
        assert!(matches!(
            read(Path::new("/dev/zero"), 10),
            Err(StoreError::NotRegular {
                what: "a device",
                ..
            })
        ));
    }
}
