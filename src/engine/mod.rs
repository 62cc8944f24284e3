//! The engine: runs a flow's steps in order over their payloads and records every
//! payload in the run store. This is where steps and the store meet.

pub(crate) mod child_run;
mod commit;
mod failed;
mod parallel;
mod reuse;
mod run_dir;
mod step;
mod stream;
mod sync;

pub(crate) use reuse::{Recorded, Reuse};
use run_dir::{finish, interrupted, new_manifest, store_inputs};
use step::Cx;

use crate::flow::Flow;
use crate::steps::{self, BuildError, Resolver, Step};
use crate::store::manifest::{EditedFile, ReplayOf, RunError};
use crate::store::{
    FlowLock, Manifest, RunDir, RunStatus, StepRecord, StepStatus, Store, StoreError, TriggerKind,
    atomic,
};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// Everything a run needs besides the flow lock.
pub(crate) struct RunSpec<'a> {
    /// The project root.
    pub(crate) root: &'a Path,
    /// The flow to run.
    pub(crate) flow: &'a Flow,
    /// What started the run.
    pub(crate) trigger: TriggerKind,
    /// Initial payloads (stored under `input/`); none = the single payload `null`.
    pub(crate) inputs: Vec<Value>,
    /// Steps skipped in this run besides those the flow file skips (0-based).
    pub(crate) also_skip: Vec<usize>,
    /// For a replay.
    pub(crate) replay_of: Option<ReplayOf>,
    /// For a resume: the run it continues.
    pub(crate) resume_of: Option<String>,
    /// For a retry: the run it repeats.
    pub(crate) retry_of: Option<String>,
    /// For a resume: outputs already recorded by an earlier run, to reuse.
    pub(crate) reuse: Option<Reuse>,
    /// Where `${env:NAME}` values come from.
    pub(crate) env: &'a dyn Fn(&str) -> Option<String>,
    /// For a resume or retry with `--edited`: edited recorded files it uses.
    pub(crate) edited: Vec<EditedFile>,
    /// Whether `[notify]` is told how the run ended (not in `flowrun test`).
    pub(crate) notify: bool,
    /// Whether `on_error = { flow = … }` starts its child runs (not in `flowrun test`,
    /// where a child flow's connectors would act for real).
    pub(crate) error_children: bool,
    /// For a child run: the parent run, step and payload it came from.
    pub(crate) parent: Option<crate::store::manifest::ParentLink>,
    /// Whether [`Finished::outputs`] should hold the run's final payloads.
    pub(crate) keep_outputs: bool,
}

impl<'a> RunSpec<'a> {
    /// A plain run of `flow` started by `trigger` with `inputs` (none = `null`); the
    /// re-sync fields are left empty for the caller to fill in.
    pub(crate) fn new(
        root: &'a Path,
        flow: &'a Flow,
        trigger: TriggerKind,
        inputs: Vec<Value>,
        env: &'a dyn Fn(&str) -> Option<String>,
    ) -> RunSpec<'a> {
        RunSpec {
            root,
            flow,
            trigger,
            inputs,
            also_skip: Vec::new(),
            replay_of: None,
            resume_of: None,
            retry_of: None,
            reuse: None,
            env,
            edited: Vec::new(),
            notify: true,
            error_children: true,
            parent: None,
            keep_outputs: false,
        }
    }
}

/// Progress of a run, as it happens.
pub(crate) enum Event<'a> {
    /// The run folder exists.
    Started {
        /// The run id.
        run_id: &'a str,
        /// The run folder.
        dir: &'a Path,
    },
    /// A step was skipped.
    Skipped(&'a StepRecord),
    /// A step ended (successfully or not).
    StepEnded {
        /// The step's record.
        record: &'a StepRecord,
        /// How many input payloads it was given.
        inputs: usize,
    },
}

/// The outcome of a run.
#[derive(Debug)]
pub(crate) struct Finished {
    /// The run folder.
    pub(crate) dir: PathBuf,
    /// The final manifest.
    pub(crate) manifest: Manifest,
    /// The final payloads of a successful run, when [`RunSpec::keep_outputs`] asked.
    pub(crate) outputs: Vec<Value>,
}

