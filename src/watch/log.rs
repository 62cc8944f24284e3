//! The runner's log: one line per event, human-readable on stderr or JSON lines on stdout.

use serde_json::{Map, Value};
use std::io::Write;

/// Where and how event lines are printed. Cheap to copy into run threads.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Log {
    /// JSON lines instead of text.
    pub(crate) json: bool,
    /// Only warnings and errors.
    pub(crate) quiet: bool,
}

/// How much a line matters; `-q` keeps only [`Level::Warn`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Level {
    /// Normal progress: loads, runs, moves.
    Info,
    /// Something the user should look at: invalid flows, failed runs, dropped ticks, errors.
    Warn,
}

/// One event, built up field by field.
#[must_use]
#[derive(Debug)]
pub(crate) struct Line {
    event: &'static str,
    level: Level,
    flow: Option<String>,
    fields: Map<String, Value>,
    text: String,
}

impl Line {
    /// An informational event named `event` (the JSON `event` field) with its human text.
    pub(crate) fn info(event: &'static str, text: impl Into<String>) -> Line {
        Line {
            event,
            level: Level::Info,
            flow: None,
            fields: Map::new(),
            text: text.into(),
        }
    }

    /// An event that needs attention.
    pub(crate) fn warn(event: &'static str, text: impl Into<String>) -> Line {
        Line {
            level: Level::Warn,
            ..Line::info(event, text)
        }
    }

    /// The flow the event is about; the human text is prefixed with it.
    pub(crate) fn flow(mut self, flow: &str) -> Line {
        self.flow = Some(flow.to_owned());
        self
    }

    /// An extra JSON field (not shown in the human text, which says it in words).
    pub(crate) fn field(mut self, key: &str, value: impl Into<Value>) -> Line {
        self.fields.insert(key.to_owned(), value.into());
        self
    }

    /// The line as printed, for the time `ts`.
    fn render(self, ts: &str, json: bool) -> String {
        if json {
            let mut obj = Map::new();
            obj.insert("ts".into(), ts.into());
            obj.insert("event".into(), self.event.into());
            if let Some(flow) = self.flow {
                obj.insert("flow".into(), flow.into());
            }
            obj.extend(self.fields);
            obj.insert("message".into(), self.text.into());
            Value::Object(obj).to_string()
        } else {
            // One event, one line: a multi-line message (several flow problems) is joined.
            let text = self.text.replace('\n', "; ");
            match &self.flow {
                Some(flow) => format!("{ts} {flow}: {text}"),
                None => format!("{ts} {text}"),
            }
        }
    }
}

impl Log {
    /// Prints `line` with the current UTC time, unless `-q` hides it.
    pub(crate) fn emit(self, line: Line) {
        if self.quiet && line.level == Level::Info {
            return;
        }
        let text = line.render(&crate::time::now(), self.json);
        // Every secret a run of this process resolved is masked, in every form.
        let text = crate::secrets::mask_output(&text);
        // One write under the lock, so lines from run threads never interleave. JSON lines
        // go to stdout like every other `--json` output; the human log stays on stderr.
        if self.json {
            let mut stdout = std::io::stdout().lock();
            let _ = writeln!(stdout, "{text}");
        } else {
            let mut stderr = std::io::stderr().lock();
            let _ = writeln!(stderr, "{text}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn human_lines_name_the_flow_and_stay_on_one_line() {
        let line = Line::warn(
            "flow_invalid",
            "flows/a.toml:3:1: bad\nflows/a.toml:5:2: worse",
        )
        .flow("a")
        .field("file", "flows/a.toml");
        assert_eq!(
            line.render("2026-11-28T09:30:00.123Z", false),
            "2026-11-28T09:30:00.123Z a: flows/a.toml:3:1: bad; flows/a.toml:5:2: worse"
        );
    }

    #[test]
    fn json_lines_carry_ts_event_flow_and_fields() {
        let line = Line::info("run_finished", "run x succeeded")
            .flow("orders")
            .field("run_id", "x")
            .field("status", "success");
        let v: Value =
            serde_json::from_str(&line.render("2026-11-28T09:30:00.123Z", true)).unwrap();
        assert_eq!(v["ts"], "2026-11-28T09:30:00.123Z");
        assert_eq!(v["event"], "run_finished");
        assert_eq!(v["flow"], "orders");
        assert_eq!(v["run_id"], "x");
        assert_eq!(v["status"], "success");
        assert_eq!(v["message"], "run x succeeded");
    }
}
