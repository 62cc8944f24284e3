//! The per-flow replay index `runs/<flow>/.replays.json`: which payloads were replayed
//! (and which runs resumed) by which run, so the duplicate guard does not read every
//! manifest. It is rebuilt from the manifests when it is missing or unreadable.

use super::{RunStatus, Store, StoreError, atomic, read_manifest_raw};
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

const FORMAT: &str = "flowrun.replays/1";

/// One replay or resume run.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub(crate) struct Entry {
    /// The replay or resume run.
    pub(crate) run_id: String,
    /// The run it took its payloads from.
    pub(crate) of_run: String,
    /// The replayed payload files (relative to `of_run`'s folder); empty for a resume.
    #[serde(default)]
    pub(crate) files: Vec<String>,
    /// Whether this is a resume of `of_run`.
    #[serde(default)]
    pub(crate) resume: bool,
    /// Its status when last recorded.
    pub(crate) status: RunStatus,
}

#[derive(Debug, Serialize, Deserialize)]
struct Index {
    format: String,
    entries: Vec<Entry>,
}

impl Store {
    fn replay_index_path(&self, flow: &str) -> PathBuf {
        self.flow_dir(flow).join(".replays.json")
    }

    /// The replay index of `flow` (rebuilt from manifests when missing or unreadable).
    #[must_use]
    pub(crate) fn replay_entries(&self, flow: &str) -> Vec<Entry> {
        let path = self.replay_index_path(flow);
        let parsed = super::recorded::read(&path, super::recorded::MAX_MANIFEST_BYTES)
            .ok()
            .and_then(|b| serde_json::from_slice::<Index>(&b).ok())
            .filter(|i| i.format == FORMAT);
        match parsed {
            Some(index) => index.entries,
            None => {
                let entries = self.rebuild_replay_entries(flow);
                // Best effort: a read-only store still answers from the manifests. A
                // shared store's index is written only by the holder of the flow lock.
                if !super::backend::get().shared() {
                    let _ = self.write_replay_entries(flow, &entries);
                }
                entries
            }
        }
    }

    /// Adds or updates the entry of `entry.run_id` (the caller holds the flow lock).
    ///
    /// # Errors
    /// The index cannot be written.
    pub(crate) fn record_replay(&self, flow: &str, entry: Entry) -> Result<(), StoreError> {
        let mut entries = self.replay_entries(flow);
        match entries.iter_mut().find(|e| e.run_id == entry.run_id) {
            Some(e) => *e = entry,
            None => entries.push(entry),
        }
        self.write_replay_entries(flow, &entries)
    }

    /// Drops the entries of runs that no longer exist.
    ///
    /// # Errors
    /// The index cannot be written.
    pub(crate) fn forget_replays(&self, flow: &str, removed: &[String]) -> Result<(), StoreError> {
        let mut entries = self.replay_entries(flow);
        let before = entries.len();
        entries.retain(|e| !removed.contains(&e.run_id) && !removed.contains(&e.of_run));
        if entries.len() != before {
            self.write_replay_entries(flow, &entries)?;
        }
        Ok(())
    }

    /// Successful (or partly successful) runs that already replayed `file` of run
    /// `of_run`, or resumed `of_run`
    /// (see [`Store::resynced_by`]).
    #[must_use]
    pub(crate) fn replayed_by(&self, flow: &str, of_run: &str, file: &str) -> Vec<Entry> {
        self.resynced_by(flow, of_run, Some(&[file.to_owned()]))
    }

    /// The one answer to "did a re-sync already send this data?", for replay and resume
    /// alike: successful runs that replayed payloads of run `of_run` (any of `files`, or
    /// any at all when `files` is `None`), then those that resumed it
    /// ([`Store::resumed_by`]).
    #[must_use]
    pub(crate) fn resynced_by(
        &self,
        flow: &str,
        of_run: &str,
        files: Option<&[String]>,
    ) -> Vec<Entry> {
        let mut out: Vec<Entry> = self
            .replay_entries(flow)
            .into_iter()
            .filter(|e| !e.resume && e.of_run == of_run)
            .filter(|e| files.is_none_or(|want| e.files.iter().any(|f| want.contains(f))))
            .filter(|e| self.entry_status(flow, e).went_through())
            .collect();
        out.extend(self.resumed_by(flow, of_run));
        out
    }

    /// Successful runs that finished the work of `of_run`: its resumes, and the resumes
    /// of those (a resume that was itself cut off and resumed), transitively.
    #[must_use]
    pub(crate) fn resumed_by(&self, flow: &str, of_run: &str) -> Vec<Entry> {
        let entries = self.replay_entries(flow);
        let mut out = Vec::new();
        let mut seen: Vec<&str> = vec![of_run];
        let mut todo: Vec<&str> = vec![of_run];
        while let Some(run) = todo.pop() {
            for e in entries.iter().filter(|e| e.resume && e.of_run == run) {
                if seen.contains(&e.run_id.as_str()) {
                    continue;
                }
                seen.push(&e.run_id);
                todo.push(&e.run_id);
                if self.entry_status(flow, e).went_through() {
                    out.push(e.clone());
                }
            }
        }
        out
    }

    /// An entry's status; one recorded as running is looked up in its manifest.
    fn entry_status(&self, flow: &str, e: &Entry) -> RunStatus {
        if e.status != RunStatus::Running {
            return e.status;
        }
        self.read_manifest(&self.run_dir(flow, &e.run_id))
            .map_or(RunStatus::Interrupted, |m| m.status)
    }

    fn rebuild_replay_entries(&self, flow: &str) -> Vec<Entry> {
        let mut entries = Vec::new();
        for id in self.run_ids(flow) {
            let Ok(m) = read_manifest_raw(&self.run_dir(flow, &id)) else {
                continue;
            };
            if let Some(r) = &m.replay_of {
                entries.push(Entry {
                    run_id: m.run_id.clone(),
                    of_run: r.run_id.clone(),
                    files: r.payloads.iter().map(|p| p.file.clone()).collect(),
                    resume: false,
                    status: m.status,
                });
            }
            if let Some(of) = &m.resume_of {
                entries.push(Entry {
                    run_id: m.run_id.clone(),
                    of_run: of.clone(),
                    files: Vec::new(),
                    resume: true,
                    status: m.status,
                });
            }
        }
        entries
    }

    fn write_replay_entries(&self, flow: &str, entries: &[Entry]) -> Result<(), StoreError> {
        let index = Index {
            format: FORMAT.to_owned(),
            entries: entries.to_vec(),
        };
        atomic::create_dir(&self.flow_dir(flow))?;
        atomic::write_json(&self.replay_index_path(flow), &index)
    }
}
