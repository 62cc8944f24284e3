//! A `read` of one JSON array followed by a `split`, run in the memory of a few batches:
//! the `read` step's payload file is printed element by element as the input file is
//! read, and the `split` reads the input file again, printing each batch as soon as it
//! is complete. Neither holds the whole array; the files are byte for byte those the
//! whole-payload path writes (the same printer, the same hashes).

use super::step::{Committer, Cx, Failure, Flowing};
use super::{Reuse, StepStatus, atomic};
use crate::json::{ArrayElements, NotStreamed};
use crate::steps::Step;
use crate::store::{RunDir, StoreError, payload};
use serde_json::Value;
use std::io;
use std::path::{Path, PathBuf};

/// A `read` → `split` pair that can be streamed.
pub(super) struct Plan {
    /// The one JSON file the `read` reads.
    pub path: PathBuf,
    /// The `split`'s batch size.
    pub size: usize,
}

/// Whether steps `i` and `i + 1` can be streamed: a `read` of exactly one JSON file,
/// handed one payload, followed by a `split` of the whole payload, both run (not
/// skipped) and neither reusing outputs of an earlier run. `FLOWRUN_NO_STREAM` set
/// turns streaming off (to compare both paths).
/// A `read` → `split` pair is streamed when the file is at least this large (MiB);
/// `FLOWRUN_STREAM_FROM_MB` changes it (0: always).
const STREAM_FROM_MB: u64 = 64;

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
    // Below this size the whole-payload path is faster (it parses and prints on all
    // cores; streaming reads the file twice on one) and its memory is still small:
    // measured on W 100k (34 MB), streamed 4.3 s vs 1.9 s whole.
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

/// Separator before element `k` of a printed array.
fn separator(k: usize) -> &'static [u8] {
    if k == 0 { b"\n  " } else { b",\n  " }
}

