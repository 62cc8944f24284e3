//! Giving a step's encoded outputs their final names in order, recording them in the
//! manifest (with the child runs a step starts), and how much of them stays in memory.

use super::step::{Encoded, Failure, Flowing, record};
use super::sync::Syncer;
use crate::steps::StepError;
use crate::store::manifest::ChildLink;
use crate::store::payload::{self, Pending};
use crate::store::{RunDir, atomic};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Records the child runs of the step being run in its manifest entry, flushing what is
/// staged first so that the saved manifest lists only files that are there.
pub(super) struct Links<'c, 'r> {
    pub(super) commit: std::cell::RefCell<&'c mut Committer<'r>>,
}

impl std::fmt::Debug for Links<'_, '_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Links")
    }
}

impl crate::steps::LinkSink for Links<'_, '_> {
    fn record(&self, link: ChildLink) -> Result<(), StepError> {
        let mut commit = self.commit.borrow_mut();
        let i = commit.i;
        let children = &mut commit.run.manifest.steps[i].children;
        match children
            .iter_mut()
            .find(|c| c.run_id.is_some() && c.run_id == link.run_id)
        {
            Some(c) => *c = link,
            None => children.push(link),
        }
        commit.flush().map_err(|f| StepError::new(f.message))
    }
}

/// Gives encoded outputs their final names, in order, and records them. Each file is
/// synced in the background as soon as it is staged; every [`FLUSH_EVERY`] (and when the
/// step ends) the flush waits for those syncs, renames the files to their final names
/// and saves the manifest — so a name never points at data that is not on disk, and the
/// manifest never lists a file that is not there.
pub(super) struct Committer<'r> {
    pub(crate) run: &'r mut RunDir,
    pub(crate) i: usize,
    pub(crate) dir: &'r Path,
    pub(crate) rel: &'r str,
    pub(crate) out: &'r mut Vec<Flowing>,
    staged: Vec<(Pending, PathBuf)>,
    syncer: Syncer,
    /// Bytes of the outputs kept in memory, and how many may be (see [`hold_budget`]).
    held: u64,
    hold: u64,
    last_flush: Instant,
    /// Whether `failed/` got a file since the last flush (its folder is synced then).
    failed_staged: bool,
    /// How long to wait between flushes: [`FLUSH_EVERY`], or 20× the last manifest
    /// save when that is longer, so that saving a large run's manifest stays a small
    /// share of the time instead of growing with the square of the run.
    flush_every: Duration,
    flushed_any: bool,
    /// Set by the step loop when the outputs it commits next were never read back
    /// (see [`Step::file_is_enough`](crate::steps::Step::file_is_enough)): they are
    /// recorded let go, to be read back from their files if needed.
    pub(crate) unloaded: bool,
}

/// Bytes of pretty JSON (as stored) of a step's outputs kept in memory for the next
/// step: `FLOWRUN_HOLD_MB` (MiB) when set, else 16 MiB. Beyond it, outputs whose files
/// hold them exactly are read back from those files, so that memory follows this budget
/// and not the size of the input (a parsed payload takes several times its JSON).
pub(super) fn hold_budget() -> u64 {
    static BUDGET: std::sync::OnceLock<u64> = std::sync::OnceLock::new();
    *BUDGET.get_or_init(|| {
        std::env::var("FLOWRUN_HOLD_MB")
            .ok()
            .and_then(|s| s.parse::<u64>().ok())
            .unwrap_or(16)
            .saturating_mul(1 << 20)
    })
}

/// How often a running step makes its outputs durable and records them.
const FLUSH_EVERY: Duration = Duration::from_millis(200);
/// Before a one-at-a-time step starts on its next input, what it finished is recorded
/// if the last flush is this old: a slow step (a command, a request) records each
/// output before it starts on the next input, a fast one in groups.
const FLUSH_BEFORE_INPUT: Duration = Duration::from_millis(20);

impl<'r> Committer<'r> {
    pub(crate) fn new(
        run: &'r mut RunDir,
        i: usize,
        dir: &'r Path,
        rel: &'r str,
        out: &'r mut Vec<Flowing>,
        hold: u64,
    ) -> Self {
        Committer {
            hold,
            run,
            i,
            dir,
            rel,
            out,
            staged: Vec::new(),
            syncer: Syncer::new(),
            held: 0,
            last_flush: Instant::now(),
            flush_every: FLUSH_EVERY,
            flushed_any: false,
            failed_staged: false,
            unloaded: false,
        }
    }

