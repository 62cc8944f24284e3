//! The per-flow lock `runs/<flow>/.lock`: one run of a flow at a time, across processes.

use super::StoreError;
use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Seek, SeekFrom, Write};
use std::os::unix::fs::OpenOptionsExt as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Holding this means no other run of the flow is in progress. Released on drop.
#[derive(Debug)]
pub(crate) struct FlowLock {
    held: Held,
    /// What the lock file said when it was taken: the id of the previous holder's run.
    pub(crate) previous: Option<String>,
}

/// What holds the lock: the local lock file, or a lease on the S3 lock object.
#[derive(Debug)]
enum Held {
    File { file: File, path: PathBuf },
    Lease(super::s3::Lease),
}

impl FlowLock {
    /// A lock held through a lease on a shared store.
    pub(crate) fn leased(lease: super::s3::Lease, previous: Option<String>) -> FlowLock {
        FlowLock {
            held: Held::Lease(lease),
            previous,
        }
    }
}

/// How long to keep trying when the lock is briefly taken by a reader checking it.
const PATIENCE: Duration = Duration::from_millis(250);

/// Opening never blocks, should a FIFO sit where the lock file belongs (it is refused).
const NONBLOCK: i32 = rustix::fs::OFlags::NONBLOCK.bits().cast_signed();

/// Takes the lock of `flow` whose runs live in `dir`.
///
/// # Errors
/// [`StoreError::Busy`] when another process holds it, or an I/O error.
pub(crate) fn acquire_file(dir: &Path, flow: &str) -> Result<FlowLock, StoreError> {
    std::fs::create_dir_all(dir).map_err(|e| StoreError::io(dir, e))?;
    let path = dir.join(super::layout::LOCK);
    let mut file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .custom_flags(NONBLOCK)
        .open(&path)
        .map_err(|e| StoreError::io(&path, e))?;
    let kind = file
        .metadata()
        .map_err(|e| StoreError::io(&path, e))?
        .file_type();
    if !kind.is_file() {
        return Err(StoreError::NotRegular {
            path,
            what: super::recorded::describe(kind),
        });
    }
    let start = Instant::now();
    loop {
        match file.try_lock() {
            Ok(()) => break,
            Err(TryLockError::WouldBlock) if start.elapsed() < PATIENCE => {
                std::thread::sleep(Duration::from_millis(10));
            }
            Err(TryLockError::WouldBlock) => {
                let mut holder = String::new();
                let _ = file.read_to_string(&mut holder);
                let holder = holder.trim();
                return Err(StoreError::Busy {
                    flow: flow.to_owned(),
                    holder: (!holder.is_empty()).then(|| holder.to_owned()),
                });
            }
            Err(TryLockError::Error(e)) => return Err(StoreError::io(&path, e)),
        }
    }
    let mut previous = String::new();
    let _ = file.read_to_string(&mut previous);
    let previous = previous.trim().to_owned();
    Ok(FlowLock {
        held: Held::File { file, path },
        previous: (!previous.is_empty()).then_some(previous),
    })
}

impl FlowLock {
    /// Records which run holds the lock (read by the next holder and by `busy` messages).
    ///
    /// # Errors
    /// The lock file could not be written.
    pub(crate) fn set_holder(&mut self, run_id: &str) -> Result<(), StoreError> {
        match &mut self.held {
            Held::File { file, path } => file
                .set_len(0)
                .and_then(|()| file.seek(SeekFrom::Start(0)))
                .and_then(|_| file.write_all(run_id.as_bytes()))
                .and_then(|()| file.sync_data())
                .map_err(|e| StoreError::io(path, e)),
            Held::Lease(lease) => lease.set_holder(run_id),
        }
    }
}

/// Whether a process holds the lock of the flow whose runs live in `dir`.
#[must_use]
pub(crate) fn is_held_file(dir: &Path) -> bool {
    let Ok(file) = OpenOptions::new()
        .read(true)
        .custom_flags(NONBLOCK)
        .open(dir.join(super::layout::LOCK))
    else {
        return false;
    };
    if !file.metadata().is_ok_and(|m| m.is_file()) {
        return false;
    }
    match file.try_lock_shared() {
        Ok(()) => false,
        Err(TryLockError::WouldBlock) => true,
        Err(TryLockError::Error(_)) => false,
    }
}
