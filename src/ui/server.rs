//! Requests in, responses out: parsing the URL, routing, and the headers every answer carries.

use super::{actions, api, assets, diff, files, pages, steps};
use crate::commands::{Ctx, note};
use std::io::Read;
use std::net::SocketAddr;
use std::path::PathBuf;

/// The viewer's state, shared by the worker threads.
pub(crate) struct App<'a> {
    /// The project.
    pub(crate) ctx: &'a Ctx,
    /// The actions token (`--actions`), or `None` when read-only.
    pub(crate) token: Option<String>,
    /// The address listened on.
    pub(crate) bound: SocketAddr,
    /// This binary, for actions.
    pub(crate) exe: Option<PathBuf>,
}

/// The restrictive policy of every page: no inline scripts or styles, nothing from elsewhere.
pub(crate) const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// The cookie that remembers the actions token in the browser that opened its URL.
pub(crate) const COOKIE: &str = "flowrun_ui_token";

/// A parsed request.
pub(crate) struct Req {
    /// `GET`, `POST`, …
    pub(crate) method: String,
    /// Path segments, percent-decoded (`/` is none).
    pub(crate) segs: Vec<String>,
    /// A segment could not be decoded, or is `.`/`..`/empty or holds `/`, `\` or NUL.
    pub(crate) bad_path: bool,
    /// Query parameters, decoded.
    pub(crate) query: Vec<(String, String)>,
    /// Headers (lower-case names).
    pub(crate) headers: Vec<(String, String)>,
    /// The body (POST only).
    pub(crate) body: Vec<u8>,
    /// The body was larger than the limit.
    pub(crate) body_too_large: bool,
}

impl Req {
    /// A query parameter (the first, when repeated); empty values count as absent.
    #[must_use]
    pub(crate) fn param(&self, name: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(k, v)| k == name && !v.is_empty())
            .map(|(_, v)| v.as_str())
    }

    /// A header's value.
    #[must_use]
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// The value of cookie `name`.
    #[must_use]
    pub(crate) fn cookie(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .filter(|(k, _)| k == "cookie")
            .flat_map(|(_, v)| v.split(';'))
            .filter_map(|c| c.trim().split_once('='))
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v)
    }
}

/// What a response carries.
pub(crate) enum Body {
    /// Bytes in memory.
    Bytes(Vec<u8>),
    /// A file, streamed as stored.
    File(std::fs::File, u64),
}

/// A response before it is sent.
pub(crate) struct Resp {
    /// Status code.
    pub(crate) status: u16,
    /// Content-Type.
    pub(crate) ctype: &'static str,
    /// Body.
    pub(crate) body: Body,
    /// More headers.
    pub(crate) headers: Vec<(&'static str, String)>,
}

impl Resp {
    /// An HTML page.
    #[must_use]
    pub(crate) fn html(status: u16, page: String) -> Resp {
        Resp::bytes(status, "text/html; charset=utf-8", page.into_bytes())
    }

    /// JSON text.
    #[must_use]
    pub(crate) fn json(status: u16, text: String) -> Resp {
        Resp::bytes(status, "application/json", text.into_bytes())
    }

    /// Bytes of a type.
    #[must_use]
    pub(crate) fn bytes(status: u16, ctype: &'static str, body: Vec<u8>) -> Resp {
        Resp {
            status,
            ctype,
            body: Body::Bytes(body),
            headers: Vec::new(),
        }
    }

    /// `303 See Other` to `location` (a path on this server).
    #[must_use]
    pub(crate) fn redirect(location: String) -> Resp {
        let mut r = Resp::bytes(303, "text/plain; charset=utf-8", Vec::new());
        r.headers.push(("Location", location));
        r
    }

