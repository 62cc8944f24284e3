//! Re-syncing from recorded payloads: `replay` (this file), `resume` and `retry`
//! ([`resume`]). Each plans a new run from an earlier one, with the guards that keep
//! data from being duplicated or lost; the engine then runs the plan.

pub(crate) mod resume;

use crate::flow::{self, Flow, FlowError, display_path};
use crate::store::layout;
use crate::store::list::RunRef;
use crate::store::manifest::{EditedFile, ReplayOf, ReplayedPayload};
use crate::store::payload::{self, hash_file};
use crate::store::{Manifest, PayloadRecord, RunStatus, StepStatus, Store, StoreError};
use serde_json::Value;
use std::path::{Path, PathBuf};

/// Why a re-sync was refused or could not be planned.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ReplayError {
    /// The run store.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The flow file to run has problems.
    #[error(transparent)]
    Flow(#[from] FlowError),
    /// A guard refused: the message says why and what to do.
    #[error("{0}")]
    Refused(String),
}

fn refused(msg: impl Into<String>) -> ReplayError {
    ReplayError::Refused(msg.into())
}

/// Which flow file a re-run uses (`--flow-version`; the doc lines are its help).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum FlowVersion {
    /// The flow file as it is now in flows/
    Current,
    /// The copy stored in the source run (flow.toml)
    Original,
}

/// Loads the flow a re-run of `run` uses.
///
/// # Errors
/// The flow file is missing or has problems.
pub(crate) fn load_flow(
    root: &Path,
    run: &RunRef,
    version: FlowVersion,
) -> Result<Flow, ReplayError> {
    Ok(match version {
        FlowVersion::Current => flow::load(root, &run.flow)?,
        FlowVersion::Original => {
            let path = crate::store::layout::flow_copy(&run.dir);
            let source =
                crate::store::recorded::read_text(&path, crate::store::recorded::MAX_FLOW_BYTES)?;
            flow::load_str(&run.flow, &path, source)?
        }
    })
}

/// The one check of a recorded payload file before any re-sync (replay, resume, retry)
/// uses it: a trimmed or masked payload is refused (its full content was never kept),
/// and so is a file whose blake3 differs from the manifest — naming the file — unless
/// `allow_edits` (`--edited`). Returns the file's hash as it is now and whether it was
/// edited.
///
/// # Errors
/// The file is trimmed, masked, edited, or cannot be read.
pub(crate) fn check_recorded(
    dir: &Path,
    r: &PayloadRecord,
    allow_edits: bool,
) -> Result<(String, bool), ReplayError> {
    let path = dir.join(&r.file);
    if !r.is_complete() {
        return Err(incomplete(&path, r.masked));
    }
    let (_, hash) = hash_file(&path).map_err(StoreError::reading)?;
    if hash == r.blake3 {
        return Ok((hash, false));
    }
    if !allow_edits {
        return Err(refused(format!(
            "{}: the file was changed after it was recorded (its blake3 differs from the manifest); if you edited it on purpose, add --edited (the edit is recorded in the new run)",
            display_path(&path)
        )));
    }
    Ok((hash, true))
}

/// Reads recorded payloads of run `run_id` (in `dir`) back after [`check_recorded`];
/// the edited files used are added to `edited`.
///
/// # Errors
/// A file is refused, missing or not JSON.
pub(crate) fn read_recorded(
    dir: &Path,
    run_id: &str,
    records: &[PayloadRecord],
    allow_edits: bool,
    edited: &mut Vec<EditedFile>,
) -> Result<Vec<Value>, ReplayError> {
    records
        .iter()
        .map(|r| {
            let (hash, changed) = check_recorded(dir, r, allow_edits)?;
            if changed {
                edited.push(EditedFile {
                    run_id: run_id.to_owned(),
                    file: r.file.clone(),
                    blake3: hash,
                });
            }
            Ok(payload::read(&dir.join(&r.file)).map_err(StoreError::reading)?)
        })
        .collect()
}

/// The refusal for a payload whose full content was never stored.
fn incomplete(path: &Path, masked: bool) -> ReplayError {
    if masked {
        refused(format!(
            "{}: a secret was masked out of this payload when it was stored, so its full content was never kept; it cannot be replayed (retry the run instead)",
            display_path(path)
        ))
    } else {
        refused(format!(
            "{}: this payload was trimmed when it was stored (over max_payload_bytes), so its full content was never kept; it cannot be replayed (raise max_payload_bytes and retry the run instead)",
            display_path(path)
        ))
    }
}

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

