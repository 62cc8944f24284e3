//! Pure steps on several threads: payloads are handled and encoded side by side, and
//! their outputs are numbered and recorded strictly in input order.

use super::Recorded;
use super::commit::Committer;
use super::failed::Kept;
use super::step::{Cx, Encoded, Failure, Flowing};
use crate::steps::PureStep;
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Mutex, mpsc};

pub(crate) use crate::cores::threads;

/// An input waiting for a worker, with the outputs an earlier run recorded for it.
type Slot = Mutex<Option<(Flowing, Option<Vec<Recorded>>)>>;

/// An input's outcome: its outputs (and whether they were reused), or the step's error
/// on it (see `on_error`).
type Done = (usize, Handled);

/// Outputs (or the step's error on the input) and whether they were reused.
type Handled = Result<(Result<Encoded, String>, bool), Failure>;

/// Runs `step` over `todo` (input index, payload) on `threads` threads.
#[allow(
    clippy::too_many_arguments,
    reason = "the pieces of one step's state, passed through"
)]
pub(crate) fn run(
    step: &dyn PureStep,
    passes: bool,
    todo: Vec<(usize, Flowing, Option<Vec<Recorded>>)>,
    threads: usize,
    cx: &Cx<'_>,
    dir: &Path,
    commit: &mut Committer<'_>,
) -> Result<(), Failure> {
    let count = todo.len();
    let sources: Vec<Option<String>> = todo.iter().map(|(_, f, _)| f.file.clone()).collect();
    let mut kept = Kept::all(todo.iter().map(|(_, f, _)| f), &cx.flow.steps[commit.i]);
    let slots: Vec<Slot> = todo
        .into_iter()
        .map(|(_, f, old)| Mutex::new(Some((f, old))))
        .collect();
    let next = AtomicUsize::new(0);
    let stop = AtomicBool::new(false);
    let (tx, rx) = mpsc::sync_channel::<Done>(threads * 2);

    let jq_deadline = crate::jq::limits::run_deadline();
    std::thread::scope(|scope| {
        let mut started = 0;
        let mut spawn_error = None;
        for _ in 0..threads.min(count) {
            let tx = tx.clone();
            let (slots, next, stop) = (&slots, &next, &stop);
            let worker = std::thread::Builder::new().stack_size(crate::cores::STEP_STACK);
            let spawned = worker.spawn_scoped(scope, move || {
                crate::jq::limits::set_run_deadline(jq_deadline);
                loop {
                    if stop.load(Ordering::Relaxed) {
                        break;
                    }
                    let k = next.fetch_add(1, Ordering::Relaxed);
                    if k >= count {
                        break;
                    }
                    let taken = slots[k].lock().map(|mut s| s.take()).ok().flatten();
                    let Some((input, old)) = taken else { break };
                    let result = match old {
                        Some(old) => cx
                            .reencode(dir, &old, input.file.as_ref())
                            .map(|e| (Ok(e), true)),
                        None => handle(step, passes, input, cx, dir).map(|e| (e, false)),
                    };
                    if tx.send((k, result)).is_err() {
                        break;
                    }
                }
            });
            match spawned {
                Ok(_) => started += 1,
                Err(e) => spawn_error = Some(e),
            }
        }
        drop(tx);
        if started == 0 {
            return Err(Failure {
                message: format!(
                    "cannot start a thread: {}",
                    spawn_error.map(|e| e.to_string()).unwrap_or_default()
                ),
                input: None,
            });
        }

        // Commit in order; results that arrive early wait in `ready`.
        let mut ready: BTreeMap<usize, Handled> = BTreeMap::new();
        let mut want = 0;
        let mut outcome = Ok(());
        for (k, result) in rx {
            ready.insert(k, result);
            while let Some(result) = ready.remove(&want) {
                let source = sources[want].as_deref();
                let step_result = result.and_then(|(encoded, reused)| {
                    if reused {
                        commit.run.manifest.steps[commit.i].reused += 1;
                    }
                    match encoded {
                        Ok(encoded) => commit.commit(encoded, source),
                        Err(message) => {
                            let kept = kept
                                .get_mut(want)
                                .and_then(Option::take)
                                .unwrap_or_else(|| Kept::file(sources[want].clone()));
                            cx.payload_failed(commit, kept, message)
                        }
                    }
                });
                if let Err(mut f) = step_result {
                    if f.input.is_none() {
                        f.input.clone_from(&sources[want]);
                    }
                    outcome = Err(f);
                    stop.store(true, Ordering::Relaxed);
                    break;
                }
                want += 1;
            }
            if outcome.is_err() {
                break;
            }
        }
        // Dropping the receiver ends the workers; uncommitted temporary files are removed
        // as their handles drop.
        outcome
    })
}

fn handle(
    step: &dyn PureStep,
    passes: bool,
    input: Flowing,
    cx: &Cx<'_>,
    dir: &Path,
) -> Result<Result<Encoded, String>, Failure> {
    if let Some(f) = cx.timed_out() {
        return Err(f);
    }
    let passed = passes
        .then(|| input.file.clone().zip(input.enc.clone()))
        .flatten();
    let value = input.into_value(cx.run_dir)?;
    let outputs = match step.apply(value) {
        Ok(outputs) => outputs,
        Err(e) => return Ok(Err(e.message)),
    };
    // One thread per payload here: the pool is already busy with other payloads.
    cx.encode(
        dir,
        outputs,
        passed.as_ref().map(|(f, e)| (f.as_str(), e)),
        1,
    )
    .map(Ok)
    .map_err(|e| Failure::store(&e, None))
}

/// Work for the process's worker threads; it owns everything it touches.
type Job = Box<dyn FnOnce() + Send + 'static>;

/// The process's worker threads for [`spawn`]: [`threads`] of them, started once, on
/// first use (`None` when none could be started).
fn workers() -> Option<&'static Mutex<mpsc::Sender<Job>>> {
    static WORKERS: std::sync::OnceLock<Option<Mutex<mpsc::Sender<Job>>>> =
        std::sync::OnceLock::new();
    WORKERS
        .get_or_init(|| {
            let (work, jobs) = mpsc::channel::<Job>();
            let jobs = std::sync::Arc::new(Mutex::new(jobs));
            let started = (0..threads())
                .filter(|_| {
                    let jobs = std::sync::Arc::clone(&jobs);
                    std::thread::Builder::new()
                        .name("work".into())
                        .stack_size(crate::cores::STEP_STACK)
                        .spawn(move || {
                            loop {
                                let job = jobs.lock().ok().and_then(|rx| rx.recv().ok());
                                let Some(job) = job else { break };
                                job();
                            }
                        })
                        .is_ok()
                })
                .count();
            (started > 0).then(|| Mutex::new(work))
        })
        .as_ref()
}

/// Runs `job` on the process's worker threads (here and now when there are none), so
/// that work handed out piece by piece creates no thread per piece.
pub(crate) fn spawn(job: impl FnOnce() + Send + 'static) {
    let job: Job = Box::new(job);
    let Some(workers) = workers() else {
        return job();
    };
    let unsent = match workers.lock() {
        Ok(w) => w.send(job).err().map(|e| e.0),
        Err(_) => Some(job),
    };
    if let Some(job) = unsent {
        job();
    }
}
