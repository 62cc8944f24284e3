//! Pruning: deleting old runs of a flow while holding its lock. Each run folder is first
//! moved out of the flow's folder into `runs/.deleting/<flow>/` (which no listing reads)
//! and only then removed, so a prune cut off half-way never leaves half a run to be
//! listed; the next prune of the flow removes what it left.
//!
//! Moving the folder out, rather than renaming it to a hidden name beside the runs,
//! changes the flow folder's link count in the same step, which is what tells the run
//! index (`runs/<flow>/.runs`, see [`super::list`]) that it must be rebuilt. Where the
//! flow's folder is on another file system (a symlink), the run is renamed to
//! `runs/<flow>/.deleting-<id>` instead.
//!
//! On S3 no rename makes a deletion atomic: the run's manifest object is deleted first,
//! and a prefix without one is no run to any listing (see [`super::s3`]); a prune cut
//! off there leaves the rest of the prefix, which the next prune removes.

use super::{RunStatus, Store, StoreError, atomic::TEMP_PREFIX, read_manifest_raw};
use crate::time::{is_run_id, run_id_time};
use chrono::{DateTime, Utc};
use std::path::PathBuf;

/// The folder in `runs/` where run folders wait to be removed.
pub(crate) const DELETING: &str = ".deleting";

/// Prefix of a run folder waiting to be removed inside its flow's folder.
pub(crate) const DELETING_PREFIX: &str = ".deleting-";

/// Which runs to delete: those outside the newest `keep` of their flow *and* started
/// before `before` (a criterion that is not given selects every run).
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Policy {
    /// Keep the newest this many runs of each flow.
    pub(crate) keep: Option<usize>,
    /// Delete only runs that started before this time.
    pub(crate) before: Option<DateTime<Utc>>,
}

impl Policy {
    /// The ids (of `ids`, oldest first) this policy deletes, oldest first.
    #[must_use]
    pub(crate) fn select<'a>(&self, ids: &'a [String]) -> Vec<&'a str> {
        let outside_keep = ids.len().saturating_sub(self.keep.unwrap_or(0));
        ids.iter()
            .take(outside_keep)
            .filter(|id| {
                self.before
                    .is_none_or(|b| run_id_time(id).is_some_and(|t| t < b))
            })
            .map(String::as_str)
            .collect()
    }
}

/// One deleted run.
#[derive(Debug, Clone)]
pub(crate) struct Deleted {
    /// The run id.
    pub(crate) id: String,
    /// Its status (`None` when its manifest was unreadable).
    pub(crate) status: Option<RunStatus>,
    /// Its start time as the manifest gives it.
    pub(crate) started_at: Option<String>,
}

/// What pruning one flow did.
#[derive(Debug, Default)]
pub(crate) struct Pruned {
    /// Runs deleted (or, on a dry run, to be deleted), oldest first.
    pub(crate) deleted: Vec<Deleted>,
    /// How many runs remain.
    pub(crate) kept: usize,
    /// Folders an earlier, cut-off prune or run creation left behind, removed now.
    pub(crate) leftovers: usize,
    /// Problems that did not stop the prune (a folder that could not be removed
    /// completely stays hidden and is retried next time).
    pub(crate) warnings: Vec<String>,
}

impl Store {
    /// Deletes the runs of `flow` that `policy` selects (on a dry run, only says which),
    /// holding the flow's lock so that no run of it is in progress meanwhile.
    ///
    /// # Errors
    /// [`StoreError::Busy`] when a run of the flow is in progress (nothing is deleted),
    /// or the lock or a run folder could not be renamed.
    pub(crate) fn prune_flow(
        &self,
        flow: &str,
        policy: &Policy,
        dry_run: bool,
    ) -> Result<Pruned, StoreError> {
        let mut out = Pruned::default();
        if !super::backend::get().is_dir(&self.flow_dir(flow)) {
            return Ok(out);
        }
        let _lock = self.lock(flow)?;
        let mut forget: Vec<String> = Vec::new();
        if !dry_run {
            self.remove_leftovers(flow, &mut out, &mut forget);
            super::atomic::create_dir(&self.deleting_dir(flow))?;
        }
        let ids = self.run_ids(flow);
        let chosen = policy.select(&ids);
        out.kept = ids.len() - chosen.len();
        for id in chosen {
            let dir = self.run_dir(flow, id);
            let m = read_manifest_raw(&dir).ok();
            out.deleted.push(Deleted {
                id: id.to_owned(),
                // Holding the lock, a run that says `running` is one whose process died.
                status: m.as_ref().map(|m| match m.status {
                    RunStatus::Running => RunStatus::Interrupted,
                    s => s,
                }),
                started_at: m.map(|m| m.started_at),
            });
            if dry_run {
                continue;
            }
            // A shared store: its objects go first (the manifest first of all).
            super::backend::get().remove_all(&dir)?;
            if super::backend::get().shared() && !dir.exists() {
                forget.push(id.to_owned());
                continue;
            }
            let mut hidden = self.deleting_dir(flow).join(id);
            if let Err(e) = std::fs::rename(&dir, &hidden) {
                if e.kind() != std::io::ErrorKind::CrossesDevices {
                    return Err(StoreError::io(&dir, e));
                }
                hidden = self.flow_dir(flow).join(format!("{DELETING_PREFIX}{id}"));
                std::fs::rename(&dir, &hidden).map_err(|e| StoreError::io(&dir, e))?;
            }
            forget.push(id.to_owned());
            if let Err(e) = std::fs::remove_dir_all(&hidden) {
                out.warnings.push(format!(
                    "{}: {e} (the run is gone from the store; the next prune removes what is left)",
                    crate::names::display_path(&hidden)
                ));
            }
        }
        if !forget.is_empty()
            && let Err(e) = self.forget_replays(flow, &forget)
        {
            out.warnings
                .push(format!("the replay index was not updated: {e}"));
        }
        if !dry_run {
            // Only when empty: tidy, not needed.
            let _ = std::fs::remove_dir(self.deleting_dir(flow));
            let _ = std::fs::remove_dir(self.path().join(DELETING));
            // Rebuilt while nothing else changes the flow's folder (the lock is held and
            // the leftovers are gone): a stray folder would let the old index look
            // complete by its folder's link count.
            self.rewrite_index(flow);
        }
        Ok(out)
    }

