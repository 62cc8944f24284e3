//! One step of a run over all of its input payloads: handing each payload to the step,
//! encoding the outputs into the step's folder, and recording them in order.

use super::commit::{Committer, Links};
use super::parallel;
use super::{Recorded, Reuse};
use crate::flow::Flow;
use crate::secrets::Secrets;
use crate::steps::{Step, StepCx, StepError};
use crate::store::manifest::ChildLink;
use crate::store::payload::{self, Encoding, Pending};
use crate::store::{PayloadRecord, RunDir, StepStatus, StoreError, atomic};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// A payload on its way from one step to the next.
pub(super) struct Flowing {
    /// The payload, or `None` when it was let go to bound memory: it is then read back
    /// from its file, which holds it exactly (see [`Committer`]).
    pub(crate) value: Option<Value>,
    /// Its file in this run, relative to the run folder (`None` for the implicit start).
    pub(crate) file: Option<String>,
    /// How that file was written.
    pub(crate) enc: Option<payload::Encoded>,
}

impl Flowing {
    /// blake3 of the payload's pretty JSON (from its file's record when it has one).
    pub(crate) fn hash(&self) -> String {
        match (&self.enc, &self.value) {
            (Some(e), _) => e.full_blake3.clone(),
            (None, Some(v)) => crate::json::payload_hash(v),
            (None, None) => crate::json::payload_hash(&Value::Null),
        }
    }

    /// The payload, read back from its file in `run_dir` if it was let go.
    pub(crate) fn into_value(self, run_dir: &Path) -> Result<Value, Failure> {
        match (self.value, self.file) {
            (Some(v), _) => Ok(v),
            (None, Some(file)) => payload::read(&run_dir.join(&file)).map_err(|e| Failure {
                message: format!("cannot read back a stored payload: {e}"),
                input: Some(file),
            }),
            (None, None) => Ok(Value::Null),
        }
    }
}

/// The manifest record of a payload file.
pub(super) fn record(file: &str, enc: &payload::Encoded, source: Option<String>) -> PayloadRecord {
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
pub(super) struct Failure {
    pub(crate) message: String,
    pub(crate) input: Option<String>,
}

impl Failure {
    pub(crate) fn store(e: &StoreError, input: Option<String>) -> Failure {
        Failure {
            message: format!("cannot record a payload: {e}"),
            input,
        }
    }
}

/// What stays the same for every step of a run.
pub(super) struct Cx<'a> {
    pub(crate) root: &'a Path,
    pub(crate) flow: &'a Flow,
    pub(crate) run_id: &'a str,
    pub(crate) run_dir: &'a Path,
    pub(crate) deadline: Option<Instant>,
    pub(crate) max: u64,
    pub(crate) secrets: &'a Secrets,
    /// Whether `on_error = { flow = … }` starts child runs (see `RunSpec`).
    pub(crate) error_children: bool,
    /// Set after a `read` was streamed: the batches of the `split` after it, printed
    /// from the same bytes (see `stream.rs`).
    pub(crate) streamed: Option<super::stream::Batches>,
    /// Bytes of each step's outputs kept in memory: [`hold_budget`](super::commit::hold_budget) once this run
    /// streamed a large input, else no limit (reading outputs back costs time that only
    /// pays off when the input would not fit in memory otherwise).
    pub(crate) hold: u64,
}

/// Outputs of one input payload, encoded into temporary files, ready to be numbered.
pub(super) type Encoded = Vec<(Value, Pending)>;

