//! A `read` of one JSON array followed by a `split`, run in the memory of a few batches:
//! one pass over the input file prints the `read` step's payload file and, from the
//! same bytes, the `split`'s batch files. The elements are parsed and printed a chunk
//! at a time on the process's worker threads; this thread only finds where elements
//! end and writes the files in order. Nothing holds the whole array; the files are
//! byte for byte those the whole-payload path writes (the same printer, the same
//! hashes).
mod pass;

use super::commit::Committer;
use super::parallel;
use super::step::{Cx, Failure, Flowing};
use super::{Reuse, StepStatus, atomic};
use crate::json::{ArrayElements, NotStreamed};
use crate::steps::Step;
use crate::store::RunDir;
use crate::store::payload;
use pass::{CHUNK_BYTES, Pass, Printed, Stopped, print_chunk};
use serde_json::Value;
use std::collections::BTreeMap;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, mpsc};

pub(crate) use pass::Batches;

/// A `read` → `split` pair that can be streamed.
pub(super) struct Plan {
    /// The one JSON file the `read` reads.
    pub path: PathBuf,
    /// The `split`'s batch size.
    pub size: usize,
}

/// A `read` → `split` pair is streamed when the file is at least this large (MiB);
/// `FLOWRUN_STREAM_FROM_MB` changes it. By default every such pair streams: its cost
/// is reading back the outputs past the memory budget, which only happens when the
/// input would take much memory otherwise.
const STREAM_FROM_MB: u64 = 0;

/// Whether steps `i` and `i + 1` can be streamed: a `read` of exactly one JSON file,
/// handed one payload, followed by a `split` of the whole payload, both run (not
/// skipped) and neither reusing outputs of an earlier run. `FLOWRUN_NO_STREAM` set
/// turns streaming off (to compare both paths).
pub(super) fn plan(
    built: &[Box<dyn Step>],
    skipped: &[bool],
    i: usize,
    reuse: Option<&Reuse>,
    payloads: &[Flowing],
    root: &Path,
) -> Option<Plan> {
    if std::env::var_os("FLOWRUN_NO_STREAM").is_some() {
        return None;
    }
    if payloads.len() != 1 || skipped.get(i + 1).copied().unwrap_or(true) {
        return None;
    }
    if reuse.is_some_and(|r| r.covers(i) || r.covers(i + 1)) {
        return None;
    }
    let size = built.get(i + 1)?.batch_size()?;
    let path = built[i].json_file(root)?;
    let from_mb = std::env::var("FLOWRUN_STREAM_FROM_MB")
        .ok()
        .and_then(|v| v.parse::<u64>().ok())
        .unwrap_or(STREAM_FROM_MB);
    let bytes = std::fs::metadata(&path).ok()?.len();
    if bytes < from_mb.saturating_mul(1024 * 1024) {
        return None;
    }
    Some(Plan { path, size })
}

