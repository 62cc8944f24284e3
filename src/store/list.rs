//! Finding runs: listing them newest first and resolving what a user typed to one run.

use super::{Store, StoreError};
use crate::flow::is_name;
use crate::time::is_run_id;
use std::path::{Path, PathBuf};

/// One run folder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunRef {
    /// The flow.
    pub flow: String,
    /// The run id.
    pub id: String,
    /// The folder.
    pub dir: PathBuf,
}

impl Store {
    /// Flows that have a folder under `runs/`, sorted.
    #[must_use]
    pub fn flows(&self) -> Vec<String> {
        let mut out: Vec<String> = read_names(self.path())
            .into_iter()
            .filter(|n| is_name(n) && self.path().join(n).is_dir())
            .collect();
        out.sort();
        out
    }

    /// Run ids of `flow`, oldest first.
    #[must_use]
    pub fn run_ids(&self, flow: &str) -> Vec<String> {
        let mut ids: Vec<String> = read_names(&self.flow_dir(flow))
            .into_iter()
            .filter(|n| is_run_id(n))
            .collect();
        ids.sort();
        ids
    }

    /// Every run (of `flow`, or of all flows), newest first.
    #[must_use]
    pub fn runs_newest_first(&self, flow: Option<&str>) -> Vec<RunRef> {
        let flows = match flow {
            Some(f) => vec![f.to_owned()],
            None => self.flows(),
        };
        let mut all: Vec<RunRef> = flows
            .iter()
            .flat_map(|f| {
                self.run_ids(f).into_iter().map(|id| RunRef {
                    dir: self.run_dir(f, &id),
                    flow: f.clone(),
                    id,
                })
            })
            .collect();
        all.sort_by(|a, b| b.id.cmp(&a.id).then_with(|| b.flow.cmp(&a.flow)));
        all
    }

    /// Resolves a run reference: a run id, a unique prefix of one, a run folder, or `last`.
    ///
    /// # Errors
    /// Nothing or several runs match, or a folder is not a run of this store.
    pub fn resolve(&self, reference: &str) -> Result<RunRef, StoreError> {
        if reference == "last" {
            return self
                .runs_newest_first(None)
                .into_iter()
                .next()
                .ok_or_else(|| StoreError::NoSuchRun(reference.to_owned()));
        }
        let as_path = Path::new(reference);
        if reference.contains('/') || as_path.is_dir() {
            return self.resolve_dir(reference, as_path);
        }
        let mut found = Vec::new();
        for flow in self.flows() {
            for id in self.run_ids(&flow) {
                if id == reference {
                    return Ok(RunRef {
                        dir: self.run_dir(&flow, &id),
                        flow,
                        id,
                    });
                }
                if id.starts_with(reference) {
                    found.push(RunRef {
                        dir: self.run_dir(&flow, &id),
                        flow: flow.clone(),
                        id,
                    });
                }
            }
        }
        match found.len() {
            0 => Err(StoreError::NoSuchRun(reference.to_owned())),
            1 => Ok(found.remove(0)),
            count => {
                found.sort_by(|a, b| b.id.cmp(&a.id));
                let examples: Vec<&str> = found.iter().take(3).map(|r| r.id.as_str()).collect();
                Err(StoreError::Ambiguous {
                    prefix: reference.to_owned(),
                    count,
                    examples: examples.join(", "),
                })
            }
        }
    }

    fn resolve_dir(&self, reference: &str, path: &Path) -> Result<RunRef, StoreError> {
        let not_a_run = || StoreError::NoSuchRun(reference.to_owned());
        let dir = path.canonicalize().map_err(|_| not_a_run())?;
        let runs = self.path().canonicalize().map_err(|_| not_a_run())?;
        let rel = dir.strip_prefix(&runs).map_err(|_| not_a_run())?;
        let parts: Vec<&str> = rel.iter().filter_map(|p| p.to_str()).collect();
        match parts.as_slice() {
            [flow, id, ..] if is_name(flow) && is_run_id(id) => Ok(RunRef {
                flow: (*flow).to_owned(),
                id: (*id).to_owned(),
                dir: self.run_dir(flow, id),
            }),
            _ => Err(not_a_run()),
        }
    }
}

fn read_names(dir: &Path) -> Vec<String> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|e| e.file_name().into_string().ok())
        .collect()
}
