//! `flowrun show RUN [--step ID]`: one run's steps, payloads and error.

use super::report::{plural, size};
use super::{Ctx, out, out_json, shown};
use crate::error::{Error, Exit};
use crate::store::{Manifest, PayloadRecord, StepStatus};

/// Shows a run.
///
/// # Errors
/// The run or step does not exist, or the manifest is unreadable.
pub(crate) fn show(
    ctx: &Ctx,
    run: &str,
    flow: Option<&str>,
    step: Option<&str>,
) -> Result<Exit, Error> {
    let r = ctx.resolve_run(run, flow)?;
    let m = ctx.store.read_manifest(&r.dir)?;
    if let Some(id) = step {
        return show_step(ctx, &r.dir, &m, id);
    }
    if ctx.json {
        out_json(&m);
        return Ok(Exit::Success);
    }
    let took = m
        .elapsed()
        .map(|d| format!(" ({:.2}s)", d.as_secs_f64()))
        .unwrap_or_default();
    out(format!("run      {}", m.run_id));
    out(format!("flow     {}", m.flow));
    out(format!("status   {}", m.status));
    out(format!("trigger  {}", m.trigger));
    if let Some(rp) = &m.replay_of {
        out(format!(
            "replay   of {} step {} ({} payload{}{})",
            rp.run_id,
            rp.step,
            rp.payloads.len(),
            plural(rp.payloads.len()),
            if rp.edited { ", edited" } else { "" }
        ));
    }
    if let Some(src) = &m.resume_of {
        out(format!("resumes  {src}"));
    }
    if let Some(src) = &m.retry_of {
        out(format!("retries  {src}"));
    }
    if let Some(p) = &m.parent {
        out(format!(
            "parent   {} of flow {}, step {}, payload {}",
            p.run_id,
            p.flow,
            p.step,
            p.payload.as_deref().unwrap_or("null (the start payload)")
        ));
    }
    out(format!(
        "started  {}\nfinished {}{took}",
        m.started_at,
        m.finished_at.as_deref().unwrap_or("-")
    ));
    out(format!("folder   {}", shown(&r.dir)));
    if !m.input.is_empty() {
        let bytes = total_bytes(&m.input);
        out(format!(
            "input    {} payload{} ({})",
            m.input.len(),
            plural(m.input.len()),
            size(bytes)
        ));
    }
    let width = m.steps.iter().map(|s| s.id.len()).max().unwrap_or(4).max(4);
    out(String::new());
    out(format!(
        "  #  {:<width$}  {:<7}  {:<8}  {:>8}  {:>10}  TRIMMED",
        "STEP", "KIND", "STATUS", "PAYLOADS", "BYTES"
    ));
    for s in &m.steps {
        let bytes = total_bytes(&s.payloads);
        let trimmed = s.payloads.iter().filter(|p| p.trimmed).count();
        let (count, bytes) = if s.status == StepStatus::Skipped || s.status == StepStatus::Pending {
            ("-".to_owned(), "-".to_owned())
        } else {
            (s.payloads.len().to_string(), size(bytes))
        };
        out(format!(
            "  {:02} {:<width$}  {:<7}  {:<8}  {count:>8}  {bytes:>10}  {}",
            s.index,
            s.id,
            s.kind,
            s.status.to_string(),
            if trimmed > 0 {
                trimmed.to_string()
            } else {
                "-".into()
            }
        ));
    }
    child_lines(&m);
    show_failed(&r.dir, &m);
    if let Some(e) = &m.error {
        out(String::new());
        out(format!(
            "error in step {}: {}",
            e.step.as_deref().unwrap_or("-"),
            e.message
        ));
        if let Some(f) = &e.failed_input {
            out(format!("failed payload: {}", shown(&r.dir.join(f))));
        }
    }
    Ok(Exit::Success)
}

