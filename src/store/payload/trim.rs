//! Trimming a payload file as it is written: the stored part up to a limit and the
//! whole stream hashed in one pass, the cut on a UTF-8 character boundary.

use super::{Encoded, TRIMMED_MARK};
use std::io::{self, Write};

/// Passes bytes through to the file up to a limit, hashing the whole stream and the
/// stored part in one pass: the two hashes share the bytes before the trim window, so
/// the stored-file hasher is forked from the whole-payload one only where they can part.
/// The cut falls back to a UTF-8 character boundary.
pub(super) struct TrimWriter<W: Write> {
    inner: W,
    limit: u64,
    full: blake3::Hasher,
    full_bytes: u64,
    /// The hash state at the start of the trim window (`hold_from`).
    fork: Option<blake3::Hasher>,
    /// Bytes held back near the limit until we know where a character ends.
    held: Vec<u8>,
}

impl<W: Write> TrimWriter<W> {
    pub(super) fn new(inner: W, limit: u64) -> Self {
        TrimWriter {
            inner,
            limit,
            full: blake3::Hasher::new(),
            full_bytes: 0,
            fork: None,
            held: Vec::new(),
        }
    }

    /// Where held-back bytes start: four bytes before the limit (a UTF-8 character is
    /// at most four bytes, so the cut can move back at most three).
    fn hold_from(&self) -> u64 {
        self.limit.saturating_sub(4)
    }

    /// Keeps at most the window [limit-4, limit+1): enough to find the cut.
    fn hold(&mut self, bytes: &[u8]) {
        let room = 5usize.saturating_sub(self.held.len());
        self.held.extend_from_slice(&bytes[..bytes.len().min(room)]);
    }

    pub(super) fn finish(mut self) -> io::Result<(W, Encoded)> {
        let trimmed = self.limit > 0 && self.full_bytes > self.limit;
        let held = std::mem::take(&mut self.held);
        let full_blake3 = self.full.finalize().to_hex().to_string();
        let (bytes, blake3) = if trimmed {
            // `held` covers positions hold_from().. and reaches past the limit.
            let base = self.hold_from();
            let mut cut = usize::try_from(self.limit - base).unwrap_or(held.len());
            while cut > 0 && cut < held.len() && (held[cut] & 0xC0) == 0x80 {
                cut -= 1;
            }
            let mut stored = self
                .fork
                .take()
                .expect("a trimmed stream passed the fork point");
            stored.update(&held[..cut]);
            stored.update(TRIMMED_MARK);
            self.inner.write_all(&held[..cut])?;
            self.inner.write_all(TRIMMED_MARK)?;
            (
                base + (cut + TRIMMED_MARK.len()) as u64,
                stored.finalize().to_hex().to_string(),
            )
        } else {
            self.inner.write_all(&held)?;
            (self.full_bytes, full_blake3.clone())
        };
        self.inner.flush()?;
        let encoded = Encoded {
            bytes,
            blake3,
            trimmed,
            full_bytes: self.full_bytes,
            full_blake3,
            masked: false,
        };
        Ok((self.inner, encoded))
    }
}

impl<W: Write> Write for TrimWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let start = self.full_bytes;
        self.full_bytes += buf.len() as u64;
        if self.limit == 0 {
            self.full.update(buf);
            self.inner.write_all(buf)?;
            return Ok(buf.len());
        }
        // The part before the trim window goes straight through.
        let hold_from = self.hold_from();
        let direct = usize::try_from(hold_from.saturating_sub(start).min(buf.len() as u64))
            .unwrap_or(buf.len());
        self.full.update(&buf[..direct]);
        self.inner.write_all(&buf[..direct])?;
        if self.fork.is_none() && start + direct as u64 == hold_from {
            self.fork = Some(self.full.clone());
        }
        let rest = &buf[direct..];
        self.full.update(rest);
        self.hold(rest);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}