    fn push(
        &mut self,
        value: Option<Value>,
        pending: Pending,
        source: Option<&str>,
    ) -> Result<(), Failure> {
        let n = self.run.manifest.steps[self.i].payloads.len() + 1;
        let name = payload::payload_name(n);
        let enc = pending.encoded.clone();
        let (file, path) = pending
            .handle()
            .map_err(|e| Failure::store(&e, source.map(str::to_owned)))?;
        self.syncer
            .submit(file, path)
            .map_err(|e| Failure::store(&e, source.map(str::to_owned)))?;
        self.staged.push((pending, self.dir.join(&name)));
        let file = format!("{}/{name}", self.rel);
        self.run.manifest.steps[self.i].payloads.push(record(
            &file,
            &enc,
            source.map(str::to_owned),
        ));
        // Outputs stay in memory up to the budget; past it, those whose file holds them
        // exactly are let go and read back by the next step.
        let exact = !enc.trimmed && !enc.masked;
        let keep = !exact || self.held == 0 || self.held + enc.full_bytes <= self.hold;
        let value = value.filter(|_| keep);
        if value.is_some() {
            self.held += enc.full_bytes;
        }
        self.out.push(Flowing {
            value,
            file: Some(file),
            enc: Some(enc),
        });
        Ok(())
    }

    /// Records one output of the input being handled, which goes on producing more
    /// (a streamed `split`); the input is counted done by [`Committer::input_done`].
    pub(crate) fn commit_part(
        &mut self,
        value: Option<Value>,
        pending: Pending,
        source: Option<&str>,
    ) -> Result<(), Failure> {
        self.push(value, pending, source)?;
        if self.last_flush.elapsed() >= self.flush_every {
            self.flush()?;
        }
        Ok(())
    }

    /// Counts the input handled by [`Committer::commit_part`] as done.
    pub(crate) fn input_done(&mut self) {
        self.run.manifest.steps[self.i].inputs_done += 1;
    }

    /// Records the outputs of one input payload and counts the input as done.
    pub(crate) fn commit(&mut self, encoded: Encoded, source: Option<&str>) -> Result<(), Failure> {
        let loaded = !std::mem::take(&mut self.unloaded);
        for (value, pending) in encoded {
            self.push(Some(value).filter(|_| loaded), pending, source)?;
        }
        self.run.manifest.steps[self.i].inputs_done += 1;
        if self.last_flush.elapsed() >= self.flush_every {
            self.flush()?;
        }
        Ok(())
    }

    /// Records input payload `source` as failed (its copy `pending`, written in the
    /// step's `failed/` folder) with `error`, and counts the input as done: the step
    /// goes on past it (`on_error`).
    pub(crate) fn commit_failed(
        &mut self,
        pending: Pending,
        source: Option<&str>,
        error: String,
    ) -> Result<(), Failure> {
        let rec = &self.run.manifest.steps[self.i];
        let name = payload::payload_name(rec.failed.len() + 1);
        let enc = pending.encoded.clone();
        let (file, path) = pending
            .handle()
            .map_err(|e| Failure::store(&e, source.map(str::to_owned)))?;
        self.syncer
            .submit(file, path)
            .map_err(|e| Failure::store(&e, source.map(str::to_owned)))?;
        let failed_dir = self.dir.join(crate::store::layout::FAILED);
        self.staged.push((pending, failed_dir.join(&name)));
        self.failed_staged = true;
        let file = format!("{}/{}/{name}", self.rel, crate::store::layout::FAILED);
        let rec = &mut self.run.manifest.steps[self.i];
        rec.failed.push(crate::store::FailedRecord {
            payload: record(&file, &enc, source.map(str::to_owned)),
            error,
            child_run: None,
        });
        rec.inputs_done += 1;
        if self.last_flush.elapsed() >= self.flush_every {
            self.flush()?;
        }
        Ok(())
    }

    /// Called before a one-at-a-time step starts on its next input.
    pub(super) fn before_input(&mut self) -> Result<(), Failure> {
        let due = !self.flushed_any || self.last_flush.elapsed() >= FLUSH_BEFORE_INPUT;
        if !self.staged.is_empty() && due {
            self.flush()?;
        }
        Ok(())
    }

    /// Records outputs a step held back until its last input (e.g. `merge`).
    pub(super) fn commit_held(&mut self, encoded: Encoded) -> Result<(), Failure> {
        for (value, pending) in encoded {
            self.push(Some(value), pending, None)?;
        }
        Ok(())
    }

    /// Syncs, names and records everything staged, then saves the manifest.
    pub(crate) fn flush(&mut self) -> Result<(), Failure> {
        if !self.staged.is_empty() {
            self.syncer.wait().map_err(|e| Failure::store(&e, None))?;
            for (pending, path) in self.staged.drain(..) {
                pending
                    .commit(&path)
                    .map_err(|e| Failure::store(&e, None))?;
            }
            if std::mem::take(&mut self.failed_staged) {
                let failed = self.dir.join(crate::store::layout::FAILED);
                atomic::sync_dir(&failed).map_err(|e| Failure::store(&e, None))?;
            }
            atomic::sync_dir(self.dir).map_err(|e| Failure::store(&e, None))?;
        }
        self.flushed_any = true;
        let saving = Instant::now();
        let saved = self.run.save().map_err(|e| Failure::store(&e, None));
        self.flush_every = FLUSH_EVERY.max(saving.elapsed() * 20);
        self.last_flush = Instant::now();
        saved
    }
}
