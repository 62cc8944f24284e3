//! Diffs: two runs of one flow side by side per step (which payloads changed, by hash),
//! and two payloads as a structural JSON diff.

use super::files::{find_run, read_bounded};
use super::html::{badge, error_box, esc, url_part};
use super::pages::{error_page, payload_href, run_link};
use super::server::{App, Req, Resp};
use super::steps::MAX_SHOWN;
use crate::store::list::RunRef;
use crate::store::{Manifest, PayloadRecord};
use serde_json::Value;
use std::fmt::Write as _;

/// Most differences listed for one pair of payloads.
const MAX_CHANGES: usize = 1000;

/// `GET /diff?a=RUN&b=RUN[&step=ID&n=N]`.
#[must_use]
pub(crate) fn page(app: &App<'_>, req: &Req) -> Resp {
    page_impl(app, req)
}

fn load(app: &App<'_>, id: &str) -> Result<(RunRef, Manifest), Resp> {
    let r = find_run(app, id)
        .ok_or_else(|| error_page(404, "No such run", &format!("no run `{id}` in this store")))?;
    let m = app.ctx.store.read_manifest(&r.dir).map_err(|e| {
        Resp::html(
            200,
            super::html::page(id, &error_box("A manifest cannot be read", &e.to_string())),
        )
    })?;
    Ok((r, m))
}

fn page_impl(app: &App<'_>, req: &Req) -> Resp {
    let (Some(a), Some(b)) = (req.param("a"), req.param("b")) else {
        return error_page(400, "Two runs needed", "give ?a=RUN&b=RUN");
    };
    let (ra, ma) = match load(app, a) {
        Ok(x) => x,
        Err(r) => return r,
    };
    let (rb, mb) = match load(app, b) {
        Ok(x) => x,
        Err(r) => return r,
    };
    let mut body = String::new();
    if ma.flow != mb.flow {
        body.push_str(&error_box(
            "Different flows",
            &format!(
                "run {} is of flow {}, run {} of flow {}; steps are matched by id",
                ma.run_id, ma.flow, mb.run_id, mb.flow
            ),
        ));
    }
    if let Some(step) = req.param("step") {
        let n = req
            .param("n")
            .and_then(|n| n.parse::<usize>().ok())
            .unwrap_or(1);
        body.push_str(&payload_diff(&ra, &ma, &rb, &mb, step, n));
        return Resp::html(200, page_frame(&format!("diff {step} #{n}"), &body));
    }
    body.push_str(&runs_diff(&ma, &mb));
    Resp::html(200, page_frame("diff", &body))
}

fn page_frame(title: &str, body: &str) -> String {
    super::html::page(title, body)
}

fn step_payloads<'m>(m: &'m Manifest, step: &str) -> Option<&'m [PayloadRecord]> {
    if step == crate::store::layout::INPUT {
        return Some(&m.input);
    }
    m.steps
        .iter()
        .find(|s| s.id == step)
        .map(|s| s.payloads.as_slice())
}

