//! A run folder's start and end as the engine writes them: the new manifest, the
//! stored inputs, and the status a run finishes (or is interrupted) with.

use super::step::{Flowing, record};
use super::{EngineError, Finished, RunSpec, parallel};
use crate::flow::Flow;
use crate::secrets::Secrets;
use crate::store::manifest::RunError;
use crate::store::payload;
use crate::store::{Manifest, RunDir, RunStatus, StepRecord, StepStatus, StoreError, atomic};
use serde_json::Value;

/// The manifest of a run that is just starting.
pub(super) fn new_manifest(
    flow: &Flow,
    run_id: &str,
    started: chrono::DateTime<chrono::Utc>,
    spec: &RunSpec<'_>,
    skipped: &[bool],
) -> Manifest {
    Manifest {
        format: crate::store::manifest::FORMAT.to_owned(),
        run_id: run_id.to_owned(),
        flow: flow.name.clone(),
        flow_blake3: blake3::hash(flow.source.as_bytes()).to_hex().to_string(),
        trigger: spec.trigger,
        replay_of: spec.replay_of.clone(),
        resume_of: spec.resume_of.clone(),
        retry_of: spec.retry_of.clone(),
        status: RunStatus::Running,
        started_at: crate::time::rfc3339(started),
        finished_at: None,
        pid: std::process::id(),
        input: Vec::new(),
        steps: flow
            .steps
            .iter()
            .enumerate()
            .map(|(i, s)| StepRecord {
                index: i + 1,
                id: s.id.clone(),
                kind: s.kind().to_owned(),
                // Skipped steps are known from the start: a run cut off early still
                // says which steps it was never going to run.
                status: if skipped[i] {
                    StepStatus::Skipped
                } else {
                    StepStatus::Pending
                },
                started_at: None,
                finished_at: None,
                payloads: Vec::new(),
                error: None,
                inputs_done: 0,
                reused: 0,
                requests: Vec::new(),
                children: Vec::new(),
                failed: Vec::new(),
            })
            .collect(),
        error: None,
        edited: spec.edited.clone(),
        notifications: Vec::new(),
        parent: spec.parent.clone(),
    }
}

/// Records a run that a stop request ended while step `i` was due or running: the step
/// stays as it was (`running` with its finished inputs recorded, or `pending`), the run
/// reads `interrupted`.
pub(super) fn interrupted(
    mut run: RunDir,
    i: usize,
    signal: i32,
    input: Option<String>,
    secrets: &crate::secrets::Secrets,
) -> Result<Finished, EngineError> {
    let message = secrets
        .mask(&format!("stopped by {}", crate::child::signal_name(signal)))
        .into_owned();
    let rec = &mut run.manifest.steps[i];
    if rec.status == StepStatus::Running {
        rec.error = Some(message.clone());
    }
    run.manifest.error = Some(RunError {
        step: Some(rec.id.clone()),
        message,
        failed_input: input,
    });
    finish(run, RunStatus::Interrupted)
}

pub(super) fn finish(mut run: RunDir, status: RunStatus) -> Result<Finished, EngineError> {
    run.manifest.status = status;
    run.manifest.finished_at = Some(crate::time::now());
    run.save()?;
    Ok(Finished {
        dir: run.path,
        manifest: run.manifest,
        outputs: Vec::new(),
    })
}

pub(super) fn store_inputs(
    run: &mut RunDir,
    inputs: Vec<Value>,
    max: u64,
    secrets: &Secrets,
) -> Result<Vec<Flowing>, StoreError> {
    if inputs.is_empty() {
        return Ok(vec![Flowing {
            value: Some(Value::Null),
            file: None,
            enc: None,
        }]);
    }
    let dir = run.path.join(crate::store::layout::INPUT);
    atomic::create_dir(&dir)?;
    let mut out = Vec::with_capacity(inputs.len());
    for (j, value) in inputs.into_iter().enumerate() {
        let name = payload::payload_name(j + 1);
        let how = payload::Encoding {
            max_bytes: max,
            secrets,
            threads: parallel::threads(),
        };
        let enc = payload::write(&dir.join(&name), &value, how)?;
        let file = format!("input/{name}");
        run.manifest.input.push(record(&file, &enc, None));
        out.push(Flowing {
            value: Some(value),
            file: Some(file),
            enc: Some(enc),
        });
    }
    atomic::sync_dir(&dir)?;
    run.save()?;
    Ok(out)
}
