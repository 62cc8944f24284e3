//! The run store: `runs/<flow>/<run-id>/` folders, manifests, atomic writes, locks, listing.

pub(crate) mod atomic;
pub(crate) mod backend;
pub(crate) mod dedupe;
pub(crate) mod layout;
pub(crate) mod list;
pub(crate) mod lock;
pub(crate) mod manifest;
pub(crate) mod payload;
pub(crate) mod prune;
pub(crate) mod recorded;
pub(crate) mod replays;
pub(crate) mod s3;
pub(crate) mod verify;

use crate::names::display_path;
pub(crate) use lock::FlowLock;
pub(crate) use manifest::{
    FailedRecord, Manifest, Notification, PayloadRecord, RunStatus, StepRecord, StepStatus,
    TriggerKind,
};
use std::io;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// Errors of the run store, each naming the path it is about.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// An I/O error on a path.
    #[error("{}: {source}", display_path(path))]
    Io {
        /// The path.
        path: PathBuf,
        /// The error.
        source: io::Error,
    },
    /// A file of a recorded run that a command needs and cannot read (missing, a
    /// folder, …): the command does nothing.
    #[error("{}: cannot read it: {source}", display_path(path))]
    Unreadable {
        /// The path.
        path: PathBuf,
        /// The error.
        source: io::Error,
    },
    /// A payload whose full content was never stored.
    #[error("{}: this payload was trimmed when it was stored (it was larger than max_payload_bytes), so its full content is not available", display_path(.0))]
    Trimmed(PathBuf),
    /// A payload or manifest that is not valid JSON (or not JSON flowrun takes: see
    /// [`crate::json::decode`]).
    #[error("{}:{line}:{column}: {message}", display_path(path))]
    BadJson {
        /// The file.
        path: PathBuf,
        /// Line.
        line: usize,
        /// Column.
        column: usize,
        /// The parser's message.
        message: String,
    },
    /// A manifest that parses but is not one.
    #[error("{}: not a flowrun manifest: {message}", display_path(path))]
    BadManifest {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// Another process runs the flow.
    #[error("flow `{flow}` is busy: another run of it is in progress{}; try again when it has finished", holder.as_ref().map(|h| format!(" (run {h})")).unwrap_or_default())]
    Busy {
        /// The flow.
        flow: String,
        /// The run holding the lock, if known.
        holder: Option<String>,
    },
    /// The flow's lock on a shared store was lost (its lease ran out, and another
    /// process may hold it now): this process writes nothing more to the flow's store.
    #[error(
        "lost the lock of flow `{flow}`: {why}; this run stopped writing at {}",
        display_path(at)
    )]
    LostLock {
        /// The flow.
        flow: String,
        /// How it was lost.
        why: String,
        /// The first file that was not stored.
        at: PathBuf,
    },
    /// A recorded file that is not a regular file (a FIFO, a device, a folder).
    #[error(
        "{}: not a regular file ({what}); a run's files are plain files",
        display_path(path)
    )]
    NotRegular {
        /// The path.
        path: PathBuf,
        /// What it is instead.
        what: &'static str,
    },
    /// A recorded file larger than flowrun reads.
    #[error(
        "{}: {bytes} bytes, more than the {max} bytes flowrun reads from a file of this kind",
        display_path(path)
    )]
    TooLarge {
        /// The path.
        path: PathBuf,
        /// Its size (as far as it was read).
        bytes: u64,
        /// The limit.
        max: u64,
    },
    /// A run reference that matches nothing.
    #[error(
        "no run matches `{0}` (give a run id, a unique prefix of one, a run folder, or `last`; `{runs}` lists them)",
        runs = crate::hint::flowrun(["runs"])
    )]
    NoSuchRun(String),
    /// A run reference that matches several runs.
    #[error("`{prefix}` matches {count} runs ({examples}); give more of the run id")]
    Ambiguous {
        /// What was given.
        prefix: String,
        /// How many runs match.
        count: usize,
        /// Some of them.
        examples: String,
    },
}