#[allow(
    clippy::many_single_char_names,
    reason = "a diff has two sides, a and b"
)]
fn runs_diff(a: &Manifest, b: &Manifest) -> String {
    let mut out = format!(
        "<h1>Diff of runs {} and {}</h1><table class=\"diff\" id=\"diff\"><thead><tr><th>Step</th><th>{}</th><th>{}</th><th>Payloads</th></tr></thead><tbody>",
        run_link(&a.run_id),
        run_link(&b.run_id),
        esc(&a.run_id),
        esc(&b.run_id)
    );
    let mut ids: Vec<String> = vec![crate::store::layout::INPUT.into()];
    ids.extend(a.steps.iter().map(|s| s.id.clone()));
    ids.extend(
        b.steps
            .iter()
            .map(|s| s.id.clone())
            .filter(|id| !a.steps.iter().any(|s| &s.id == id)),
    );
    for id in ids {
        let pa = step_payloads(a, &id);
        let pb = step_payloads(b, &id);
        let status = |m: &Manifest| {
            m.steps
                .iter()
                .find(|s| s.id == id)
                .map_or_else(String::new, |s| badge(&s.status.to_string()))
        };
        let cell = |p: Option<&[PayloadRecord]>, st: String| match p {
            Some(p) => format!(
                "{st} {} payload{}",
                p.len(),
                crate::commands::plural(p.len())
            ),
            None => "<span class=\"muted\">no such step</span>".into(),
        };
        let (pa_, pb_) = (pa.unwrap_or(&[]), pb.unwrap_or(&[]));
        if id == crate::store::layout::INPUT && pa_.is_empty() && pb_.is_empty() {
            continue;
        }
        let count = pa_.len().max(pb_.len());
        let mut marks = String::new();
        let mut changed = 0;
        for k in 0..count {
            let n = k + 1;
            let (x, y) = (pa_.get(k), pb_.get(k));
            let (class, word) = match (x, y) {
                (Some(x), Some(y)) if x.full_blake3 == y.full_blake3 => ("same", "same"),
                (Some(_), Some(_)) => ("changed", "changed"),
                (Some(_), None) => ("removed", "only in a"),
                _ => ("added", "only in b"),
            };
            if class == "same" {
                continue;
            }
            changed += 1;
            if changed <= 50 {
                let href = format!(
                    "/diff?a={}&b={}&step={}&n={n}",
                    url_part(&a.run_id),
                    url_part(&b.run_id),
                    url_part(&id)
                );
                let _ = write!(
                    marks,
                    " <a class=\"d-{class}\" href=\"{}\" title=\"{word}\">#{n} {word}</a>",
                    esc(&href)
                );
            }
        }
        let summary = if changed == 0 {
            "<span class=\"d-same\">all the same</span>".to_owned()
        } else {
            format!(
                "{changed} differ:{marks}{}",
                if changed > 50 { " …" } else { "" }
            )
        };
        let _ = write!(
            out,
            "<tr{}><td><code>{}</code></td><td>{}</td><td>{}</td><td>{summary}</td></tr>",
            if changed > 0 {
                " class=\"changed\""
            } else {
                ""
            },
            esc(&id),
            cell(pa, status(a)),
            cell(pb, status(b))
        );
    }
    out.push_str("</tbody></table>");
    out
}

#[allow(
    clippy::many_single_char_names,
    reason = "a diff has two sides, a and b"
)]
fn payload_diff(
    ra: &RunRef,
    a: &Manifest,
    rb: &RunRef,
    b: &Manifest,
    step: &str,
    n: usize,
) -> String {
    let mut out = format!(
        "<h1>Diff of payload #{n} of step <code>{}</code></h1><p>a: {} · b: {} · <a href=\"/diff?a={}&amp;b={}\">whole runs</a></p>",
        esc(step),
        run_link(&a.run_id),
        run_link(&b.run_id),
        url_part(&a.run_id),
        url_part(&b.run_id)
    );
    let read = |r: &RunRef, m: &Manifest| -> Result<(PayloadRecord, Value), String> {
        let p = step_payloads(m, step)
            .and_then(|ps| ps.get(n.wrapping_sub(1)))
            .ok_or_else(|| format!("run {} has no payload #{n} in step `{step}`", m.run_id))?;
        if p.trimmed {
            return Err(format!(
                "payload #{n} of run {} was trimmed when stored; its JSON is incomplete",
                m.run_id
            ));
        }
        let (bytes, more) = read_bounded(&r.dir, &p.file, MAX_SHOWN).map_err(|e| e.to_string())?;
        if more {
            return Err(format!(
                "payload #{n} of run {} is too large to diff here",
                m.run_id
            ));
        }
        let v = serde_json::from_slice(&bytes)
            .map_err(|e| format!("{}: not valid JSON: {e}", p.file))?;
        Ok((p.clone(), v))
    };
    let (pa, va) = match read(ra, a) {
        Ok(x) => x,
        Err(e) => return out + &error_box("Cannot diff", &e),
    };
    let (pb, vb) = match read(rb, b) {
        Ok(x) => x,
        Err(e) => return out + &error_box("Cannot diff", &e),
    };
    let _ = write!(
        out,
        "<p><a href=\"{}\">a #{n}</a> blake3 <code class=\"hash\">{}</code><br><a href=\"{}\">b #{n}</a> blake3 <code class=\"hash\">{}</code></p>",
        esc(&payload_href(&a.run_id, step, n)),
        esc(&pa.blake3),
        esc(&payload_href(&b.run_id, step, n)),
        esc(&pb.blake3)
    );
    let mut changes = Vec::new();
    diff_values("", &va, &vb, &mut changes);
    if changes.is_empty() {
        out.push_str(
            "<p class=\"d-same\" id=\"no-changes\">The two payloads are the same JSON.</p>",
        );
        return out;
    }
    let _ = write!(
        out,
        "<table class=\"diff\" id=\"json-diff\"><thead><tr><th>Path</th><th>a</th><th>b</th></tr></thead><tbody>"
    );
    for c in changes.iter().take(MAX_CHANGES) {
        let show = |v: &Option<Value>| v.as_ref().map_or_else(String::new, |v| esc(&v.to_string()));
        let class = match (&c.a, &c.b) {
            (None, _) => "added",
            (_, None) => "removed",
            _ => "changed",
        };
        let _ = write!(
            out,
            "<tr class=\"d-{class}\"><td><code>{}</code></td><td><code>{}</code></td><td><code>{}</code></td></tr>",
            esc(if c.path.is_empty() { "." } else { &c.path }),
            show(&c.a),
            show(&c.b)
        );
    }
    out.push_str("</tbody></table>");
    if changes.len() > MAX_CHANGES {
        let _ = write!(
            out,
            "<p>… and {} more differences.</p>",
            changes.len() - MAX_CHANGES
        );
    }
    out
}

