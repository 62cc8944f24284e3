//! Flow files: the model of `flows/<name>.toml`, loading and validation, in-place skip edits.

pub mod duration;
pub mod nesting;
mod parse;
pub mod skip;
pub mod text;

use crate::jq::Jq;
use serde_json::Value;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
pub use text::{MissingEnv, Text, Use, VarKind};

/// Default for `settings.max_payload_bytes`.
pub const DEFAULT_MAX_PAYLOAD_BYTES: u64 = 16 * 1024 * 1024;
/// Flow files larger than this are refused before parsing.
pub const MAX_FLOW_FILE_BYTES: u64 = 4 * 1024 * 1024;

/// A validated flow.
#[derive(Debug, Clone)]
pub struct Flow {
    /// The flow's name (file stem).
    pub name: String,
    /// Where the flow file is.
    pub path: PathBuf,
    /// The exact bytes of the flow file.
    pub source: String,
    /// `description`.
    pub description: Option<String>,
    /// `[trigger]`.
    pub trigger: Option<Trigger>,
    /// `[settings]`.
    pub settings: Settings,
    /// `[[steps]]`, in order.
    pub steps: Vec<StepDef>,
}

/// What starts a flow besides a person.
#[derive(Debug, Clone)]
pub enum Trigger {
    /// `every = "15m"`.
    Every(Duration),
    /// `cron = "*/15 * * * *"` (UTC).
    Cron(Arc<croner::Cron>, String),
    /// `watch = "inbox/*.json"`.
    Watch(String),
}

/// `[settings]`.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Stored payloads above this are trimmed; 0 = never.
    pub max_payload_bytes: u64,
    /// Whole-run time limit.
    pub timeout: Option<Duration>,
}

/// One `[[steps]]` entry.
#[derive(Debug, Clone)]
pub struct StepDef {
    /// `id`.
    pub id: String,
    /// `skip`.
    pub skip: bool,
    /// `description`.
    pub description: Option<String>,
    /// The kind and its options.
    pub spec: Spec,
}

impl StepDef {
    /// The kind's name as written in flow files.
    #[must_use]
    pub fn kind(&self) -> &'static str {
        self.spec.kind()
    }
}

/// A jq filter option: its text and the filter compiled from it.
#[derive(Debug, Clone)]
pub struct JqOpt {
    /// The text as written (placeholders unresolved).
    pub text: Text,
    /// The compiled filter (of the text as written).
    pub jq: Arc<Jq>,
}

/// `format` of `read`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReadFormat {
    /// One JSON value per file.
    Json,
    /// One JSON value per line, collected into one array.
    Ndjson,
    /// Rows with a header line, as an array of objects of strings.
    Csv,
}

/// `format` of `write`, `output` of `command`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LineFormat {
    /// One JSON document.
    Json,
    /// One JSON value per line.
    Ndjson,
}

/// `body` of `http`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyMode {
    /// The payload as JSON.
    Payload,
    /// No body.
    None,
}

/// `response` of `http`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResponseMode {
    /// Parse the body as JSON.
    Json,
    /// Keep the body as a string payload.
    Text,
}

/// `mode` of `dedupe`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DedupeMode {
    /// Drop seen keys, record nothing.
    Filter,
    /// Record keys, drop nothing.
    Track,
    /// Drop seen keys and record the new ones.
    FilterAndTrack,
}

/// Options of an `http` step.
#[derive(Debug, Clone)]
pub struct HttpSpec {
    /// `method` (upper case).
    pub method: String,
    /// `url`.
    pub url: Text,
    /// `headers`.
    pub headers: Vec<(String, Text)>,
    /// `query`.
    pub query: Vec<(String, Text)>,
    /// `body`.
    pub body: BodyMode,
    /// `next`.
    pub next: Option<JqOpt>,
    /// `timeout` per request.
    pub timeout: Duration,
    /// `retries`.
    pub retries: u32,
    /// `idempotency_key`.
    pub idempotency_key: bool,
    /// `response`.
    pub response: ResponseMode,
    /// `max_pages`.
    pub max_pages: u32,
    /// `max_response_bytes`.
    pub max_response_bytes: u64,
}

