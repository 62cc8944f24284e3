//! The one owner of child processes: each child starts in a process group of its own,
//! every live group is known here, and a group is only let go once no process of it is
//! left. A stop (SIGINT/SIGTERM, or the runner's grace running out) is forwarded to every
//! live group; the step that owns a group then ends it and records what happened.

use rustix::io::Errno;
use rustix::process::{Pid, Signal, WaitOptions};
use std::os::unix::process::CommandExt as _;
use std::process::{Child, ExitStatus};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};
use std::time::{Duration, Instant};

/// How long a group may take to end after SIGTERM before it gets SIGKILL.
pub(crate) const STOP_GRACE: Duration = Duration::from_secs(5);
/// How long to wait for a group's last process to go after SIGKILL (the kernel needs a
/// moment; a process stuck in uninterruptible I/O can take longer, and is then left).
const KILL_WAIT: Duration = Duration::from_secs(5);

/// The signal that asked the process to stop (0 = none yet).
static STOP: AtomicI32 = AtomicI32::new(0);
/// Set by a second stop request: kill at once, without waiting.
static KILL_NOW: AtomicBool = AtomicBool::new(false);
/// The process group ids of every live child.
static LIVE: Mutex<Vec<i32>> = Mutex::new(Vec::new());

/// Asks every running step to stop: the first request sends SIGTERM to every live
/// group (its owner waits up to [`STOP_GRACE`], then kills it); a later one SIGKILLs
/// them at once.
pub(crate) fn request_stop(signal: i32) {
    let first = STOP
        .compare_exchange(0, signal.max(1), Ordering::SeqCst, Ordering::SeqCst)
        .is_ok();
    if !first {
        KILL_NOW.store(true, Ordering::SeqCst);
    }
    let sig = if first { Signal::TERM } else { Signal::KILL };
    for pgid in live() {
        signal_group(pgid, sig);
    }
}

/// The signal a stop was requested with, if one was.
#[must_use]
pub(crate) fn stop_signal() -> Option<i32> {
    match STOP.load(Ordering::SeqCst) {
        0 => None,
        s => Some(s),
    }
}

/// `SIGINT`, `SIGTERM`, … for messages.
#[must_use]
pub(crate) fn signal_name(signal: i32) -> &'static str {
    match signal {
        signal_hook::consts::SIGINT => "SIGINT",
        signal_hook::consts::SIGTERM => "SIGTERM",
        _ => "a stop request",
    }
}

/// While held, SIGINT and SIGTERM ask for a stop ([`request_stop`]) instead of ending
/// the process at once, so a run can end its children and record itself `interrupted`.
pub(crate) struct StopOnSignal {
    handle: signal_hook::iterator::Handle,
}

impl StopOnSignal {
    /// Installs the handlers.
    ///
    /// # Errors
    /// The handlers could not be installed.
    pub(crate) fn install() -> std::io::Result<StopOnSignal> {
        let mut signals = signal_hook::iterator::Signals::new([
            signal_hook::consts::SIGINT,
            signal_hook::consts::SIGTERM,
        ])?;
        let handle = signals.handle();
        std::thread::Builder::new()
            .name("signals".into())
            .spawn(move || {
                for signal in signals.forever() {
                    request_stop(signal);
                }
            })?;
        Ok(StopOnSignal { handle })
    }
}

impl Drop for StopOnSignal {
    fn drop(&mut self) {
        self.handle.close();
    }
}

fn live() -> Vec<i32> {
    LIVE.lock().map(|l| l.clone()).unwrap_or_default()
}

fn signal_group(pgid: i32, sig: Signal) {
    if let Some(pid) = Pid::from_raw(pgid) {
        let _ = rustix::process::kill_process_group(pid, sig);
    }
}

/// A running child and its process group (the child leads it). Dropping it ends
/// whatever is left of the group.
pub(crate) struct Group {
    child: Child,
    pgid: Pid,
    ended: bool,
}

