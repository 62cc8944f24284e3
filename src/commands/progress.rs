//! A progress line on stderr while a step runs longer than about a second: payloads
//! done / total, bytes stored, elapsed. Only when stderr is a terminal, never with `-q`
//! or `--json`.
//!
//! Hand-made rather than indicatif: the engine reports only the start of a run and the
//! end of each step (no event per payload), so the line is fed by a thread that reads the
//! manifest the engine already flushes while a step runs; a bar library would only draw.

use crate::store::{StepStatus, read_manifest_raw};
use std::io::{IsTerminal as _, Write as _};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How long a step runs before its line appears.
const AFTER: Duration = Duration::from_secs(1);
/// How often the line is redrawn.
const TICK: Duration = Duration::from_millis(200);

/// A running progress line; dropping it stops the thread and erases the line.
pub(crate) struct Progress {
    drawn: Arc<Mutex<bool>>,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Progress {
    /// Starts watching the run in `dir`, if stderr is a terminal and `talk` is set.
    #[must_use]
    pub(crate) fn start(dir: PathBuf, talk: bool) -> Option<Progress> {
        if !talk || !std::io::stderr().is_terminal() {
            return None;
        }
        let drawn = Arc::new(Mutex::new(false));
        let stop = Arc::new(AtomicBool::new(false));
        let (d, s) = (Arc::clone(&drawn), Arc::clone(&stop));
        let thread = std::thread::Builder::new()
            .name("progress".into())
            .spawn(move || watch(&dir, &d, &s))
            .ok()?;
        Some(Progress {
            drawn,
            stop,
            thread: Some(thread),
        })
    }

    /// Erases the line.
    pub(crate) fn clear(&self) {
        let mut drawn = self
            .drawn
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        erase(&mut drawn);
    }

    /// Prints `line` on stdout with the progress line out of its way.
    pub(crate) fn out(&self, line: String) {
        let mut drawn = self
            .drawn
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        erase(&mut drawn);
        super::out(line);
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        self.clear();
    }
}

fn erase(drawn: &mut bool) {
    if *drawn {
        let _ = std::io::stderr().write_all(b"\r\x1b[2K");
        *drawn = false;
    }
}

fn watch(dir: &std::path::Path, drawn: &Mutex<bool>, stop: &AtomicBool) {
    let mut current: Option<(usize, Instant)> = None;
    while !stop.load(Ordering::Relaxed) {
        std::thread::sleep(TICK);
        let Ok(m) = read_manifest_raw(dir) else {
            continue;
        };
        let Some(i) = m.steps.iter().position(|s| s.status == StepStatus::Running) else {
            current = None;
            continue;
        };
        let since = match current {
            Some((j, t)) if j == i => t,
            _ => {
                let now = Instant::now();
                current = Some((i, now));
                now
            }
        };
        if since.elapsed() < AFTER {
            continue;
        }
        let rec = &m.steps[i];
        // Its inputs are the outputs of the last step before it that ran (or the input).
        let total = m.steps[..i]
            .iter()
            .rev()
            .find(|s| s.status != StepStatus::Skipped)
            .map_or_else(|| m.input.len().max(1), |s| s.payloads.len());
        let bytes: u64 = rec.payloads.iter().map(|p| p.full_bytes).sum();
        let line = format!(
            "  {:02} {}  {}/{total} payloads  {}  {:.1}s",
            rec.index,
            rec.id,
            rec.inputs_done,
            super::size(bytes),
            since.elapsed().as_secs_f64()
        );
        let mut d = drawn
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if stop.load(Ordering::Relaxed) {
            break;
        }
        let _ = write!(std::io::stderr(), "\r\x1b[2K{line}");
        *d = true;
    }
}