/// A step kind with its options.
#[derive(Debug, Clone)]
pub enum Spec {
    /// `read`.
    Read {
        /// Glob, relative to the project root.
        path: Text,
        /// File format.
        format: ReadFormat,
        /// Whether matching no file is fine (zero payloads) rather than an error.
        allow_empty: bool,
    },
    /// `write`.
    Write {
        /// Path template.
        path: Text,
        /// File format.
        format: LineFormat,
    },
    /// `http`.
    Http(Box<HttpSpec>),
    /// `command`.
    Command {
        /// Program and arguments.
        run: Vec<Text>,
        /// Per-payload limit.
        timeout: Option<Duration>,
        /// Extra environment.
        env: Vec<(String, Text)>,
        /// How stdout is read.
        output: LineFormat,
    },
    /// `map`.
    Map {
        /// The filter.
        jq: JqOpt,
    },
    /// `filter`.
    Filter {
        /// The condition.
        jq: JqOpt,
        /// Keep arrays that the filter emptied.
        keep_empty: bool,
    },
    /// `assert`.
    Assert {
        /// Condition per element (or for the whole non-array payload).
        jq: Option<JqOpt>,
        /// `each` (default true): the condition is checked per element of an array
        /// payload; false checks it once on the whole payload, as `equals` is.
        each: bool,
        /// Expected whole payload.
        equals: Option<Value>,
        /// File holding the expected whole payload.
        equals_file: Option<Text>,
        /// Message on failure.
        message: Option<String>,
    },
    /// `split`.
    Split {
        /// Where the array is; `None` = `.`.
        path: Option<JqOpt>,
        /// Batch size.
        size: usize,
    },
    /// `merge`.
    Merge,
    /// `dedupe`.
    Dedupe {
        /// Key of an element.
        key: JqOpt,
        /// What to do with keys.
        mode: DedupeMode,
    },
}

impl Spec {
    /// The kind's name.
    #[must_use]
    pub fn kind(&self) -> &'static str {
        match self {
            Spec::Read { .. } => "read",
            Spec::Write { .. } => "write",
            Spec::Http(_) => "http",
            Spec::Command { .. } => "command",
            Spec::Map { .. } => "map",
            Spec::Filter { .. } => "filter",
            Spec::Assert { .. } => "assert",
            Spec::Split { .. } => "split",
            Spec::Merge => "merge",
            Spec::Dedupe { .. } => "dedupe",
        }
    }

    /// Whether running the step again only recomputes payloads: it neither fetches
    /// anything (`read`, `http`) nor acts outside the run (`write`, `http`, `command`), so
    /// a re-sync may redo it without fetching or sending anything twice.
    #[must_use]
    pub fn redo_is_harmless(&self) -> bool {
        match self {
            Spec::Read { .. } | Spec::Write { .. } | Spec::Http(_) | Spec::Command { .. } => false,
            Spec::Map { .. }
            | Spec::Filter { .. }
            | Spec::Assert { .. }
            | Spec::Split { .. }
            | Spec::Merge
            | Spec::Dedupe { .. } => true,
        }
    }
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
    fn whole_file(file: String, message: String) -> FlowError {
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

/// Whether `s` is a valid flow name or step id: `[a-z0-9][a-z0-9_-]{0,63}`.
#[must_use]
pub fn is_name(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && b.len() <= 64
        && (b[0].is_ascii_lowercase() || b[0].is_ascii_digit())
        && b.iter()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'_' || *c == b'-')
}

/// How a path is shown in messages: relative to the working directory when inside it.
#[must_use]
pub fn display_path(path: &Path) -> String {
    if let Ok(cwd) = std::env::current_dir()
        && let Ok(rel) = path.strip_prefix(&cwd)
    {
        return rel.display().to_string();
    }
    path.display().to_string()
}

/// The path of flow `name` under `root`.
#[must_use]
pub fn flow_path(root: &Path, name: &str) -> PathBuf {
    root.join("flows").join(format!("{name}.toml"))
}

/// Loads and validates the flow file at `path`.
///
/// # Errors
/// Every problem found, each with line and column.
pub fn load_file(path: &Path) -> Result<Flow, FlowError> {
    let file = display_path(path);
    let name = path
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or_default()
        .to_owned();
    let meta =
        std::fs::metadata(path).map_err(|e| FlowError::whole_file(file.clone(), io_message(&e)))?;
    if meta.len() > MAX_FLOW_FILE_BYTES {
        return Err(FlowError::whole_file(
            file,
            format!(
                "the flow file is {} bytes; flow files are limited to {} MiB ({MAX_FLOW_FILE_BYTES} bytes)",
                meta.len(),
                MAX_FLOW_FILE_BYTES / (1024 * 1024)
            ),
        ));
    }
    let bytes =
        std::fs::read(path).map_err(|e| FlowError::whole_file(file.clone(), io_message(&e)))?;
    let source = match String::from_utf8(bytes) {
        Ok(s) => s,
        Err(e) => {
            let good = &e.as_bytes()[..e.utf8_error().valid_up_to()];
            let good = String::from_utf8_lossy(good);
            let (line, col) = parse::line_col(&good, good.len());
            return Err(FlowError {
                file,
                problems: vec![Problem {
                    line,
                    col,
                    message: "the flow file is not valid UTF-8 text".into(),
                }],
            });
        }
    };
    load_str(&name, path, source)
}