/// The resume side of the one re-sync guard ([`Store::resynced_by`]): refuses to resume
/// `run` when a successful replay already sent payloads of it, or of a run it continues
/// (`lineage`, newest first), or a successful resume already finished that work.
///
/// # Errors
/// Such a run exists.
pub(crate) fn check_not_resynced(
    store: &Store,
    run: &RunRef,
    lineage: &[RunRef],
) -> Result<(), ReplayError> {
    // Oldest first: the run whose work it all is names the guard.
    for member in lineage.iter().rev() {
        // The lineage's own runs continue each other: a partly successful one among
        // them is being continued, not a re-sync that already happened.
        let Some(e) = store
            .resynced_by(&run.flow, &member.id, None)
            .into_iter()
            .find(|e| !lineage.iter().any(|l| l.id == e.run_id))
        else {
            continue;
        };
        let what = match (e.resume, member.id == run.id) {
            (true, true) => format!(
                "run {} was already resumed by successful run {}",
                run.id, e.run_id
            ),
            (true, false) => format!(
                "run {} continues run {}, whose work successful run {} already finished",
                run.id, member.id, e.run_id
            ),
            (false, _) => format!(
                "successful run {} already replayed {} of run {}",
                e.run_id,
                e.files
                    .iter()
                    .map(|f| display_path(&member.dir.join(f)))
                    .collect::<Vec<_>>()
                    .join(", "),
                member.id
            ),
        };
        return Err(refused(format!(
            "{what}; resuming it again would repeat its work; add --force to resume anyway"
        )));
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

/// A step folder of a run: `input`, `steps/NN-<id>` or `steps/NN-<id>/failed`.
enum StepFolder {
    Input,
    Step(String),
    /// The input payloads step `NN-<id>` failed on and went on past (`on_error`).
    Failed(String),
}

impl StepFolder {
    fn folder(&self) -> String {
        match self {
            StepFolder::Input => layout::INPUT.to_owned(),
            StepFolder::Step(dir) => layout::step_dir_rel(dir),
            StepFolder::Failed(dir) => format!("{}/{}", layout::step_dir_rel(dir), layout::FAILED),
        }
    }

    fn is_failed(&self) -> bool {
        matches!(self, StepFolder::Failed(_))
    }

    /// The step id (`None` for input) and its records.
    fn records(&self, m: &Manifest) -> Option<(Option<String>, Vec<PayloadRecord>)> {
        let step = |dir: &str| {
            let count = m.steps.len();
            m.steps
                .iter()
                .find(|s| layout::step_rel(s.index, count, &s.id) == layout::step_dir_rel(dir))
        };
        match self {
            StepFolder::Input => Some((None, m.input.clone())),
            StepFolder::Step(dir) => step(dir).map(|s| (Some(s.id.clone()), s.payloads.clone())),
            StepFolder::Failed(dir) => step(dir).map(|s| {
                let failed = s.failed.iter().map(|f| f.payload.clone()).collect();
                (Some(s.id.clone()), failed)
            }),
        }
    }
}

struct Located {
    run: RunRef,
    step: StepFolder,
    /// Payload files relative to the run folder; `None` = the whole folder.
    files: Option<Vec<String>>,
}

/// Finds the run and step folder the given payload paths belong to.
fn locate(store: &Store, paths: &[PathBuf]) -> Result<Located, ReplayError> {
    let runs = store
        .path()
        .canonicalize()
        .map_err(|e| StoreError::io(store.path(), e).reading())?;
    let mut found: Option<Located> = None;
    for p in paths {
        let not_payload = || {
            refused(format!(
                "{}: not a payload file or step folder of a run in {}",
                p.display(),
                display_path(store.path())
            ))
        };
        let full = p
            .canonicalize()
            .map_err(|e| StoreError::io(p, e).reading())?;
        let rel = full.strip_prefix(&runs).map_err(|_| not_payload())?;
        let parts: Vec<&str> = rel.iter().filter_map(|s| s.to_str()).collect();
        let (flow, id, step, file) = match parts.as_slice() {
            [flow, id, layout::INPUT] => (*flow, *id, StepFolder::Input, None),
            [flow, id, layout::INPUT, file] => (
                *flow,
                *id,
                StepFolder::Input,
                Some(format!("{}/{file}", layout::INPUT)),
            ),
            [flow, id, layout::STEPS, dir] => {
                (*flow, *id, StepFolder::Step((*dir).to_owned()), None)
            }
            [flow, id, layout::STEPS, dir, layout::FAILED] => {
                (*flow, *id, StepFolder::Failed((*dir).to_owned()), None)
            }
            [flow, id, layout::STEPS, dir, file] => (
                *flow,
                *id,
                StepFolder::Step((*dir).to_owned()),
                Some(format!("{}/{file}", layout::step_dir_rel(dir))),
            ),
            [flow, id, layout::STEPS, dir, layout::FAILED, file] => (
                *flow,
                *id,
                StepFolder::Failed((*dir).to_owned()),
                Some(format!(
                    "{}/{}/{file}",
                    layout::step_dir_rel(dir),
                    layout::FAILED
                )),
            ),
            _ => return Err(not_payload()),
        };
        if !crate::time::is_run_id(id) {
            return Err(not_payload());
        }
        let run = RunRef {
            flow: flow.to_owned(),
            id: id.to_owned(),
            dir: store.run_dir(flow, id),
        };
        match &mut found {
            None => {
                found = Some(Located {
                    run,
                    files: file.map(|f| vec![f]),
                    step,
                });
            }
            Some(l) => {
                if l.run != run || l.step.folder() != step.folder() {
                    return Err(refused(
                        "all payloads of one replay must come from the same step of the same run",
                    ));
                }
                match (&mut l.files, file) {
                    (Some(files), Some(f)) => {
                        if !files.contains(&f) {
                            files.push(f);
                        }
                    }
                    _ => {
                        return Err(refused(
                            "give either a step folder or payload files from it, not both",
                        ));
                    }
                }
            }
        }
    }
    found.ok_or_else(|| refused("no payload given"))
}
