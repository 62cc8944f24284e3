//! The run logs page ([`runs`]) and a run's page ([`run`]), rendered on the server
//! (scripts only enhance), and the links and forms they share with the other pages.

mod run;
mod runs;

pub(crate) use run::run_page;
pub(crate) use runs::runs_page;

use super::html::{error_box, esc, page, url_part};
use super::server::{App, Resp};
use crate::store::Manifest;
use crate::store::list::RunRef;
use std::fmt::Write as _;

/// A page for an error: `title` and `message` are text.
#[must_use]
pub(crate) fn error_page(status: u16, title: &str, message: &str) -> Resp {
    let body = format!(
        "<h1>{}</h1>{}<p><a href=\"/\">Back to the run logs</a></p>",
        esc(title),
        error_box(title, message)
    );
    Resp::html(status, page(title, &body))
}

/// How long a run took, for people.
#[must_use]
pub(crate) fn took(m: &Manifest) -> String {
    m.elapsed()
        .map_or_else(|| "-".into(), |d| format!("{:.2}s", d.as_secs_f64()))
}

/// `/runs/<id>`.
#[must_use]
pub(crate) fn run_link(id: &str) -> String {
    format!(
        "<a href=\"/runs/{0}\"><code>{1}</code></a>",
        url_part(id),
        esc(id)
    )
}

/// Where a payload file of `m` is listed: its step id (`input` for inputs) and number.
#[must_use]
pub(crate) fn find_record(m: &Manifest, file: &str) -> Option<(String, usize)> {
    if let Some(k) = m.input.iter().position(|p| p.file == file) {
        return Some((crate::store::layout::INPUT.into(), k + 1));
    }
    m.steps.iter().find_map(|s| {
        s.payloads
            .iter()
            .position(|p| p.file == file)
            .map(|k| (s.id.clone(), k + 1))
    })
}

/// `/runs/<id>/steps/<step>/<n>`.
#[must_use]
pub(crate) fn payload_href(id: &str, step: &str, n: usize) -> String {
    format!("/runs/{}/steps/{}/{n}", url_part(id), url_part(step))
}

/// `/runs/<id>/files/<file>`.
#[must_use]
pub(crate) fn file_href(id: &str, file: &str) -> String {
    let parts: Vec<String> = file.split('/').map(url_part).collect();
    format!("/runs/{}/files/{}", url_part(id), parts.join("/"))
}

/// `/?status=&flow=&page=`, the run logs with these filters.
pub(super) fn runs_href(flow: Option<&str>, status: Option<&str>, page: usize) -> String {
    let mut q = form_urlencoded::Serializer::new(String::new());
    if let Some(s) = status {
        q.append_pair("status", s);
    }
    if let Some(f) = flow {
        q.append_pair("flow", f);
    }
    if page > 1 {
        q.append_pair("page", &page.to_string());
    }
    let q = q.finish();
    if q.is_empty() {
        "/".into()
    } else {
        format!("/?{q}")
    }
}

/// A form comparing this run (and, with `extra`, one payload) with another run of its flow.
#[must_use]
pub(crate) fn compare_form(app: &App<'_>, m: &Manifest, extra: &[(&str, String)]) -> String {
    let others: Vec<RunRef> = app
        .ctx
        .store
        .newest_runs(Some(&m.flow))
        .filter(|r| r.id != m.run_id)
        .take(30)
        .collect();
    if others.is_empty() {
        return String::new();
    }
    // Preselect the run just before this one.
    let before = others
        .iter()
        .find(|r| r.id < m.run_id)
        .map(|r| r.id.clone());
    let mut f = format!(
        "<form class=\"compare\" method=\"get\" action=\"/diff\"><input type=\"hidden\" name=\"a\" value=\"{}\">",
        esc(&m.run_id)
    );
    for (k, v) in extra {
        let _ = write!(
            f,
            "<input type=\"hidden\" name=\"{}\" value=\"{}\">",
            esc(k),
            esc(v)
        );
    }
    f.push_str("<label>Compare with <select name=\"b\">");
    for r in &others {
        let sel = if before.as_deref() == Some(r.id.as_str()) {
            " selected"
        } else {
            ""
        };
        let _ = write!(f, "<option value=\"{0}\"{sel}>{0}</option>", esc(&r.id));
    }
    f.push_str("</select></label> <button type=\"submit\">Diff</button></form>");
    f
}