/// How [`Group::wait`] came back.
#[derive(Debug)]
pub(crate) enum Waited {
    /// The child exited (other processes of its group may still run).
    Exited(ExitStatus),
    /// The time limit passed first.
    TimedOut,
    /// A stop was requested (the signal).
    Stopped(i32),
    /// The caller's `give_up` said so.
    GaveUp,
}

/// Starts `cmd` in a process group of its own and registers the group.
///
/// # Errors
/// The program could not be started.
pub(crate) fn spawn(cmd: &mut std::process::Command) -> std::io::Result<Group> {
    become_subreaper();
    let mut live = LIVE
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    // Registered under the lock: a stop request cannot fall between spawn and record.
    let child = cmd.process_group(0).spawn()?;
    let pgid = Pid::from_child(&child);
    live.push(pgid.as_raw_nonzero().get());
    drop(live);
    Ok(Group {
        child,
        pgid,
        ended: false,
    })
}

/// Processes of a child's group that outlive it are re-parented to this process rather
/// than to init, so they can be reaped and their end seen ([`Group::end`]); otherwise
/// an init that does not reap would keep them as zombies of the group for ever.
fn become_subreaper() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let _ = rustix::process::set_child_subreaper(Some(rustix::process::getpid()));
    });
}

impl Group {
    /// The child, to take its pipes.
    pub(crate) fn child(&mut self) -> &mut Child {
        &mut self.child
    }

    /// Waits until the child exits, `limit` passes, a stop is requested, or `give_up`
    /// returns true (checked every few milliseconds).
    ///
    /// # Errors
    /// The child's state could not be read.
    pub(crate) fn wait(
        &mut self,
        limit: Option<Instant>,
        give_up: &dyn Fn() -> bool,
    ) -> std::io::Result<Waited> {
        let mut pause = Duration::from_millis(1);
        loop {
            if let Some(status) = self.child.try_wait()? {
                return Ok(Waited::Exited(status));
            }
            if let Some(sig) = stop_signal() {
                return Ok(Waited::Stopped(sig));
            }
            if give_up() {
                return Ok(Waited::GaveUp);
            }
            if limit.is_some_and(|l| Instant::now() >= l) {
                return Ok(Waited::TimedOut);
            }
            std::thread::sleep(pause);
            pause = (pause * 2).min(Duration::from_millis(25));
        }
    }

    /// Ends every process left in the group: SIGTERM, up to [`STOP_GRACE`] for them to
    /// go (less after a second stop request), then SIGKILL; returns once no process of
    /// the group is left (or, for one stuck in the kernel, after a bounded wait).
    pub(crate) fn end(&mut self) {
        if self.ended {
            return;
        }
        self.ended = true;
        if !self.gone() {
            let raw = self.pgid.as_raw_nonzero().get();
            signal_group(raw, Signal::TERM);
            let grace = Instant::now() + STOP_GRACE;
            while !self.gone() && Instant::now() < grace && !KILL_NOW.load(Ordering::SeqCst) {
                std::thread::sleep(Duration::from_millis(10));
            }
            if !self.gone() {
                signal_group(raw, Signal::KILL);
                let limit = Instant::now() + KILL_WAIT;
                while !self.gone() && Instant::now() < limit {
                    std::thread::sleep(Duration::from_millis(5));
                }
            }
        }
        let raw = self.pgid.as_raw_nonzero().get();
        if let Ok(mut live) = LIVE.lock() {
            live.retain(|&p| p != raw);
        }
    }

    /// Reaps what has ended of the group; true once no process of it is left.
    fn gone(&mut self) -> bool {
        // The child itself through std (which keeps its status), the rest directly.
        let _ = self.child.try_wait();
        while let Ok(Some(_)) = rustix::process::waitpgid(self.pgid, WaitOptions::NOHANG) {}
        matches!(
            rustix::process::test_kill_process_group(self.pgid),
            Err(Errno::SRCH)
        )
    }
}

impl Drop for Group {
    fn drop(&mut self) {
        self.end();
    }
}
