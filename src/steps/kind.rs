//! What a step kind declares once, in its own file: its name, its options, how they are
//! read and built, and what the engine must know about it.

use super::{BuildError, Resolver, Step};
use crate::flow::reader::{Cx, Reader};
use crate::flow::{JqOpt, MissingEnv, Text};
use crate::jq::Jq;
use crate::secrets::Secrets;
use std::fmt;
use std::path::Path;
use std::sync::Arc;

/// One step kind, as listed in the registry ([`super::KINDS`]).
pub(crate) struct Kind {
    /// The name flow files give in `kind = "…"`.
    pub(crate) name: &'static str,
    /// One line about what it does.
    pub(crate) doc: &'static str,
    /// Its options (besides `id`, `kind`, `skip`, `description`). The reader accepts
    /// exactly these keys; `flowrun schema` can list them.
    pub(crate) options: &'static [OptionDoc],
    /// What the engine must know about it.
    pub(crate) props: Props,
    /// Reads the options of a step table of this kind; `None` when there were problems
    /// (each reported to `cx` with its place).
    pub(crate) read: fn(&mut Reader<'_, '_>, &mut Cx<'_>) -> Option<Box<dyn StepSpec>>,
}

impl fmt::Debug for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name)
    }
}

/// Every kind with its options, as JSON: `[{"kind", "doc", "options": [{"name", "type",
/// "required", "doc"}]}]`, in registry order (what `flowrun schema` is built from).
#[must_use]
pub fn describe() -> serde_json::Value {
    super::KINDS
        .iter()
        .map(|k| {
            let options: Vec<serde_json::Value> = k
                .options
                .iter()
                .map(|o| {
                    serde_json::json!({
                        "name": o.name,
                        "type": o.ty.to_string(),
                        "required": o.required,
                        "doc": o.doc,
                    })
                })
                .collect();
            serde_json::json!({ "kind": k.name, "doc": k.doc, "options": options })
        })
        .collect()
}

/// One option of a step kind.
#[derive(Debug, Clone, Copy)]
pub(crate) struct OptionDoc {
    /// The key.
    pub(crate) name: &'static str,
    /// What it holds.
    pub(crate) ty: Ty,
    /// Whether a step of this kind must have it.
    pub(crate) required: bool,
    /// One line about it, with its default (the description `flowrun schema` gives).
    pub(crate) doc: &'static str,
}

/// The type of an option.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Ty {
    /// Any string (placeholders allowed).
    Str,
    /// A jq filter (a string).
    Jq,
    /// `true` / `false`.
    Bool,
    /// A whole number of at least this.
    Uint(u64),
    /// A duration string: `30s`, `15m`, `1h30m`.
    Duration,
    /// One of these words.
    OneOf(&'static [&'static str]),
    /// An HTTP method, any case.
    Method,
    /// A table of strings.
    StrTable,
    /// A non-empty array of strings.
    StrArray,
    /// Any TOML value.
    Any,
}

impl fmt::Display for Ty {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Ty::Str => f.write_str("string"),
            Ty::Jq => f.write_str("jq"),
            Ty::Bool => f.write_str("bool"),
            Ty::Uint(min) => write!(f, "integer ≥ {min}"),
            Ty::Duration => f.write_str("duration"),
            Ty::OneOf(words) => {
                for (i, w) in words.iter().enumerate() {
                    if i > 0 {
                        f.write_str(" | ")?;
                    }
                    write!(f, "\"{w}\"")?;
                }
                Ok(())
            }
            Ty::Method => f.write_str("HTTP method"),
            Ty::StrTable => f.write_str("table of strings"),
            Ty::StrArray => f.write_str("array of strings"),
            Ty::Any => f.write_str("any"),
        }
    }
}

/// Shorthand for the option tables of the kinds.
pub(crate) const fn opt(
    name: &'static str,
    ty: Ty,
    required: bool,
    doc: &'static str,
) -> OptionDoc {
    OptionDoc {
        name,
        ty,
        required,
        doc,
    }
}

