//! The run logs page and a run's page, rendered on the server (scripts only enhance).

use super::actions;
use super::files::find_run;
use super::html::{badge, error_box, esc, page, size, url_part};
use super::server::{App, Req, Resp};
use crate::commands::{check_filters, resync_hints, shown};
use crate::store::list::RunRef;
use crate::store::{Manifest, RunStatus, StepStatus};
use std::fmt::Write as _;

/// Runs per page of the run logs.
pub(crate) const PER_PAGE: usize = 50;

const STATUSES: [&str; 5] = ["running", "success", "failure", "interrupted", "partial"];

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

fn runs_href(flow: Option<&str>, status: Option<&str>, page: usize) -> String {
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

/// `GET /runs/<id>`: the run's steps, its error and failed payload, and the ways on.
#[must_use]
#[allow(clippy::too_many_lines, reason = "one page, top to bottom")]
pub(crate) fn run_page(app: &App<'_>, req: &Req, id: &str) -> Resp {
    let Some(r) = find_run(app, id) else {
        return error_page(404, "No such run", &format!("no run `{id}` in this store"));
    };
    let m = match app.ctx.store.read_manifest(&r.dir) {
        Ok(m) => m,
        Err(e) => {
            let body = format!(
                "<h1>Run {}</h1>{}<p>Files: <a href=\"{}\">manifest.json</a> · <a href=\"{}\">flow.toml</a></p>",
                run_link(&r.id),
                error_box(
                    "This run's manifest cannot be read (damaged, or being written right now)",
                    &e.to_string()
                ),
                esc(&file_href(&r.id, crate::store::layout::MANIFEST)),
                esc(&file_href(&r.id, crate::store::layout::FLOW_COPY)),
            );
            return Resp::html(200, page(&r.id, &body));
        }
    };
    let mut b = format!(
        "<h1>Run <code>{}</code> {}</h1><div id=\"live\" data-run=\"{}\" data-status=\"{}\" hidden></div><dl class=\"facts\">",
        esc(&m.run_id),
        badge(&m.status.to_string()),
        esc(&m.run_id),
        m.status
    );
    let mut fact = |k: &str, v: String| {
        let _ = write!(b, "<dt>{}</dt><dd>{v}</dd>", esc(k));
    };
    fact(
        "flow",
        format!(
            "<a href=\"{}\">{}</a>",
            esc(&runs_href(Some(&m.flow), None, 1)),
            esc(&m.flow)
        ),
    );
    fact("trigger", m.trigger.to_string());
    if let Some(rp) = &m.replay_of {
        fact(
            "replay of",
            format!(
                "{} step {} ({} payload{}{})",
                run_link(&rp.run_id),
                esc(&rp.step),
                rp.payloads.len(),
                crate::commands::plural(rp.payloads.len()),
                if rp.edited { ", edited" } else { "" }
            ),
        );
    }
    if let Some(src) = &m.resume_of {
        fact("resume of", run_link(src));
    }
    if let Some(src) = &m.retry_of {
        fact("retry of", run_link(src));
    }
    fact("started", esc(&m.started_at));
    fact("finished", esc(m.finished_at.as_deref().unwrap_or("-")));
    fact("took", took(&m));
    fact("folder", format!("<code>{}</code>", esc(&shown(&r.dir))));
    fact(
        "files",
        format!(
            "<a href=\"{}\">manifest.json</a> · <a href=\"{}\">flow.toml</a>",
            esc(&file_href(&m.run_id, crate::store::layout::MANIFEST)),
            esc(&file_href(&m.run_id, crate::store::layout::FLOW_COPY))
        ),
    );
    b.push_str("</dl>");
    if let Some(e) = &m.error {
        let _ = write!(
            b,
            "<div class=\"error-box\" role=\"alert\"><strong>error in step {}</strong><pre>{}</pre>",
            esc(e.step.as_deref().unwrap_or("-")),
            esc(&e.message)
        );
        if let Some(f) = &e.failed_input {
            let _ = write!(b, "<p>failed payload: ");
            if let Some((step, n)) = find_record(&m, f) {
                let _ = write!(
                    b,
                    "<a id=\"failed-payload\" href=\"{}\">{} #{n}</a> · ",
                    esc(&payload_href(&m.run_id, &step, n)),
                    esc(&step)
                );
            }
            let _ = write!(
                b,
                "<a href=\"{}\"><code>{}</code></a></p>",
                esc(&file_href(&m.run_id, f)),
                esc(f)
            );
        }
        b.push_str("</div><section class=\"hints\"><h2>Re-sync</h2><pre class=\"cmds\">");
        let flow = app.ctx.load_flow(&m.flow).ok();
        for line in resync_hints(flow.as_ref(), &m, &r.dir) {
            match line.strip_prefix("  ") {
                Some(cmd) => {
                    let _ = writeln!(b, "  <code class=\"cmd\">{}</code>", esc(cmd));
                }
                None => {
                    let _ = writeln!(b, "{}", esc(&line));
                }
            }
        }
        b.push_str("</pre></section>");
    }
    b.push_str(&steps_table(&m));
    b.push_str(&compare_form(app, &m, &[]));
    b.push_str(&actions::run_forms(app, req, &m));
    Resp::html(200, page(&m.run_id, &b))
}

fn steps_table(m: &Manifest) -> String {
    let mut t = String::from(
        "<h2>Steps</h2><table class=\"steps\" id=\"steps\"><thead><tr><th>#</th><th>Step</th><th>Kind</th><th>Status</th>\
<th>Payloads</th><th>Bytes</th><th>Trimmed</th><th>Masked</th><th>Error</th></tr></thead><tbody>",
    );
    let id = &m.run_id;
    let failed_step = m.failed_step();
    let total = |ps: &[crate::store::PayloadRecord]| {
        ps.iter().fold(0u64, |s, p| s.saturating_add(p.full_bytes))
    };
    let flags = |ps: &[crate::store::PayloadRecord]| {
        let t = ps.iter().filter(|p| p.trimmed).count();
        let k = ps.iter().filter(|p| p.masked).count();
        let show = |n: usize| if n > 0 { n.to_string() } else { "-".into() };
        (show(t), show(k))
    };
    if !m.input.is_empty() {
        let (tr, mk) = flags(&m.input);
        let _ = write!(
            t,
            "<tr><td>00</td><td><a href=\"/runs/{}/steps/input\">input</a></td><td></td><td></td><td>{}</td><td>{}</td><td>{tr}</td><td>{mk}</td><td></td></tr>",
            url_part(id),
            m.input.len(),
            size(total(&m.input))
        );
    }
    for s in &m.steps {
        let (count, bytes) = if matches!(s.status, StepStatus::Skipped | StepStatus::Pending) {
            ("-".to_owned(), "-".to_owned())
        } else {
            (s.payloads.len().to_string(), size(total(&s.payloads)))
        };
        let (tr, mk) = flags(&s.payloads);
        let class = if failed_step == Some(s.id.as_str()) {
            " class=\"failed\""
        } else {
            ""
        };
        let _ = write!(
            t,
            "<tr{class}><td>{:02}</td><td><a href=\"/runs/{}/steps/{}\">{}</a></td><td>{}</td><td>{}</td>\
<td>{count}</td><td>{bytes}</td><td>{tr}</td><td>{mk}</td><td class=\"msg\">{}</td></tr>",
            s.index,
            url_part(id),
            url_part(&s.id),
            esc(&s.id),
            esc(&s.kind),
            badge(&s.status.to_string()),
            esc(s.error.as_deref().unwrap_or("")),
        );
    }
    t.push_str("</tbody></table>");
    t
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
