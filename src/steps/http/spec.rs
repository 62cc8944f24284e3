//! The options of an `http` step: the kind's entry, how they are read, how a step is
//! built from them.

use super::{Http, agent};
use crate::flow::reader::{Cx, Reader};
use crate::flow::{JqOpt, Text};
use crate::steps::kind::{Build, Carries, Kind, Props, StepSpec, Ty, opt};
use crate::steps::{BuildError, Step};
use std::time::Duration;

/// The `http` kind.
pub(crate) static KIND: Kind = Kind {
    name: "http",
    doc: "sends a request, emits the JSON response (one payload per page)",
    options: &[
        opt("method", Ty::Method, false, "HTTP method (default GET)"),
        opt("url", Ty::Str, true, "the URL"),
        opt("headers", Ty::StrTable, false, "request headers"),
        opt("query", Ty::StrTable, false, "query parameters"),
        opt(
            "body",
            Ty::OneOf(&["payload", "none"]),
            false,
            "send the payload as JSON, or nothing",
        ),
        opt(
            "next",
            Ty::Jq,
            false,
            "jq giving the next page's URL or null",
        ),
        opt("timeout", Ty::Duration, false, "per request (default 30s)"),
        opt("retries", Ty::Uint(0), false, "extra attempts (default 0)"),
        opt(
            "idempotency_key",
            Ty::Bool,
            false,
            "send an Idempotency-Key header",
        ),
        opt(
            "response",
            Ty::OneOf(&["json", "text"]),
            false,
            "how the body is read (default json)",
        ),
        opt("max_pages", Ty::Uint(1), false, "most pages (default 1000)"),
        opt(
            "max_response_bytes",
            Ty::Uint(1),
            false,
            "largest body (default 64 MiB)",
        ),
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

/// A webhook: `POST` of the payload to `url` with `headers`, any 2xx body accepted; the
/// `http` step's retries, redirects and cross-origin rules apply (used by `[notify]`).
#[must_use]
pub(crate) fn webhook(
    url: Text,
    headers: Vec<(String, Text)>,
    timeout: Duration,
    retries: u32,
) -> HttpSpec {
    HttpSpec {
        method: "POST".to_owned(),
        url,
        headers,
        query: Vec::new(),
        body: BodyMode::Payload,
        next: None,
        timeout,
        retries,
        idempotency_key: false,
        response: ResponseMode::Text,
        max_pages: 1,
        max_response_bytes: 1 << 20,
    }
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
