//! Stopping on SIGINT/SIGTERM: no new runs, a grace period for the running ones, then
//! their commands' process groups are ended and the runs recorded `interrupted`.

use super::log::Line;
use super::{MAX_SLEEP, Msg, Runner};
use crate::flow;
use crate::names::plural;
use std::sync::atomic::Ordering;
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

impl Runner {
    /// After a signal: start nothing more, wait up to `grace` for the running runs.
    pub(super) fn shutdown(&mut self, rx: &Receiver<Msg>, signal: i32, grace: Duration) {
        self.stopping.store(true, Ordering::SeqCst);
        let running = self.running();
        let how = if running.is_empty() {
            "no run is in progress".to_owned()
        } else {
            format!(
                "waiting up to {} for {} running run{}: {}",
                flow::duration::show(grace),
                running.len(),
                plural(running.len()),
                running.join(", ")
            )
        };
        self.log.emit(
            Line::info(
                "stopping",
                format!(
                    "{} received: starting no new runs; {how}",
                    signal_name(signal)
                ),
            )
            .field("signal", signal_name(signal))
            .field("running", running),
        );
        // A grace too long to add to the clock means: wait as long as it takes.
        let deadline = Instant::now().checked_add(grace);
        self.wait_for_runs(rx, deadline, true);
        let left = self.running();
        if !left.is_empty() {
            self.log.emit(
                Line::warn(
                    "grace_expired",
                    format!(
                        "stopping {} run{}: {} (their commands get SIGTERM, then SIGKILL after {}; the runs are recorded as interrupted; `{}` continues one)",
                        left.len(),
                        plural(left.len()),
                        left.join(", "),
                        flow::duration::show(crate::child::STOP_GRACE),
                        crate::hint::flowrun(["resume", "RUN"])
                    ),
                )
                .field("running", left),
            );
            crate::child::request_stop(signal);
            // Each run ends its command's process group within the child module's
            // bounds, then records itself; this only guards against a run stuck elsewhere.
            let bound = Instant::now().checked_add(crate::child::STOP_GRACE * 3);
            self.wait_for_runs(rx, bound, false);
            let stuck = self.running();
            if !stuck.is_empty() {
                self.log.emit(
                    Line::warn(
                        "stop_failed",
                        format!(
                            "{} run{} did not end: {} (they read as interrupted)",
                            stuck.len(),
                            plural(stuck.len()),
                            stuck.join(", ")
                        ),
                    )
                    .field("running", stuck),
                );
            }
        }
        self.log.emit(Line::info("watch_stopped", "stopped"));
    }

    /// Handles messages until no run is in flight or `deadline` passes. During the grace
    /// (`grace`), a second signal ends the wait; afterwards it kills at once.
    fn wait_for_runs(&mut self, rx: &Receiver<Msg>, deadline: Option<Instant>, grace: bool) {
        while !self.in_flight.is_empty() {
            let left = deadline.map_or(MAX_SLEEP, |d| d.saturating_duration_since(Instant::now()));
            if left.is_zero() {
                break;
            }
            match rx.recv_timeout(left) {
                Ok(Msg::Signal(again)) if grace => {
                    self.log.emit(Line::warn(
                        "stopping",
                        format!(
                            "{} received again: not waiting any longer",
                            signal_name(again)
                        ),
                    ));
                    break;
                }
                Ok(Msg::Signal(again)) => {
                    self.log.emit(Line::warn(
                        "stopping",
                        format!(
                            "{} received again: killing what is left at once",
                            signal_name(again)
                        ),
                    ));
                    crate::child::request_stop(again);
                }
                Ok(Msg::Done { flow, end }) => self.done(&flow, &end),
                Ok(Msg::Started { flow, run_id }) => {
                    if let Some(f) = self.in_flight.get_mut(&flow) {
                        f.run_id = Some(run_id);
                    }
                }
                Ok(Msg::Fs(_)) | Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => break,
            }
        }
    }

    /// The runs in progress, as `flow (run id)`.
    fn running(&self) -> Vec<String> {
        let mut out: Vec<String> = self
            .in_flight
            .iter()
            .map(|(flow, f)| match &f.run_id {
                Some(id) => format!("{flow} (run {id})"),
                None => flow.clone(),
            })
            .collect();
        out.sort();
        out
    }
}

pub(super) fn signal_name(signal: i32) -> &'static str {
    crate::child::signal_name(signal)
}
