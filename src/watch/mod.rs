//! The runner (`flowrun watch`): keeps every flow loaded, reloads flow files as they are
//! saved, fires `every`/`cron` ticks and `watch` file drops, one run per flow at a time,
//! and stops cleanly on SIGINT/SIGTERM.
//!
//! One loop thread owns all state; each run goes on a thread of its own and reports back
//! over the same channel that file-system events and signals arrive on.

mod drops;
mod flows;
mod inbox;
mod job;
pub(crate) mod log;
mod schedule;
mod stop;

use crate::flow::display_path;
use crate::store::Store;
use chrono::Utc;
use flows::Loaded;
use job::{End, Job, Work};
pub(crate) use log::{Line, Log};
use notify::EventKind;
use notify_debouncer_full::DebounceEventResult;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// How long the file watcher waits for a burst of events on one file to end. Together
/// with its tick (a quarter of it) this bounds the reload delay after a save.
const DEBOUNCE: Duration = Duration::from_millis(150);
/// The loop wakes at least this often (cron times follow the wall clock, which can jump).
const MAX_SLEEP: Duration = Duration::from_secs(1);
/// After a file finds its flow busy in another process, wait this long before trying again.
const BUSY_BACKOFF: Duration = Duration::from_secs(1);

/// How the runner behaves.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Options {
    /// How long to wait for running runs after SIGINT/SIGTERM.
    pub(crate) grace: Duration,
    /// Where event lines go.
    pub(crate) log: Log,
}

