//! Where the run store keeps its files: the seam beneath the store's own helpers.
//!
//! Every file of the store is first written in the local `runs/` folder (the working
//! copy) and given its final name there ([`super::atomic::write`],
//! [`super::payload::Pending::commit`]); the backend then makes it *stored*. Before a
//! recorded file is read ([`super::recorded::open`]) the backend makes the local copy
//! current. Listing a folder, asking whether one exists, removing one and taking a
//! flow's lock go through it too. The local backend (the default) does nothing extra:
//! the working copy is the store. The S3 backend ([`super::s3`]) stores every file as
//! an object under the same key as its path below `runs/`.

use super::{FlowLock, StoreError};
use std::path::Path;
use std::sync::OnceLock;

/// A run store's storage (blocking calls).
pub(crate) trait Backend: Send + Sync + std::fmt::Debug {
    /// `path` (below `runs/`) just got its final name locally: store it. Returns only
    /// once it is stored whole.
    ///
    /// # Errors
    /// It could not be stored.
    fn stored(&self, path: &Path) -> Result<(), StoreError>;

    /// `path` is about to be read: make the local copy the stored one.
    ///
    /// # Errors
    /// The stored file could not be fetched (a missing one is not an error: the read
    /// that follows reports it).
    fn load(&self, path: &Path) -> Result<(), StoreError>;

    /// Names in folder `dir` (files and folders; none when it is missing).
    fn names(&self, dir: &Path) -> Vec<String>;

    /// Names in folder `dir` as one listing gives them, without [`Backend::names`]'
    /// check that each run folder of a flow still has its manifest (a request per run
    /// on S3): for counting runs, where a cut-off prune's leftover only makes a count
    /// look stale until the next prune removes it.
    fn listed_names(&self, dir: &Path) -> Vec<String> {
        self.names(dir)
    }

    /// Whether folder `dir` exists (holds anything).
    fn is_dir(&self, dir: &Path) -> bool;

    /// Fetches every file below `dir` that is not there locally (for commands that walk
    /// a run folder whole, such as `verify`).
    ///
    /// # Errors
    /// A file could not be fetched.
    fn pull(&self, dir: &Path) -> Result<(), StoreError>;

    /// Removes folder `dir` and everything in it from the store (not the local copy).
    ///
    /// # Errors
    /// Something could not be removed.
    fn remove_all(&self, dir: &Path) -> Result<(), StoreError>;

    /// Run ids in flow folder `dir` that the store holds part of but that are not runs:
    /// what a prune or a run's creation that was cut off left (listings leave them out).
    /// The caller holds the flow's lock, so no run of it is being created. None locally:
    /// a run folder is renamed into place whole and moved out whole.
    fn leftover_runs(&self, _dir: &Path) -> Vec<String> {
        Vec::new()
    }

    /// File `path` (below `runs/`) was just removed locally: remove it from the store too
    /// (a file that is not stored is not an error).
    ///
    /// # Errors
    /// It could not be removed.
    fn removed(&self, path: &Path) -> Result<(), StoreError>;

    /// Takes the lock of `flow` whose runs live in `dir`.
    ///
    /// # Errors
    /// [`StoreError::Busy`] while another process holds it, or an I/O error.
    fn acquire(&self, dir: &Path, flow: &str) -> Result<FlowLock, StoreError>;

    /// Whether a process holds the lock of the flow whose runs live in `dir`.
    fn is_held(&self, dir: &Path) -> bool;

    /// Whether other hosts share this store: indexes are then rewritten only by the
    /// holder of the flow's lock, never by a reader rebuilding them.
    fn shared(&self) -> bool;

    /// Whether the index `.runs` of the flow folder `dir`, holding `count` ids, lists
    /// every run of it.
    fn index_complete(&self, dir: &Path, count: usize) -> bool;

    /// The S3 backend, when this is it.
    fn as_s3(&self) -> Option<&super::s3::S3> {
        None
    }
}

/// The local folder: the working copy is the store.
#[derive(Debug)]
pub(crate) struct Local;

impl Backend for Local {
    fn stored(&self, _path: &Path) -> Result<(), StoreError> {
        Ok(())
    }

    fn load(&self, _path: &Path) -> Result<(), StoreError> {
        Ok(())
    }

    fn names(&self, dir: &Path) -> Vec<String> {
        local_names(dir)
    }

    fn is_dir(&self, dir: &Path) -> bool {
        dir.is_dir()
    }

    fn pull(&self, _dir: &Path) -> Result<(), StoreError> {
        Ok(())
    }

    fn remove_all(&self, _dir: &Path) -> Result<(), StoreError> {
        Ok(())
    }

    fn removed(&self, _path: &Path) -> Result<(), StoreError> {
        Ok(())
    }

    fn acquire(&self, dir: &Path, flow: &str) -> Result<FlowLock, StoreError> {
        super::lock::acquire_file(dir, flow)
    }

    fn is_held(&self, dir: &Path) -> bool {
        super::lock::is_held_file(dir)
    }

    fn shared(&self) -> bool {
        false
    }

    fn index_complete(&self, dir: &Path, count: usize) -> bool {
        use std::os::unix::fs::MetadataExt as _;
        // A folder's link count is 2 plus its sub-folders: the runs, `dedupe/` and `.track/`.
        let Ok(meta) = std::fs::metadata(dir) else {
            return false;
        };
        let links = meta.nlink();
        let others = u64::from(dir.join(super::layout::DEDUPE).is_dir())
            + u64::from(dir.join(crate::track::INDEX_DIR).is_dir());
        links >= 2 && links - 2 == count as u64 + others
    }
}

/// Names in a local folder.
pub(crate) fn local_names(dir: &Path) -> Vec<String> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|e| e.file_name().into_string().ok())
        .collect()
}

static BACKEND: OnceLock<Box<dyn Backend>> = OnceLock::new();
static URL: OnceLock<String> = OnceLock::new();

/// The store URL [`select`] chose (from `--store` or `FLOWRUN_STORE`), for the commands
/// this process starts (the viewer's actions); none for the default local folder.
pub(crate) fn url() -> Option<&'static str> {
    URL.get().map(String::as_str)
}

/// The backend of this process (the local folder unless [`select`] chose another).
pub(crate) fn get() -> &'static dyn Backend {
    BACKEND.get_or_init(|| Box::new(Local)).as_ref()
}

/// Chooses the backend from `--store URL` or `FLOWRUN_STORE` (none: the local folder),
/// for the store whose working copy is `runs`. Called once, before anything is read.
///
/// # Errors
/// The URL is not one flowrun takes, or the S3 client cannot be set up.
pub(crate) fn select(url: Option<&str>, runs: &Path) -> Result<(), String> {
    let from_env = std::env::var("FLOWRUN_STORE").ok();
    let url = url.or(from_env.as_deref()).filter(|u| !u.is_empty());
    let Some(url) = url else {
        return Ok(());
    };
    let chosen: Box<dyn Backend> = if url.starts_with("s3://") {
        Box::new(super::s3::S3::new(url, runs)?)
    } else if let Some(path) = url.strip_prefix("file://") {
        if Path::new(path) != runs {
            return Err(format!(
                "store `{url}`: a local store is the project's runs/ folder ({}); use --root to choose another project",
                crate::names::display_path(runs)
            ));
        }
        Box::new(Local)
    } else {
        return Err(format!(
            "store `{url}`: not a store URL flowrun takes (s3://BUCKET/PREFIX)"
        ));
    };
    BACKEND
        .set(chosen)
        .map_err(|_| "the store was chosen twice".to_owned())?;
    let _ = URL.set(url.to_owned());
    Ok(())
}
