//! A step's payloads and one payload: highlighted, with the `[trimmed]` banner.

use super::files::{find_run, read_bounded};
use super::html::{badge, error_box, esc, json_html, page, size, url_part};
use super::pages::{compare_form, error_page, file_href, find_record, payload_href, run_link};
use super::server::{App, Req, Resp};
use crate::store::list::RunRef;
use crate::store::{Manifest, PayloadRecord};
use std::fmt::Write as _;

/// Payloads listed per page of a step.
pub(crate) const PER_PAGE: usize = 200;

/// Most bytes of a payload shown on its page (the download has them all).
pub(crate) const MAX_SHOWN: u64 = 8 * 1024 * 1024;

/// The run and manifest of `id`, or the page saying why not.
fn load(app: &App<'_>, id: &str) -> Result<(RunRef, Manifest), Resp> {
    let r = find_run(app, id)
        .ok_or_else(|| error_page(404, "No such run", &format!("no run `{id}` in this store")))?;
    match app.ctx.store.read_manifest(&r.dir) {
        Ok(m) => Ok((r, m)),
        Err(e) => {
            let body = format!(
                "<h1>Run {}</h1>{}",
                run_link(id),
                error_box(
                    "This run's manifest cannot be read (damaged, or being written right now)",
                    &e.to_string()
                )
            );
            Err(Resp::html(200, page(id, &body)))
        }
    }
}

/// The payloads of `step` (`input` for the run's input), with a word for its status.
fn payloads<'m>(m: &'m Manifest, step: &str) -> Option<(&'m [PayloadRecord], String, String)> {
    if step == crate::store::layout::INPUT {
        return Some((&m.input, crate::store::layout::INPUT.into(), String::new()));
    }
    m.steps
        .iter()
        .find(|s| s.id == step)
        .map(|s| (s.payloads.as_slice(), s.kind.clone(), s.status.to_string()))
}

fn no_step(m: &Manifest, step: &str) -> Resp {
    let ids: Vec<&str> = m.steps.iter().map(|s| s.id.as_str()).collect();
    error_page(
        404,
        "No such step",
        &format!(
            "run {} has no step `{step}` (steps: {}, or `input`)",
            m.run_id,
            ids.join(", ")
        ),
    )
}