impl StoreError {
    /// `path` is not JSON flowrun takes.
    #[must_use]
    pub(crate) fn bad_json(path: &Path, e: crate::json::DecodeError) -> StoreError {
        StoreError::BadJson {
            path: path.to_path_buf(),
            line: e.line,
            column: e.column,
            message: e.message,
        }
    }

    /// An I/O error on `path`.
    #[must_use]
    pub(crate) fn io(path: &Path, source: io::Error) -> StoreError {
        StoreError::Io {
            path: path.to_path_buf(),
            source,
        }
    }

    /// This error, met while reading a recorded run before anything started: an I/O
    /// error becomes [`StoreError::Unreadable`] (bad input rather than a failed run).
    #[must_use]
    pub(crate) fn reading(self) -> StoreError {
        match self {
            StoreError::Io { path, source } => StoreError::Unreadable { path, source },
            other => other,
        }
    }
}

/// The run store of one project.
#[derive(Debug, Clone)]
pub(crate) struct Store {
    runs: PathBuf,
}

impl Store {
    /// The store of the project at `root`.
    #[must_use]
    pub(crate) fn new(root: &Path) -> Store {
        Store {
            runs: root.join(layout::RUNS),
        }
    }

    /// `runs/`.
    #[must_use]
    pub(crate) fn path(&self) -> &Path {
        &self.runs
    }

    /// `runs/<flow>/`.
    #[must_use]
    pub(crate) fn flow_dir(&self, flow: &str) -> PathBuf {
        self.runs.join(flow)
    }

    /// `runs/<flow>/<run>/`.
    #[must_use]
    pub(crate) fn run_dir(&self, flow: &str, run_id: &str) -> PathBuf {
        self.runs.join(flow).join(run_id)
    }

    /// `runs/<flow>/.tmp-<run>/`: where a run folder is built before it gets its name.
    #[must_use]
    pub(crate) fn staging_dir(&self, flow: &str, run_id: &str) -> PathBuf {
        self.flow_dir(flow)
            .join(format!("{}{run_id}", atomic::TEMP_PREFIX))
    }

    /// Takes the lock of `flow`.
    ///
    /// # Errors
    /// The flow is busy, or the lock file cannot be written.
    pub(crate) fn lock(&self, flow: &str) -> Result<FlowLock, StoreError> {
        backend::get().acquire(&self.flow_dir(flow), flow)
    }

    /// Whether a process is running `flow` now.
    #[must_use]
    pub(crate) fn is_busy(&self, flow: &str) -> bool {
        backend::get().is_held(&self.flow_dir(flow))
    }

    /// Reads a manifest; a `running` run whose flow lock nobody holds reads as `interrupted`.
    ///
    /// # Errors
    /// The manifest is missing or malformed.
    pub(crate) fn read_manifest(&self, run_dir: &Path) -> Result<Manifest, StoreError> {
        let mut m = read_manifest_raw(run_dir)?;
        if m.status == RunStatus::Running && !self.is_busy(&m.flow) {
            m.status = RunStatus::Interrupted;
        }
        Ok(m)
    }

    /// After taking a flow's lock: the run the previous holder left `running` died with
    /// it; record it as `interrupted` and clear away its temporary files.
    ///
    /// # Errors
    /// Its manifest cannot be rewritten.
    pub(crate) fn settle_previous(&self, flow: &str, lock: &FlowLock) -> Result<(), StoreError> {
        let Some(prev) = lock.previous.as_deref() else {
            return Ok(());
        };
        if !crate::time::is_run_id(prev) {
            return Ok(());
        }
        // A run folder its process never finished creating.
        let _ = std::fs::remove_dir_all(self.staging_dir(flow, prev));
        let dir = self.run_dir(flow, prev);
        let Ok(mut m) = read_manifest_raw(&dir) else {
            return Ok(());
        };
        if m.status != RunStatus::Running {
            return Ok(());
        }
        m.status = RunStatus::Interrupted;
        write_manifest(&dir, &m)?;
        remove_temp_files(&dir);
        Ok(())
    }
}

