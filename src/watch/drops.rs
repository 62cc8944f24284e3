//! The runner's side of file drops: polling the inboxes of idle `watch` flows, and
//! moving files whose runs were cut off to `failed/` before anything else.

use super::inbox::{self, Outcome};
use super::job::Work;
use super::log::Line;
use super::{BUSY_BACKOFF, Runner};
use crate::flow::display_path;
use std::path::{Path, PathBuf};
use std::time::Instant;

impl Runner {
    /// Looks for new files in the inboxes of `watch` flows and starts a run for the oldest
    /// complete one of each idle flow.
    pub(super) fn poll_inboxes(&mut self) {
        let now = Instant::now();
        if now < self.next_poll {
            return;
        }
        self.next_poll = now + inbox::POLL;
        let names: Vec<String> = self
            .flows
            .iter()
            .filter(|(_, l)| l.inbox.is_some() && !l.paused)
            .map(|(n, _)| n.clone())
            .collect();
        for name in names {
            if self.in_flight.contains_key(&name)
                || self.busy.get(&name).is_some_and(|until| now < *until)
            {
                continue;
            }
            let Some(inbox) = self.flows.get_mut(&name).and_then(|l| l.inbox.as_mut()) else {
                continue;
            };
            if !inbox.recovered {
                let cut = inbox.cut_off();
                if !cut.is_empty() && !self.recover(&name, &cut) {
                    continue;
                }
                if let Some(inbox) = self.flows.get_mut(&name).and_then(|l| l.inbox.as_mut()) {
                    inbox.recovered = true;
                }
            }
            let Some(inbox) = self.flows.get_mut(&name).and_then(|l| l.inbox.as_mut()) else {
                continue;
            };
            match inbox.poll(now) {
                Ok(polled) => {
                    if let Some(file) = polled.ready.into_iter().next() {
                        inbox.forget(&file);
                        self.start(&name, Work::File(file));
                    }
                    for (entry, what) in polled.refused {
                        self.refuse(&name, &entry, what);
                    }
                }
                Err(e) => self.log.emit(
                    Line::warn("error", format!("watch = \"{}\": {e}", inbox.glob)).flow(&name),
                ),
            }
        }
    }

    /// Moves an inbox entry that is not a plain file to `failed/`, saying why.
    fn refuse(&mut self, name: &str, entry: &Path, what: &str) {
        let line = match inbox::refuse(entry) {
            Ok(to) => Line::warn(
                "file_refused",
                format!(
                    "{} is {what}, not a plain file: not run (links are not followed); moved to {}",
                    display_path(entry),
                    display_path(&to)
                ),
            )
            .field("to", display_path(&to)),
            // Gone already, or a read-only inbox: said once per poll at most.
            Err(e) => Line::warn(
                "error",
                format!(
                    "{} is {what}, not a plain file: not run; cannot move it to {}/: {e}",
                    display_path(entry),
                    inbox::FAILED
                ),
            ),
        };
        self.log
            .emit(line.flow(name).field("file", display_path(entry)));
    }

    /// Moves files whose runs were cut off to `failed/`; `false` when the flow is busy
    /// in another process (the files may be its run's: try again later).
    fn recover(&mut self, name: &str, files: &[PathBuf]) -> bool {
        let _lock = match self.store.lock(name) {
            Ok(lock) => lock,
            Err(crate::store::StoreError::Busy { .. }) => {
                self.busy
                    .insert(name.to_owned(), Instant::now() + BUSY_BACKOFF);
                return false;
            }
            Err(e) => {
                self.log.emit(Line::warn("error", e.to_string()).flow(name));
                return false;
            }
        };
        for file in files {
            match inbox::settle(file, Outcome::Failed) {
                Ok(to) => self.log.emit(
                    Line::warn(
                        "file_cut_off",
                        format!(
                            "{} was being run when the runner stopped: its run was cut off; moved to {} and not run again, as the run may have had side effects (see `{}`; drop the file again to re-run it)",
                            display_path(file),
                            display_path(&to),
                            crate::hint::flowrun(["runs", "--flow", name, "--status", "interrupted"])
                        ),
                    )
                    .flow(name)
                    .field("file", display_path(file))
                    .field("to", display_path(&to)),
                ),
                Err(e) => self.log.emit(
                    Line::warn("error", format!("cannot move {}: {e}", display_path(file)))
                        .flow(name),
                ),
            }
        }
        true
    }
}
