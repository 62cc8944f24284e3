//! Re-syncing from recorded payloads: `replay` (`plan.rs`), `resume` and `retry`
//! ([`resume`]). Each plans a new run from an earlier one, with the guards that keep
//! data from being duplicated or lost; the engine then runs the plan. This file holds
//! what they share: the error, the flow version, the checks of recorded payloads.

mod locate;
mod plan;
pub(crate) mod resume;
mod reuse;

pub(crate) use plan::{ReplayPlan, ReplayRequest, plan};

use crate::flow::{self, Flow, FlowError, display_path};
use crate::store::list::RunRef;
use crate::store::manifest::EditedFile;
use crate::store::payload::{self, hash_file};
use crate::store::{PayloadRecord, Store, StoreError};
use serde_json::Value;
use std::path::Path;

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
