//! Finding runs: listing them newest first and resolving what a user typed to one run.
//!
//! Each flow keeps an index of its run ids, `runs/<flow>/.runs`: fixed-width lines (the
//! 25-character id and a newline), appended as runs are created. Listing the newest runs
//! then reads that one small file instead of every entry of a folder holding thousands
//! of runs. The index is only trusted when it accounts for every sub-folder of the flow's
//! folder (the folder's link count, one stat); otherwise it is rebuilt from the folder.
//! A link count can balance out (a run deleted, a stray folder added), so the index is
//! also checked run by run as it is read: an id whose folder is gone means the index is
//! stale, and it is rebuilt there and then. `prune` rebuilds it outright.

use super::{Store, StoreError};
use crate::names::is_name;
use crate::time::is_run_id;
use std::path::{Path, PathBuf};

/// One run folder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RunRef {
    /// The flow.
    pub(crate) flow: String,
    /// The run id.
    pub(crate) id: String,
    /// The folder.
    pub(crate) dir: PathBuf,
}

impl Store {
    /// Flows that have a folder under `runs/`, sorted.
    #[must_use]
    pub(crate) fn flows(&self) -> Vec<String> {
        let mut out: Vec<String> = read_names(self.path())
            .into_iter()
            .filter(|n| is_name(n) && super::backend::get().is_dir(&self.path().join(n)))
            .collect();
        out.sort();
        out
    }

    /// Run ids of `flow`, oldest first.
    #[must_use]
    pub(crate) fn run_ids(&self, flow: &str) -> Vec<String> {
        let mut ids: Vec<String> = read_names(&self.flow_dir(flow))
            .into_iter()
            .filter(|n| is_run_id(n))
            .collect();
        ids.sort();
        ids
    }

