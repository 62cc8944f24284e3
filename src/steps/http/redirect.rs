//! Following redirects hop by hop: every hop is recorded, and headers that carry
//! credentials go only to the origin of the step's `url`.

use super::{Hop, Http};
use crate::steps::{StepCx, StepError};
use serde_json::json;
use std::time::Instant;
use url::Url;

/// The longest chain of redirects followed for one request.
const MAX_REDIRECTS: u32 = 10;
/// Headers that carry credentials whatever their value: never sent to another origin.
const CREDENTIAL_HEADERS: [&str; 3] = ["authorization", "cookie", "proxy-authorization"];

impl Http {
    /// Sends one request and follows its redirects, recording every hop; returns the
    /// final URL, body and content type. Headers that carry credentials go only to the
    /// origin of the step's `url` (`home`).
    pub(super) fn follow(
        &mut self,
        mut hop: Hop,
        home: &url::Origin,
        basic: Option<&str>,
        key: Option<&str>,
        page: u32,
        cx: &StepCx<'_>,
    ) -> Result<(Url, Vec<u8>, Option<String>), StepError> {
        for n in 0..=MAX_REDIRECTS {
            let same = hop.url.origin() == *home;
            if !same && self.secrets.found_in(hop.url.as_str()) {
                return Err(StepError::new(format!(
                    "{} {}: the URL carries a secret to another origin than the step's `url`; refusing to send it",
                    hop.method, hop.url
                )));
            }
            let mut headers = Vec::new();
            let mut withheld = Vec::new();
            for (k, v) in &self.headers {
                let credential = CREDENTIAL_HEADERS.contains(&k.to_ascii_lowercase().as_str())
                    || self.secrets.found_in(v);
                if same || !credential {
                    headers.push((k.clone(), v.clone()));
                } else {
                    withheld.push(k.clone());
                }
            }
            if let Some(b) = basic
                && !self
                    .headers
                    .iter()
                    .any(|(k, _)| k.eq_ignore_ascii_case("authorization"))
            {
                if same {
                    headers.push(("Authorization".to_owned(), b.to_owned()));
                } else {
                    withheld.push("Authorization".to_owned());
                }
            }
            let started = Instant::now();
            let (status, raw, content_type, location, attempts) =
                self.send(&hop, &headers, key, cx)?;
            let mut note = json!({
                "page": page,
                "method": hop.method,
                "url": hop.url.as_str(),
                "status": status,
                "attempts": attempts,
                "duration_ms": u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
            });
            if n > 0 {
                note["redirect"] = json!(n);
            }
            if !withheld.is_empty() {
                note["withheld_headers"] = json!(withheld);
            }
            let target = location.filter(|_| matches!(status, 301 | 302 | 303 | 307 | 308));
            let Some(location) = target else {
                self.notes.push(note);
                return Ok((hop.url, raw, content_type));
            };
            let next = hop.url.join(&location).map_err(|e| {
                StepError::new(format!(
                    "{} {}: status {status} redirects to an invalid URL `{location}`: {e}",
                    hop.method, hop.url
                ))
            })?;
            note["location"] = json!(next.as_str());
            self.notes.push(note);
            // As browsers do: 303 (and 301/302 after a POST) continue with a GET.
            if status == 303 && hop.method != "HEAD"
                || matches!(status, 301 | 302) && hop.method == "POST"
            {
                "GET".clone_into(&mut hop.method);
                hop.body = None;
            }
            hop.url = next;
        }
        Err(StepError::new(format!(
            "{} {}: more than {MAX_REDIRECTS} redirects",
            self.o.method, hop.url
        )))
    }
}