impl Cx<'_> {
    fn step_cx<'s>(
        &'s self,
        id: &'s str,
        n: usize,
        hash: &'s str,
        file: Option<&'s Path>,
    ) -> StepCx<'s> {
        self.step_cx_linked(id, n, hash, file, None, None, &[])
    }

    #[allow(clippy::too_many_arguments, reason = "the fields of a StepCx")]
    fn step_cx_linked<'s>(
        &'s self,
        id: &'s str,
        n: usize,
        hash: &'s str,
        file: Option<&'s Path>,
        source: Option<&'s str>,
        links: Option<&'s dyn crate::steps::LinkSink>,
        prior: &'s [ChildLink],
    ) -> StepCx<'s> {
        StepCx {
            root: self.root,
            flow: &self.flow.name,
            run_id: self.run_id,
            step_id: id,
            n,
            input_hash: hash,
            input_file: file,
            deadline: self.deadline,
            source,
            links,
            prior,
        }
    }

    /// A failure when the run must end before its next input: a stop was requested (the
    /// engine records the run `interrupted`), or the run's timeout passed.
    pub(crate) fn timed_out(&self) -> Option<Failure> {
        if crate::child::stop_signal().is_some() {
            return Some(Failure {
                message: "stopped".to_owned(),
                input: None,
            });
        }
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

    fn encoding(&self, threads: usize) -> Encoding<'_> {
        Encoding {
            max_bytes: self.max,
            secrets: self.secrets,
            threads,
        }
    }

    /// Encodes a step's outputs for one input. A step that passes its input on unchanged
    /// gets a copy of the input's stored file: same bytes, no second printing.
    pub(crate) fn encode(
        &self,
        dir: &Path,
        outputs: Vec<Value>,
        passed: Option<(&str, &payload::Encoded)>,
        threads: usize,
    ) -> Result<Encoded, StoreError> {
        if let (Some((file, enc)), 1) = (passed, outputs.len()) {
            let value = outputs.into_iter().next().expect("one output");
            let pending = payload::copy_to_temp(dir, &self.run_dir.join(file), enc.clone())?;
            return Ok(vec![(value, pending)]);
        }
        outputs
            .into_iter()
            .map(|v| {
                let pending = payload::encode_to_temp(dir, &v, self.encoding(threads))?;
                Ok((v, pending))
            })
            .collect()
    }

    /// Encodes outputs recorded by an earlier run, checking they are still what was recorded.
    pub(crate) fn reencode(
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
                let pending = payload::encode_to_temp(dir, &value, self.encoding(1))
                    .map_err(|e| Failure::store(&e, source.cloned()))?;
                if pending.encoded.full_blake3 != o.record.full_blake3 && !o.edited {
                    return Err(fail(format!(
                        "{}: the earlier output no longer matches its recorded hash",
                        crate::flow::display_path(&o.path)
                    )));
                }
                Ok((value, pending))
            })
            .collect()
    }

    /// The stored file of `input` when it holds exactly the payload's pretty JSON.
    fn exact_file(&self, input: &Flowing) -> Option<PathBuf> {
        let (file, enc) = (input.file.as_ref()?, input.enc.as_ref()?);
        (!enc.trimmed && !enc.masked).then(|| self.run_dir.join(file))
    }

    /// Runs step `i` over `inputs` and records its outputs; returns them for the next step.
    pub(crate) fn run_step(
        &mut self,
        run: &mut RunDir,
        i: usize,
        step: &mut dyn Step,
        inputs: Vec<Flowing>,
        mut reuse: Option<&mut Reuse>,
    ) -> Result<Vec<Flowing>, Failure> {
        let id = self.flow.steps[i].id.clone();
        let (rel, dir) = begin_step(run, i, &id)?;

        let mut out: Vec<Flowing> = Vec::new();
        // The child runs an earlier run started for each input, if any (`flow`, `route`).
        let links: Vec<Vec<ChildLink>> = match reuse.as_deref_mut() {
            Some(r) => inputs.iter().map(|f| r.take_links(i, &f.hash())).collect(),
            None => Vec::new(),
        };
        let mut commit = Committer::new(run, i, &dir, &rel, &mut out, self.hold);
        // Pair each input with the outputs an earlier run recorded for it, if any.
        let todo: Vec<(usize, Flowing, Option<Vec<Recorded>>)> = match reuse {
            Some(r) if r.covers(i) => inputs
                .into_iter()
                .enumerate()
                .map(|(j, f)| {
                    let old = r.take(i, &f.hash());
                    (j, f, old)
                })
                .collect(),
            _ => inputs
                .into_iter()
                .enumerate()
                .map(|(j, f)| (j, f, None))
                .collect(),
        };
        let fed = self.feed(step, &id, todo, links, &mut commit);
        // What was finished before a failure is recorded too.
        let flushed = commit.flush();
        fed?;
        flushed?;
        let rec = &mut run.manifest.steps[i];
        rec.status = StepStatus::Success;
        rec.finished_at = Some(crate::time::now());
        run.save().map_err(|e| Failure::store(&e, None))?;
        Ok(out)
    }

    /// Hands every input to the step (on several threads when it is pure).
    fn feed(
        &self,
        step: &mut dyn Step,
        id: &str,
        todo: Vec<(usize, Flowing, Option<Vec<Recorded>>)>,
        mut links: Vec<Vec<ChildLink>>,
        commit: &mut Committer<'_>,
    ) -> Result<(), Failure> {
        let threads = parallel::threads();
        let passes = step.passes_through();
        let dir = commit.dir;
        if let Some(pure) = step.as_pure().filter(|_| threads > 1 && todo.len() > 1) {
            return parallel::run(pure, passes, todo, threads, self, dir, commit);
        }
        for (j, input, old) in todo {
            if let Some(mut f) = self.timed_out() {
                f.input = input.file;
                return Err(f);
            }
            commit.before_input()?;
            let source = input.file.clone();
            let prior = links.get_mut(j).map(std::mem::take).unwrap_or_default();
            let encoded = match old {
                Some(old) => {
                    let rec = &mut commit.run.manifest.steps[commit.i];
                    rec.reused += 1;
                    // The child runs behind the reused outputs stay linked.
                    rec.children.extend(prior.into_iter().map(|mut l| {
                        l.reused = true;
                        l
                    }));
                    self.reencode(dir, &old, source.as_ref())?
                }
                None => {
                    let kept = super::failed::Kept::of(&input, &self.flow.steps[commit.i]);
                    match self.process(step, id, j, input, &prior, commit, threads)? {
                        Ok(encoded) => encoded,
                        Err(message) => {
                            self.payload_failed(commit, kept, message)?;
                            continue;
                        }
                    }
                }
            };
            commit.commit(encoded, source.as_deref())?;
        }
        let cx = self.step_cx(id, 0, "", None);
        let held = step.finish(&cx).map_err(|e: StepError| Failure {
            message: e.message,
            input: None,
        })?;
        if !held.is_empty() {
            let encoded = self
                .encode(dir, held, None, threads)
                .map_err(|e| Failure::store(&e, None))?;
            commit.commit_held(encoded)?;
        }
        Ok(())
    }

    /// Hands input `j` to a step that is not run in parallel, recording what it notes.
    #[allow(
        clippy::too_many_arguments,
        reason = "the input and what it is handled with"
    )]
    /// `Ok(Err(message))`: the step errored on this payload (see `on_error`).
    fn process(
        &self,
        step: &mut dyn Step,
        id: &str,
        j: usize,
        input: Flowing,
        prior: &[ChildLink],
        commit: &mut Committer<'_>,
        threads: usize,
    ) -> Result<Result<Encoded, String>, Failure> {
        let source = input.file.clone();
        let hash = input.hash();
        let exact = self.exact_file(&input);
        let passed = step
            .passes_through()
            .then(|| input.file.clone().zip(input.enc.clone()))
            .flatten();
        // A payload let go from memory is not read back for a step that needs only
        // its exact file; the output (the input passed on) stays let go.
        let unloaded =
            input.value.is_none() && exact.is_some() && passed.is_some() && step.file_is_enough();
        let value = if unloaded {
            Value::Null
        } else {
            input.into_value(self.run_dir)?
        };
        let sink = Links {
            commit: std::cell::RefCell::new(&mut *commit),
        };
        let cx = self.step_cx_linked(
            id,
            j + 1,
            &hash,
            exact.as_deref(),
            source.as_deref(),
            Some(&sink),
            prior,
        );
        let outputs = step.process(value, &cx);
        for mut note in step.take_notes() {
            if let Some(obj) = note.as_object_mut() {
                obj.insert("input".into(), source.clone().into());
            }
            let note = self.secrets.mask_value(&note).unwrap_or(note);
            commit.run.manifest.steps[commit.i].requests.push(note);
        }
        let outputs = match outputs {
            Ok(outputs) => outputs,
            Err(e) => return Ok(Err(e.message)),
        };
        let encoded = self
            .encode(
                commit.dir,
                outputs,
                passed.as_ref().map(|(f, e)| (f.as_str(), e)),
                threads,
            )
            .map_err(|e| Failure::store(&e, source))?;
        commit.unloaded = unloaded && encoded.len() == 1;
        Ok(Ok(encoded))
    }
}

/// Marks step `i` (id `id`) running in the saved manifest and creates its folder;
/// returns the folder relative to the run and in full.
pub(super) fn begin_step(
    run: &mut RunDir,
    i: usize,
    id: &str,
) -> Result<(String, std::path::PathBuf), Failure> {
    let rel = run.step_rel(i + 1, id);
    let dir = run.path.join(&rel);
    let rec = &mut run.manifest.steps[i];
    rec.status = StepStatus::Running;
    rec.started_at = Some(crate::time::now());
    atomic::create_dir(&dir).map_err(|e| Failure::store(&e, None))?;
    run.save().map_err(|e| Failure::store(&e, None))?;
    Ok((rel, dir))
}
