//! The flows in force: loading them, reloading a flow when its file changes (keeping the
//! last valid version when an edit is invalid), stopping a deleted one, pausing on skips.

use super::Runner;
use super::inbox::Inbox;
use super::log::Line;
use super::schedule::Schedule;
use crate::flow::{self, Flow, Trigger, display_path};
use chrono::{DateTime, Utc};
use std::collections::BTreeSet;
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

/// A flow in force: the last valid version of its file, with its trigger's state.
pub(super) struct Loaded {
    pub(super) flow: Arc<Flow>,
    pub(super) schedule: Option<Schedule>,
    pub(super) inbox: Option<Inbox>,
    /// Some step has `skip = true`: triggers start nothing.
    pub(super) paused: bool,
}

impl Runner {
    /// The flow a path in `flows/` stands for, if it is a flow file. Hidden files are
    /// editors' temporary copies (`.orders.toml.swp`, `.orders.toml`), never flows.
    pub(super) fn flow_name(&self, path: &Path) -> Option<String> {
        if path.parent() != Some(self.flows_dir.as_path())
            || path.extension().is_none_or(|e| e != "toml")
        {
            return None;
        }
        path.file_stem()
            .and_then(|s| s.to_str())
            .filter(|s| {
                !s.starts_with('.')
                    && !Path::new(s)
                        .extension()
                        .is_some_and(|e| e.eq_ignore_ascii_case("test"))
            })
            .map(str::to_owned)
    }

    /// Looks at every flow file (and every flow in force) again.
    pub(super) fn rescan(&mut self) {
        let mut names: BTreeSet<String> = match flow::list(&self.root) {
            Ok(names) => names.into_iter().filter(|n| !n.starts_with('.')).collect(),
            Err(e) => {
                self.log.emit(Line::warn(
                    "error",
                    format!("{}: {e}", display_path(&self.flows_dir)),
                ));
                return;
            }
        };
        names.extend(self.flows.keys().cloned());
        names.extend(self.invalid.iter().cloned());
        for name in names {
            self.reload(&name);
        }
    }

    /// Brings flow `name` in line with its file: loads, reloads, reports it invalid
    /// (keeping the version in force), or stops it when the file is gone.
    pub(super) fn reload(&mut self, name: &str) {
        let path = flow::flow_path(&self.root, name);
        if !path.exists() {
            self.invalid.remove(name);
            if self.flows.remove(name).is_some() {
                self.log.emit(
                    Line::info(
                        "flow_removed",
                        format!("{} was deleted: the flow stopped", display_path(&path)),
                    )
                    .flow(name),
                );
            }
            return;
        }
        let flow = match flow::load_file(&path) {
            Ok(flow) => flow,
            Err(e) => return self.report_invalid(name, &e),
        };
        let was_invalid = self.invalid.remove(name);
        if !was_invalid
            && self
                .flows
                .get(name)
                .is_some_and(|o| o.flow.source == flow.source)
        {
            // Saved without a change (or touched): nothing to do.
            return;
        }
        let now = Instant::now();
        let wall = Utc::now();
        let flow = Arc::new(flow);
        let (loaded, was_paused, event, verb) = match self.flows.remove(name) {
            Some(old) => {
                let was_paused = old.paused;
                let loaded = reuse(&self.root, old, &flow, now, wall);
                (loaded, was_paused, "flow_reloaded", "reloaded")
            }
            None => (
                fresh(&self.root, &flow, now, wall),
                false,
                "flow_loaded",
                "loaded",
            ),
        };
        self.log.emit(
            Line::info(
                event,
                format!(
                    "{verb} {}; {}",
                    flow.file(),
                    describe(flow.trigger.as_ref(), loaded.schedule.as_ref(), now, wall)
                ),
            )
            .flow(name)
            .field("file", flow.file()),
        );
        self.note_pause(&flow, was_paused);
        self.flows.insert(name.to_owned(), loaded);
    }

