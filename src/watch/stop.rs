//! Stopping on SIGINT/SIGTERM: no new runs, a grace period for the running ones.

use super::log::Line;
use super::{MAX_SLEEP, Msg, Runner};
use crate::flow;
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
        while !self.in_flight.is_empty() {
            let left = deadline.map_or(MAX_SLEEP, |d| d.saturating_duration_since(Instant::now()));
            if left.is_zero() {
                break;
            }
            match rx.recv_timeout(left) {
                Ok(Msg::Signal(again)) => {
                    self.log.emit(Line::warn(
                        "stopping",
                        format!(
                            "{} received again: not waiting any longer",
                            signal_name(again)
                        ),
                    ));
                    break;
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
        let left = self.running();
        if !left.is_empty() {
            self.log.emit(
                Line::warn(
                    "grace_expired",
                    format!(
                        "leaving {} run{} unfinished: {} (they read as interrupted; `{}` continues one)",
                        left.len(),
                        plural(left.len()),
                        left.join(", "),
                        crate::hint::flowrun(["resume", "RUN"])
                    ),
                )
                .field("running", left),
            );
        }
        self.log.emit(Line::info("watch_stopped", "stopped"));
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
    match signal {
        signal_hook::consts::SIGINT => "SIGINT",
        signal_hook::consts::SIGTERM => "SIGTERM",
        _ => "a signal",
    }
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}