impl Cx<'_> {
    /// Runs step `i`: streamed when it is the `split` after a streamed `read`
    /// (`self.streamed` holds that `read`'s file and the batch size) or a `read` that
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
        if let Some((path, size)) = self.streamed.take() {
            return self.split_streamed(run, i, size, &path, payloads);
        }
        // A payload failure in a streamed step would end the step: a step that goes on
        // past failures (`on_error`) runs whole.
        let goes_on = |k: usize| self.flow.steps.get(k).is_some_and(|s| s.on_error.goes_on());
        let plan = plan(built, skipped, i, reuse.as_deref(), &payloads, self.root)
            .filter(|_| !goes_on(i) && !goes_on(i + 1));
        if let Some(plan) = plan
            && let Some(out) = self.read_streamed(run, i, &plan.path, &payloads)?
        {
            self.streamed = Some((plan.path, plan.size));
            self.hold = super::step::hold_budget();
            return Ok(out);
        }
        self.run_step(run, i, built[i].as_mut(), payloads, reuse)
    }

    /// Appends element `value` printed one level deep (masked); whether it was masked.
    fn push_element(&self, buf: &mut Vec<u8>, value: &Value) -> bool {
        let masked = self.secrets.mask_value(value);
        crate::json::push_pretty_at(buf, masked.as_ref().unwrap_or(value), 1);
        masked.is_some()
    }

    /// Runs `read` step `i` over the one file at `path`, printing its payload file as
    /// the array is read. `Ok(None)`: the file is not an array this path takes on (or
    /// cannot be opened), and nothing was recorded — the caller runs the step whole,
    /// which reads the file again and reports any problem with its line and column.
    pub(crate) fn read_streamed(
        &mut self,
        run: &mut RunDir,
        i: usize,
        path: &Path,
        inputs: &[Flowing],
    ) -> Result<Option<Vec<Flowing>>, Failure> {
        let source = inputs.first().and_then(|f| f.file.clone());
        let id = self.flow.steps[i].id.clone();
        let rel = run.step_rel(i + 1, &id);
        let dir = run.path.join(&rel);
        atomic::create_dir(&dir).map_err(|e| Failure::store(&e, None))?;
        if let Some(mut f) = self.timed_out() {
            f.input.clone_from(&source);
            return Err(f);
        }
        let Ok(file) = std::fs::File::open(path) else {
            return Ok(None);
        };
        let started = crate::time::now();
        let mut elements = ArrayElements::new(file);
        let mut refused = false;
        let written = payload::stream_to_temp(&dir, self.max, |w| {
            let mut buf = Vec::with_capacity(1 << 17);
            let mut masked = false;
            let mut k = 0;
            buf.push(b'[');
            loop {
                match elements.next_value() {
                    Ok(Some(value)) => {
                        buf.extend_from_slice(separator(k));
                        masked |= self.push_element(&mut buf, &value);
                        k += 1;
                    }
                    Ok(None) => break,
                    Err(NotStreamed::Io(_) | NotStreamed::Text) => {
                        refused = true;
                        return Err(io::Error::other("not streamed"));
                    }
                }
                if buf.len() >= 1 << 16 {
                    w.write_all(&buf)?;
                    buf.clear();
                }
            }
            buf.extend_from_slice(if k == 0 { b"]\n" } else { b"\n]\n" });
            w.write_all(&buf)?;
            Ok(masked)
        });
        if refused {
            return Ok(None);
        }
        let pending = written.map_err(|e| Failure::store(&e, source.clone()))?;
        {
            let rec = &mut run.manifest.steps[i];
            rec.status = StepStatus::Running;
            rec.started_at = Some(started);
        }
        let mut out = Vec::with_capacity(1);
        let mut commit = Committer::new(run, i, &dir, &rel, &mut out, self.hold);
        // The payload itself is never in memory: the `split` after it reads the file.
        commit.commit_part(None, pending, source.as_deref())?;
        commit.input_done();
        commit.flush()?;
        succeed(run, i)?;
        Ok(Some(out))
    }

    /// Runs `split` step `i` (batches of `size`) over the payload of the streamed
    /// `read` before it, reading the array again from `path`. The bytes printed are
    /// checked against the `read` step's record: a file that changed in between fails
    /// the step.
    pub(crate) fn split_streamed(
        &mut self,
        run: &mut RunDir,
        i: usize,
        size: usize,
        path: &Path,
        inputs: Vec<Flowing>,
    ) -> Result<Vec<Flowing>, Failure> {
        let input = inputs.into_iter().next();
        let source = input.as_ref().and_then(|f| f.file.clone());
        let expected = input.as_ref().map(Flowing::hash);
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
        let mut out = Vec::new();
        let mut commit = Committer::new(run, i, &dir, &rel, &mut out, self.hold);
        let fed = self.split_batches(&mut commit, size, path, source.as_deref(), expected);
        let flushed = commit.flush();
        fed?;
        flushed?;
        succeed(run, i)?;
        Ok(out)
    }

    fn split_batches(
        &self,
        commit: &mut Committer<'_>,
        size: usize,
        path: &Path,
        source: Option<&str>,
        expected: Option<String>,
    ) -> Result<(), Failure> {
        let fail = |message: String| Failure {
            message,
            input: source.map(str::to_owned),
        };
        let shown = crate::flow::display_path(path);
        let changed = || fail(format!("{shown} changed while it was read"));
        let file = std::fs::File::open(path)
            .map_err(|e| fail(format!("cannot read {shown} again: {e}")))?;
        let mut elements = ArrayElements::new(file);
        // The whole payload's bytes, hashed as the `read` step printed them.
        let mut whole = blake3::Hasher::new();
        whole.update(b"[");
        let mut k = 0;
        let mut element = Vec::new();
        loop {
            if let Some(mut f) = self.timed_out() {
                f.input = source.map(str::to_owned);
                return Err(f);
            }
            let mut batch = Vec::with_capacity(size.min(1 << 16));
            let mut bytes = vec![b'['];
            let mut masked = false;
            while batch.len() < size {
                let Some(value) = elements.next_value().map_err(|_| changed())? else {
                    break;
                };
                element.clear();
                masked |= self.push_element(&mut element, &value);
                bytes.extend_from_slice(separator(batch.len()));
                bytes.extend_from_slice(&element);
                whole.update(separator(k));
                whole.update(&element);
                k += 1;
                batch.push(value);
            }
            if batch.is_empty() {
                break;
            }
            bytes.extend_from_slice(b"\n]\n");
            let pending = payload::stream_to_temp(commit.dir, self.max, |w| {
                w.write_all(&bytes)?;
                Ok(masked)
            })
            .map_err(|e: StoreError| Failure::store(&e, source.map(str::to_owned)))?;
            commit.commit_part(Some(Value::Array(batch)), pending, source)?;
        }
        whole.update(if k == 0 { b"]\n" } else { b"\n]\n" });
        if expected.is_some_and(|h| h != whole.finalize().to_hex().as_str()) {
            return Err(changed());
        }
        commit.input_done();
        Ok(())
    }
}

/// Marks step `i` done and saves the manifest.
fn succeed(run: &mut RunDir, i: usize) -> Result<(), Failure> {
    let rec = &mut run.manifest.steps[i];
    rec.status = StepStatus::Success;
    rec.finished_at = Some(crate::time::now());
    run.save().map_err(|e| Failure::store(&e, None))
}