/// `GET /runs/<id>/steps/<step>[?page=N][&n=N]`: the payloads at the end of the step.
#[must_use]
#[allow(clippy::too_many_lines, reason = "one page, top to bottom")]
pub(crate) fn step_page(app: &App<'_>, req: &Req, id: &str, step: &str) -> Resp {
    let (_, m) = match load(app, id) {
        Ok(x) => x,
        Err(resp) => return resp,
    };
    let Some((list, kind, status)) = payloads(&m, step) else {
        return no_step(&m, step);
    };
    if let Some(n) = req.param("n").and_then(|n| n.trim().parse::<usize>().ok()) {
        return Resp::redirect(payload_href(id, step, n));
    }
    let failed = m.error.as_ref().and_then(|e| e.failed_input.as_deref());
    let pages = list.len().div_ceil(PER_PAGE).max(1);
    let page_no = req
        .param("page")
        .and_then(|p| p.parse::<usize>().ok())
        .unwrap_or(1)
        .clamp(1, pages);
    let mut b = format!(
        "<h1>Step <code>{}</code> of run {}</h1><p>{} {} · {} payload{}</p>",
        esc(step),
        run_link(id),
        esc(&kind),
        if status.is_empty() {
            String::new()
        } else {
            badge(&status)
        },
        list.len(),
        crate::commands::plural(list.len())
    );
    if let Some(err) = m
        .steps
        .iter()
        .find(|s| s.id == step)
        .and_then(|s| s.error.as_deref())
    {
        b.push_str(&error_box("this step failed", err));
        if m.failed_step() == Some(step)
            && let Some((s, sn)) = failed.and_then(|f| find_record(&m, f))
        {
            let _ = write!(
                b,
                "<p>It failed on its input payload <a id=\"failed-payload\" href=\"{}\">{} #{sn}</a>.</p>",
                esc(&payload_href(id, &s, sn)),
                esc(&s)
            );
        }
    }
    if list.len() > PER_PAGE {
        let _ = write!(
            b,
            "<form class=\"selector\" method=\"get\" action=\"/runs/{}/steps/{}\"><label>Payload # <input name=\"n\" type=\"number\" min=\"1\" max=\"{}\"></label> <button type=\"submit\">Open</button> \
<span>page {page_no} of {pages}</span>",
            url_part(id),
            url_part(step),
            list.len()
        );
        for (label, p) in [
            ("← previous", page_no.saturating_sub(1)),
            ("next →", page_no + 1),
        ] {
            if p >= 1 && p <= pages && p != page_no {
                let _ = write!(
                    b,
                    " <a href=\"/runs/{}/steps/{}?page={p}\">{label}</a>",
                    url_part(id),
                    url_part(step)
                );
            }
        }
        b.push_str("</form>");
    }
    b.push_str(
        "<table class=\"payloads\" id=\"payloads\"><thead><tr><th></th><th>#</th><th>Bytes</th><th>blake3</th><th>Source</th><th>Flags</th><th>File</th></tr></thead><tbody>",
    );
    let start = (page_no - 1) * PER_PAGE;
    for (k, p) in list.iter().enumerate().skip(start).take(PER_PAGE) {
        let n = k + 1;
        let is_failed = failed == Some(p.file.as_str());
        let mut flags = Vec::new();
        if is_failed {
            flags.push("<span class=\"flag failed\">failed here</span>".to_owned());
        }
        if p.trimmed {
            flags.push("<span class=\"flag trimmed\">[trimmed]</span>".to_owned());
        }
        if p.masked {
            flags.push("<span class=\"flag masked\">masked</span>".to_owned());
        }
        let source =
            p.source
                .as_deref()
                .map_or_else(String::new, |src| match find_record(&m, src) {
                    Some((s, sn)) => format!(
                        "<a href=\"{}\">{} #{sn}</a>",
                        esc(&payload_href(id, &s, sn)),
                        esc(&s)
                    ),
                    None => esc(src),
                });
        let _ = write!(
            b,
            "<tr{}><td><a class=\"eye\" title=\"view payload {n}\" href=\"{}\">view</a></td><td>{n}</td><td>{}</td>\
<td><code class=\"hash\">{}</code></td><td>{source}</td><td>{}</td><td><a href=\"{}\"><code>{}</code></a></td></tr>",
            if is_failed { " class=\"failed\"" } else { "" },
            esc(&payload_href(id, step, n)),
            if p.trimmed {
                format!("{} of {}", size(p.bytes), size(p.full_bytes))
            } else {
                size(p.bytes)
            },
            esc(&p.blake3),
            flags.join(" "),
            esc(&file_href(id, &p.file)),
            esc(&p.file)
        );
    }
    b.push_str("</tbody></table>");
    if list.is_empty() {
        b.push_str("<p class=\"empty\">This step stored no payloads.</p>");
    }
    Resp::html(200, page(&format!("{step} · {id}"), &b))
}

