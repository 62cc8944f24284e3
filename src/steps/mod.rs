//! Step kinds: what each kind does with one input payload. One file per kind, each
//! listed once in the registry below ([`KINDS`]); nothing outside this folder names a kind.

mod kind;

pub use kind::describe;
pub(crate) use kind::{Build, Carries, Kind, StepSpec, Ty};

/// The registry: one line per step kind. Each names a file of this folder that defines
/// `static KIND: Kind` (name, options, properties, how its options are read and built).
macro_rules! registry {
    ($($kind:ident),* $(,)?) => {
        $(mod $kind;)*
        /// Every step kind, in the order `check` and errors list them.
        pub(crate) static KINDS: &[&Kind] = &[$(&$kind::KIND),*];
    };
}

registry! {
    read,
    write,
    http,
    command,
    map,
    filter,
    assert,
    split,
    merge,
    dedupe,
    flow,
    route,
}

pub(crate) use http::{backoff, webhook};
pub(crate) use merge::inert;

/// The kind named `name`, if there is one.
pub(crate) fn kind(name: &str) -> Option<&'static Kind> {
    KINDS.iter().copied().find(|k| k.name == name)
}

use crate::flow::reader::{Cx, Reader};
use crate::flow::{Flow, JqOpt, MissingEnv, StepDef, Text};
use crate::jq::Jq;
use crate::secrets::{MIN_SECRET_CHARS, Secrets};
use serde_json::Value;
use std::collections::HashSet;
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

/// Why a step failed on a payload.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub(crate) struct StepError {
    /// What went wrong.
    pub(crate) message: String,
}

impl StepError {
    /// A failure with `message`.
    pub(crate) fn new(message: impl Into<String>) -> StepError {
        StepError {
            message: message.into(),
        }
    }
}

/// A step could not be prepared for a run.
#[derive(Debug, thiserror::Error)]
pub(crate) enum BuildError {
    /// An `${env:NAME}` that the environment does not have.
    #[error("step `{step}`: {source}")]
    Env {
        /// The step.
        step: String,
        /// The variable.
        source: MissingEnv,
    },
    /// Anything else, e.g. an `equals_file` that cannot be read.
    #[error("step `{step}`: {message}")]
    Other {
        /// The step.
        step: String,
        /// What is wrong.
        message: String,
    },
}

/// What a step knows about the run and the payload it is handling.
#[derive(Debug, Clone, Copy)]
pub(crate) struct StepCx<'a> {
    /// The project root; relative paths resolve against it.
    pub(crate) root: &'a Path,
    /// The flow's name.
    pub(crate) flow: &'a str,
    /// The run id.
    pub(crate) run_id: &'a str,
    /// The step id.
    pub(crate) step_id: &'a str,
    /// 1-based number of the input payload within this step.
    pub(crate) n: usize,
    /// blake3 (hex) of the input payload's pretty JSON.
    pub(crate) input_hash: &'a str,
    /// A file holding exactly the input payload's pretty JSON, when there is one.
    pub(crate) input_file: Option<&'a Path>,
    /// When the whole run must end.
    pub(crate) deadline: Option<Instant>,
    /// The input payload's file in this run, relative to the run folder (`None` for the
    /// implicit start payload).
    pub(crate) source: Option<&'a str>,
    /// Where a step that starts child runs records them (`flow`, `route`).
    pub(crate) links: Option<&'a dyn LinkSink>,
    /// Child runs the run being resumed started for this same input (`flow`, `route`).
    pub(crate) prior: &'a [crate::store::manifest::ChildLink],
}

/// Records a child run in the parent run's manifest, durably, before the child does any
/// work and again when it ended: a crash in between leaves the link for a resume to find.
pub(crate) trait LinkSink: std::fmt::Debug {
    /// Adds `link`, or replaces the entry with the same child run id.
    ///
    /// # Errors
    /// The manifest could not be saved.
    fn record(&self, link: crate::store::manifest::ChildLink) -> Result<(), StepError>;
}

/// A step, ready to handle payloads one at a time.
pub(crate) trait Step: Send {
    /// Handles one input payload and returns its outputs.
    ///
    /// # Errors
    /// The step failed on this payload; the run stops.
    fn process(&mut self, input: Value, cx: &StepCx<'_>) -> Result<Vec<Value>, StepError>;

    /// Called after the last input; returns any outputs held back until then.
    ///
    /// # Errors
    /// The step failed.
    fn finish(&mut self, _cx: &StepCx<'_>) -> Result<Vec<Value>, StepError> {
        Ok(Vec::new())
    }

    /// Whether every input comes out unchanged as the one output (`assert`, `write`):
    /// the engine then stores a copy of the input's file instead of printing it again.
    fn passes_through(&self) -> bool {
        false
    }

    /// Whether a step that passes its input through needs only the input's stored file
    /// when there is one that holds it exactly ([`StepCx::input_file`]): the engine then
    /// hands it `null` instead of reading a payload let go from memory back, and the
    /// output stays let go too (`write` of JSON copies that file).
    fn file_is_enough(&self) -> bool {
        false
    }

    /// Facts to record in the manifest about the payload just handled (e.g. requests).
    fn take_notes(&mut self) -> Vec<Value> {
        Vec::new()
    }

    /// The step's state kept across runs, when it has one (`dedupe`).
    fn as_stateful(&mut self) -> Option<&mut dyn Stateful> {
        None
    }

    /// The step as a pure function of its input, when it is one: such steps may
    /// handle several payloads at once (outputs are still recorded in order).
    fn as_pure(&self) -> Option<&dyn PureStep> {
        None
    }

    /// For a `read` of exactly one JSON file: that file, which the engine may read as
    /// a stream of array elements instead of calling [`Step::process`].
    fn json_file(&self, _root: &std::path::Path) -> Option<std::path::PathBuf> {
        None
    }

    /// For a `split` of the whole payload: the batch size, so that the engine may
    /// split a streamed array without holding it.
    fn batch_size(&self) -> Option<usize> {
        None
    }
}

/// A step that keeps state across runs: what earlier successful runs saw, loaded by the
/// engine before the run, and what this run saw first, saved once it succeeds.
pub(crate) trait Stateful {
    /// Keys that earlier successful runs saw.
    fn set_seen_keys(&mut self, keys: HashSet<String>);