/// One difference: the path (jq-like) and the values on each side (`None`: absent).
#[derive(Debug, PartialEq)]
pub(crate) struct Change {
    /// Where, e.g. `.orders[3].email`.
    pub(crate) path: String,
    /// The value in a.
    pub(crate) a: Option<Value>,
    /// The value in b.
    pub(crate) b: Option<Value>,
}

/// Lists the differences of `a` and `b` under `path`: objects key by key, arrays index
/// by index, anything else as a whole. Depth is bounded by the JSON parser's own limit.
#[allow(
    clippy::many_single_char_names,
    reason = "a diff has two sides, a and b"
)]
pub(crate) fn diff_values(path: &str, a: &Value, b: &Value, out: &mut Vec<Change>) {
    if out.len() > MAX_CHANGES {
        return;
    }
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            for (k, va) in x {
                let p = key_path(path, k);
                match y.get(k) {
                    Some(vb) => diff_values(&p, va, vb, out),
                    None => out.push(Change {
                        path: p,
                        a: Some(va.clone()),
                        b: None,
                    }),
                }
            }
            for (k, vb) in y {
                if !x.contains_key(k) {
                    out.push(Change {
                        path: key_path(path, k),
                        a: None,
                        b: Some(vb.clone()),
                    });
                }
            }
        }
        (Value::Array(x), Value::Array(y)) => {
            for k in 0..x.len().max(y.len()) {
                let p = format!("{path}[{k}]");
                match (x.get(k), y.get(k)) {
                    (Some(va), Some(vb)) => diff_values(&p, va, vb, out),
                    (va, vb) => out.push(Change {
                        path: p,
                        a: va.cloned(),
                        b: vb.cloned(),
                    }),
                }
            }
        }
        _ if a == b => {}
        _ => out.push(Change {
            path: path.to_owned(),
            a: Some(a.clone()),
            b: Some(b.clone()),
        }),
    }
}

fn key_path(path: &str, key: &str) -> String {
    let plain = !key.is_empty()
        && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !key.starts_with(|c: char| c.is_ascii_digit());
    if plain {
        format!("{path}.{key}")
    } else {
        format!("{path}[{}]", Value::String(key.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn structural_diff_names_paths() {
        let a = json!({"id": 1, "email": "A@x", "lines": [1, 2], "gone": true, "odd key": 1});
        let b = json!({"id": 1, "email": "a@x", "lines": [1], "new": null, "odd key": 2});
        let mut out = Vec::new();
        diff_values("", &a, &b, &mut out);
        let paths: Vec<&str> = out.iter().map(|c| c.path.as_str()).collect();
        assert_eq!(
            paths,
            [".email", ".lines[1]", ".gone", "[\"odd key\"]", ".new"]
        );
        assert_eq!(out[1].b, None);
    }
}