/// `GET /runs/<id>/steps/<step>/<n>`: one payload, highlighted and foldable.
#[must_use]
#[allow(clippy::too_many_lines, reason = "one page, top to bottom")]
#[allow(
    clippy::many_single_char_names,
    reason = "r, m, p, n read as run, manifest, payload, number"
)]
pub(crate) fn payload_page(app: &App<'_>, _req: &Req, id: &str, step: &str, n: &str) -> Resp {
    let (r, m) = match load(app, id) {
        Ok(x) => x,
        Err(resp) => return resp,
    };
    let Some((list, _, _)) = payloads(&m, step) else {
        return no_step(&m, step);
    };
    let Some(p) = n
        .parse::<usize>()
        .ok()
        .and_then(|n| n.checked_sub(1))
        .and_then(|k| list.get(k))
    else {
        return error_page(
            404,
            "No such payload",
            &format!(
                "step `{step}` of run {id} has {} payloads; there is no #{n}",
                list.len()
            ),
        );
    };
    let n: usize = n.parse().unwrap_or(1);
    let mut b = format!(
        "<h1>Payload #{n} of step <a href=\"/runs/{}/steps/{}\"><code>{}</code></a> · run {}</h1>",
        url_part(id),
        url_part(step),
        esc(step),
        run_link(id)
    );
    if p.trimmed {
        let _ = write!(
            b,
            "<div class=\"trimmed-banner\" id=\"trimmed\" role=\"note\"><strong>[trimmed]</strong> This payload was {} ({} bytes, blake3 <code class=\"hash\">{}</code>); \
only its first {} bytes were stored (max_payload_bytes), so the text below is cut short and it cannot be replayed.</div>",
            size(p.full_bytes),
            p.full_bytes,
            esc(&p.full_blake3),
            p.bytes
        );
    }
    if p.masked {
        b.push_str("<div class=\"notice\">A secret was masked out of this stored file; it differs from the payload the step saw.</div>");
    }
    let failed = m.error.as_ref().and_then(|e| e.failed_input.as_deref());
    if failed == Some(p.file.as_str()) {
        let msg = m.error.as_ref().map_or("", |e| e.message.as_str());
        b.push_str(&error_box(
            &format!(
                "the run failed on this payload (step {})",
                m.failed_step().unwrap_or("-")
            ),
            msg,
        ));
    }
    let _ = write!(
        b,
        "<dl class=\"facts\"><dt>file</dt><dd><code>{}</code> · <a id=\"download\" href=\"{}\">download as stored</a></dd>\
<dt>bytes</dt><dd>{}</dd><dt>blake3</dt><dd><code class=\"hash\">{}</code></dd>",
        esc(&p.file),
        esc(&file_href(id, &p.file)),
        p.bytes,
        esc(&p.blake3)
    );
    if let Some(src) = &p.source {
        let link = find_record(&m, src).map_or_else(
            || esc(src),
            |(s, sn)| {
                format!(
                    "<a href=\"{}\">{} #{sn}</a>",
                    esc(&payload_href(id, &s, sn)),
                    esc(&s)
                )
            },
        );
        let _ = write!(b, "<dt>source</dt><dd>{link}</dd>");
    }
    b.push_str("</dl><nav class=\"pager\">");
    if n > 1 {
        let _ = write!(
            b,
            "<a rel=\"prev\" href=\"{}\">← #{}</a> ",
            esc(&payload_href(id, step, n - 1)),
            n - 1
        );
    }
    if n < list.len() {
        let _ = write!(
            b,
            "<a rel=\"next\" href=\"{}\">#{} →</a>",
            esc(&payload_href(id, step, n + 1)),
            n + 1
        );
    }
    b.push_str("</nav>");
    b.push_str(&compare_form(
        app,
        &m,
        &[("step", step.to_owned()), ("n", n.to_string())],
    ));
    match read_bounded(&r.dir, &p.file, MAX_SHOWN) {
        Ok((bytes, more)) => {
            if more {
                let _ = write!(
                    b,
                    "<div class=\"notice\">Showing the first {}; download the file for all of it.</div>",
                    size(MAX_SHOWN)
                );
            } else if !p.trimmed && serde_json::from_slice::<serde::de::IgnoredAny>(&bytes).is_err()
            {
                b.push_str(&error_box(
                    "not valid JSON",
                    "the stored file does not parse as JSON; it is shown as text",
                ));
            }
            let text = String::from_utf8_lossy(&bytes);
            let _ = write!(
                b,
                "<pre class=\"json\" id=\"payload\">{}</pre>",
                json_html(&text)
            );
        }
        Err(e) => b.push_str(&error_box(
            "This payload file cannot be read (missing, or being written right now)",
            &e.to_string(),
        )),
    }
    Resp::html(200, page(&format!("#{n} {step} · {id}"), &b))
}
