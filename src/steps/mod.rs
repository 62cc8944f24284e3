//! Step kinds: what each kind does with one input payload. One file per kind.

mod assert;
mod command;
mod dedupe;
mod filter;
pub mod http;
mod map;
mod merge;
mod read;
mod split;
mod write;

use crate::flow::{Flow, JqOpt, MissingEnv, Spec, StepDef, Text};
use crate::jq::Jq;
use crate::secrets::{MIN_SECRET_CHARS, Secrets};
use serde_json::Value;
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

/// Why a step failed on a payload.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct StepError {
    /// What went wrong.
    pub message: String,
}

impl StepError {
    /// A failure with `message`.
    pub fn new(message: impl Into<String>) -> StepError {
        StepError {
            message: message.into(),
        }
    }
}

/// A step could not be prepared for a run.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
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
pub struct StepCx<'a> {
    /// The project root; relative paths resolve against it.
    pub root: &'a Path,
    /// The flow's name.
    pub flow: &'a str,
    /// The run id.
    pub run_id: &'a str,
    /// The step id.
    pub step_id: &'a str,
    /// 1-based number of the input payload within this step.
    pub n: usize,
    /// blake3 (hex) of the input payload's pretty JSON.
    pub input_hash: &'a str,
    /// A file holding exactly the input payload's pretty JSON, when there is one.
    pub input_file: Option<&'a Path>,
    /// When the whole run must end.
    pub deadline: Option<Instant>,
}

/// A step, ready to handle payloads one at a time.
pub trait Step: Send {
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

    /// Facts to record in the manifest about the payload just handled (e.g. requests).
    fn take_notes(&mut self) -> Vec<Value> {
        Vec::new()
    }

    /// Keys that earlier successful runs saw (`dedupe` only).
    fn set_seen_keys(&mut self, _keys: std::collections::HashSet<String>) {}