    /// Says that flow `name`'s file is invalid now, and what stays in force.
    fn report_invalid(&mut self, name: &str, e: &flow::FlowError) {
        self.invalid.insert(name.to_owned());
        let what = if self.flows.contains_key(name) {
            "invalid edit, the last valid version stays in force"
        } else {
            "invalid flow, not loaded until it is fixed"
        };
        let problems: Vec<String> = e.to_string().lines().map(str::to_owned).collect();
        self.log.emit(
            Line::warn("flow_invalid", format!("{what}: {}", problems.join("; ")))
                .flow(name)
                .field("file", e.file.clone())
                .field("problems", problems),
        );
    }

    /// Says when a (re)loaded flow becomes paused by skip flags, or resumes.
    fn note_pause(&self, flow: &Flow, was_paused: bool) {
        let skipped: Vec<&str> = flow.skipped_steps();
        let name = flow.name.as_str();
        if !skipped.is_empty() && !was_paused {
            self.log.emit(
                Line::warn(
                    "paused",
                    format!(
                        "paused: its trigger starts no runs while steps are skipped (a re-sync is in progress): {}; `{}` resumes it",
                        skipped.join(", "),
                        crate::hint::flowrun(["unskip", name])
                    ),
                )
                .flow(name)
                .field("skipped", skipped),
            );
        } else if skipped.is_empty() && was_paused {
            self.log.emit(
                Line::info(
                    "resumed",
                    "resumed: skip flags cleared, its trigger starts runs again",
                )
                .flow(name),
            );
        }
    }
}

/// The state of a flow seen for the first time.
fn fresh(root: &Path, flow: &Arc<Flow>, now: Instant, wall: DateTime<Utc>) -> Loaded {
    let trigger = flow.trigger.as_ref();
    Loaded {
        flow: Arc::clone(flow),
        schedule: trigger.and_then(|t| Schedule::start(t, now, wall)),
        inbox: match trigger {
            Some(Trigger::Watch(glob)) => Some(Inbox::new(root, glob)),
            _ => None,
        },
        paused: flow.steps.iter().any(|s| s.skip),
    }
}

/// The state of a reloaded flow: a trigger that did not change keeps its cadence and what
/// its inbox has seen; a changed one starts afresh (an `every` fires one interval later).
fn reuse(root: &Path, old: Loaded, flow: &Arc<Flow>, now: Instant, wall: DateTime<Utc>) -> Loaded {
    let new = fresh(root, flow, now, wall);
    let schedule = match (old.schedule, flow.trigger.as_ref()) {
        (Some(s), Some(t)) if s.same_trigger(t) => Some(s),
        _ => new.schedule,
    };
    let inbox = match old.inbox {
        Some(i) if new.inbox.as_ref().is_some_and(|n| n.glob == i.glob) => Some(i),
        _ => new.inbox,
    };
    Loaded {
        schedule,
        inbox,
        ..new
    }
}

/// What a flow's trigger will do, for the load line.
fn describe(
    trigger: Option<&Trigger>,
    schedule: Option<&Schedule>,
    now: Instant,
    wall: DateTime<Utc>,
) -> String {
    let next = schedule
        .and_then(|s| s.next_wall(now, wall))
        .map(|t| format!(", next at {}", crate::time::rfc3339(t)))
        .unwrap_or_default();
    match trigger {
        None => "no trigger: it runs only by hand".to_owned(),
        Some(Trigger::Every(d)) => format!("every {}{next}", flow::duration::show(*d)),
        Some(Trigger::Cron(_, text)) => match schedule.and_then(|s| s.next_wall(now, wall)) {
            Some(_) => format!("cron `{text}` (UTC){next}"),
            None => format!("cron `{text}` (UTC) never matches again: it will not fire"),
        },
        Some(Trigger::Watch(glob)) => format!("watching {glob} for new files"),
    }
}
