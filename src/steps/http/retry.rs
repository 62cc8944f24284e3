//! Retries of a failed request: exponential backoff with jitter, `Retry-After`, and the
//! run's deadline.

use super::attempt::Attempt;
use super::{Hop, Http};
use crate::steps::{StepCx, StepError};
use std::time::{Duration, Instant};

/// First wait between attempts; doubled each time, with jitter, up to [`MAX_BACKOFF`].
const BASE_BACKOFF: Duration = Duration::from_millis(100);
const MAX_BACKOFF: Duration = Duration::from_secs(10);
/// The longest `Retry-After` honoured.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(60);

impl Http {
    /// Sends one request with retries; returns status, body, content type, the
    /// `Location` header and the number of attempts.
    #[allow(clippy::type_complexity, reason = "one private call site")]
    pub(super) fn send(
        &self,
        hop: &Hop,
        headers: &[(String, String)],
        key: Option<&str>,
        cx: &StepCx<'_>,
    ) -> Result<(u16, Vec<u8>, Option<String>, Option<String>, u32), StepError> {
        let url = hop.url.as_str();
        let method = hop.method.as_str();
        let mut attempt = 0;
        loop {
            attempt += 1;
            let timeout = match cx.deadline {
                Some(d) => {
                    let left = d.saturating_duration_since(Instant::now());
                    if left.is_zero() {
                        return Err(StepError::new("the run's timeout was reached"));
                    }
                    self.o.timeout.min(left)
                }
                None => self.o.timeout,
            };
            let (why, after) = match self.attempt(hop, headers, key, timeout) {
                Attempt::Done {
                    status,
                    body,
                    content_type,
                    location,
                } => {
                    return Ok((status, body, content_type, location, attempt));
                }
                Attempt::Fail(msg) => {
                    return Err(StepError::new(format!("{method} {url}: {msg}")));
                }
                Attempt::Retry { why, after } => (why, after),
            };
            if attempt > self.o.retries {
                let tries = if attempt == 1 {
                    String::new()
                } else {
                    format!(" (after {attempt} attempts)")
                };
                return Err(StepError::new(format!("{method} {url}: {why}{tries}")));
            }
            let wait = after.unwrap_or_else(|| backoff(attempt));
            if cx.deadline.is_some_and(|d| Instant::now() + wait >= d) {
                return Err(StepError::new(format!(
                    "{method} {url}: {why}; no time left to retry before the run's timeout"
                )));
            }
            std::thread::sleep(wait);
        }
    }
}

/// Exponential backoff with ±50% jitter.
pub(crate) fn backoff(attempt: u32) -> Duration {
    let base = BASE_BACKOFF
        .saturating_mul(1 << attempt.saturating_sub(1).min(16))
        .min(MAX_BACKOFF);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    let jitter = 0.5 + f64::from(nanos % 1000) / 1000.0;
    base.mul_f64(jitter)
}

/// `Retry-After`: seconds, or an HTTP date.
pub(super) fn parse_retry_after(v: &str) -> Option<Duration> {
    let v = v.trim();
    let d = if let Ok(secs) = v.parse::<u64>() {
        Duration::from_secs(secs)
    } else {
        let when = chrono::DateTime::parse_from_rfc2822(v).ok()?;
        (when.with_timezone(&chrono::Utc) - chrono::Utc::now())
            .to_std()
            .unwrap_or_default()
    };
    Some(d.min(MAX_RETRY_AFTER))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_is_capped() {
        assert_eq!(parse_retry_after("2"), Some(Duration::from_secs(2)));
        assert_eq!(parse_retry_after("9999"), Some(MAX_RETRY_AFTER));
        assert_eq!(parse_retry_after("soon"), None);
    }

    #[test]
    fn backoff_grows_and_is_bounded() {
        assert!(backoff(1) <= BASE_BACKOFF.mul_f64(1.5));
        assert!(backoff(30) <= MAX_BACKOFF.mul_f64(1.5));
    }
}
