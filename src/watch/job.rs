//! One triggered run on its own thread: take the flow's lock, claim the dropped file,
//! run the engine, move the file on, and tell the runner loop when it is over.

use super::Msg;
use super::inbox::{self, Outcome};
use super::log::{Line, Log};
use crate::engine::{self, Event, RunSpec};
use crate::flow::{Flow, display_path};
use crate::store::{RunStatus, Store, StoreError, TriggerKind};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::Sender;
use std::thread::JoinHandle;

/// What started the run.
#[derive(Debug, Clone)]
pub(crate) enum Work {
    /// An `every` or `cron` tick.
    Tick,
    /// A dropped file, still at its place in the inbox.
    File(PathBuf),
}

/// How a job ended, as the runner loop needs to know.
#[derive(Debug, Clone)]
pub(crate) enum End {
    /// A run took place, or the file was dealt with without one.
    Ran,
    /// The flow's lock is held by another process (run `holder`); nothing was touched.
    Busy {
        /// The run holding the lock, if known.
        holder: Option<String>,
    },
    /// The runner is stopping: nothing was started.
    Cancelled,
}

/// Everything a job needs, moved into its thread.
pub(crate) struct Job {
    /// The project root.
    pub(crate) root: PathBuf,
    /// The run store.
    pub(crate) store: Store,
    /// The version of the flow in force when the job started.
    pub(crate) flow: Arc<Flow>,
    /// What started it.
    pub(crate) work: Work,
    /// The log.
    pub(crate) log: Log,
    /// Set once SIGINT/SIGTERM came: start nothing new.
    pub(crate) stopping: Arc<AtomicBool>,
    /// The runner loop.
    pub(crate) tx: Sender<Msg>,
}

/// Tells the runner loop that the job is over, even if it panicked.
struct Report {
    tx: Sender<Msg>,
    flow: String,
    end: End,
}

impl Drop for Report {
    fn drop(&mut self) {
        let _ = self.tx.send(Msg::Done {
            flow: std::mem::take(&mut self.flow),
            end: self.end.clone(),
        });
    }
}

/// Starts `job` on a thread of its own.
///
/// # Errors
/// The thread could not be started.
pub(crate) fn spawn(job: Job) -> std::io::Result<JoinHandle<()>> {
    std::thread::Builder::new()
        .name(format!("run {}", job.flow.name))
        .stack_size(crate::cores::STEP_STACK)
        .spawn(move || {
            let mut report = Report {
                tx: job.tx.clone(),
                flow: job.flow.name.clone(),
                end: End::Ran,
            };
            report.end = job.run();
        })
}

