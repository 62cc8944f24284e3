//! `http`: a connector that sends a request per payload and emits the JSON response,
//! one payload per page, with bounded retries, timeouts and a response size limit.

use super::{Step, StepCx, StepError};
use super::kind::{Build, Carries, Kind, Props, StepSpec, opt};
use super::BuildError;
use crate::flow::reader::{Cx, Reader};
use crate::flow::{JqOpt, Text};
use crate::jq::Jq;
use crate::secrets::Secrets;
use serde_json::{Value, json};
use std::fmt::Write as _;
use std::sync::Arc;
use std::time::{Duration, Instant};
use ureq::http;
use url::Url;

/// An `http` step, its placeholders resolved.
pub(crate) struct Http {
    /// The options as written: those without placeholders are used as they are.
    o: HttpSpec,
    pub(crate) url: String,
    pub(crate) headers: Vec<(String, String)>,
    pub(crate) query: Vec<(String, String)>,
    pub(crate) next: Option<Arc<Jq>>,
    pub(crate) agent: ureq::Agent,
    pub(crate) notes: Vec<Value>,
    /// The run's secrets: masked out of error excerpts before they are cut.
    pub(crate) secrets: Arc<Secrets>,
}

/// First wait between attempts; doubled each time, with jitter, up to [`MAX_BACKOFF`].
const BASE_BACKOFF: Duration = Duration::from_millis(100);
const MAX_BACKOFF: Duration = Duration::from_secs(10);
/// The longest `Retry-After` honoured.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(60);
/// How much of an error body is quoted.
const BODY_QUOTE: usize = 300;
/// The longest chain of redirects followed for one request.
const MAX_REDIRECTS: u32 = 10;
/// Headers that carry credentials whatever their value: never sent to another origin.
const CREDENTIAL_HEADERS: [&str; 3] = ["authorization", "cookie", "proxy-authorization"];

/// An agent that leaves status handling to the step.
#[must_use]
pub(crate) fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        // Redirects are followed by the step, hop by hop, so that every hop is recorded
        // and credentials never follow a redirect to another origin.
        .max_redirects(0)
        .user_agent(concat!("flowrun/", env!("CARGO_PKG_VERSION")))
        .build()
        .new_agent()
}

/// What one attempt came to.
enum Attempt {
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

/// One request as sent: where, how, and which of the step's headers go with it.
struct Hop {
    url: Url,
    method: String,
    body: Option<Vec<u8>>,
}

impl Step for Http {
    fn process(&mut self, input: Value, cx: &StepCx<'_>) -> Result<Vec<Value>, StepError> {
        let body = match self.o.body {
            BodyMode::Payload => {
                Some(serde_json::to_vec(&input).expect("a payload always serialises"))
            }
            BodyMode::None => None,
        };
        let key = self.o.idempotency_key.then(|| idempotency_key(cx));
        let first = with_query(&self.url, &self.query);
        let mut url = Url::parse(&first)
            .map_err(|e| StepError::new(format!("{} {first}: invalid URL: {e}", self.o.method)))?;
        let basic = basic_auth(&mut url);
        let home = url.origin();
        let mut pages = Vec::new();
        for page in 1..=self.o.max_pages {
            let key = key.as_ref().map(|k| {
                if page == 1 {
                    k.clone()
                } else {
                    format!("{k}-p{page}")
                }
            });
            let hop = Hop {
                url: url.clone(),
                method: self.o.method.clone(),
                body: body.clone(),
            };
            let (final_url, raw, content_type) =
                self.follow(hop, &home, basic.as_deref(), key.as_deref(), page, cx)?;
            let value = self.decode(final_url.as_str(), &raw, content_type.as_deref())?;
            let next = match &self.next {
                Some(jq) => next_url(jq, &value, &final_url, &self.secrets)?,
                None => None,
            };
            pages.push(value);
            match next {
                Some(n) => url = n,
                None => return Ok(pages),
            }
        }
        Err(StepError::new(format!(
            "pagination did not end after {} pages (max_pages); check the `next` filter",
            self.o.max_pages
        )))
    }

    fn take_notes(&mut self) -> Vec<Value> {
        std::mem::take(&mut self.notes)
    }
}

/// Takes `user:password@` out of `url`, returning the `Authorization` value it stands for.
fn basic_auth(url: &mut Url) -> Option<String> {
    use base64::Engine as _;
    let password = url.password()?;
    let decode = |s: &str| {
        percent_encoding::percent_decode_str(s)
            .decode_utf8_lossy()
            .into_owned()
    };
    let pair = format!("{}:{}", decode(url.username()), decode(password));
    let _ = url.set_password(None);
    let _ = url.set_username("");
    Some(format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(pair)
    ))
}