/// What the engine and re-syncs must know about a kind.
#[derive(Debug, Clone, Copy)]
#[allow(clippy::struct_excessive_bools, reason = "independent yes/no facts")]
pub(crate) struct Props {
    /// It reads from or acts on the world outside the run (files, HTTP, programs):
    /// running it again may fetch or send something twice.
    pub(crate) connector: bool,
    /// A resumed run may hand it the outputs it recorded for the same input before.
    /// Not so for a kind that holds outputs back until its last input (`merge`) or
    /// whose state only a successful run saves (`dedupe`): it starts over.
    pub(crate) reuses_outputs: bool,
}

impl Props {
    /// Whether running the step again only recomputes payloads, so a re-sync may redo
    /// it without fetching or sending anything twice.
    pub(crate) fn redo_is_harmless(self) -> bool {
        !self.connector
    }
}

/// What a placeholder in an option may carry, which decides whether an `${env:…}`
/// there is treated as a secret.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Carries {
    /// Data (paths, filters, arguments): not a secret unless written `${secret:…}`.
    Data,
    /// Credentials (headers, query, environment of a program).
    Credentials,
    /// A URL: its user info (`user:password@`) carries credentials, the rest data.
    Url,
}

/// The options of one step as written in the flow file (placeholders unresolved).
pub(crate) trait StepSpec: fmt::Debug + Send + Sync {
    /// Prepares the step for a run.
    ///
    /// # Errors
    /// A missing variable, or a file the step needs that cannot be read.
    fn build(&self, b: &mut Build<'_, '_>) -> Result<Box<dyn Step>, BuildError>;

    /// Calls `f` on every string option that may hold placeholders, in file order:
    /// the option's name, its text, and what it carries.
    fn texts(&self, f: &mut dyn FnMut(&str, &Text, Carries));

    /// The glob of files it reads, when all it does outside the run is read files
    /// (`flowrun test` lets such a step run when the files are inside the project).
    fn reads_only(&self) -> Option<&Text> {
        None
    }

    /// The flows it starts child runs of (`flow`, `route`), each with the byte offset of
    /// its name in the flow file, for `check`'s cycle and unknown-flow checks.
    fn calls(&self) -> Vec<(String, usize)> {
        Vec::new()
    }
}

/// What a kind has at hand to build a step: the step's id, the project root, and the
/// run's resolver of placeholders.
pub(crate) struct Build<'a, 'r> {
    /// The step id.
    pub(crate) step: &'a str,
    /// The project root.
    pub(crate) root: &'a Path,
    pub(crate) env: &'a mut Resolver<'r>,
}

impl Build<'_, '_> {
    fn env_err(&self, source: MissingEnv) -> BuildError {
        BuildError::Env {
            step: self.step.to_owned(),
            source,
        }
    }

    /// Resolves one text.
    pub(crate) fn text(&mut self, t: &Text) -> Result<String, BuildError> {
        self.env.text(t).map_err(|e| self.env_err(e))
    }

    /// Resolves `name = text` pairs.
    pub(crate) fn pairs(
        &mut self,
        pairs: &[(String, Text)],
    ) -> Result<Vec<(String, String)>, BuildError> {
        pairs
            .iter()
            .map(|(k, v)| Ok((k.clone(), self.text(v)?)))
            .collect()
    }

    /// Gives a jq option the values of its variables.
    pub(crate) fn jq(&mut self, opt: &JqOpt) -> Result<Arc<Jq>, BuildError> {
        self.env.jq(opt, self.step)
    }

    /// Every secret of the run, for masking.
    pub(crate) fn secrets(&self) -> Arc<Secrets> {
        Arc::clone(&self.env.secrets)
    }

    /// A problem other than a missing variable.
    pub(crate) fn other(&self, message: String) -> BuildError {
        BuildError::Other {
            step: self.step.to_owned(),
            message,
        }
    }
}
