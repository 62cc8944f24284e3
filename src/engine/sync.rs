//! Background syncing of a step's output files: each file is handed to a small pool of
//! threads as soon as it is written, so the disk writes overlap the work on the next
//! payloads and a flush only waits for what is still outstanding.

use crate::store::StoreError;
use std::fs::File;
use std::path::PathBuf;
use std::sync::mpsc::{Receiver, Sender, channel};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

/// Threads syncing files side by side (the file system batches their journal commits).
const THREADS: usize = 4;

/// A pool that syncs files' data in the background.
pub(super) struct Syncer {
    work: Option<Sender<(File, PathBuf)>>,
    done: Receiver<Result<(), StoreError>>,
    outstanding: usize,
    threads: Vec<JoinHandle<()>>,
}

impl Syncer {
    pub(crate) fn new() -> Syncer {
        let (work, jobs) = channel::<(File, PathBuf)>();
        let (report, done) = channel();
        let jobs = Arc::new(Mutex::new(jobs));
        let threads = (0..THREADS)
            .filter_map(|_| {
                let (jobs, report) = (Arc::clone(&jobs), report.clone());
                std::thread::Builder::new()
                    .name("sync".into())
                    .spawn(move || {
                        loop {
                            let job = jobs.lock().ok().and_then(|rx| rx.recv().ok());
                            let Some((file, path)) = job else { break };
                            let synced = file.sync_data().map_err(|e| StoreError::io(&path, e));
                            if report.send(synced).is_err() {
                                break;
                            }
                        }
                    })
                    .ok()
            })
            .collect();
        Syncer {
            work: Some(work),
            done,
            outstanding: 0,
            threads,
        }
    }

    /// Starts syncing `file` (written at `path`); syncs it right away when the pool has
    /// no threads.
    pub(crate) fn submit(&mut self, file: File, path: PathBuf) -> Result<(), StoreError> {
        match &self.work {
            Some(work) if !self.threads.is_empty() => {
                if work.send((file, path)).is_ok() {
                    self.outstanding += 1;
                    return Ok(());
                }
                Err(StoreError::io(
                    &PathBuf::from("."),
                    std::io::Error::other("the sync threads stopped"),
                ))
            }
            _ => file.sync_data().map_err(|e| StoreError::io(&path, e)),
        }
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

impl Drop for Syncer {
    fn drop(&mut self) {
        self.work = None;
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}
