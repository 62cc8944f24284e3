//! Child runs: a `flow` or `route` step starting an ordinary run of another flow with one
//! payload as its input (trigger `flow`, `parent` in its manifest), in this process.
//! (Not to be confused with `crate::child`, which owns OS child processes.)
//!
//! The child takes its flow's own lock (busy: the step fails, it does not wait), is
//! refused while its flow skips steps (a re-sync is in progress there), resolves its
//! flow's own secrets, and stops with the parent on SIGINT/SIGTERM (the stop flag is
//! the process's). Its run id is recorded in the parent's manifest before it does any
//! work, so a resume of the parent finds it and takes over a child that succeeded
//! instead of sending the payload again.

use super::{RunSpec, run};
use crate::steps::{LinkSink, Resolver, StepError};
use crate::store::manifest::{ChildLink, ParentLink};
use crate::store::{RunStatus, Store, StoreError, TriggerKind, payload};
use serde_json::Value;
use std::path::Path;

/// One child run to start (or take over) for one input payload.
pub(crate) struct ChildRequest<'a> {
    /// The project root.
    pub(crate) root: &'a Path,
    /// The child flow.
    pub(crate) flow: &'a str,
    /// Its input payload.
    pub(crate) input: Value,
    /// Where it comes from.
    pub(crate) parent: ParentLink,
    /// The link to record in the parent (its `run_id` and `status` are filled in here).
    pub(crate) link: ChildLink,
    /// Where the parent records its child runs.
    pub(crate) links: Option<&'a dyn LinkSink>,
    /// Child runs the run being resumed started for this input.
    pub(crate) prior: &'a [ChildLink],
    /// Whether the caller needs the child's final payloads (`flow`; `route` does not).
    pub(crate) outputs: bool,
}

/// A child run that succeeded.
#[derive(Debug)]
pub(crate) struct ChildDone {
    /// Its run id.
    pub(crate) run_id: String,
    /// Its final payloads (when asked for), with its flow's secrets masked.
    pub(crate) outputs: Vec<Value>,
}

/// Runs `req` as a child run, or takes over the successful one a resumed run of the
/// parent had started for the same payload.
///
/// # Errors
/// The child could not start (unknown or invalid flow, busy, skipped steps) or did not
/// succeed; the message names the child run and how to re-sync it.
pub(crate) fn start(req: ChildRequest<'_>) -> Result<ChildDone, StepError> {
    let store = Store::new(req.root);
    let name = req.flow;
    if let Some(done) = take_over(&store, &req)? {
        return Ok(done);
    }
    let flow = crate::flow::load(req.root, name)
        .map_err(|e| StepError::new(format!("child flow `{name}` cannot run: {e}")))?;
    let skipped = flow.skipped_steps();
    if !skipped.is_empty() {
        return Err(StepError::new(format!(
            "child flow `{name}` skips {} (skip = true in {}: a re-sync is in progress), so no child run was started; finish the re-sync and clear the flags with `{}`, then resume this run",
            skipped.join(", "),
            flow.file(),
            crate::hint::flowrun(["unskip", name]),
        )));
    }
    let mut lock = store.lock(name).map_err(|e| match e {
        StoreError::Busy { holder, .. } => StepError::new(format!(
            "child flow `{name}` is busy{}, so no child run was started (a child run does not wait); resume this run once it is done",
            holder.map_or_else(String::new, |h| format!(": run {h} holds its lock"))
        )),
        other => StepError::new(format!("child flow `{name}`: {other}")),
    })?;
    let env = |n: &str| std::env::var(n).ok();
    let secrets = Resolver::new(&flow, &env)
        .map(|r| std::sync::Arc::clone(&r.secrets))
        .map_err(|e| StepError::new(format!("child flow `{name}` cannot run: {e}")))?;
    let mut spec = RunSpec::new(req.root, &flow, TriggerKind::Flow, vec![req.input], &env);
    spec.parent = Some(req.parent.clone());
    spec.keep_outputs = req.outputs;
    let mut link = req.link.clone();
    link.flow = Some(name.to_owned());
    let mut noted: Result<(), StepError> = Ok(());
    let finished = run(&store, &mut lock, spec, &mut |ev| {
        if let super::Event::Started { run_id, .. } = ev {
            link.run_id = Some(run_id.to_owned());
            link.status = RunStatus::Running.to_string();
            if let Some(sink) = req.links {
                noted = sink.record(link.clone());
            }
        }
    })
    .map_err(|e| StepError::new(format!("child flow `{name}` could not run: {e}")))?;
    drop(lock);
    let status = finished.manifest.status;
    link.run_id = Some(finished.manifest.run_id.clone());
    link.status = status.to_string();
    if let Some(sink) = req.links {
        sink.record(link)?;
    }
    noted?;
    let id = &finished.manifest.run_id;
    if status != RunStatus::Success {
        let why = finished
            .manifest
            .error
            .as_ref()
            .map_or_else(String::new, |e| match &e.step {
                Some(step) => format!(" in step `{step}`: {}", e.message),
                None => format!(": {}", e.message),
            });
        return Err(StepError::new(format!(
            "child run {id} of flow `{name}` ended {status}{why}; re-sync it on its own with `{}` (then resume this run: it takes the re-synced child run over)",
            crate::hint::flowrun(["resume", id.as_str()])
        )));
    }
    let outputs = finished
        .outputs
        .into_iter()
        .map(|v| secrets.mask_value(&v).unwrap_or(v))
        .collect();
    Ok(ChildDone {
        run_id: id.clone(),
        outputs,
    })
}

/// A successful child run the resumed run started for this payload and route: the
/// child itself, or a successful resume of it. It is linked again (marked `reused`).
fn take_over(store: &Store, req: &ChildRequest<'_>) -> Result<Option<ChildDone>, StepError> {
    for old in req.prior {
        if old.flow.as_deref() != Some(req.flow) || old.route != req.link.route {
            continue;
        }
        let Some(id) = old.run_id.as_deref() else {
            continue;
        };
        if !crate::time::is_run_id(id) {
            continue;
        }
        let mut candidates = vec![id.to_owned()];
        candidates.extend(store.resumed_by(req.flow, id).into_iter().map(|e| e.run_id));
        for cand in candidates {
            let dir = store.run_dir(req.flow, &cand);
            let Ok(m) = crate::store::read_manifest_raw(&dir) else {
                continue;
            };
            if m.status != RunStatus::Success {
                continue;
            }
            let mut outputs = Vec::new();
            if req.outputs {
                for rec in m.step_inputs(m.steps.len()) {
                    let path = dir.join(&rec.file);
                    if !rec.is_complete() {
                        return Err(StepError::new(format!(
                            "{}: an output of child run {cand} to take over was trimmed or masked when it was stored, so its full content is not available",
                            crate::flow::display_path(&path)
                        )));
                    }
                    outputs.push(payload::read(&path).map_err(|e| {
                        StepError::new(format!("cannot take over child run {cand}: {e}"))
                    })?);
                }
                if m.steps
                    .iter()
                    .all(|s| s.status == crate::store::StepStatus::Skipped)
                    && m.input.is_empty()
                {
                    outputs.push(Value::Null);
                }
            }
            let mut link = req.link.clone();
            link.flow = Some(req.flow.to_owned());
            link.run_id = Some(cand.clone());
            link.status = RunStatus::Success.to_string();
            link.reused = true;
            if let Some(sink) = req.links {
                sink.record(link)?;
            }
            return Ok(Some(ChildDone {
                run_id: cand,
                outputs,
            }));
        }
    }
    Ok(None)
}
