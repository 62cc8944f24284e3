//! Flow files: the model of `flows/<name>.toml` (this file), loading (`load`), the
//! located TOML reader (`reader`) and the file's schema (`schema`), in-place skip edits.

pub(crate) mod calls;
pub(crate) mod duration;
mod load;
pub(crate) mod on_error;
pub(crate) mod reader;
mod schema;
pub(crate) mod skip;
mod step_table;
pub(crate) mod text;

use crate::jq::Jq;
pub(crate) use crate::names::display_path;
pub use crate::names::{MAX_FLOW_FILE_BYTES, is_name};
use crate::steps::{Kind, StepSpec};
pub(crate) use load::{flow_path, list, load};
pub use load::{load_file, load_str};
pub(crate) use on_error::OnError;
use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
pub(crate) use text::{MissingEnv, Text, VarKind};

/// Default for `settings.max_payload_bytes`.
pub(crate) const DEFAULT_MAX_PAYLOAD_BYTES: u64 = 16 * 1024 * 1024;

/// A validated flow.
#[derive(Debug, Clone)]
pub struct Flow {
    /// The flow's name (file stem).
    pub(crate) name: String,
    /// Where the flow file is.
    pub(crate) path: PathBuf,
    /// The exact bytes of the flow file.
    pub(crate) source: String,
    /// `description`.
    #[allow(dead_code, reason = "part of the flow model, for front ends to show")]
    pub(crate) description: Option<String>,
    /// `[trigger]`.
    pub(crate) trigger: Option<Trigger>,
    /// `[settings]`.
    pub(crate) settings: Settings,
    /// `[[steps]]`, in order.
    pub steps: Vec<StepDef>,
    /// `[notify]`.
    pub(crate) notify: Option<Arc<crate::notify::Notify>>,
}

/// What starts a flow besides a person.
#[derive(Debug, Clone)]
pub(crate) enum Trigger {
    /// `every = "15m"`.
    Every(Duration),
    /// `cron = "*/15 * * * *"` (UTC).
    Cron(Arc<croner::Cron>, String),
    /// `watch = "inbox/*.json"`.
    Watch(String),
}

/// `[settings]`.
#[derive(Debug, Clone)]
pub(crate) struct Settings {
    /// Stored payloads above this are trimmed; 0 = never.
    pub(crate) max_payload_bytes: u64,
    /// Whole-run time limit.
    pub(crate) timeout: Option<Duration>,
}

/// One `[[steps]]` entry.
#[derive(Debug, Clone)]
pub struct StepDef {
    /// `id`.
    pub id: String,
    /// `skip`.
    pub(crate) skip: bool,
    /// `description`.
    #[allow(dead_code, reason = "part of the flow model, for front ends to show")]
    pub(crate) description: Option<String>,
    /// The kind: its name and properties.
    pub(crate) kind: &'static Kind,
    /// Its options as written.
    pub(crate) spec: Arc<dyn StepSpec>,
    /// `track = { NAME = "<jq>", … }`: values recorded for `flowrun find`, by name.
    pub(crate) track: Vec<(String, JqOpt)>,
    /// `on_error`: what an error on one payload does.
    pub(crate) on_error: OnError,
}

impl StepDef {
    /// The kind's name as written in flow files.
    #[must_use]
    pub(crate) fn kind(&self) -> &'static str {
        self.kind.name
    }
}

/// A jq filter option: its text and the filter compiled from it.
#[derive(Debug, Clone)]
pub(crate) struct JqOpt {
    /// The text as written (placeholders unresolved).
    pub(crate) text: Text,
    /// The compiled filter (of the text as written).
    pub(crate) jq: Arc<Jq>,
}

/// One problem in a flow file, located by line and column (1-based).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// Line, 1-based; 0 when the problem is about the whole file.
    pub line: usize,
    /// Column in characters, 1-based.
    pub col: usize,
    /// What is wrong.
    pub message: String,
}

/// Everything wrong with one flow file.
#[derive(Debug, Clone)]
pub struct FlowError {
    /// The file, as shown to the user.
    pub file: String,
    /// The problems, in file order.
    pub problems: Vec<Problem>,
}

impl fmt::Display for FlowError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, p) in self.problems.iter().enumerate() {
            if i > 0 {
                f.write_str("\n")?;
            }
            if p.line == 0 {
                write!(f, "{}: {}", self.file, p.message)?;
            } else {
                write!(f, "{}:{}:{}: {}", self.file, p.line, p.col, p.message)?;
            }
        }
        Ok(())
    }
}

impl std::error::Error for FlowError {}

impl FlowError {
    pub(crate) fn whole_file(file: String, message: String) -> FlowError {
        FlowError {
            file,
            problems: vec![Problem {
                line: 0,
                col: 0,
                message,
            }],
        }
    }
}

impl Flow {
    /// Position (0-based) of step `id`.
    #[must_use]
    pub(crate) fn step_index(&self, id: &str) -> Option<usize> {
        self.steps.iter().position(|s| s.id == id)
    }

    /// Ids of the steps the flow file marks `skip = true`, in order.
    #[must_use]
    pub(crate) fn skipped_steps(&self) -> Vec<&str> {
        self.steps
            .iter()
            .filter(|s| s.skip)
            .map(|s| s.id.as_str())
            .collect()
    }

    /// The flow file as shown to the user.
    #[must_use]
    pub(crate) fn file(&self) -> String {
        display_path(&self.path)
    }
}