impl Cx<'_> {
    /// Runs step `i`: streamed when it is the `split` after a streamed `read`
    /// (`self.streamed` holds the batches that `read` printed) or a `read` that
    /// [`plan`] allows, else as usual.
    pub(crate) fn run_or_stream(
        &mut self,
        run: &mut RunDir,
        i: usize,
        built: &mut [Box<dyn Step>],
        skipped: &[bool],
        payloads: Vec<Flowing>,
        reuse: Option<&mut Reuse>,
    ) -> Result<Vec<Flowing>, Failure> {
        if let Some(batches) = self.streamed.take() {
            return self.split_streamed(run, i, batches, payloads);
        }
        // A payload failure in a streamed step would end the step: a step that goes on
        // past failures (`on_error`) runs whole.
        let goes_on = |k: usize| self.flow.steps.get(k).is_some_and(|s| s.on_error.goes_on());
        let plan = plan(built, skipped, i, reuse.as_deref(), &payloads, self.root)
            .filter(|_| !goes_on(i) && !goes_on(i + 1));
        if let Some(plan) = plan
            && let Some((out, batches)) = self.read_streamed(run, i, &plan, &payloads)?
        {
            self.streamed = Some(batches);
            self.hold = super::commit::hold_budget();
            return Ok(out);
        }
        self.run_step(run, i, built[i].as_mut(), payloads, reuse)
    }

    /// Runs `read` step `i` over the one file of `plan`, printing its payload file as
    /// the array is read and, from the same bytes, the batch files of the `split`
    /// after it. The elements are parsed and printed on the process's worker threads,
    /// a chunk at a time; this thread finds where elements end and writes the files
    /// in order. `Ok(None)`: the file is not an array this path takes on (or cannot
    /// be opened), and nothing was recorded — the caller runs the step whole, which
    /// reads the file again and reports any problem with its line and column.
    fn read_streamed(
        &mut self,
        run: &mut RunDir,
        i: usize,
        plan: &Plan,
        inputs: &[Flowing],
    ) -> Result<Option<(Vec<Flowing>, Batches)>, Failure> {
        let source = inputs.first().and_then(|f| f.file.clone());
        let id = self.flow.steps[i].id.clone();
        let rel = run.step_rel(i + 1, &id);
        let dir = run.path.join(&rel);
        atomic::create_dir(&dir).map_err(|e| Failure::store(&e, None))?;
        if let Some(mut f) = self.timed_out() {
            f.input.clone_from(&source);
            return Err(f);
        }
        let Ok(file) = std::fs::File::open(&plan.path) else {
            return Ok(None);
        };
        let started = crate::time::now();
        let mut pass = Pass {
            dir: &dir,
            max: self.max,
            size: plan.size.max(1),
            hold: super::commit::hold_budget(),
            k: 0,
            bytes: Vec::new(),
            values: Vec::new(),
            count: 0,
            unparsed: false,
            masked: false,
            spilled: false,
            held: 0,
            done: Vec::new(),
        };
        let mut stopped = None;
        let written = payload::stream_to_temp(&dir, self.max, |w| {
            w.write_all(b"[")?;
            let fed = self.read_elements(file, w, &mut pass);
            match fed {
                Ok(masked) => {
                    w.write_all(if pass.k == 0 { b"]\n" } else { b"\n]\n" })?;
                    Ok(masked)
                }
                Err(why) => {
                    stopped = Some(why);
                    Err(io::Error::other("not streamed"))
                }
            }
        });
        match stopped {
            Some(Stopped::Refused) => return Ok(None),
            Some(Stopped::Failed(mut f)) => {
                f.input.clone_from(&source);
                return Err(f);
            }
            Some(Stopped::Store(e)) => return Err(Failure::store(&e, source)),
            None => {}
        }
        let pending = written.map_err(|e| Failure::store(&e, source.clone()))?;
        pass.finish_batch().map_err(|why| match why {
            Stopped::Store(e) => Failure::store(&e, source.clone()),
            Stopped::Failed(f) => f,
            Stopped::Refused => Failure {
                message: "not streamed".to_owned(),
                input: source.clone(),
            },
        })?;
        let batches = Batches {
            batches: std::mem::take(&mut pass.done),
        };
        {
            let rec = &mut run.manifest.steps[i];
            rec.status = StepStatus::Running;
            rec.started_at = Some(started);
        }
        let mut out = Vec::with_capacity(1);
        let mut commit = Committer::new(run, i, &dir, &rel, &mut out, self.hold);
        // The payload itself is never in memory: the batches were cut from its bytes.
        commit.commit_part(None, pending, source.as_deref())?;
        commit.input_done();
        commit.flush()?;
        succeed(run, i)?;
        Ok(Some((out, batches)))
    }

    /// Hands the elements of the array in `file` to the workers a chunk at a time and
    /// feeds what they print, in order, to `pass`; whether any element was masked.
    fn read_elements(
        &self,
        file: std::fs::File,
        w: &mut dyn Write,
        pass: &mut Pass<'_>,
    ) -> Result<bool, Stopped> {
        type Done = (usize, Result<Printed, NotStreamed>);
        let secrets = (!self.secrets.is_empty()).then(|| Arc::new(self.secrets.clone()));
        let mut elements = ArrayElements::new(file);
        let (tx, rx) = mpsc::channel::<Done>();
        let in_flight_max = 2 * parallel::threads() + 1;
        let mut spare_raw: Vec<Vec<u8>> = Vec::new();
        let mut spare_out: Vec<Vec<u8>> = Vec::new();
        let mut ready = BTreeMap::new();
        let (mut sent, mut want, mut at_end, mut masked) = (0, 0, false, false);
        loop {
            while !at_end && sent - want < in_flight_max {
                if let Some(f) = self.timed_out() {
                    return Err(Stopped::Failed(f));
                }
                let mut raw = spare_raw.pop().unwrap_or_default();
                raw.clear();
                let mut ends = Vec::new();
                while raw.len() < CHUNK_BYTES {
                    match elements.next_raw() {
                        Ok(Some(text)) => {
                            raw.extend_from_slice(text);
                            ends.push(raw.len());
                        }
                        Ok(None) => {
                            at_end = true;
                            break;
                        }
                        Err(_) => return Err(Stopped::Refused),
                    }
                }
                if ends.is_empty() {
                    break;
                }
                let (tx, secrets) = (tx.clone(), secrets.clone());
                let out = spare_out.pop().unwrap_or_default();
                let k = sent;
                let values = !pass.spilled;
                parallel::spawn(move || {
                    let printed = print_chunk(raw, &ends, out, secrets.as_deref(), values);
                    // The pass may have ended early: then nobody waits.
                    let _ = tx.send((k, printed));
                });
                sent += 1;
            }
            if want == sent {
                break;
            }
            let mut printed = loop {
                if let Some(p) = ready.remove(&want) {
                    break p;
                }
                let (k, p) = rx.recv().map_err(|_| Stopped::Refused)?;
                ready.insert(k, p);
            };
            let p = printed.as_mut().map_err(|_| Stopped::Refused)?;
            masked |= pass.feed(w, p)?;
            want += 1;
            if let Ok(p) = printed {
                spare_raw.push(p.raw);
                spare_out.push(p.out);
            }
        }
        Ok(masked)
    }

    /// Runs `split` step `i` over the payload of the streamed `read` before it:
    /// records the batches that `read` printed, in order.
    fn split_streamed(
        &mut self,
        run: &mut RunDir,
        i: usize,
        batches: Batches,
        inputs: Vec<Flowing>,
    ) -> Result<Vec<Flowing>, Failure> {
        let input = inputs.into_iter().next();
        let source = input.as_ref().and_then(|f| f.file.clone());
        let id = self.flow.steps[i].id.clone();
        let (rel, dir) = super::step::begin_step(run, i, &id)?;
        let mut out = Vec::new();
        let mut commit = Committer::new(run, i, &dir, &rel, &mut out, self.hold);
        let fed = (|| {
            for batch in batches.batches {
                if let Some(mut f) = self.timed_out() {
                    f.input.clone_from(&source);
                    return Err(f);
                }
                let value = batch.values.map(Value::Array);
                commit.commit_part(value, batch.pending, source.as_deref())?;
            }
            commit.input_done();
            Ok(())
        })();
        let flushed = commit.flush();
        fed?;
        flushed?;
        succeed(run, i)?;
        Ok(out)
    }
}

/// Marks step `i` done and saves the manifest.
fn succeed(run: &mut RunDir, i: usize) -> Result<(), Failure> {
    let rec = &mut run.manifest.steps[i];
    rec.status = StepStatus::Success;
    rec.finished_at = Some(crate::time::now());
    run.save().map_err(|e| Failure::store(&e, None))
}
