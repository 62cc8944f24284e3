//! The engine: runs a flow's steps in order over their payloads and records every
//! payload in the run store. This is where steps and the store meet.

mod parallel;
mod reuse;

pub use reuse::{Recorded, Reuse};

use crate::flow::Flow;
use crate::steps::{self, BuildError, Resolver, Step, StepCx, StepError};
use crate::store::manifest::{ReplayOf, RunError};
use crate::store::payload::{self, Pending};
use crate::store::{
    FlowLock, Manifest, PayloadRecord, RunDir, RunStatus, StepRecord, StepStatus, Store,
    StoreError, TriggerKind, atomic,
};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Everything a run needs besides the flow lock.
pub struct RunSpec<'a> {
    /// The project root.
    pub root: &'a Path,
    /// The flow to run.
    pub flow: &'a Flow,
    /// What started the run.
    pub trigger: TriggerKind,
    /// Initial payloads (stored under `input/`); none = the single payload `null`.
    pub inputs: Vec<Value>,
    /// Steps skipped in this run besides those the flow file skips (0-based).
    pub also_skip: Vec<usize>,
    /// For a replay.
    pub replay_of: Option<ReplayOf>,
    /// For a resume: the run it continues.
    pub resume_of: Option<String>,
    /// For a retry: the run it repeats.
    pub retry_of: Option<String>,
    /// For a resume: outputs already recorded by an earlier run, to reuse.
    pub reuse: Option<Reuse>,
    /// Where `${env:NAME}` values come from.
    pub env: &'a dyn Fn(&str) -> Option<String>,
}

/// Progress of a run, as it happens.
pub enum Event<'a> {
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
pub struct Finished {
    /// The run folder.
    pub dir: PathBuf,
    /// The final manifest.
    pub manifest: Manifest,
}