impl Job {
    fn run(&self) -> End {
        let flow = &self.flow;
        let mut lock = match self.store.lock(&flow.name) {
            Ok(lock) => lock,
            Err(StoreError::Busy { holder, .. }) => return End::Busy { holder },
            Err(e) => {
                self.log
                    .emit(Line::warn("error", format!("cannot start a run: {e}")).flow(&flow.name));
                return End::Ran;
            }
        };
        if self.stopping.load(Ordering::SeqCst) {
            return End::Cancelled;
        }
        let (inputs, claimed) = match &self.work {
            Work::Tick => (Vec::new(), None),
            Work::File(file) => match self.claim(file) {
                Some((value, claimed)) => (vec![value], Some((file.as_path(), claimed))),
                None => return End::Ran,
            },
        };
        let trigger = match self.work {
            Work::Tick => TriggerKind::Schedule,
            Work::File(_) => TriggerKind::Watch,
        };
        let env = |name: &str| std::env::var(name).ok();
        let spec = RunSpec::new(&self.root, flow, trigger, inputs, &env);
        let mut on_event = |event: Event<'_>| {
            if let Event::Started { run_id, dir } = event {
                self.started(
                    run_id,
                    dir,
                    trigger,
                    claimed.as_ref().map(|(file, _)| *file),
                );
            }
        };
        // A panic in the run is a bug; contained, it still moves the file on and frees
        // the flow instead of leaving both stuck until the next restart.
        let result =
            crate::panic::quietly(|| engine::run(&self.store, &mut lock, spec, &mut on_event));
        let outcome = match result {
            Ok(Ok(fin)) => self.finished(&fin),
            Ok(Err(e)) => {
                self.log.emit(
                    Line::warn(
                        "run_error",
                        format!("the run could not be started or recorded: {e}"),
                    )
                    .flow(&flow.name),
                );
                Outcome::Failed
            }
            Err(panic) => {
                self.log.emit(
                    Line::warn(
                        "run_error",
                        format!(
                            "the run stopped on an internal error (a bug in flowrun; please report it): {panic}"
                        ),
                    )
                    .flow(&flow.name),
                );
                Outcome::Failed
            }
        };
        if let Some((file, claimed)) = claimed {
            self.settle(file, &claimed, outcome);
        }
        End::Ran
    }

    /// Moves `file` into `.processing/` and reads it. `None` when there is nothing to run:
    /// the file vanished, could not be moved, or is not JSON (then it went to `failed/`).
    fn claim(&self, file: &Path) -> Option<(serde_json::Value, PathBuf)> {
        let name = &self.flow.name;
        let claimed = match inbox::claim(file) {
            Ok(c) => c,
            // Taken by someone else between the poll and now: theirs.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return None,
            Err(e) => {
                self.log.emit(
                    Line::warn(
                        "error",
                        format!(
                            "{}: cannot move it into {}/: {e}",
                            display_path(file),
                            inbox::PROCESSING
                        ),
                    )
                    .flow(name)
                    .field("file", display_path(file)),
                );
                return None;
            }
        };
        match inbox::read_payload(&claimed, &display_path(file)) {
            Ok(value) => Some((value, claimed)),
            Err(message) => {
                self.log.emit(
                    Line::warn("file_invalid", format!("{message}; not run"))
                        .flow(name)
                        .field("file", display_path(file)),
                );
                self.settle(file, &claimed, Outcome::Failed);
                None
            }
        }
    }

    fn started(&self, run_id: &str, dir: &Path, trigger: TriggerKind, file: Option<&Path>) {
        let why = match file {
            Some(f) => format!("{trigger}: {}", display_path(f)),
            None => trigger.to_string(),
        };
        let mut line = Line::info(
            "run_started",
            format!("run {run_id} started ({why}) in {}", display_path(dir)),
        )
        .flow(&self.flow.name)
        .field("run_id", run_id)
        .field("trigger", trigger.to_string());
        if let Some(f) = file {
            line = line.field("file", display_path(f));
        }
        self.log.emit(line);
        let _ = self.tx.send(Msg::Started {
            flow: self.flow.name.clone(),
            run_id: run_id.to_owned(),
        });
    }

    /// Logs how the run's notifications went.
    fn log_notifications(&self, m: &crate::store::Manifest) {
        for n in &m.notifications {
            let line = match &n.error {
                Some(e) => Line::warn(
                    "notify_failed",
                    format!(
                        "notification of run {} to {} failed after {} attempts: {e}",
                        m.run_id, n.target, n.attempts
                    ),
                ),
                None => Line::info(
                    "notified",
                    format!("run {}: notified {}", m.run_id, n.target),
                ),
            };
            self.log.emit(
                line.flow(&self.flow.name)
                    .field("run_id", m.run_id.as_str())
                    .field("target", n.target.as_str()),
            );
        }
    }

    fn finished(&self, fin: &engine::Finished) -> Outcome {
        let m = &fin.manifest;
        self.log_notifications(m);
        let took = m
            .elapsed()
            .map(|d| format!(" in {:.2}s", d.as_secs_f64()))
            .unwrap_or_default();
        let base = |line: Line| {
            line.flow(&self.flow.name)
                .field("run_id", m.run_id.as_str())
                .field("status", m.status.to_string())
        };
        if m.status == RunStatus::Success {
            self.log.emit(base(Line::info(
                "run_finished",
                format!("run {} succeeded{took}", m.run_id),
            )));
            return Outcome::Done;
        }
        // The run went to its end with some payloads failed (`on_error`): the dropped
        // file went through but for those, which are re-synced from the run's
        // `failed/` folders, not by dropping the file again.
        if m.status == RunStatus::Partial {
            let failed: Vec<String> = m
                .steps
                .iter()
                .flat_map(|s| s.failed.iter())
                .map(|f| display_path(&fin.dir.join(&f.payload.file)))
                .collect();
            let hints: Vec<String> = crate::hint::ways_on(&self.flow, fin)
                .into_iter()
                .map(|h| h.command)
                .collect();
            let next = hints
                .first()
                .map(|h| format!("; continue it with `{h}`"))
                .unwrap_or_default();
            self.log.emit(base(
                Line::warn(
                    "run_partial",
                    format!(
                        "run {} ended partial{took}: {} payload{} failed ({}){next}",
                        m.run_id,
                        failed.len(),
                        crate::names::plural(failed.len()),
                        failed.join(", ")
                    ),
                )
                .field("failed_payloads", failed)
                .field("hints", hints),
            ));
            return Outcome::Done;
        }
        let (step, message, input) = m.error.as_ref().map_or((None, "", None), |e| {
            (
                e.step.as_deref(),
                e.message.as_str(),
                e.failed_input.as_deref(),
            )
        });
        let at = step.map(|s| format!(" at step `{s}`")).unwrap_or_default();
        if m.status == RunStatus::Interrupted {
            self.log.emit(base(
                Line::warn(
                    "run_interrupted",
                    format!(
                        "run {} was interrupted{at}: {message}; `flowrun resume {}` continues it",
                        m.run_id, m.run_id
                    ),
                )
                .field("step", step),
            ));
            return Outcome::Failed;
        }
        let payload = input
            .map(|i| format!(" (failed payload: {})", display_path(&fin.dir.join(i))))
            .unwrap_or_default();
        let hints = crate::hint::ways_on(&self.flow, fin);
        let next = hints
            .first()
            .map(|h| format!("; continue it with `{}`", h.command))
            .unwrap_or_default();
        let text = format!(
            "run {} failed{took}{at}: {message}{payload}{next}",
            m.run_id
        );
        let hints: Vec<String> = hints.into_iter().map(|h| h.command).collect();
        self.log.emit(base(
            Line::warn("run_failed", text)
                .field("step", step)
                .field("error", message)
                .field("failed_input", input)
                .field("hints", hints),
        ));
        Outcome::Failed
    }

    fn settle(&self, file: &Path, claimed: &Path, outcome: Outcome) {
        let name = &self.flow.name;
        match inbox::settle(claimed, outcome) {
            Ok(to) => self.log.emit(
                Line::info(
                    "file_moved",
                    format!("moved {} to {}", display_path(file), display_path(&to)),
                )
                .flow(name)
                .field("file", display_path(file))
                .field("to", display_path(&to)),
            ),
            Err(e) => self.log.emit(
                Line::warn(
                    "error",
                    format!(
                        "cannot move {} out of {}/: {e}; it stays there and will be treated as cut off at the next start",
                        display_path(claimed),
                        inbox::PROCESSING
                    ),
                )
                .flow(name)
                .field("file", display_path(claimed)),
            ),
        }
    }
}