/// Reads `manifest.json` in `run_dir` as stored.
///
/// # Errors
/// The manifest is missing or malformed.
pub fn read_manifest_raw(run_dir: &Path) -> Result<Manifest, StoreError> {
    let path = layout::manifest(run_dir);
    let bytes = recorded::read(&path, recorded::MAX_MANIFEST_BYTES).map_err(StoreError::reading)?;
    let value = crate::json::decode(&bytes, 1).map_err(|e| StoreError::bad_json(&path, e))?;
    let m: Manifest = serde_json::from_value(value).map_err(|e| StoreError::BadManifest {
        path: path.clone(),
        message: e.to_string(),
    })?;
    m.check()
        .map_err(|message| StoreError::BadManifest { path, message })?;
    Ok(m)
}

/// Writes `manifest.json` in `run_dir` atomically.
///
/// # Errors
/// The write failed; the previous manifest is then unchanged.
pub fn write_manifest(run_dir: &Path, m: &Manifest) -> Result<(), StoreError> {
    atomic::write_json(&layout::manifest(run_dir), m)
}

fn remove_temp_files(run_dir: &Path) {
    for entry in walkdir::WalkDir::new(run_dir).into_iter().flatten() {
        if entry
            .file_name()
            .to_str()
            .is_some_and(|n| n.starts_with(atomic::TEMP_PREFIX))
        {
            let _ = std::fs::remove_file(entry.path());
        }
    }
}

/// A run folder being written, with its manifest in memory.
#[derive(Debug)]
pub(crate) struct RunDir {
    /// The folder.
    pub(crate) path: PathBuf,
    /// The manifest as it will be written.
    pub(crate) manifest: Manifest,
    last_save: Instant,
}

impl RunDir {
    /// Creates the folder for a run whose manifest is `manifest` (its id fixes the
    /// folder name) with a copy of the flow file, and writes the manifest.
    ///
    /// # Errors
    /// The folder or its files could not be written.
    pub(crate) fn create(
        store: &Store,
        manifest: Manifest,
        flow_source: &[u8],
    ) -> Result<RunDir, StoreError> {
        let path = store.run_dir(&manifest.flow, &manifest.run_id);
        // Built under a hidden name and renamed into place, so that a run folder never
        // exists without its manifest: a process killed half-way leaves only the hidden
        // folder, which the next holder of the flow lock removes (`settle_previous`).
        let staging = store.staging_dir(&manifest.flow, &manifest.run_id);
        let built = atomic::create_dir(&staging)
            .and_then(|()| atomic::write(&layout::flow_copy(&staging), flow_source))
            .and_then(|()| write_manifest(&staging, &manifest))
            .and_then(|()| std::fs::rename(&staging, &path).map_err(|e| StoreError::io(&path, e)));
        if let Err(e) = built {
            // A full or read-only disk: leave nothing behind that would need clearing.
            let _ = std::fs::remove_dir_all(&staging);
            return Err(e);
        }
        atomic::sync_dir(&store.flow_dir(&manifest.flow))?;
        // The flow copy first: a stored manifest is what makes a run exist in the store.
        let stored = backend::get();
        stored.stored(&layout::flow_copy(&path))?;
        stored.stored(&layout::manifest(&path))?;
        store.index_run(&manifest.flow, &manifest.run_id);
        Ok(RunDir {
            path,
            manifest,
            last_save: Instant::now(),
        })
    }

    /// Writes the manifest now, synced.
    ///
    /// # Errors
    /// The write failed.
    pub(crate) fn save(&mut self) -> Result<(), StoreError> {
        write_manifest(&self.path, &self.manifest)?;
        self.last_save = Instant::now();
        Ok(())
    }

    /// The folder of step `index` (1-based), e.g. `steps/03-to-erp`.
    #[must_use]
    pub(crate) fn step_rel(&self, index: usize, id: &str) -> String {
        step_rel(index, self.manifest.steps.len(), id)
    }
}

pub(crate) use layout::step_rel;