    /// Runs of `flow` (or of all flows), newest first, read lazily.
    pub(crate) fn newest_runs(&self, flow: Option<&str>) -> impl Iterator<Item = RunRef> + '_ {
        let flows = match flow {
            Some(f) => vec![f.to_owned()],
            None => self.flows(),
        };
        let mut lists: Vec<(String, IdsDesc)> = flows
            .into_iter()
            .map(|f| (f.clone(), self.ids_desc(&f)))
            .collect();
        std::iter::from_fn(move || {
            loop {
                // The next run is the newest head among the flows (few flows: a linear scan).
                let mut best: Option<(usize, String)> = None;
                for (k, (_, ids)) in lists.iter_mut().enumerate() {
                    if let Some(head) = ids.peek()
                        && best.as_ref().is_none_or(|(_, b)| head > b.as_str())
                    {
                        best = Some((k, head.to_owned()));
                    }
                }
                let (k, id) = best?;
                let flow = lists[k].0.clone();
                if lists[k].1.is_index() && !super::backend::get().is_dir(&self.run_dir(&flow, &id))
                {
                    // A stale index: list the folder instead, below the runs already given.
                    let mut ids = self.rebuild_index(&flow);
                    ids.retain(|i| *i < id);
                    lists[k].1 = IdsDesc::Listed(ids);
                    continue;
                }
                lists[k].1.advance();
                return Some(RunRef {
                    dir: self.run_dir(&flow, &id),
                    flow,
                    id,
                });
            }
        })
    }

    /// Adds a new run to `flow`'s index (the caller holds the flow's lock).
    pub(crate) fn index_run(&self, flow: &str, id: &str) {
        use std::io::Write as _;
        // Best effort: a missing or partial index is rebuilt by the next listing.
        let line = format!("{id}\n");
        if line.len() == LINE && is_run_id(id) {
            let path = self.index_path(flow);
            let backend = super::backend::get();
            // Shared: append to the stored index (the lock holder alone writes it).
            if backend.load(&path).is_err() {
                return;
            }
            let appended = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(&path)
                .and_then(|mut f| f.write_all(line.as_bytes()));
            if appended.is_ok() {
                let _ = backend.stored(&path);
            }
        }
    }

    fn index_path(&self, flow: &str) -> PathBuf {
        self.flow_dir(flow).join(".runs")
    }

    /// Run ids of `flow`, newest first: from the index when it is complete, else from
    /// the folder (and the index is rewritten).
    fn ids_desc(&self, flow: &str) -> IdsDesc {
        let dir = self.flow_dir(flow);
        if let Some(bytes) = complete_index(&dir) {
            return IdsDesc::Index {
                pos: bytes.len(),
                bytes,
            };
        }
        IdsDesc::Listed(self.rebuild_index(flow))
    }

    /// Rewrites `flow`'s index from its folder; returns its run ids, oldest first.
    #[allow(clippy::must_use_candidate)] // called for the rewrite alone too
    pub(crate) fn rebuild_index(&self, flow: &str) -> Vec<String> {
        let ids = self.run_ids(flow);
        // A shared store's index is written only by the holder of the flow's lock.
        if !super::backend::get().shared() {
            self.write_index(flow, &ids);
        }
        ids
    }

    /// Rewrites `flow`'s index from its folder (the caller holds the flow's lock).
    pub(crate) fn rewrite_index(&self, flow: &str) {
        let ids = self.run_ids(flow);
        self.write_index(flow, &ids);
    }

    fn write_index(&self, flow: &str, ids: &[String]) {
        let mut text = String::with_capacity(ids.len() * LINE);
        for id in ids {
            text.push_str(id);
            text.push('\n');
        }
        // Best effort (a read-only store still lists): written whole, then renamed.
        let _ = super::atomic::write(&self.index_path(flow), text.as_bytes());
    }

    /// Every run (of `flow`, or of all flows), newest first.
    #[must_use]
    pub(crate) fn runs_newest_first(&self, flow: Option<&str>) -> Vec<RunRef> {
        self.newest_runs(flow).collect()
    }

    /// Resolves a run reference: a run id, a unique prefix of one, a run folder, or `last`.
    ///
    /// # Errors
    /// Nothing or several runs match, or a folder is not a run of this store.
    pub(crate) fn resolve(&self, reference: &str) -> Result<RunRef, StoreError> {
        if reference == "last" {
            return self
                .newest_runs(None)
                .next()
                .ok_or_else(|| StoreError::NoSuchRun(reference.to_owned()));
        }
        let as_path = Path::new(reference);
        if reference.contains('/') || as_path.is_dir() {
            return self.resolve_dir(reference, as_path);
        }
        if is_run_id(reference) {
            // A whole id: look for its folder instead of listing every run.
            return self
                .flows()
                .into_iter()
                .find(|f| super::backend::get().is_dir(&self.run_dir(f, reference)))
                .map(|flow| RunRef {
                    dir: self.run_dir(&flow, reference),
                    flow,
                    id: reference.to_owned(),
                })
                .ok_or_else(|| StoreError::NoSuchRun(reference.to_owned()));
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

/// The index of the flow folder `dir`, when it lists exactly its run folders.
fn complete_index(dir: &Path) -> Option<Vec<u8>> {
    let bytes =
        super::recorded::read(&dir.join(".runs"), super::recorded::MAX_MANIFEST_BYTES).ok()?;
    if bytes.len() % LINE != 0 {
        return None;
    }
    let count = bytes.len() / LINE;
    super::backend::get()
        .index_complete(dir, count)
        .then_some(bytes)
}

/// Bytes of one index line: a run id and a newline.
const LINE: usize = 26;

/// Run ids newest first, from an index or from a listing.
enum IdsDesc {
    Index { bytes: Vec<u8>, pos: usize },
    Listed(Vec<String>),
}

impl IdsDesc {
    fn is_index(&self) -> bool {
        matches!(self, IdsDesc::Index { .. })
    }

    fn peek(&mut self) -> Option<&str> {
        match self {
            IdsDesc::Index { bytes, pos } => loop {
                if *pos < LINE {
                    return None;
                }
                let line = &bytes[*pos - LINE..*pos - 1];
                match std::str::from_utf8(line) {
                    // Re-borrow to return the slice.
                    Ok(id) if is_run_id(id) => {
                        let id = &bytes[*pos - LINE..*pos - 1];
                        return std::str::from_utf8(id).ok();
                    }
                    _ => *pos -= LINE,
                }
            },
            IdsDesc::Listed(ids) => ids.last().map(String::as_str),
        }
    }

    fn advance(&mut self) {
        match self {
            IdsDesc::Index { pos, .. } => *pos = pos.saturating_sub(LINE),
            IdsDesc::Listed(ids) => {
                ids.pop();
            }
        }
    }
}

fn read_names(dir: &Path) -> Vec<String> {
    super::backend::get().names(dir)
}
