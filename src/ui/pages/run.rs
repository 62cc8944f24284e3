//! A run's page: its steps, its error and failed payload, and the ways on.

use super::{
    compare_form, error_page, file_href, find_record, payload_href, run_link, runs_href, took,
};
use crate::commands::{resync_hints, shown};
use crate::store::{Manifest, StepStatus};
use crate::ui::actions;
use crate::ui::files::find_run;
use crate::ui::html::{badge, error_box, esc, page, size, url_part};
use crate::ui::server::{App, Req, Resp};
use std::fmt::Write as _;

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
