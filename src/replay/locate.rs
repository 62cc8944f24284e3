//! Which run and step folder the payload paths given to `flowrun replay` belong to.

use super::{ReplayError, refused};
use crate::flow::display_path;
use crate::store::layout;
use crate::store::list::RunRef;
use crate::store::{Manifest, PayloadRecord, Store, StoreError};
use std::path::{Path, PathBuf};

/// A step folder of a run: `input`, `steps/NN-<id>` or `steps/NN-<id>/failed`.
pub(super) enum StepFolder {
    Input,
    Step(String),
    /// The input payloads step `NN-<id>` failed on and went on past (`on_error`).
    Failed(String),
}

impl StepFolder {
    pub(super) fn folder(&self) -> String {
        match self {
            StepFolder::Input => layout::INPUT.to_owned(),
            StepFolder::Step(dir) => layout::step_dir_rel(dir),
            StepFolder::Failed(dir) => format!("{}/{}", layout::step_dir_rel(dir), layout::FAILED),
        }
    }

    pub(super) fn is_failed(&self) -> bool {
        matches!(self, StepFolder::Failed(_))
    }

    /// The step id (`None` for input) and its records.
    pub(super) fn records(&self, m: &Manifest) -> Option<(Option<String>, Vec<PayloadRecord>)> {
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

pub(super) struct Located {
    pub(super) run: RunRef,
    pub(super) step: StepFolder,
    /// Payload files relative to the run folder; `None` = the whole folder.
    pub(super) files: Option<Vec<String>>,
}

/// On a shared store the working copy may lack a run another host recorded: a payload
/// path or step folder below `runs/` that is not there locally is fetched (the folder,
/// or the file's folder) before it is resolved.
fn fetch_missing(store: &Store, p: &Path) -> Result<(), StoreError> {
    if p.exists() {
        return Ok(());
    }
    let (Ok(full), Ok(runs)) = (std::path::absolute(p), std::path::absolute(store.path())) else {
        return Ok(());
    };
    let Ok(rel) = full.strip_prefix(&runs) else {
        return Ok(());
    };
    let backend = crate::store::backend::get();
    let path = store.path().join(rel);
    if backend.is_dir(&path) {
        backend.pull(&path)
    } else {
        path.parent().map_or(Ok(()), |dir| backend.pull(dir))
    }
}

/// Finds the run and step folder the given payload paths belong to.
pub(super) fn locate(store: &Store, paths: &[PathBuf]) -> Result<Located, ReplayError> {
    for p in paths {
        fetch_missing(store, p)?;
    }
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
