//! `flowrun runs`: run logs, newest first.

use super::{Ctx, note, out, out_json};
use crate::error::{Error, Exit};
use crate::store::{Manifest, RunStatus};
use serde_json::json;

const STATUSES: &[&str] = &["running", "success", "failure", "interrupted", "partial"];

/// Lists runs.
///
/// # Errors
/// A bad `--status` or `--flow`.
pub(crate) fn runs(
    ctx: &Ctx,
    flow: Option<&str>,
    status: Option<&str>,
    limit: usize,
) -> Result<Exit, Error> {
    check_filters(flow, status)?;
    if let Some(f) = flow {
        ctx.known_flow(f)?;
    }
    let shown = select(ctx, flow, status, limit);
    if ctx.json {
        let rows: Vec<_> = shown.iter().map(run_row).collect();
        out_json(&rows);
        return Ok(Exit::Success);
    }
    if ctx.quiet {
        for m in &shown {
            out(&m.run_id);
        }
        return Ok(Exit::Success);
    }
    if shown.is_empty() {
        note("no runs");
        return Ok(Exit::Success);
    }
    let fw = shown.iter().map(|m| m.flow.len()).max().unwrap_or(4).max(4);
    out(format!(
        "{:<25}  {:<fw$}  {:<11}  {:<8}  {:<24}  {:>8}  FAILED STEP",
        "RUN", "FLOW", "STATUS", "TRIGGER", "STARTED", "TOOK"
    ));
    for m in &shown {
        let took = m
            .elapsed()
            .map_or_else(|| "-".into(), |d| format!("{:.2}s", d.as_secs_f64()));
        let failed = match m.status {
            RunStatus::Failure => m.failed_step().unwrap_or("-"),
            RunStatus::Partial => m.first_failed_step().map_or("-", |s| s.id.as_str()),
            _ => "",
        };
        out(format!(
            "{:<25}  {:<fw$}  {}  {:<8}  {:<24}  {took:>8}  {failed}",
            m.run_id,
            m.flow,
            super::style::status(&m.status.to_string()),
            m.trigger.to_string(),
            m.started_at
        ));
    }
    Ok(Exit::Success)
}

/// Checks `--status` and `--flow`.
///
/// # Errors
/// A status that is not one of the store's words, or a flow that is not a name.
pub(crate) fn check_filters(flow: Option<&str>, status: Option<&str>) -> Result<(), Error> {
    if let Some(s) = status
        && !STATUSES.contains(&s)
    {
        return Err(Error::Usage(format!(
            "--status must be one of {}, not `{s}`",
            STATUSES.join(", ")
        )));
    }
    if let Some(f) = flow
        && !crate::flow::is_name(f)
    {
        return Err(Error::Usage(format!("`{f}` is not a valid flow name")));
    }
    Ok(())
}

/// The newest `limit` runs matching the filters (a damaged manifest is a warning).
#[must_use]
pub(crate) fn select(
    ctx: &Ctx,
    flow: Option<&str>,
    status: Option<&str>,
    limit: usize,
) -> Vec<Manifest> {
    let mut shown: Vec<Manifest> = Vec::new();
    for r in ctx.store.newest_runs(flow) {
        if shown.len() >= limit {
            break;
        }
        match ctx.store.read_manifest(&r.dir) {
            Ok(m) => {
                if status.is_none_or(|s| s == m.status.to_string()) {
                    shown.push(m);
                }
            }
            Err(e) => note(format!("warning: {e}")),
        }
    }
    shown
}

/// One run as `runs --json` lists it.
#[must_use]
pub(crate) fn run_row(m: &Manifest) -> serde_json::Value {
    let mut row = json!({
        "run_id": m.run_id,
        "flow": m.flow,
        "status": m.status,
        "trigger": m.trigger,
        "started_at": m.started_at,
        "finished_at": m.finished_at,
        "failed_step": m.failed_step().or_else(|| m.first_failed_step().map(|s| s.id.as_str())),
        "failed_payloads": m.failed_count(),
    });
    if let (Some(p), Some(obj)) = (&m.parent, row.as_object_mut()) {
        obj.insert("parent".into(), json!(p));
    }
    row
}