    /// Adds a header.
    #[must_use]
    pub(crate) fn with(mut self, name: &'static str, value: String) -> Resp {
        self.headers.push((name, value));
        self
    }
}

/// Largest request body read (a pasted payload for "run with data").
pub(crate) const MAX_BODY: usize = 8 * 1024 * 1024;

/// Answers requests until the server stops.
pub(crate) fn work(app: &App<'_>, server: &tiny_http::Server) {
    loop {
        let Ok(mut request) = server.recv() else {
            return;
        };
        let req = parse(&mut request);
        let url = request.url().to_owned();
        let resp = crate::panic::quietly(|| route(app, &req)).unwrap_or_else(|message| {
            note(format!(
                "warning: internal error answering {url}: {message}"
            ));
            pages::error_page(500, "Internal error", &message)
        });
        // A browser that went away is not worth a message.
        let _ = request.respond(finish(resp));
    }
}

fn parse(request: &mut tiny_http::Request) -> Req {
    let method = request.method().as_str().to_ascii_uppercase();
    let url = request.url();
    let (path, query) = url.split_once('?').unwrap_or((url, ""));
    let (segs, bad_path) = split_path(path);
    let query = form_urlencoded::parse(query.as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    let headers = request
        .headers()
        .iter()
        .map(|h| {
            (
                h.field.as_str().as_str().to_ascii_lowercase(),
                h.value.as_str().to_owned(),
            )
        })
        .collect();
    let mut body = Vec::new();
    let mut body_too_large = false;
    if method == "POST" {
        let limit = u64::try_from(MAX_BODY + 1).unwrap_or(u64::MAX);
        if request
            .as_reader()
            .take(limit)
            .read_to_end(&mut body)
            .is_err()
        {
            body.clear();
        }
        body_too_large = body.len() > MAX_BODY;
    }
    Req {
        method,
        segs,
        bad_path,
        query,
        headers,
        body,
        body_too_large,
    }
}

/// Splits and decodes a URL path; the flag says a segment is refused.
#[must_use]
pub(crate) fn split_path(path: &str) -> (Vec<String>, bool) {
    let Some(rest) = path.strip_prefix('/') else {
        return (Vec::new(), true);
    };
    if rest.is_empty() {
        return (Vec::new(), false);
    }
    let mut bad = false;
    let segs = rest
        .split('/')
        .map(
            |raw| match percent_encoding::percent_decode_str(raw).decode_utf8() {
                Ok(s) => {
                    let s = s.into_owned();
                    if s.is_empty() || s == "." || s == ".." || s.contains(['/', '\\', '\0']) {
                        bad = true;
                    }
                    s
                }
                Err(_) => {
                    bad = true;
                    String::new()
                }
            },
        )
        .collect();
    (segs, bad)
}

fn finish(resp: Resp) -> tiny_http::Response<Box<dyn Read + Send>> {
    let mut headers = vec![
        ("Content-Type", resp.ctype.to_owned()),
        ("Content-Security-Policy", CSP.to_owned()),
        ("X-Content-Type-Options", "nosniff".to_owned()),
        ("X-Frame-Options", "DENY".to_owned()),
        ("Referrer-Policy", "no-referrer".to_owned()),
        ("Cache-Control", "no-store".to_owned()),
    ];
    headers.extend(resp.headers);
    let headers = headers
        .into_iter()
        .filter_map(|(k, v)| tiny_http::Header::from_bytes(k.as_bytes(), v.as_bytes()).ok())
        .collect();
    let (reader, len): (Box<dyn Read + Send>, u64) = match resp.body {
        Body::Bytes(b) => {
            let len = b.len() as u64;
            (Box::new(std::io::Cursor::new(b)), len)
        }
        Body::File(f, len) => (Box::new(f.take(len)), len),
    };
    tiny_http::Response::new(
        tiny_http::StatusCode(resp.status),
        headers,
        reader,
        usize::try_from(len).ok(),
        None,
    )
}

/// Whether the Host header names this server (a page of another site that resolves its
/// own name to 127.0.0.1 must not read the runs).
fn host_ok(app: &App<'_>, req: &Req) -> bool {
    if !app.bound.ip().is_loopback() {
        return true;
    }
    let Some(host) = req.header("host") else {
        return false;
    };
    let port = app.bound.port();
    [
        format!("127.0.0.1:{port}"),
        format!("localhost:{port}"),
        format!("[::1]:{port}"),
        app.bound.to_string(),
    ]
    .iter()
    .any(|h| h.eq_ignore_ascii_case(host))
}

fn route(app: &App<'_>, req: &Req) -> Resp {
    if !host_ok(app, req) {
        return pages::error_page(
            421,
            "Wrong host",
            "this viewer answers only requests addressed to its own address",
        );
    }
    if req.bad_path {
        return pages::error_page(
            400,
            "Refused path",
            "paths must stay inside the run store (no `..`, `.`, empty parts or encoded slashes)",
        );
    }
    let segs: Vec<&str> = req.segs.iter().map(String::as_str).collect();
    let get = req.method == "GET" || req.method == "HEAD";
    if req.method == "POST" {
        return match segs.as_slice() {
            ["actions", what] => actions::post(app, req, what),
            _ => pages::error_page(404, "Not found", "no such page"),
        };
    }
    if !get {
        return pages::error_page(405, "Method not allowed", "the viewer only reads")
            .with("Allow", "GET, HEAD".into());
    }
    // Opening the URL printed at start: remember the token, then drop it from the address.
    if let Some(t) = req.param("token") {
        return actions::login(app, req, t);
    }
    match segs.as_slice() {
        [] => pages::runs_page(app, req),
        ["assets", name] => assets::get(name),
        ["api", "runs"] => api::runs(app, req),
        ["api", "runs", id] => api::run(app, id),
        ["runs", id] => pages::run_page(app, req, id),
        ["runs", id, "steps", step] => steps::step_page(app, req, id, step),
        ["runs", id, "steps", step, n] => steps::payload_page(app, req, id, step, n),
        ["runs", id, "files", rest @ ..] => files::download(app, id, rest),
        ["diff"] => diff::page(app, req),
        _ => pages::error_page(404, "Not found", "no such page"),
    }
}
