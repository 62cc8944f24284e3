//! `flowrun replay`: a replay planned from recorded payloads, with every guard of SPEC §5.

use super::locate::locate;
use super::{FlowVersion, ReplayError, check_recorded, load_flow, refused};
use crate::flow::{Flow, display_path};
use crate::store::layout;
use crate::store::list::RunRef;
use crate::store::manifest::{ReplayOf, ReplayedPayload};
use crate::store::payload;
use crate::store::{Manifest, PayloadRecord, RunStatus, StepStatus, Store, StoreError};
use serde_json::Value;
use std::path::{Path, PathBuf};

/// What `flowrun replay` was asked.
pub(crate) struct ReplayRequest<'a> {
    /// Payload files or one step folder.
    pub(crate) payloads: &'a [PathBuf],
    /// Skip the steps up to the payloads' step for this run only.
    pub(crate) auto_skip: bool,
    /// Which flow file to run.
    pub(crate) flow_version: FlowVersion,
    /// Accept edited payload files.
    pub(crate) edited: bool,
    /// Accept possible duplicates.
    pub(crate) force: bool,
}

/// A replay, planned and checked.
pub(crate) struct ReplayPlan {
    /// The flow to run.
    pub(crate) flow: Flow,
    /// The run the payloads come from.
    pub(crate) source: RunRef,
    /// The payloads, in order.
    pub(crate) inputs: Vec<Value>,
    /// Steps to skip for this run besides the flow's own flags (0-based).
    pub(crate) also_skip: Vec<usize>,
    /// What the new manifest records.
    pub(crate) replay_of: ReplayOf,
    /// Warnings to print before running.
    pub(crate) warnings: Vec<String>,
}

/// Plans a replay and applies every guard of SPEC §5.
///
/// # Errors
/// A guard refused, or a file could not be read.
pub(crate) fn plan(
    store: &Store,
    root: &Path,
    req: &ReplayRequest<'_>,
) -> Result<ReplayPlan, ReplayError> {
    let located = locate(store, req.payloads)?;
    let source = located.run;
    let m = store.read_manifest(&source.dir)?;
    let failed = located.step.is_failed();
    let (step_label, records) = located.step.records(&m).ok_or_else(|| {
        refused(format!(
            "{}: the run's manifest has no such step folder",
            display_path(&source.dir.join(located.step.folder()))
        ))
    })?;
    let chosen: Vec<PayloadRecord> =
        match &located.files {
            None => records.clone(),
            Some(files) => files
                .iter()
                .map(|f| {
                    records.iter().find(|r| &r.file == f).cloned().ok_or_else(|| {
                    refused(format!(
                        "{}: not listed in the run's manifest, so it is not a recorded payload",
                        display_path(&source.dir.join(f))
                    ))
                })
                })
                .collect::<Result<_, _>>()?,
        };
    if chosen.is_empty() {
        return Err(refused(format!(
            "{}: the step recorded no {}payloads; nothing to replay",
            display_path(&source.dir.join(located.step.folder())),
            if failed { "failed " } else { "" }
        )));
    }

    let (inputs, replayed, edited) = read_checked(&source, &chosen, req.edited)?;
    if !req.force {
        check_duplicates(store, &m, &source, &chosen)?;
    }

    // Guard: the step still exists, and the steps up to it are skipped.
    let flow = load_flow(root, &source, req.flow_version)?;
    // A step's outputs go on after it; the inputs it failed on (`failed/`) go into it
    // again.
    let upto = match &step_label {
        None => 0,
        Some(id) => {
            flow.step_index(id).ok_or_else(|| {
                refused(format!(
                    "step `{id}` is no longer in {}; the payloads cannot be replayed into it (their step's position is unknown)",
                    flow.file()
                ))
            })? + usize::from(!failed)
        }
    };
    let unskipped: Vec<usize> = (0..upto).filter(|&i| !flow.steps[i].skip).collect();
    if !unskipped.is_empty() && !req.auto_skip {
        let names: Vec<&str> = unskipped
            .iter()
            .map(|&i| flow.steps[i].id.as_str())
            .collect();
        let step = step_label.as_deref().unwrap_or_default();
        let (starts, through) = if failed {
            (
                format!("a replay of failed payloads starts at their step `{step}`"),
                flow.steps[upto - 1].id.as_str(),
            )
        } else {
            (
                format!("a replay starts after the payloads' step `{step}`"),
                step,
            )
        };
        return Err(refused(format!(
            "these steps would run again: {} ({starts}); skip them in the flow file with\n  {}\nor add --auto-skip to skip them for this run only",
            names.join(", "),
            crate::hint::flowrun(["skip", flow.name.as_str(), "--through", through]),
        )));
    }

    let mut warnings: Vec<String> = left_out_warning(&m, &source, step_label.as_deref(), &chosen)
        .into_iter()
        .collect();
    // A partial run's payloads outside `failed/` mostly went through.
    if m.status == RunStatus::Partial && !failed && !req.force {
        warnings.push(format!(
            "warning: run {} is partial: its other payloads went through, and replaying them may duplicate data; to re-sync only what failed, replay the `failed/` folder of the step that failed them",
            source.id
        ));
    }
    Ok(ReplayPlan {
        replay_of: ReplayOf {
            run_id: source.id.clone(),
            step: step_label
                .clone()
                .unwrap_or_else(|| layout::INPUT.to_owned()),
            payloads: replayed,
            edited,
        },
        also_skip: unskipped,
        flow,
        source,
        inputs,
        warnings,
    })
}