/// Why a run could not start or could not be recorded.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// A step could not be prepared (missing variable, unreadable file); nothing ran.
    #[error(transparent)]
    Prepare(#[from] BuildError),
    /// The run store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A payload on its way from one step to the next.
struct Flowing {
    value: Value,
    /// Its file in this run, relative to the run folder (`None` for the implicit start).
    file: Option<String>,
    /// blake3 of its pretty JSON, when known.
    hash: Option<String>,
}

/// Runs `spec` while holding the flow's `lock`, reporting progress to `events`.
///
/// # Errors
/// The run could not be prepared or recorded. A step failing is not an error: it is a
/// finished run with status `failure`.
pub fn run(
    store: &Store,
    lock: &mut FlowLock,
    spec: RunSpec<'_>,
    events: &mut dyn FnMut(Event<'_>),
) -> Result<Finished, EngineError> {
    let flow = spec.flow;
    let mut resolver = Resolver::new(spec.env);
    let mut built: Vec<Box<dyn Step>> = Vec::with_capacity(flow.steps.len());
    for def in &flow.steps {
        built.push(steps::build(def, spec.root, &mut resolver)?);
    }
    let secrets = resolver.secrets;
    for (def, step) in flow.steps.iter().zip(built.iter_mut()) {
        if def.kind() == "dedupe" {
            step.set_seen_keys(store.dedupe_keys(&flow.name, &def.id)?);
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
    let manifest = new_manifest(flow, &run_id, started, &spec);
    let mut run = RunDir::create(store, manifest, flow.source.as_bytes())?;
    events(Event::Started {
        run_id: &run_id,
        dir: &run.path,
    });

    let deadline = flow.settings.timeout.map(|t| Instant::now() + t);
    let max = flow.settings.max_payload_bytes;
    let mut payloads = store_inputs(&mut run, spec.inputs, max, &secrets)?;
    let mut reuse = spec.reuse;
    let mut cx = Cx {
        root: spec.root,
        flow,
        run_id: &run_id,
        deadline,
        max,
        secrets: &secrets,
    };

    for (i, step) in built.iter_mut().enumerate() {
        if skipped[i] {
            let rec = &mut run.manifest.steps[i];
            rec.status = StepStatus::Skipped;
            events(Event::Skipped(rec));
            continue;
        }
        let inputs = payloads.len();
        let result = cx.run_step(&mut run, i, step.as_mut(), payloads, reuse.as_mut());
        let failure = match result {
            Ok(next) => {
                payloads = next;
                None
            }
            Err(failure) => {
                let message = mask(&failure.message, &secrets);
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
        if std::env::var_os("FLOWRUN_DEBUG_RSS").is_some() {
            let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
            let hwm = status
                .lines()
                .find(|l| l.starts_with("VmHWM"))
                .unwrap_or_default();
            let rss = status
                .lines()
                .find(|l| l.starts_with("VmRSS"))
                .unwrap_or_default();
            eprintln!("after step {}: {hwm} {rss}", flow.steps[i].id);
        }
        events(Event::StepEnded {
            record: &run.manifest.steps[i],
            inputs,
        });
        if failure.is_some() {
            return finish(run, RunStatus::Failure);
        }
    }
    // Only a successful run marks dedupe keys as seen.
    for (def, step) in flow.steps.iter().zip(built.iter_mut()) {
        store.add_dedupe_keys(&flow.name, &def.id, step.take_new_keys())?;
    }
    finish(run, RunStatus::Success)
}

/// The manifest of a run that is just starting.
fn new_manifest(
    flow: &Flow,
    run_id: &str,
    started: chrono::DateTime<chrono::Utc>,
    spec: &RunSpec<'_>,
) -> Manifest {
    Manifest {
        format: crate::store::manifest::FORMAT.to_owned(),
        run_id: run_id.to_owned(),
        flow: flow.name.clone(),
        flow_blake3: blake3::hash(flow.source.as_bytes()).to_hex().to_string(),
        trigger: spec.trigger,
        replay_of: spec.replay_of.clone(),
        resume_of: spec.resume_of.clone(),
        retry_of: spec.retry_of.clone(),
        status: RunStatus::Running,
        started_at: crate::time::rfc3339(started),
        finished_at: None,
        pid: std::process::id(),
        input: Vec::new(),
        steps: flow
            .steps
            .iter()
            .enumerate()
            .map(|(i, s)| StepRecord {
                index: i + 1,
                id: s.id.clone(),
                kind: s.kind().to_owned(),
                status: StepStatus::Pending,
                started_at: None,
                finished_at: None,
                payloads: Vec::new(),
                error: None,
                inputs_done: 0,
                reused: 0,
                requests: Vec::new(),
            })
            .collect(),
        error: None,
    }
}

fn finish(mut run: RunDir, status: RunStatus) -> Result<Finished, EngineError> {
    run.manifest.status = status;
    run.manifest.finished_at = Some(crate::time::now());
    run.save()?;
    Ok(Finished {
        dir: run.path,
        manifest: run.manifest,
    })
}

/// Replaces every secret in `text` with `***`.
#[must_use]
pub fn mask(text: &str, secrets: &[String]) -> String {
    let mut out = text.to_owned();
    for s in secrets {
        if !s.is_empty() {
            out = out.replace(s.as_str(), "***");
        }
    }
    out
}

fn store_inputs(
    run: &mut RunDir,
    inputs: Vec<Value>,
    max: u64,
    secrets: &[String],
) -> Result<Vec<Flowing>, StoreError> {
    if inputs.is_empty() {
        return Ok(vec![Flowing {
            value: Value::Null,
            file: None,
            hash: None,
        }]);
    }
    let dir = run.path.join("input");
    atomic::create_dir(&dir)?;
    let mut out = Vec::with_capacity(inputs.len());
    for (j, value) in inputs.into_iter().enumerate() {
        let name = payload::payload_name(j + 1);
        let enc = payload::write(&dir.join(&name), &value, max, secrets)?;
        let file = format!("input/{name}");
        run.manifest.input.push(record(&file, &enc, None));
        out.push(Flowing {
            value,
            file: Some(file),
            hash: Some(enc.full_blake3),
        });
    }
    atomic::sync_dir(&dir)?;
    run.save()?;
    Ok(out)
}

fn record(file: &str, enc: &payload::Encoded, source: Option<String>) -> PayloadRecord {
    PayloadRecord {
        file: file.to_owned(),
        bytes: enc.bytes,
        blake3: enc.blake3.clone(),
        trimmed: enc.trimmed,
        full_bytes: enc.full_bytes,
        full_blake3: enc.full_blake3.clone(),
        masked: enc.masked,
        source,
    }
}

/// A step failed on an input payload (or the store failed while it ran).
struct Failure {
    message: String,
    input: Option<String>,
}

impl Failure {
    fn store(e: &StoreError, input: Option<String>) -> Failure {
        Failure {
            message: format!("cannot record a payload: {e}"),
            input,
        }
    }
}

/// What stays the same for every step of a run.
struct Cx<'a> {
    root: &'a Path,
    flow: &'a Flow,
    run_id: &'a str,
    deadline: Option<Instant>,
    max: u64,
    secrets: &'a [String],
}

/// Outputs of one input payload, encoded into temporary files, ready to be numbered.
type Encoded = Vec<(Value, Pending)>;

impl Cx<'_> {
    fn step_cx<'s>(&'s self, id: &'s str, n: usize, hash: &'s str) -> StepCx<'s> {
        StepCx {
            root: self.root,
            flow: &self.flow.name,
            run_id: self.run_id,
            step_id: id,
            n,
            input_hash: hash,
            deadline: self.deadline,
        }
    }

    fn timed_out(&self) -> Option<Failure> {
        let limit = self.flow.settings.timeout?;
        self.deadline
            .filter(|d| Instant::now() >= *d)
            .map(|_| Failure {
                message: format!(
                    "the run's timeout of {} was reached",
                    crate::flow::duration::show(limit)
                ),
                input: None,
            })
    }

    fn encode(&self, dir: &Path, outputs: Vec<Value>) -> Result<Encoded, StoreError> {
        outputs
            .into_iter()
            .map(|v| {
                let pending = payload::encode_to_temp(dir, &v, self.max, self.secrets)?;
                Ok((v, pending))
            })
            .collect()
    }

    /// Encodes outputs recorded by an earlier run, checking they are still what was recorded.
    fn reencode(
        &self,
        dir: &Path,
        old: &[Recorded],
        source: Option<&String>,
    ) -> Result<Encoded, Failure> {
        old.iter()
            .map(|o| {
                let fail = |message: String| Failure {
                    message,
                    input: source.cloned(),
                };
                let value = payload::read(&o.path)
                    .map_err(|e| fail(format!("cannot reuse an earlier output: {e}")))?;
                let pending = payload::encode_to_temp(dir, &value, self.max, self.secrets)
                    .map_err(|e| Failure::store(&e, source.cloned()))?;
                if pending.encoded.full_blake3 != o.record.full_blake3 {
                    return Err(fail(format!(
                        "{}: the earlier output no longer matches its recorded hash",
                        crate::flow::display_path(&o.path)
                    )));
                }
                Ok((value, pending))
            })
            .collect()
    }

    fn run_step(
        &mut self,
        run: &mut RunDir,
        i: usize,
        step: &mut dyn Step,
        inputs: Vec<Flowing>,
        reuse: Option<&mut Reuse>,
    ) -> Result<Vec<Flowing>, Failure> {
        let id = self.flow.steps[i].id.clone();
        let rel = run.step_rel(i + 1, &id);
        let dir = run.path.join(&rel);
        {
            let rec = &mut run.manifest.steps[i];
            rec.status = StepStatus::Running;
            rec.started_at = Some(crate::time::now());
        }
        atomic::create_dir(&dir).map_err(|e| Failure::store(&e, None))?;
        run.save().map_err(|e| Failure::store(&e, None))?;

        let mut out: Vec<Flowing> = Vec::new();
        let mut commit = Committer {
            run,
            i,
            dir: &dir,
            rel: &rel,
            out: &mut out,
        };
        // Pair each input with the outputs an earlier run recorded for it, if any.
        let todo: Vec<(usize, Flowing, Option<Vec<Recorded>>)> = match reuse {
            Some(r) if r.covers(i) => inputs
                .into_iter()
                .enumerate()
                .map(|(j, mut f)| {
                    let hash = f
                        .hash
                        .get_or_insert_with(|| crate::json::payload_hash(&f.value))
                        .clone();
                    let old = r.take(i, &hash);
                    (j, f, old)
                })
                .collect(),
            _ => inputs
                .into_iter()
                .enumerate()
                .map(|(j, f)| (j, f, None))
                .collect(),
        };
        let threads = parallel::threads();
        match step.as_pure() {
            Some(pure) if threads > 1 && todo.len() > 1 => {
                parallel::run(pure, todo, threads, self, &dir, &mut commit)?;
            }
            _ => {
                for (j, input, old) in todo {
                    if let Some(mut f) = self.timed_out() {
                        f.input = input.file;
                        return Err(f);
                    }
                    let source = input.file.clone();
                    let encoded = match old {
                        Some(old) => {
                            commit.run.manifest.steps[i].reused += 1;
                            self.reencode(&dir, &old, source.as_ref())?
                        }
                        None => {
                            let hash = input
                                .hash
                                .clone()
                                .unwrap_or_else(|| crate::json::payload_hash(&input.value));
                            let cx = self.step_cx(&id, j + 1, &hash);
                            let outputs = step.process(input.value, &cx);
                            for mut note in step.take_notes() {
                                if let Some(obj) = note.as_object_mut() {
                                    obj.insert("input".into(), source.clone().into());
                                }
                                let masked = mask(&note.to_string(), self.secrets);
                                let note = serde_json::from_str(&masked).unwrap_or(note);
                                commit.run.manifest.steps[i].requests.push(note);
                            }
                            let outputs = outputs.map_err(|e| Failure {
                                message: e.message,
                                input: source.clone(),
                            })?;
                            self.encode(&dir, outputs)
                                .map_err(|e| Failure::store(&e, source.clone()))?
                        }
                    };
                    commit.commit(encoded, source.as_deref())?;
                }
                let cx = self.step_cx(&id, 0, "");
                let held = step.finish(&cx).map_err(|e: StepError| Failure {
                    message: e.message,
                    input: None,
                })?;
                if !held.is_empty() {
                    let encoded = self
                        .encode(&dir, held)
                        .map_err(|e| Failure::store(&e, None))?;
                    commit.commit_held(encoded)?;
                }
            }
        }
        atomic::sync_dir(&dir).map_err(|e| Failure::store(&e, None))?;
        let rec = &mut run.manifest.steps[i];
        rec.status = StepStatus::Success;
        rec.finished_at = Some(crate::time::now());
        run.save().map_err(|e| Failure::store(&e, None))?;
        Ok(out)
    }
}

/// Gives encoded outputs their final names, in order, and records them.
struct Committer<'r> {
    run: &'r mut RunDir,
    i: usize,
    dir: &'r Path,
    rel: &'r str,
    out: &'r mut Vec<Flowing>,
}

impl Committer<'_> {
    fn push(
        &mut self,
        value: Value,
        pending: Pending,
        source: Option<&str>,
    ) -> Result<(), Failure> {
        let n = self.run.manifest.steps[self.i].payloads.len() + 1;
        let name = payload::payload_name(n);
        let enc = pending.encoded.clone();
        pending
            .commit(&self.dir.join(&name))
            .map_err(|e| Failure::store(&e, source.map(str::to_owned)))?;
        let file = format!("{}/{name}", self.rel);
        self.run.manifest.steps[self.i].payloads.push(record(
            &file,
            &enc,
            source.map(str::to_owned),
        ));
        self.out.push(Flowing {
            value,
            file: Some(file),
            hash: Some(enc.full_blake3),
        });
        Ok(())
    }

    /// Records the outputs of one input payload and counts the input as done.
    fn commit(&mut self, encoded: Encoded, source: Option<&str>) -> Result<(), Failure> {
        for (value, pending) in encoded {
            self.push(value, pending, source)?;
        }
        self.run.manifest.steps[self.i].inputs_done += 1;
        self.run
            .checkpoint()
            .map_err(|e| Failure::store(&e, source.map(str::to_owned)))
    }

    /// Records outputs a step held back until its last input (e.g. `merge`).
    fn commit_held(&mut self, encoded: Encoded) -> Result<(), Failure> {
        for (value, pending) in encoded {
            self.push(value, pending, None)?;
        }
        Ok(())
    }
}

/// How long a run took, for messages.
#[must_use]
pub fn elapsed(m: &Manifest) -> Option<Duration> {
    let start = crate::time::parse(&m.started_at)?;
    let end = crate::time::parse(m.finished_at.as_deref()?)?;
    (end - start).to_std().ok()
}