/// The child runs of `flow` and `route` steps, per step and input payload.
fn child_lines(m: &Manifest) {
    for s in m.steps.iter().filter(|s| !s.children.is_empty()) {
        out(String::new());
        out(format!("child runs of step {}:", s.id));
        for c in &s.children {
            let from = c.source.as_deref().unwrap_or("null");
            let route = match &c.route {
                Some(serde_json::Value::Number(n)) => format!(" route {n}"),
                Some(serde_json::Value::String(r)) => format!(" {r}"),
                _ => String::new(),
            };
            let reused = if c.reused { " (taken over)" } else { "" };
            match (&c.run_id, &c.flow) {
                (Some(id), Some(flow)) => out(format!(
                    "  {from} →{route} {flow} run {id} {}{reused}",
                    c.status
                )),
                _ => out(format!("  {from} → {}", c.status)),
            }
        }
    }
}

/// The payloads steps failed on and went on past (`on_error`), if any.
fn show_failed(dir: &std::path::Path, m: &Manifest) {
    let failed: Vec<_> = m
        .steps
        .iter()
        .flat_map(|s| s.failed.iter().map(move |f| (s, f)))
        .collect();
    if failed.is_empty() {
        return;
    }
    out(String::new());
    out(format!(
        "failed payloads ({}; the steps went on past them):",
        failed.len()
    ));
    for (s, f) in failed {
        out(format!(
            "  step {}: {}: {}",
            s.id,
            shown(&dir.join(&f.payload.file)),
            f.error
        ));
        if let Some(child) = &f.child_run {
            out(format!("    error route: child run {child}"));
        }
    }
}

/// `--step ID`: the payload files of one step (or `input`).
fn show_step(ctx: &Ctx, dir: &std::path::Path, m: &Manifest, id: &str) -> Result<Exit, Error> {
    let rec = if id == crate::store::layout::INPUT {
        None
    } else {
        Some(m.steps.iter().find(|s| s.id == id).ok_or_else(|| {
            let ids: Vec<&str> = m.steps.iter().map(|s| s.id.as_str()).collect();
            Error::Usage(format!(
                "run {} has no step `{id}` (steps: {}, or `input`)",
                m.run_id,
                ids.join(", ")
            ))
        })?)
    };
    if ctx.json {
        match rec {
            Some(rec) => out_json(rec),
            None => out_json(&m.input),
        }
        return Ok(Exit::Success);
    }
    let payloads = rec.map_or(&m.input, |s| &s.payloads);
    if payloads.is_empty() && rec.is_none_or(|s| s.failed.is_empty()) {
        out(format!(
            "step `{id}` of run {} stored no payloads",
            m.run_id
        ));
    }
    for p in payloads {
        out(payload_line(dir, p));
    }
    for f in rec.map(|s| s.failed.as_slice()).unwrap_or_default() {
        out(format!(
            "{}  failed: {}",
            payload_line(dir, &f.payload),
            f.error
        ));
    }
    Ok(Exit::Success)
}

/// The payloads' full size (a manifest is input: its numbers may be anything).
fn total_bytes(payloads: &[PayloadRecord]) -> u64 {
    payloads
        .iter()
        .fold(0, |sum, p| sum.saturating_add(p.full_bytes))
}

fn payload_line(dir: &std::path::Path, p: &PayloadRecord) -> String {
    format!(
        "{}  {:>10}  blake3 {}{}{}",
        shown(&dir.join(&p.file)),
        size(p.full_bytes),
        p.blake3.chars().take(16).collect::<String>(),
        if p.trimmed { "  trimmed" } else { "" },
        p.source
            .as_ref()
            .map(|s| format!("  from {s}"))
            .unwrap_or_default()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(full_bytes: u64, blake3: &str) -> PayloadRecord {
        PayloadRecord {
            file: "steps/01-a/000001.json".into(),
            bytes: 1,
            blake3: blake3.into(),
            trimmed: false,
            full_bytes,
            full_blake3: blake3.into(),
            masked: false,
            source: None,
        }
    }

    #[test]
    fn odd_manifest_numbers_and_hashes_do_not_panic() {
        let huge = [record(u64::MAX, "ab"), record(u64::MAX, "cd")];
        assert_eq!(total_bytes(&huge), u64::MAX);
        // A hash of three-byte characters: cutting it at byte 16 would split one.
        let line = payload_line(std::path::Path::new("r"), &record(1, &"€".repeat(30)));
        assert!(line.contains(&"€".repeat(16)), "{line}");
    }
}
