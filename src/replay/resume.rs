//! `resume` (continue a failed or interrupted run exactly where it stopped) and
//! `retry` (run it again from the start with its original input).

use super::{FlowVersion, ReplayError, load_flow, read_payloads, refused, step_inputs};
use crate::engine::{Recorded, Reuse};
use crate::flow::Flow;
use crate::store::list::RunRef;
use crate::store::{Manifest, RunStatus, StepStatus, Store};
use serde_json::Value;
use std::path::Path;

/// A resume or retry, planned and checked.
pub struct RerunPlan {
    /// The flow to run.
    pub flow: Flow,
    /// The run it continues or repeats.
    pub source: RunRef,
    /// Initial payloads of the new run.
    pub inputs: Vec<Value>,
    /// Steps to skip besides the flow's own flags (0-based).
    pub also_skip: Vec<usize>,
    /// Work already done, to reuse (resume only).
    pub reuse: Option<Reuse>,
    /// The first step that runs (0-based).
    pub start: usize,
    /// The step the source run stopped in (0-based).
    pub stopped: usize,
}

/// Plans `flowrun resume RUN`.
///
/// # Errors
/// The run did not fail, the flow no longer fits it, or a needed payload was trimmed.
pub fn plan_resume(
    store: &Store,
    root: &Path,
    run: &RunRef,
    version: FlowVersion,
) -> Result<RerunPlan, ReplayError> {
    let m = store.read_manifest(&run.dir)?;
    match m.status {
        RunStatus::Failure | RunStatus::Interrupted => {}
        RunStatus::Success => {
            return Err(refused(format!(
                "run {} succeeded; there is nothing to resume (use `flowrun retry {}` to run it again)",
                run.id, run.id
            )));
        }
        RunStatus::Running => {
            return Err(refused(format!(
                "run {} is still running; wait for it to end",
                run.id
            )));
        }
    }
    if let Some(e) = store
        .replay_entries(&run.flow)
        .into_iter()
        .find(|e| e.resume && e.of_run == run.id && e.status == RunStatus::Success)
    {
        return Err(refused(format!(
            "run {} was already resumed by successful run {}; resuming it again would repeat its work",
            run.id, e.run_id
        )));
    }
    let f = stop_point(&m).ok_or_else(|| {
        refused(format!(
            "run {} has no failed or unfinished step to resume",
            run.id
        ))
    })?;
    let flow = load_flow(root, run, version)?;
    check_fits(&flow, &m, f)?;
    // A step changed since the run (before the one that stopped) runs again from there.
    let old_source = std::fs::read_to_string(run.dir.join("flow.toml")).unwrap_or_default();
    let start = (0..f)
        .find(|&i| step_changed(&old_source, &flow.source, i))
        .unwrap_or(f);

    let inputs = read_payloads(&run.dir, step_inputs(&m, start))?;
    let mut reuse = Reuse::new(&run.id);
    for i in start..=f {
        // A changed step must redo its work; the stopped step keeps what it finished (§5).
        if i < f && step_changed(&old_source, &flow.source, i) {
            continue;
        }
        add_finished(&mut reuse, &m, run, i)?;
    }
    Ok(RerunPlan {
        flow,
        source: run.clone(),
        inputs,
        also_skip: (0..start).collect(),
        reuse: Some(reuse),
        start,
        stopped: f,
    })
}

/// Records the outputs step `i` of run `m` finished, grouped by the input they came from.
fn add_finished(
    reuse: &mut Reuse,
    m: &Manifest,
    run: &RunRef,
    i: usize,
) -> Result<(), ReplayError> {
    let rec = &m.steps[i];
    // A step that holds its outputs back until its last input (merge), or whose state
    // is saved only by a successful run (dedupe), starts over.
    if rec.kind == "merge"
        || rec.kind == "dedupe"
        || !matches!(
            rec.status,
            StepStatus::Success | StepStatus::Failure | StepStatus::Running
        )
    {
        return Ok(());
    }
    let inputs = step_inputs(m, i);
    let null_hash;
    let finished: Vec<(Option<&str>, &str)> = if inputs.is_empty() {
        null_hash = crate::json::payload_hash(&Value::Null);
        if rec.inputs_done > 0 {
            vec![(None, null_hash.as_str())]
        } else {
            Vec::new()
        }
    } else {
        inputs
            .iter()
            .take(rec.inputs_done)
            .map(|r| (Some(r.file.as_str()), r.full_blake3.as_str()))
            .collect()
    };
    for (file, hash) in finished {
        let outputs: Vec<Recorded> = rec
            .payloads
            .iter()
            .filter(|p| p.source.as_deref() == file)
            .map(|p| Recorded {
                path: run.dir.join(&p.file),
                record: p.clone(),
            })
            .collect();
        if let Some(t) = outputs.iter().find(|o| o.record.trimmed || o.record.masked) {
            return Err(refused(format!(
                "{}: an output to reuse was trimmed or had a secret masked out when it was stored, so its full content is not available; use `flowrun retry {}` instead",
                crate::flow::display_path(&t.path),
                run.id
            )));
        }
        reuse.add(i, hash, outputs);
    }
    Ok(())
}

/// Whether step `i` reads differently in the two flow texts (ignoring `skip` and
/// `description`).
fn step_changed(old: &str, new: &str, i: usize) -> bool {
    let step = |src: &str| -> Option<toml::Table> {
        let doc: toml::Table = src.parse().ok()?;
        let mut t = doc.get("steps")?.as_array()?.get(i)?.as_table()?.clone();
        t.remove("skip");
        t.remove("description");
        Some(t)
    };
    step(old) != step(new)
}

/// Plans `flowrun retry RUN`.
///
/// # Errors
/// An input payload was trimmed, or the flow has problems.
pub fn plan_retry(
    store: &Store,
    root: &Path,
    run: &RunRef,
    version: FlowVersion,
) -> Result<RerunPlan, ReplayError> {
    let m = store.read_manifest(&run.dir)?;
    if m.status == RunStatus::Running {
        return Err(refused(format!(
            "run {} is still running; wait for it to end",
            run.id
        )));
    }
    let inputs = read_payloads(&run.dir, &m.input)?;
    let flow = load_flow(root, run, version)?;
    Ok(RerunPlan {
        flow,
        source: run.clone(),
        inputs,
        also_skip: Vec::new(),
        reuse: None,
        start: 0,
        stopped: 0,
    })
}

/// The step a failed or interrupted run stopped in (0-based).
fn stop_point(m: &Manifest) -> Option<usize> {
    m.steps
        .iter()
        .position(|s| matches!(s.status, StepStatus::Failure | StepStatus::Running))
        .or_else(|| m.steps.iter().position(|s| s.status == StepStatus::Pending))
}

/// The flow must still have the run's steps, in order, up to the one that stopped.
fn check_fits(flow: &Flow, m: &Manifest, f: usize) -> Result<(), ReplayError> {
    let then: Vec<&str> = m.steps[..=f].iter().map(|s| s.id.as_str()).collect();
    let now: Vec<&str> = flow
        .steps
        .iter()
        .take(f + 1)
        .map(|s| s.id.as_str())
        .collect();
    if then != now {
        return Err(refused(format!(
            "{} no longer has the run's steps up to `{}` in the same order (then: {}; now: {}); resume needs them unchanged — use `flowrun replay` on the payloads you need, or --flow-version original",
            flow.file(),
            m.steps[f].id,
            then.join(", "),
            now.join(", ")
        )));
    }
    Ok(())
}