impl Http {
    /// Sends one request and follows its redirects, recording every hop; returns the
    /// final URL, body and content type. Headers that carry credentials go only to the
    /// origin of the step's `url` (`home`).
    fn follow(
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

    /// Sends one request with retries; returns status, body, content type, the
    /// `Location` header and the number of attempts.
    #[allow(clippy::type_complexity, reason = "one private call site")]
    fn send(
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

    fn attempt(
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
    fn quote(&self, body: &[u8]) -> String {
        let text = String::from_utf8_lossy(body);
        let text = text.trim();
        if text.is_empty() {
            return String::new();
        }
        let (cut, more) = self.secrets.mask_head(text, BODY_QUOTE);
        format!(": {cut}{}", if more { "…" } else { "" })
    }

    fn decode(
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

/// Exponential backoff with ±50% jitter.
fn backoff(attempt: u32) -> Duration {
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
fn parse_retry_after(v: &str) -> Option<Duration> {
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

/// The key a payload carries in every run: same flow, step and payload → same key.
fn idempotency_key(cx: &StepCx<'_>) -> String {
    let mut h = blake3::Hasher::new();
    for part in ["flowrun-idempotency", cx.flow, cx.step_id, cx.input_hash] {
        h.update(part.as_bytes());
        h.update(b"\0");
    }
    h.finalize().to_hex()[..32].to_owned()
}

fn with_query(url: &str, query: &[(String, String)]) -> String {
    if query.is_empty() {
        return url.to_owned();
    }
    let mut out = url.to_owned();
    let mut sep = if url.contains('?') { '&' } else { '?' };
    for (k, v) in query {
        out.push(sep);
        out.push_str(&encode(k));
        out.push('=');
        out.push_str(&encode(v));
        sep = '&';
    }
    out
}

/// Percent-encodes a query component.
fn encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(char::from(b));
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

/// Runs `next` over a page: a URL, absolute or relative to the page's (`/items?page=2`,
/// `?page=2`, `page2`), or null.
fn next_url(
    jq: &Jq,
    page: &Value,
    current: &Url,
    secrets: &Secrets,
) -> Result<Option<Url>, StepError> {
    let out = jq
        .run(page)
        .map_err(|e| StepError::new(format!("`next`: {e}")))?;
    match out.into_iter().next() {
        None | Some(Value::Null | Value::Bool(false)) => Ok(None),
        Some(Value::String(s)) if s.is_empty() => Ok(None),
        Some(Value::String(s)) => current
            .join(&s)
            .map(Some)
            .map_err(|e| StepError::new(format!("`next` gave `{s}`, which is not a URL: {e}"))),
        Some(other) => Err(StepError::new(format!(
            "`next` must give a URL string or null, not {}",
            crate::json::brief(&secrets.mask_value(&other).unwrap_or(other), 80)
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_is_encoded() {
        let q = vec![("a b".to_owned(), "x&y".to_owned())];
        assert_eq!(with_query("http://h/p", &q), "http://h/p?a%20b=x%26y");
        assert_eq!(
            with_query("http://h/p?z=1", &q),
            "http://h/p?z=1&a%20b=x%26y"
        );
    }

    #[test]
    fn next_links_resolve_against_the_page() {
        let jq = Jq::compile(".next").unwrap();
        let page = Url::parse("http://h:1/api/items?page=1").unwrap();
        let next = |v: &str| {
            next_url(&jq, &json!({"next": v}), &page, Secrets::none())
                .unwrap()
                .map(String::from)
        };
        assert_eq!(next("?page=2").unwrap(), "http://h:1/api/items?page=2");
        assert_eq!(next("/other").unwrap(), "http://h:1/other");
        assert_eq!(next("more").unwrap(), "http://h:1/api/more");
        assert_eq!(next("https://x/y").unwrap(), "https://x/y");
        assert_eq!(next(""), None);
    }

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

/// The `http` kind.
pub(crate) static KIND: Kind = Kind {
    name: "http",
    doc: "a connector that sends a request per payload and emits the JSON response, one payload per page",
    options: &[
        opt("method", "string", false, "GET, POST, PUT, PATCH, DELETE, HEAD or OPTIONS (default GET)"),
        opt("url", "string", true, "the URL"),
        opt("headers", "table of strings", false, "request headers"),
        opt("query", "table of strings", false, "query parameters"),
        opt("body", "\"payload\" | \"none\"", false, "what is sent (default payload for POST, PUT, PATCH, else none)"),
        opt("next", "jq", false, "the next page's URL from a response (null ends)"),
        opt("timeout", "duration", false, "limit per request (default 30s)"),
        opt("retries", "integer ≥ 0", false, "retries of a failed request (default 0, at most 100)"),
        opt("idempotency_key", "bool", false, "send an Idempotency-Key header (default false)"),
        opt("response", "\"json\" | \"text\"", false, "how the body is read (default json)"),
        opt("max_pages", "integer ≥ 1", false, "most pages followed (default 1000)"),
        opt("max_response_bytes", "integer ≥ 1", false, "largest response body (default 64 MiB)"),
    ],
    props: Props {
        connector: true,
        reuses_outputs: true,
    },
    read,
};

/// `body` of `http`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BodyMode {
    /// The payload as JSON.
    Payload,
    /// No body.
    None,
}

/// `response` of `http`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ResponseMode {
    /// Parse the body as JSON.
    Json,
    /// Keep the body as a string payload.
    Text,
}

/// The options of an `http` step as written; those without placeholders are used by
/// the built step as they are.
#[derive(Debug, Clone)]
pub(crate) struct HttpSpec {
    /// `method` (upper case).
    pub(crate) method: String,
    url: Text,
    headers: Vec<(String, Text)>,
    query: Vec<(String, Text)>,
    pub(crate) body: BodyMode,
    next: Option<JqOpt>,
    /// `timeout` per request.
    pub(crate) timeout: Duration,
    pub(crate) retries: u32,
    pub(crate) idempotency_key: bool,
    pub(crate) response: ResponseMode,
    pub(crate) max_pages: u32,
    pub(crate) max_response_bytes: u64,
}

fn read(r: &mut Reader<'_, '_>, cx: &mut Cx<'_>) -> Option<Box<dyn StepSpec>> {
    let method = match r.str(cx, "method") {
        Some((m, at)) => {
            let up = m.to_ascii_uppercase();
            if !["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"].contains(&up.as_str())
            {
                cx.err(at, format!("`method`: unsupported HTTP method `{m}`"));
            }
            up
        }
        None => "GET".to_owned(),
    };
    let url = r.req_text(cx, "url");
    let headers = r.text_table(cx, "headers");
    let query = r.text_table(cx, "query");
    let default_body = if matches!(method.as_str(), "POST" | "PUT" | "PATCH") {
        BodyMode::Payload
    } else {
        BodyMode::None
    };
    let body = r
        .choice(
            cx,
            "body",
            &[("payload", BodyMode::Payload), ("none", BodyMode::None)],
        )
        .unwrap_or(default_body);
    let next = r.jq(cx, "next", false);
    let timeout = r.duration(cx, "timeout").unwrap_or(Duration::from_secs(30));
    let retries = r
        .uint(cx, "retries", 0)
        .map_or(0, |n| u32::try_from(n.min(100)).unwrap_or(100));
    let idempotency_key = r.bool(cx, "idempotency_key").unwrap_or(false);
    let response = r
        .choice(
            cx,
            "response",
            &[("json", ResponseMode::Json), ("text", ResponseMode::Text)],
        )
        .unwrap_or(ResponseMode::Json);
    let max_pages = r
        .uint(cx, "max_pages", 1)
        .map_or(1000, |n| u32::try_from(n).unwrap_or(u32::MAX));
    let max_response_bytes = r.uint(cx, "max_response_bytes", 1).unwrap_or(64 << 20);
    Some(Box::new(HttpSpec {
        method,
        url: url?,
        headers,
        query,
        body,
        next,
        timeout,
        retries,
        idempotency_key,
        response,
        max_pages,
        max_response_bytes,
    }))
}

impl StepSpec for HttpSpec {
    fn build(&self, b: &mut Build<'_, '_>) -> Result<Box<dyn Step>, BuildError> {
        Ok(Box::new(Http {
            url: b.text(&self.url)?,
            headers: b.pairs(&self.headers)?,
            query: b.pairs(&self.query)?,
            next: self.next.as_ref().map(|n| b.jq(n)).transpose()?,
            o: self.clone(),
            agent: agent(),
            notes: Vec::new(),
            secrets: b.secrets(),
        }))
    }

    fn texts(&self, f: &mut dyn FnMut(&str, &Text, Carries)) {
        f("url", &self.url, Carries::Url);
        for (k, v) in &self.headers {
            f(&format!("headers.{k}"), v, Carries::Credentials);
        }
        for (k, v) in &self.query {
            f(&format!("query.{k}"), v, Carries::Credentials);
        }
        if let Some(n) = &self.next {
            f("next", &n.text, Carries::Data);
        }
    }
}