/// Validates flow text as if it were the file at `path`.
///
/// # Errors
/// Every problem found, each with line and column.
pub fn load_str(name: &str, path: &Path, source: String) -> Result<Flow, FlowError> {
    let file = display_path(path);
    let mut problems = Vec::new();
    if !is_name(name) {
        problems.push(Problem {
            line: 0,
            col: 0,
            message: format!(
                "`{name}` is not a valid flow name: use lower-case letters, digits, `_` and `-` (at most 64, starting with a letter or digit)"
            ),
        });
    }
    match parse::parse(&source) {
        Ok(parsed) if problems.is_empty() => Ok(Flow {
            name: name.to_owned(),
            path: path.to_path_buf(),
            source,
            description: parsed.description,
            trigger: parsed.trigger,
            settings: parsed.settings,
            steps: parsed.steps,
        }),
        Ok(_) => Err(FlowError { file, problems }),
        Err(found) => {
            problems.extend(found);
            Err(FlowError { file, problems })
        }
    }
}

/// Loads flow `name` from `root/flows`.
///
/// # Errors
/// A missing file, or every problem in it.
pub fn load(root: &Path, name: &str) -> Result<Flow, FlowError> {
    let path = flow_path(root, name);
    if !is_name(name) {
        return Err(FlowError::whole_file(
            display_path(&path),
            format!("`{name}` is not a valid flow name"),
        ));
    }
    load_file(&path)
}

/// Names of all flows under `root/flows`, sorted.
///
/// # Errors
/// The flows folder cannot be read.
pub fn list(root: &Path) -> std::io::Result<Vec<String>> {
    let mut names = Vec::new();
    for entry in std::fs::read_dir(root.join("flows"))? {
        let path = entry?.path();
        if path.extension().is_some_and(|e| e == "toml")
            && let Some(stem) = path.file_stem().and_then(|s| s.to_str())
            // `NAME.test.toml` holds the tests of flow NAME (`flowrun test`).
            && !Path::new(stem)
                .extension()
                .is_some_and(|e| e.eq_ignore_ascii_case("test"))
        {
            names.push(stem.to_owned());
        }
    }
    names.sort();
    Ok(names)
}

fn io_message(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::NotFound => "no such flow file".into(),
        _ => format!("cannot read the flow file: {e}"),
    }
}

impl Flow {
    /// Position (0-based) of step `id`.
    #[must_use]
    pub fn step_index(&self, id: &str) -> Option<usize> {
        self.steps.iter().position(|s| s.id == id)
    }

    /// Ids of the steps the flow file marks `skip = true`, in order.
    #[must_use]
    pub fn skipped_steps(&self) -> Vec<&str> {
        self.steps
            .iter()
            .filter(|s| s.skip)
            .map(|s| s.id.as_str())
            .collect()
    }

    /// The flow file as shown to the user.
    #[must_use]
    pub fn file(&self) -> String {
        display_path(&self.path)
    }

    /// Every `${env:NAME}` variable the flow uses, in order of first use.
    #[must_use]
    pub fn env_vars(&self) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        let mut add = |t: &Text| {
            for v in t.vars().map(|v| v.name) {
                if !out.iter().any(|o| o == v) {
                    out.push(v.to_owned());
                }
            }
        };
        for step in &self.steps {
            step.spec.for_each_text(&mut add);
        }
        out
    }
}

impl Spec {
    /// Calls `f` on every string option that may hold placeholders.
    pub fn for_each_text(&self, f: &mut dyn FnMut(&Text)) {
        match self {
            Spec::Read { path, .. } | Spec::Write { path, .. } => f(path),
            Spec::Http(h) => {
                f(&h.url);
                for (_, v) in h.headers.iter().chain(&h.query) {
                    f(v);
                }
                if let Some(n) = &h.next {
                    f(&n.text);
                }
            }
            Spec::Command { run, env, .. } => {
                for t in run.iter().chain(env.iter().map(|(_, v)| v)) {
                    f(t);
                }
            }
            Spec::Map { jq } | Spec::Filter { jq, .. } | Spec::Dedupe { key: jq, .. } => {
                f(&jq.text);
            }
            Spec::Assert {
                jq, equals_file, ..
            } => {
                if let Some(j) = jq {
                    f(&j.text);
                }
                if let Some(e) = equals_file {
                    f(e);
                }
            }
            Spec::Split { path, .. } => {
                if let Some(p) = path {
                    f(&p.text);
                }
            }
            Spec::Merge => {}
        }
    }
}