    /// Keys first seen in this run, to be saved once it succeeds.
    fn take_new_keys(&mut self) -> Vec<String>;
}

/// A step whose outputs depend only on its input and which touches nothing outside.
pub(crate) trait PureStep: Sync {
    /// Handles one input payload.
    ///
    /// # Errors
    /// The step failed on this payload.
    fn apply(&self, input: Value) -> Result<Vec<Value>, StepError>;
}

/// Resolves `${env:NAME}` and `${secret:NAME}` placeholders for a run.
pub(crate) struct Resolver<'a> {
    lookup: &'a dyn Fn(&str) -> Option<String>,
    /// Every secret of the flow, resolved: what must never reach the run store.
    pub(crate) secrets: Arc<Secrets>,
}

impl<'a> Resolver<'a> {
    /// A resolver over `lookup` (usually the process environment) for `flow`. The
    /// flow's secrets are resolved first, so that every step can mask all of them.
    ///
    /// # Errors
    /// A secret is not set, or too short to be masked safely.
    pub(crate) fn new(
        flow: &Flow,
        lookup: &'a dyn Fn(&str) -> Option<String>,
    ) -> Result<Self, BuildError> {
        let mut secrets = Secrets::new();
        for u in flow.placeholders().iter().filter(|u| u.secret) {
            let value = lookup(&u.name).ok_or_else(|| BuildError::Env {
                step: u.step.clone(),
                source: MissingEnv {
                    name: u.name.clone(),
                    kind: u.kind,
                },
            })?;
            let chars = value.chars().count();
            if chars < MIN_SECRET_CHARS {
                if u.implied {
                    // An old-style `${env:…}` that is too short to mask: `check` warns.
                    continue;
                }
                return Err(BuildError::Other {
                    step: u.step.clone(),
                    message: format!(
                        "`{}`: the secret `{}` is {chars} character{} long; secrets must have at least {MIN_SECRET_CHARS} characters to be masked safely",
                        u.option,
                        u.name,
                        crate::names::plural(chars)
                    ),
                });
            }
            secrets.add(&value);
        }
        for def in &flow.steps {
            def.spec.texts(&mut |_, text, carries| {
                if carries == Carries::Url
                    && let Ok(url) = text.resolve(lookup)
                    && let Ok(url) = url::Url::parse(&url)
                    && let Some((user, password)) = userinfo(&url)
                    && secrets.values().contains(&password)
                {
                    secrets.add_basic(&user, &password);
                }
            });
        }
        Ok(Resolver {
            lookup,
            secrets: Arc::new(secrets),
        })
    }

    /// Resolves one text.
    ///
    /// # Errors
    /// A variable is not set.
    pub(crate) fn text(&mut self, t: &Text) -> Result<String, MissingEnv> {
        t.resolve(self.lookup)
    }

    /// Gives a jq option the values of its variables.
    ///
    /// # Errors
    /// A variable is not set.
    pub(crate) fn jq(&mut self, opt: &JqOpt, step: &str) -> Result<Arc<Jq>, BuildError> {
        if !opt.text.has_placeholders() {
            return Ok(Arc::clone(&opt.jq));
        }
        let values = opt
            .text
            .jq_code()
            .globals
            .iter()
            .map(|g| g.value(self.lookup))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|source| BuildError::Env {
                step: step.to_owned(),
                source,
            })?;
        Ok(Arc::new(opt.jq.bind(values)))
    }
}

/// Prepares the step `def` for a run under `root`.
///
/// # Errors
/// A missing variable, or a file the step needs that cannot be read.
#[allow(
    clippy::too_many_lines,
    reason = "one arm per kind until kinds register themselves"
)]
pub(crate) fn build(
    def: &StepDef,
    root: &Path,
    env: &mut Resolver<'_>,
) -> Result<Box<dyn Step>, BuildError> {
    def.spec.build(&mut Build {
        step: &def.id,
        root,
        env,
    })
}

/// `format` of `write`, `output` of `command`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum LineFormat {
    /// One JSON document.
    Json,
    /// One JSON value per line.
    Ndjson,
}

impl LineFormat {
    /// Reads option `key` (default `json`).
    fn read(r: &mut Reader<'_, '_>, cx: &mut Cx<'_>, key: &'static str) -> LineFormat {
        r.choice(
            cx,
            key,
            &[("json", LineFormat::Json), ("ndjson", LineFormat::Ndjson)],
        )
        .unwrap_or(LineFormat::Json)
    }
}

/// The user and password a URL carries (`user:password@`), percent-decoded; `None`
/// without a password.
pub(crate) fn userinfo(url: &url::Url) -> Option<(String, String)> {
    let password = url.password()?;
    let decode = |s: &str| {
        percent_encoding::percent_decode_str(s)
            .decode_utf8_lossy()
            .into_owned()
    };
    Some((decode(url.username()), decode(password)))
}
