//! The run logs page: runs newest first, filtered by status and flow, a page at a time.

use super::{run_link, runs_href, took};
use crate::commands::check_filters;
use crate::store::list::RunRef;
use crate::store::{Manifest, RunStatus};
use crate::ui::html::{badge, error_box, esc, page};
use crate::ui::server::{App, Req, Resp};
use std::fmt::Write as _;

/// Runs per page of the run logs.
pub(crate) const PER_PAGE: usize = 50;

const STATUSES: [&str; 5] = ["running", "success", "failure", "interrupted", "partial"];

/// `GET /?status=&flow=&page=`: run logs, newest first, a page at a time. Only the
/// manifests of the page are read (all of the skipped ones only under a status filter).
#[must_use]
pub(crate) fn runs_page(app: &App<'_>, req: &Req) -> Resp {
    let flow = req.param("flow");
    let status = req.param("status");
    let mut body = String::from("<h1>Run logs</h1>");
    body.push_str(&filter_form(app, flow, status));
    if let Err(e) = check_filters(flow, status) {
        body.push_str(&error_box("Bad filter", &e.to_string()));
        return Resp::html(400, page("Run logs", &body));
    }
    let page_no = req
        .param("page")
        .and_then(|p| p.parse::<usize>().ok())
        .filter(|&p| p >= 1)
        .unwrap_or(1);
    let skip = (page_no - 1).saturating_mul(PER_PAGE);
    let (mut matched, mut listed, mut more) = (0usize, 0usize, false);
    let mut rows = String::new();
    let mut newest = String::new();
    for r in app.ctx.store.newest_runs(flow) {
        let m = if status.is_some() || matched >= skip {
            Some(app.ctx.store.read_manifest(&r.dir))
        } else {
            None
        };
        if let (Some(s), Some(m)) = (status, &m)
            && !m.as_ref().is_ok_and(|m| m.status.to_string() == s)
        {
            continue;
        }
        matched += 1;
        if matched <= skip {
            continue;
        }
        if listed == PER_PAGE {
            more = true;
            break;
        }
        listed += 1;
        if newest.is_empty() {
            newest.clone_from(&r.id);
        }
        if let Some(m) = m {
            rows.push_str(&run_row(&r, &m));
        }
    }
    if listed == 0 {
        body.push_str("<p class=\"empty\">No runs match.</p>");
    } else {
        let _ = write!(
            body,
            "<p id=\"new-runs\" class=\"notice\" hidden><a href=\"{}\">New runs: reload</a></p>\
<table class=\"runs\" id=\"runs\" data-page=\"{page_no}\" data-flow=\"{}\" data-status=\"{}\" data-newest=\"{}\">\
<thead><tr><th>Run</th><th>Flow</th><th>Status</th><th>Trigger</th><th>Started</th><th>Took</th><th>Failed step</th></tr></thead><tbody>{rows}</tbody></table>",
            esc(&runs_href(flow, status, 1)),
            esc(flow.unwrap_or("")),
            esc(status.unwrap_or("")),
            esc(&newest)
        );
    }
    body.push_str("<nav class=\"pager\">");
    if page_no > 1 {
        let _ = write!(
            body,
            "<a rel=\"prev\" href=\"{}\">← Newer</a> ",
            esc(&runs_href(flow, status, page_no - 1))
        );
    }
    let _ = write!(body, "<span>page {page_no}</span>");
    if more {
        let _ = write!(
            body,
            " <a rel=\"next\" href=\"{}\">Older →</a>",
            esc(&runs_href(flow, status, page_no + 1))
        );
    }
    body.push_str("</nav>");
    Resp::html(200, page("Run logs", &body))
}

fn filter_form(app: &App<'_>, flow: Option<&str>, status: Option<&str>) -> String {
    let mut f = String::from(
        "<form class=\"filters\" method=\"get\" action=\"/\"><label>Status <select name=\"status\" id=\"status\"><option value=\"\">any</option>",
    );
    for s in STATUSES {
        let sel = if status == Some(s) { " selected" } else { "" };
        let _ = write!(f, "<option value=\"{s}\"{sel}>{s}</option>");
    }
    f.push_str("</select></label> <label>Flow <select name=\"flow\" id=\"flow\"><option value=\"\">any</option>");
    for name in app.ctx.store.flows() {
        let sel = if flow == Some(name.as_str()) {
            " selected"
        } else {
            ""
        };
        let _ = write!(f, "<option value=\"{0}\"{sel}>{0}</option>", esc(&name));
    }
    f.push_str("</select></label> <button type=\"submit\" id=\"apply\">Filter</button> <a href=\"/?status=failure\">failures</a></form>");
    f
}

fn run_row(r: &RunRef, m: &Result<Manifest, crate::store::StoreError>) -> String {
    match m {
        Ok(m) => {
            let failed = if m.status == RunStatus::Failure {
                esc(m.failed_step().unwrap_or("-"))
            } else if m.status == RunStatus::Partial {
                esc(m.first_failed_step().map_or("-", |s| s.id.as_str()))
            } else {
                String::new()
            };
            format!(
                "<tr data-run=\"{id}\" data-status=\"{st}\"><td>{link}</td><td><a href=\"{fh}\">{flow}</a></td>\
<td class=\"st\">{badge}</td><td>{trig}</td><td>{start}</td><td class=\"took\">{took}</td><td class=\"failed\">{failed}</td></tr>",
                id = esc(&m.run_id),
                st = m.status,
                link = run_link(&m.run_id),
                fh = esc(&runs_href(Some(&m.flow), None, 1)),
                flow = esc(&m.flow),
                badge = badge(&m.status.to_string()),
                trig = m.trigger,
                start = esc(&m.started_at),
                took = took(m),
            )
        }
        Err(e) => format!(
            "<tr class=\"damaged\"><td>{}</td><td>{}</td><td colspan=\"5\">{}</td></tr>",
            run_link(&r.id),
            esc(&r.flow),
            error_box("manifest unreadable", &e.to_string())
        ),
    }
}