/// Why the runner could not start.
#[derive(Debug, thiserror::Error)]
pub(crate) enum WatchError {
    /// No `flows/` folder to watch.
    #[error("{}: cannot read the flows folder: {source}", display_path(.path))]
    Flows {
        /// The folder.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
    /// The file watcher could not be set up.
    #[error("{}: cannot watch the flows folder: {source}", display_path(.path))]
    Notify {
        /// The folder.
        path: PathBuf,
        /// The error.
        source: notify::Error,
    },
    /// Signal handlers could not be installed.
    #[error("cannot handle SIGINT/SIGTERM: {0}")]
    Signals(std::io::Error),
    /// A thread could not be started.
    #[error("cannot start a thread: {0}")]
    Thread(std::io::Error),
}

/// What the loop thread is told.
pub(crate) enum Msg {
    /// Changes in `flows/`.
    Fs(DebounceEventResult),
    /// SIGINT or SIGTERM.
    Signal(i32),
    /// A job's run has its id.
    Started {
        /// The flow.
        flow: String,
        /// The run.
        run_id: String,
    },
    /// A job is over.
    Done {
        /// The flow.
        flow: String,
        /// How it ended.
        end: End,
    },
}

/// A job in progress.
struct Flight {
    run_id: Option<String>,
    file: Option<PathBuf>,
    handle: JoinHandle<()>,
}

struct Runner {
    root: PathBuf,
    flows_dir: PathBuf,
    store: Store,
    log: Log,
    flows: BTreeMap<String, Loaded>,
    /// Flows whose file is invalid now (their last valid version, if any, stays in force).
    invalid: BTreeSet<String>,
    in_flight: HashMap<String, Flight>,
    /// Flows whose lock another process held when a dropped file wanted to run.
    busy: HashMap<String, Instant>,
    next_poll: Instant,
    stopping: Arc<AtomicBool>,
    tx: Sender<Msg>,
}

/// Runs the runner for the project at `root` until SIGINT/SIGTERM.
///
/// # Errors
/// It could not start: no flows folder, no file watcher, no signal handlers.
pub(crate) fn run(root: &Path, store: &Store, opts: Options) -> Result<(), WatchError> {
    let flows_dir = root.join("flows");
    std::fs::read_dir(&flows_dir).map_err(|source| WatchError::Flows {
        path: flows_dir.clone(),
        source,
    })?;
    let (tx, rx) = mpsc::channel();

    let signals = signal_hook::iterator::Signals::new([
        signal_hook::consts::SIGINT,
        signal_hook::consts::SIGTERM,
    ])
    .map_err(WatchError::Signals)?;
    let signal_handle = signals.handle();
    let signal_tx = tx.clone();
    std::thread::Builder::new()
        .name("signals".into())
        .spawn(move || {
            let mut signals = signals;
            for signal in signals.forever() {
                if signal_tx.send(Msg::Signal(signal)).is_err() {
                    break;
                }
            }
        })
        .map_err(WatchError::Thread)?;

    // Watch before loading, so a save made while flows load is not missed.
    let fs_tx = tx.clone();
    let notify_err = |source| WatchError::Notify {
        path: flows_dir.clone(),
        source,
    };
    let mut debouncer = notify_debouncer_full::new_debouncer(
        DEBOUNCE,
        Some(DEBOUNCE / 4),
        move |result: DebounceEventResult| {
            let _ = fs_tx.send(Msg::Fs(result));
        },
    )
    .map_err(notify_err)?;
    debouncer
        .watch(&flows_dir, notify::RecursiveMode::NonRecursive)
        .map_err(notify_err)?;

    let mut runner = Runner {
        root: root.to_path_buf(),
        flows_dir,
        store: store.clone(),
        log: opts.log,
        flows: BTreeMap::new(),
        invalid: BTreeSet::new(),
        in_flight: HashMap::new(),
        busy: HashMap::new(),
        next_poll: Instant::now(),
        stopping: Arc::new(AtomicBool::new(false)),
        tx,
    };
    runner.rescan();
    runner.log.emit(
        Line::info(
            "watch_started",
            format!(
                "watching {}/ ({} flow{} in force, {} invalid); stop with SIGINT or SIGTERM",
                display_path(&runner.flows_dir),
                runner.flows.len(),
                crate::names::plural(runner.flows.len()),
                runner.invalid.len()
            ),
        )
        .field("flows", runner.flows.keys().cloned().collect::<Vec<_>>())
        .field("pid", std::process::id()),
    );

    let signal = runner.serve(&rx);
    debouncer.stop_nonblocking();
    runner.shutdown(&rx, signal, opts.grace);
    signal_handle.close();
    Ok(())
}

impl Runner {
    /// The loop: until a signal comes (returned).
    fn serve(&mut self, rx: &Receiver<Msg>) -> i32 {
        loop {
            match rx.recv_timeout(self.sleep()) {
                Ok(Msg::Signal(signal)) => return signal,
                Ok(msg) => self.handle(msg),
                Err(RecvTimeoutError::Timeout) => {}
                // The loop holds a sender itself, so this cannot happen; stop if it does.
                Err(RecvTimeoutError::Disconnected) => return 0,
            }
            self.fire_due();
            self.poll_inboxes();
        }
    }

    /// How long the loop may sleep before something is due.
    fn sleep(&self) -> Duration {
        let now = Instant::now();
        let wall = Utc::now();
        let mut sleep = MAX_SLEEP;
        for loaded in self.flows.values() {
            if let Some(wait) = loaded.schedule.as_ref().and_then(|s| s.wait(now, wall)) {
                sleep = sleep.min(wait);
            }
            if loaded.inbox.is_some() {
                sleep = sleep.min(self.next_poll.saturating_duration_since(now));
            }
        }
        sleep
    }