/// Why a run could not start or could not be recorded.
#[derive(Debug, thiserror::Error)]
pub(crate) enum EngineError {
    /// A step could not be prepared (missing variable, unreadable file); nothing ran.
    #[error("{file}: {source}")]
    Prepare {
        /// The flow file, as shown to the user.
        file: String,
        /// What is wrong.
        source: BuildError,
    },
    /// The run store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Runs `spec` while holding the flow's `lock`, reporting progress to `events`.
///
/// # Errors
/// The run could not be prepared or recorded. A step failing is not an error: it is a
/// finished run with status `failure`.
pub(crate) fn run(
    store: &Store,
    lock: &mut FlowLock,
    spec: RunSpec<'_>,
    events: &mut dyn FnMut(Event<'_>),
) -> Result<Finished, EngineError> {
    let (flow, root, env, notify) = (spec.flow, spec.root, spec.env, spec.notify);
    let mut fin = run_steps(store, lock, spec, events)?;
    // The run's tracked values join the flow's index while the lock is still held; an
    // index that cannot be written is brought up to date by the next `find` (said, not
    // dropped: the run itself is recorded whole either way).
    if let Err(e) = crate::track::sync(store, &flow.name, Some(&fin.manifest.run_id)) {
        crate::commands::note(format!(
            "warning: the track index of flow `{}` was not updated ({e}); the next `flowrun find` brings it up to date",
            flow.name
        ));
    }
    if notify {
        crate::notify::send(root, flow, env, &mut fin);
    }
    Ok(fin)
}

#[allow(
    clippy::too_many_lines,
    reason = "the run's sequence in one place: settle, build, run or stream each step, finish"
)]
fn run_steps(
    store: &Store,
    lock: &mut FlowLock,
    spec: RunSpec<'_>,
    events: &mut dyn FnMut(Event<'_>),
) -> Result<Finished, EngineError> {
    let flow = spec.flow;
    let prepare = |source| EngineError::Prepare {
        file: flow.file(),
        source,
    };
    let mut resolver = Resolver::new(flow, spec.env).map_err(prepare)?;
    let secrets = std::sync::Arc::clone(&resolver.secrets);
    crate::secrets::remember(&secrets);
    let mut built: Vec<Box<dyn Step>> = Vec::with_capacity(flow.steps.len());
    for def in &flow.steps {
        built.push(steps::build(def, spec.root, &mut resolver).map_err(prepare)?);
    }
    for (def, step) in flow.steps.iter().zip(built.iter_mut()) {
        if let Some(state) = step.as_stateful() {
            state.set_seen_keys(store.dedupe_keys(&flow.name, &def.id)?);
        }
    }
    store.settle_previous(&flow.name, lock)?;

    let started = chrono::Utc::now();
    let run_id = crate::time::run_id(started);
    lock.set_holder(&run_id)?;
    let skipped: Vec<bool> = flow
        .steps
        .iter()
        .enumerate()
        .map(|(i, s)| s.skip || spec.also_skip.contains(&i))
        .collect();
    let manifest = new_manifest(flow, &run_id, started, &spec, &skipped);
    let mut run = RunDir::create(store, manifest, flow.source.as_bytes())?;
    events(Event::Started {
        run_id: &run_id,
        dir: &run.path,
    });

    let deadline = flow.settings.timeout.map(|t| Instant::now() + t);
    let _jq_deadline = crate::jq::limits::RunDeadline::set(deadline);
    let max = flow.settings.max_payload_bytes;
    let mut payloads = store_inputs(&mut run, spec.inputs, max, &secrets)?;
    let mut reuse = spec.reuse;
    let run_dir = run.path.clone();
    let mut cx = Cx {
        root: spec.root,
        flow,
        run_id: &run_id,
        run_dir: &run_dir,
        deadline,
        max,
        secrets: &secrets,
        error_children: spec.error_children,
        streamed: None,
        hold: if std::env::var_os("FLOWRUN_HOLD_MB").is_some() {
            commit::hold_budget()
        } else {
            u64::MAX
        },
    };

    for i in 0..built.len() {
        if skipped[i] {
            let rec = &mut run.manifest.steps[i];
            rec.status = StepStatus::Skipped;
            events(Event::Skipped(rec));
            continue;
        }
        if let Some(signal) = crate::child::stop_signal() {
            return interrupted(run, i, signal, None, &secrets);
        }
        let inputs = payloads.len();
        let result = cx.run_or_stream(&mut run, i, &mut built, &skipped, payloads, reuse.as_mut());
        let failure = match result {
            Ok(next) => {
                payloads = next;
                None
            }
            // A step cut short by a stop is not a failure: the run is interrupted, and
            // `resume` continues it with the payload the step was on.
            Err(failure) if crate::child::stop_signal().is_some() => {
                let signal = crate::child::stop_signal().unwrap_or_default();
                return interrupted(run, i, signal, failure.input, &secrets);
            }
            Err(failure) => {
                let message = secrets.mask(&failure.message).into_owned();
                let rec = &mut run.manifest.steps[i];
                rec.status = StepStatus::Failure;
                rec.error = Some(message.clone());
                rec.finished_at = Some(crate::time::now());
                run.manifest.error = Some(RunError {
                    step: Some(flow.steps[i].id.clone()),
                    message,
                    failed_input: failure.input,
                });
                payloads = Vec::new();
                Some(())
            }
        };
        debug_rss(&flow.steps[i].id);
        events(Event::StepEnded {
            record: &run.manifest.steps[i],
            inputs,
        });
        if failure.is_some() {
            return finish(run, RunStatus::Failure);
        }
    }
    // Only a successful (or partly successful) run marks dedupe keys as seen.
    for (def, step) in flow.steps.iter().zip(built.iter_mut()) {
        if let Some(state) = step.as_stateful() {
            store.add_dedupe_keys(&flow.name, &def.id, state.take_new_keys())?;
        }
    }
    if spec.keep_outputs {
        let mut outputs = Vec::with_capacity(payloads.len());
        for p in payloads {
            match p.into_value(&run_dir) {
                Ok(v) => outputs.push(v),
                Err(f) => {
                    run.manifest.error = Some(RunError {
                        step: None,
                        message: f.message,
                        failed_input: f.input,
                    });
                    return finish(run, RunStatus::Failure);
                }
            }
        }
        let mut done = finish(run, RunStatus::Success)?;
        done.outputs = outputs;
        return Ok(done);
    }
    // The last step's outputs can be large; freeing them is no reason to keep the
    // caller (and the command line) waiting.
    std::thread::spawn(move || drop(payloads));
    // Payloads a step went on past (`on_error`) make the run partly successful.
    let status = if run.manifest.failed_count() > 0 {
        RunStatus::Partial
    } else {
        RunStatus::Success
    };
    finish(run, status)
}

/// With `FLOWRUN_DEBUG_RSS` set, prints the process's memory after each step (for the
/// benchmarks in `bench/`).
fn debug_rss(step: &str) {
    if std::env::var_os("FLOWRUN_DEBUG_RSS").is_none() {
        return;
    }
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .unwrap_or_default()
            .to_owned()
    };
    eprintln!("after step {step}: {} {}", field("VmHWM"), field("VmRSS"));
}
