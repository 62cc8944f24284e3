//! One attempt at a request: built, sent with a timeout, its response read under the
//! size limit and sorted into done, retry or failure; the body decoded as JSON or text,
//! and quoted (secrets masked) in errors.

use super::retry::parse_retry_after;
use super::spec::ResponseMode;
use super::{Hop, Http};
use crate::steps::StepError;
use serde_json::Value;
use std::time::Duration;
use ureq::http;

/// What one attempt came to.
pub(super) enum Attempt {
    Done {
        status: u16,
        body: Vec<u8>,
        content_type: Option<String>,
        location: Option<String>,
    },
    Retry {
        why: String,
        after: Option<Duration>,
    },
    Fail(String),
}

/// How much of an error body is quoted.
const BODY_QUOTE: usize = 300;

impl Http {
    /// Sends one request and reads its response.
    pub(super) fn attempt(
        &self,
        hop: &Hop,
        headers: &[(String, String)],
        key: Option<&str>,
        timeout: Duration,
    ) -> Attempt {
        let body = hop.body.as_deref();
        let mut req = http::Request::builder()
            .method(hop.method.as_str())
            .uri(hop.url.as_str());
        for (k, v) in headers {
            req = req.header(k.as_str(), v.as_str());
        }
        if let Some(k) = key {
            req = req.header("Idempotency-Key", k);
        }
        if body.is_some() {
            req = req.header("Content-Type", "application/json");
        }
        let req = match req.body(body.map(<[u8]>::to_vec).unwrap_or_default()) {
            Ok(r) => r,
            Err(e) => return Attempt::Fail(format!("invalid request: {e}")),
        };
        let agent = self.agent.clone();
        let req = agent
            .configure_request(req)
            .timeout_global(Some(timeout))
            .build();
        let mut resp = match agent.run(req) {
            Ok(r) => r,
            Err(e) => return classify(e, timeout),
        };
        let status = resp.status().as_u16();
        let retry_after = resp
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok())
            .and_then(parse_retry_after);
        let header = |name: &str| {
            resp.headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        };
        let content_type = header("content-type");
        let location = header("location");
        let read = resp
            .body_mut()
            .with_config()
            .limit(self.o.max_response_bytes)
            .read_to_vec();
        let bytes = match read {
            Ok(b) => b,
            Err(ureq::Error::BodyExceedsLimit(_)) => {
                return Attempt::Fail(format!(
                    "the response body is larger than {} bytes (max_response_bytes)",
                    self.o.max_response_bytes
                ));
            }
            Err(e) => return classify(e, timeout),
        };
        if (200..300).contains(&status) || location.is_some() && (300..400).contains(&status) {
            return Attempt::Done {
                status,
                body: bytes,
                content_type,
                location,
            };
        }
        let why = format!("returned status {status}{}", self.quote(&bytes));
        if status == 429 || status >= 500 {
            Attempt::Retry {
                why,
                after: retry_after,
            }
        } else {
            Attempt::Fail(why)
        }
    }

    /// `: <start of body>` for error messages, or nothing for an empty body; secrets
    /// are masked before the body is cut, so no part of one is quoted.
    pub(super) fn quote(&self, body: &[u8]) -> String {
        let text = String::from_utf8_lossy(body);
        let text = text.trim();
        if text.is_empty() {
            return String::new();
        }
        let (cut, more) = self.secrets.mask_head(text, BODY_QUOTE);
        format!(": {cut}{}", if more { "…" } else { "" })
    }

    pub(super) fn decode(
        &self,
        url: &str,
        raw: &[u8],
        content_type: Option<&str>,
    ) -> Result<Value, StepError> {
        if self.o.response == ResponseMode::Text {
            return Ok(Value::String(String::from_utf8_lossy(raw).into_owned()));
        }
        if raw.iter().all(u8::is_ascii_whitespace) {
            return Ok(Value::Null);
        }
        crate::json::decode(raw, 1).map_err(|e| {
            StepError::new(format!(
                "{} {url}: the response is not JSON ({}{}){}; set response = \"text\" to take it as a string",
                self.o.method,
                content_type.map(|c| format!("content-type {c}; ")).unwrap_or_default(),
                e.message.trim_start_matches("not valid JSON: "),
                self.quote(raw)
            ))
        })
    }
}

/// Sorts a transport error into retry (connection trouble) or failure.
fn classify(e: ureq::Error, timeout: Duration) -> Attempt {
    match e {
        ureq::Error::Timeout(_) => Attempt::Fail(format!(
            "no complete response within {} (timeout)",
            crate::flow::duration::show(timeout)
        )),
        ureq::Error::Io(io) => Attempt::Retry {
            why: format!("connection error: {io}"),
            after: None,
        },
        ureq::Error::ConnectionFailed => Attempt::Retry {
            why: "connection failed".into(),
            after: None,
        },
        ureq::Error::HostNotFound => Attempt::Fail("host not found".into()),
        ureq::Error::BadUri(u) => Attempt::Fail(format!("invalid URL: {u}")),
        other => Attempt::Retry {
            why: other.to_string(),
            after: None,
        },
    }
}