    fn handle(&mut self, msg: Msg) {
        match msg {
            Msg::Fs(Ok(events)) => {
                let mut names = BTreeSet::new();
                let mut rescan = false;
                for event in &events {
                    if matches!(event.kind, EventKind::Access(_)) {
                        continue;
                    }
                    rescan |= event.need_rescan();
                    names.extend(event.paths.iter().filter_map(|p| self.flow_name(p)));
                }
                if rescan {
                    self.rescan();
                } else {
                    for name in names {
                        self.reload(&name);
                    }
                }
            }
            Msg::Fs(Err(errors)) => {
                for e in errors {
                    self.log.emit(Line::warn(
                        "error",
                        format!("watching {}: {e}", display_path(&self.flows_dir)),
                    ));
                }
                // Events may have been lost: look at every file again.
                self.rescan();
            }
            Msg::Started { flow, run_id } => {
                self.busy.remove(&flow);
                if let Some(f) = self.in_flight.get_mut(&flow) {
                    f.run_id = Some(run_id);
                }
            }
            Msg::Done { flow, end } => self.done(&flow, &end),
            Msg::Signal(_) => {}
        }
    }

    /// Fires every timed trigger that is due.
    fn fire_due(&mut self) {
        let now = Instant::now();
        let wall = Utc::now();
        let mut due = Vec::new();
        for (name, loaded) in &mut self.flows {
            if let Some(s) = &mut loaded.schedule
                && s.due(now, wall)
            {
                s.advance(now, wall);
                // A paused flow's ticks pass silently: it said so once when it paused.
                if !loaded.paused {
                    due.push(name.clone());
                }
            }
        }
        for name in due {
            if let Some(f) = self.in_flight.get(&name) {
                let holder = f.run_id.clone();
                self.dropped(&name, holder.as_deref(), "a run of it in this runner");
                continue;
            }
            self.start(&name, Work::Tick);
        }
    }

    /// Says that a tick was dropped because the flow is running.
    fn dropped(&self, name: &str, holder: Option<&str>, whose: &str) {
        let run = holder.map(|h| format!(" (run {h})")).unwrap_or_default();
        self.log.emit(
            Line::warn(
                "tick_dropped",
                format!("tick dropped: {whose} is still running{run}"),
            )
            .flow(name)
            .field("holder", holder),
        );
    }

    /// Starts a job for flow `name`.
    fn start(&mut self, name: &str, work: Work) {
        let Some(loaded) = self.flows.get(name) else {
            return;
        };
        let file = match &work {
            Work::File(f) => Some(f.clone()),
            Work::Tick => None,
        };
        let job = Job {
            root: self.root.clone(),
            store: self.store.clone(),
            flow: Arc::clone(&loaded.flow),
            work,
            log: self.log,
            stopping: Arc::clone(&self.stopping),
            tx: self.tx.clone(),
        };
        match job::spawn(job) {
            Ok(handle) => {
                self.in_flight.insert(
                    name.to_owned(),
                    Flight {
                        run_id: None,
                        file,
                        handle,
                    },
                );
            }
            Err(e) => self.log.emit(
                Line::warn("error", format!("cannot start a thread for a run: {e}")).flow(name),
            ),
        }
    }

    /// A job is over.
    fn done(&mut self, name: &str, end: &End) {
        let Some(flight) = self.in_flight.remove(name) else {
            return;
        };
        // The thread has sent its last word; joining it only reaps it.
        let _ = flight.handle.join();
        match end {
            End::Busy { holder } => match &flight.file {
                Some(file) => {
                    // Log once per busy spell, not at every retry.
                    let first = !self.busy.contains_key(name);
                    self.busy
                        .insert(name.to_owned(), Instant::now() + BUSY_BACKOFF);
                    if first {
                        let run = holder
                            .as_deref()
                            .map(|h| format!(" (run {h})"))
                            .unwrap_or_default();
                        self.log.emit(
                            Line::info(
                                "file_waiting",
                                format!(
                                    "{} waits: another process is running the flow{run}",
                                    display_path(file)
                                ),
                            )
                            .flow(name)
                            .field("file", display_path(file))
                            .field("holder", holder.as_deref()),
                        );
                    }
                }
                None => self.dropped(name, holder.as_deref(), "a run of it in another process"),
            },
            End::Ran | End::Cancelled => {
                // The next dropped file of this flow may be waiting already.
                self.next_poll = Instant::now();
            }
        }
    }
}
