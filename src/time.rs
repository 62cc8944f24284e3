//! UTC timestamps as the run store writes them, and run ids.

use chrono::{DateTime, SecondsFormat, Utc};
use std::hash::{BuildHasher, Hasher};

/// `2026-11-28T09:30:00.123Z`.
#[must_use]
pub(crate) fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// The current time as [`rfc3339`].
#[must_use]
pub(crate) fn now() -> String {
    rfc3339(Utc::now())
}

/// Parses an [`rfc3339`] time.
#[must_use]
pub(crate) fn parse(s: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

/// A run id for a run starting at `t`: `20261128T093000.123Z-7f3a`.
#[must_use]
pub(crate) fn run_id(t: DateTime<Utc>) -> String {
    // RandomState is seeded per process; mixing in the time and a counter makes
    // the suffix differ between runs started in the same millisecond.
    static COUNTER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed));
    h.write_i64(t.timestamp_nanos_opt().unwrap_or_default());
    h.write_u32(std::process::id());
    format!(
        "{}-{:04x}",
        t.format("%Y%m%dT%H%M%S%.3fZ"),
        h.finish() & 0xffff
    )
}

/// The start time encoded in a run id.
#[must_use]
pub(crate) fn run_id_time(id: &str) -> Option<DateTime<Utc>> {
    let stamp = id.get(..20)?;
    chrono::NaiveDateTime::parse_from_str(stamp, "%Y%m%dT%H%M%S%.3fZ")
        .ok()
        .map(|t| t.and_utc())
}

/// Whether `s` has the shape of a run id: `YYYYMMDDTHHMMSS.mmmZ-hhhh` (checked byte by
/// byte: listing a store with many runs calls this once per folder).
#[must_use]
pub(crate) fn is_run_id(s: &str) -> bool {
    const SHAPE: &[u8; 25] = b"ddddddddTdddddd.dddZ-xxxx";
    s.len() == 25
        && s.bytes().zip(SHAPE).all(|(b, &want)| match want {
            b'd' => b.is_ascii_digit(),
            b'x' => b.is_ascii_hexdigit(),
            other => b == other,
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn run_ids_sort_by_time_and_parse_back() {
        let t = parse("2026-11-28T09:30:00.123Z").unwrap();
        let id = run_id(t);
        assert!(id.starts_with("20261128T093000.123Z-"), "{id}");
        assert!(is_run_id(&id), "{id}");
        assert_eq!(run_id_time(&id), Some(t));
        assert_ne!(run_id(t), run_id(t));
        assert_eq!(rfc3339(t), "2026-11-28T09:30:00.123Z");
        assert!(!is_run_id("20261128T093000.123Z-7f3"));
        assert!(!is_run_id("20261128T093000.123Z_7f3a"));
        assert!(!is_run_id("2026112xT093000.123Z-7f3a"));
    }
}
