//! Background syncing of a step's output files: each file is handed to one small pool
//! of threads, started once per process, as soon as it is written, so the disk writes
//! overlap the work on the next payloads and a flush only waits for what is still
//! outstanding.

use crate::store::StoreError;
use std::fs::File;
use std::path::PathBuf;
use std::sync::mpsc::{Receiver, Sender, channel};
use std::sync::{Arc, Mutex, OnceLock};

/// Threads syncing files side by side (the file system batches their journal commits).
const THREADS: usize = 4;

/// A file to sync, and where to report the outcome.
type Job = (File, PathBuf, Sender<Result<(), StoreError>>);

/// The process's sync threads (`None` when none could be started: files are then
/// synced where they are submitted).
fn pool() -> Option<&'static Mutex<Sender<Job>>> {
    static POOL: OnceLock<Option<Mutex<Sender<Job>>>> = OnceLock::new();
    POOL.get_or_init(|| {
        let (work, jobs) = channel::<Job>();
        let jobs = Arc::new(Mutex::new(jobs));
        let started = (0..THREADS)
            .filter(|_| {
                let jobs = Arc::clone(&jobs);
                std::thread::Builder::new()
                    .name("sync".into())
                    .spawn(move || {
                        loop {
                            let job = jobs.lock().ok().and_then(|rx| rx.recv().ok());
                            let Some((file, path, report)) = job else {
                                break;
                            };
                            let synced = file.sync_data().map_err(|e| StoreError::io(&path, e));
                            // The step that asked may have ended early; nobody waits then.
                            let _ = report.send(synced);
                        }
                    })
                    .is_ok()
            })
            .count();
        (started > 0).then(|| Mutex::new(work))
    })
    .as_ref()
}

/// Syncs one step's files' data in the background, on the process's sync threads.
pub(super) struct Syncer {
    report: Sender<Result<(), StoreError>>,
    done: Receiver<Result<(), StoreError>>,
    outstanding: usize,
}

impl Syncer {
    pub(crate) fn new() -> Syncer {
        let (report, done) = channel();
        Syncer {
            report,
            done,
            outstanding: 0,
        }
    }

    /// Starts syncing `file` (written at `path`); syncs it right away when there are
    /// no sync threads.
    pub(crate) fn submit(&mut self, file: File, path: PathBuf) -> Result<(), StoreError> {
        let Some(pool) = pool() else {
            return file.sync_data().map_err(|e| StoreError::io(&path, e));
        };
        let sent = pool
            .lock()
            .map_err(|_| ())
            .and_then(|work| work.send((file, path, self.report.clone())).map_err(|_| ()));
        if sent.is_ok() {
            self.outstanding += 1;
            return Ok(());
        }
        Err(StoreError::io(
            &PathBuf::from("."),
            std::io::Error::other("the sync threads stopped"),
        ))
    }

    /// Waits until every submitted file is synced; the first error, if any.
    pub(crate) fn wait(&mut self) -> Result<(), StoreError> {
        let mut first = Ok(());
        while self.outstanding > 0 {
            let result = self.done.recv().unwrap_or_else(|_| {
                Err(StoreError::io(
                    &PathBuf::from("."),
                    std::io::Error::other("the sync threads stopped"),
                ))
            });
            self.outstanding -= 1;
            if first.is_ok() {
                first = result;
            }
        }
        first
    }
}