/// Reads the chosen payloads, refusing trimmed ones and (unless `allow_edits`) edited ones.
fn read_checked(
    source: &RunRef,
    chosen: &[PayloadRecord],
    allow_edits: bool,
) -> Result<(Vec<Value>, Vec<ReplayedPayload>, bool), ReplayError> {
    let mut edited = false;
    let mut replayed = Vec::with_capacity(chosen.len());
    let mut inputs = Vec::with_capacity(chosen.len());
    for r in chosen {
        let path = source.dir.join(&r.file);
        let (hash, changed) = check_recorded(&source.dir, r, allow_edits)?;
        edited |= changed;
        inputs.push(payload::read(&path).map_err(StoreError::reading)?);
        replayed.push(ReplayedPayload {
            file: r.file.clone(),
            blake3: hash,
        });
    }

    Ok((inputs, replayed, edited))
}

/// Refuses payloads whose data may already have gone through.
fn check_duplicates(
    store: &Store,
    m: &Manifest,
    source: &RunRef,
    chosen: &[PayloadRecord],
) -> Result<(), ReplayError> {
    match m.status {
        RunStatus::Failure | RunStatus::Interrupted | RunStatus::Partial => {}
        RunStatus::Success => {
            return Err(refused(format!(
                "run {} did not fail: its payloads already went through, and replaying them may duplicate data; add --force to replay anyway",
                source.id
            )));
        }
        RunStatus::Running => {
            return Err(refused(format!(
                "run {} is still running; wait for it to end",
                source.id
            )));
        }
    }
    for r in chosen {
        if let Some(e) = store.replayed_by(&source.flow, &source.id, &r.file).first() {
            let how = if e.resume { "resumed" } else { "replayed" };
            let partly = if e.status == RunStatus::Partial {
                format!(
                    " (it ended partial: re-sync what failed there from its failed/ payloads, `{}`)",
                    crate::hint::flowrun(["show", e.run_id.as_str()])
                )
            } else {
                String::new()
            };
            let what = if e.status == RunStatus::Partial {
                "partly successful"
            } else {
                "successful"
            };
            return Err(refused(format!(
                "{}: already {how} by {what} run {}{partly}; replaying it again may duplicate data; add --force to replay anyway",
                display_path(&source.dir.join(&r.file)),
                e.run_id
            )));
        }
    }
    Ok(())
}

/// A warning when the replay leaves out payloads whose data never went all the way
/// through the source run (steps run one after another, so when step f stops the run,
/// no payload reaches the steps after it).
fn left_out_warning(
    m: &Manifest,
    source: &RunRef,
    step: Option<&str>,
    chosen: &[PayloadRecord],
) -> Option<String> {
    // The step that stopped the run and how many of its inputs it finished.
    let (f, done) = m.steps.iter().enumerate().find_map(|(i, s)| {
        matches!(s.status, StepStatus::Failure | StepStatus::Running).then_some((i, s.inputs_done))
    })?;
    let inputs = m.step_inputs(f);
    let last = f + 1 == m.steps.len();
    let never: Vec<&PayloadRecord> = inputs.iter().skip(if last { done } else { 0 }).collect();
    if never.is_empty() {
        return None;
    }
    // Follow each never-processed input back to its ancestor in the replayed step.
    let folder_of = |file: &str| file.rsplit_once('/').map(|(d, _)| d.to_owned());
    let want = chosen.first().and_then(|c| folder_of(&c.file));
    let records: Vec<&PayloadRecord> = m.records().collect();
    let mut left: Vec<String> = Vec::new();
    for r in never {
        let mut file = Some(r.file.clone());
        while let Some(f) = file.clone() {
            if folder_of(&f) == want {
                break;
            }
            file = records
                .iter()
                .find(|x| x.file == f)
                .and_then(|x| x.source.clone());
        }
        if let Some(f) = file
            && !chosen.iter().any(|c| c.file == f)
            && !left.contains(&f)
        {
            left.push(f);
        }
    }
    if left.is_empty() {
        return None;
    }
    let step = step.unwrap_or(layout::INPUT);
    let paths: Vec<String> = left
        .iter()
        .map(|f| display_path(&source.dir.join(f)))
        .collect();
    Some(format!(
        "warning: {} payload{} of step `{step}` did not go all the way through run {} and {} left out of this replay; to re-sync {} too, add: {}",
        left.len(),
        crate::names::plural(left.len()),
        source.id,
        if left.len() == 1 { "is" } else { "are" },
        if left.len() == 1 { "it" } else { "them" },
        paths.join(" "),
    ))
}