    /// Keys first seen in this run, to be saved once it succeeds (`dedupe` only).
    fn take_new_keys(&mut self) -> Vec<String> {
        Vec::new()
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

/// A step whose outputs depend only on its input and which touches nothing outside.
pub trait PureStep: Sync {
    /// Handles one input payload.
    ///
    /// # Errors
    /// The step failed on this payload.
    fn apply(&self, input: Value) -> Result<Vec<Value>, StepError>;
}

/// Resolves `${env:NAME}` and `${secret:NAME}` placeholders for a run.
pub struct Resolver<'a> {
    lookup: &'a dyn Fn(&str) -> Option<String>,
    /// Every secret of the flow, resolved: what must never reach the run store.
    pub secrets: Arc<Secrets>,
}

impl<'a> Resolver<'a> {
    /// A resolver over `lookup` (usually the process environment) for `flow`. The
    /// flow's secrets are resolved first, so that every step can mask all of them.
    ///
    /// # Errors
    /// A secret is not set, or too short to be masked safely.
    pub fn new(
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
                        if chars == 1 { "" } else { "s" }
                    ),
                });
            }
            secrets.add(&value);
        }
        for def in &flow.steps {
            if let Spec::Http(h) = &def.spec
                && let Ok(url) = h.url.resolve(lookup)
                && let Ok(url) = url::Url::parse(&url)
                && let Some(password) = url.password()
            {
                let decode = |s: &str| {
                    percent_encoding::percent_decode_str(s)
                        .decode_utf8_lossy()
                        .into_owned()
                };
                let password = decode(password);
                if secrets.values().contains(&password) {
                    secrets.add_basic(&decode(url.username()), &password);
                }
            }
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
    pub fn text(&mut self, t: &Text) -> Result<String, MissingEnv> {
        t.resolve(self.lookup)
    }

    /// Gives a jq option the values of its variables.
    ///
    /// # Errors
    /// A variable is not set.
    pub fn jq(&mut self, opt: &JqOpt, step: &str) -> Result<Arc<Jq>, BuildError> {
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
pub fn build(
    def: &StepDef,
    root: &Path,
    env: &mut Resolver<'_>,
) -> Result<Box<dyn Step>, BuildError> {
    let step = def.id.as_str();
    let env_err = |source| BuildError::Env {
        step: step.to_owned(),
        source,
    };
    Ok(match &def.spec {
        Spec::Read {
            path,
            format,
            allow_empty,
        } => Box::new(read::Read {
            pattern: env.text(path).map_err(env_err)?,
            format: *format,
            allow_empty: *allow_empty,
        }),
        Spec::Write { path, format } => Box::new(write::Write {
            template: env.text(path).map_err(env_err)?,
            format: *format,
            cleaned: std::collections::HashSet::new(),
        }),
        Spec::Command {
            run,
            timeout,
            env: vars,
            output,
        } => Box::new(command::Command {
            argv: run
                .iter()
                .map(|t| env.text(t))
                .collect::<Result<_, _>>()
                .map_err(env_err)?,
            env: vars
                .iter()
                .map(|(k, v)| Ok((k.clone(), env.text(v)?)))
                .collect::<Result<_, MissingEnv>>()
                .map_err(env_err)?,
            timeout: *timeout,
            output: *output,
            secrets: Arc::clone(&env.secrets),
        }),
        Spec::Map { jq } => Box::new(map::Map {
            jq: env.jq(jq, step)?,
        }),
        Spec::Filter { jq, keep_empty } => Box::new(filter::Filter {
            jq: env.jq(jq, step)?,
            keep_empty: *keep_empty,
        }),
        Spec::Assert {
            jq,
            each,
            equals,
            equals_file,
            message,
        } => {
            let expected =
                match (equals, equals_file) {
                    (Some(v), _) => Some(v.clone()),
                    (None, Some(file)) => {
                        let file = env.text(file).map_err(env_err)?;
                        Some(assert::load_expected(&root.join(&file), &file).map_err(
                            |message| BuildError::Other {
                                step: step.to_owned(),
                                message,
                            },
                        )?)
                    }
                    (None, None) => None,
                };
            Box::new(assert::Assert {
                jq: jq.as_ref().map(|j| env.jq(j, step)).transpose()?,
                each: *each,
                expected,
                message: message.clone(),
                secrets: Arc::clone(&env.secrets),
            })
        }
        Spec::Split { path, size } => Box::new(split::Split {
            path: path.as_ref().map(|p| env.jq(p, step)).transpose()?,
            size: *size,
        }),
        Spec::Merge => Box::new(merge::Merge::default()),
        Spec::Http(h) => Box::new(http::Http {
            method: h.method.clone(),
            url: env.text(&h.url).map_err(env_err)?,
            headers: resolve_pairs(env, &h.headers).map_err(env_err)?,
            query: resolve_pairs(env, &h.query).map_err(env_err)?,
            body: h.body,
            next: h.next.as_ref().map(|n| env.jq(n, step)).transpose()?,
            timeout: h.timeout,
            retries: h.retries,
            idempotency_key: h.idempotency_key,
            response: h.response,
            max_pages: h.max_pages,
            max_response_bytes: h.max_response_bytes,
            agent: http::agent(),
            notes: Vec::new(),
            secrets: Arc::clone(&env.secrets),
        }),
        Spec::Dedupe { key, mode } => Box::new(dedupe::Dedupe {
            key: env.jq(key, step)?,
            mode: *mode,
            seen: std::collections::HashSet::new(),
            new: Vec::new(),
        }),
    })
}

fn resolve_pairs(
    env: &mut Resolver<'_>,
    pairs: &[(String, Text)],
) -> Result<Vec<(String, String)>, MissingEnv> {
    pairs
        .iter()
        .map(|(k, v)| Ok((k.clone(), env.text(v)?)))
        .collect()
}

/// Resolves a user path against the project root (absolute paths stay as they are).
#[must_use]
pub fn resolve_path(root: &Path, path: &str) -> std::path::PathBuf {
    root.join(path)
}