    /// `runs/.deleting/<flow>/`.
    fn deleting_dir(&self, flow: &str) -> PathBuf {
        self.path().join(DELETING).join(flow)
    }

    /// Removes run folders a cut-off prune left in `runs/.deleting/<flow>/` (or as
    /// `runs/<flow>/.deleting-<id>/`), and `runs/<flow>/.tmp-<id>/` folders of a run
    /// whose creation was cut off (the caller holds the flow lock: none is in use); on
    /// a shared store, the objects of runs whose manifest is gone.
    fn remove_leftovers(&self, flow: &str, out: &mut Pruned, forget: &mut Vec<String>) {
        let mut found: Vec<(PathBuf, String, bool)> = Vec::new();
        for (dir, deleting) in [
            (self.deleting_dir(flow), true),
            (self.flow_dir(flow), false),
        ] {
            let Ok(entries) = std::fs::read_dir(&dir) else {
                continue;
            };
            for entry in entries.flatten() {
                let name = entry.file_name().to_string_lossy().into_owned();
                let (id, was_run) = if deleting {
                    (Some(name.as_str()), true)
                } else if let Some(id) = name.strip_prefix(DELETING_PREFIX) {
                    (Some(id), true)
                } else {
                    (name.strip_prefix(TEMP_PREFIX), false)
                };
                if let Some(id) = id.filter(|id| is_run_id(id))
                    && entry.file_type().is_ok_and(|t| t.is_dir())
                {
                    found.push((entry.path(), id.to_owned(), was_run));
                }
            }
        }
        // A shared store: run prefixes without a manifest (the first object a prune
        // deletes; the last a run's creation stores), with their working copy.
        for id in super::backend::get().leftover_runs(&self.flow_dir(flow)) {
            let dir = self.run_dir(flow, &id);
            let removed =
                super::backend::get().remove_all(&dir).and_then(
                    |()| match std::fs::remove_dir_all(&dir) {
                        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                            Err(StoreError::io(&dir, e))
                        }
                        _ => Ok(()),
                    },
                );
            if let Err(e) = removed {
                out.warnings.push(e.to_string());
            } else if !found.iter().any(|(_, i, was_run)| *was_run && *i == id) {
                // (Counted once when its working copy was moved out too.)
                out.leftovers += 1;
                forget.push(id);
            }
        }
        for (path, id, was_run) in found {
            if was_run {
                forget.push(id);
            }
            match std::fs::remove_dir_all(&path) {
                Ok(()) => out.leftovers += 1,
                Err(e) => out
                    .warnings
                    .push(format!("{}: {e}", crate::names::display_path(&path))),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids() -> Vec<String> {
        [
            "20260101T000000.000Z-0001",
            "20260201T000000.000Z-0002",
            "20260301T000000.000Z-0003",
            "20260401T000000.000Z-0004",
        ]
        .iter()
        .map(|s| (*s).to_owned())
        .collect()
    }

    fn at(s: &str) -> Option<DateTime<Utc>> {
        crate::time::parse(s)
    }

    #[test]
    fn keep_selects_all_but_the_newest() {
        let ids = ids();
        let p = Policy {
            keep: Some(1),
            before: None,
        };
        assert_eq!(p.select(&ids), [&ids[0], &ids[1], &ids[2]]);
        let p = Policy {
            keep: Some(10),
            before: None,
        };
        assert!(p.select(&ids).is_empty());
        let p = Policy {
            keep: Some(0),
            before: None,
        };
        assert_eq!(p.select(&ids).len(), 4);
    }

    #[test]
    fn older_than_selects_by_start_time_and_both_must_hold() {
        let ids = ids();
        let p = Policy {
            keep: None,
            before: at("2026-03-01T00:00:00.000Z"),
        };
        assert_eq!(p.select(&ids), [&ids[0], &ids[1]]);
        let p = Policy {
            keep: Some(3),
            before: at("2026-03-15T00:00:00.000Z"),
        };
        assert_eq!(p.select(&ids), [&ids[0]]);
        let p = Policy {
            keep: Some(1),
            before: at("2026-02-15T00:00:00.000Z"),
        };
        assert_eq!(p.select(&ids), [&ids[0], &ids[1]]);
    }
}
