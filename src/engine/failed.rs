//! Payloads a step errored on and went on past (`on_error`): each is stored under the
//! step's `failed/` folder with its error, and `on_error = { flow = … }` hands it to
//! [`on_error_child`].

use super::commit::Committer;
use super::step::{Cx, Failure, Flowing};
use crate::flow::StepDef;
use crate::store::layout::FAILED;
use crate::store::{atomic, payload};
use serde_json::{Value, json};

/// What is kept of an input payload while a step handles it, to record it if the step
/// errors on it.
pub(super) struct Kept {
    /// Its file in this run (`None` for the start payload `null`).
    file: Option<String>,
    /// How that file was written (kept only when the step goes on past errors).
    enc: Option<payload::Encoded>,
    /// The payload itself (kept only for `on_error = { flow = … }`, whose child run
    /// gets it).
    value: Option<Value>,
}

impl Kept {
    /// Only the input's file: what a step that fails on errors (`on_error = "fail"`)
    /// names.
    pub(super) fn file(file: Option<String>) -> Kept {
        Kept {
            file,
            enc: None,
            value: None,
        }
    }

    /// What a step that goes on past failed payloads (`on_error`) keeps of each of
    /// `inputs`; nothing for one that fails on them.
    pub(super) fn all<'f>(
        inputs: impl Iterator<Item = &'f Flowing>,
        def: &StepDef,
    ) -> Vec<Option<Kept>> {
        if !def.on_error.goes_on() {
            return Vec::new();
        }
        inputs.map(|f| Some(Kept::of(f, def))).collect()
    }

    /// What step `def` needs of `input` should it error on it.
    pub(super) fn of(input: &Flowing, def: &StepDef) -> Kept {
        // Nothing is cloned that the step's `on_error` will not need.
        Kept {
            file: input.file.clone(),
            enc: def.on_error.goes_on().then(|| input.enc.clone()).flatten(),
            value: def.on_error.flow().and_then(|_| input.value.clone()),
        }
    }
}

/// A child run that `on_error = { flow = … }` asks for, for one failed payload.
#[derive(Debug)]
pub(crate) struct ErrorChild<'a> {
    /// The flow to run (`on_error.flow`).
    pub(crate) flow: &'a str,
    /// The failing step's id.
    pub(crate) step: &'a str,
    /// The failed payload's copy in this run (`steps/NN-id/failed/NNNNNN.json`).
    pub(crate) failed_file: &'a str,
    /// The child run's one input payload:
    /// `{"error", "flow", "run_id", "step", "payload", "file"}`.
    pub(crate) input: Value,
}

/// Starts the child run of `child.flow` for one failed payload and returns its run id:
/// an ordinary run of that flow with `child.input` as its input (trigger `flow`,
/// `parent` = this run, step and `child.failed_file`), through the same mechanism as
/// `flow` steps (`super::child_run`).
///
/// # Errors
/// The child run could not be started or failed, as a message for the step's error.
pub(crate) fn on_error_child(cx: &Cx<'_>, child: &ErrorChild<'_>) -> Result<String, String> {
    let file = child.failed_file.to_owned();
    let done = super::child_run::start(super::child_run::ChildRequest {
        root: cx.root,
        flow: child.flow,
        input: child.input.clone(),
        parent: crate::store::manifest::ParentLink {
            run_id: cx.run_id.to_owned(),
            flow: cx.flow.name.clone(),
            step: child.step.to_owned(),
            payload: Some(file.clone()),
        },
        link: crate::store::manifest::ChildLink {
            source: Some(file),
            input_blake3: crate::json::payload_hash(&child.input),
            route: None,
            flow: None,
            run_id: None,
            status: "running".to_owned(),
            reused: false,
        },
        links: None,
        prior: &[],
        outputs: false,
    })
    .map_err(|e| {
        format!(
            "step `{}`: `on_error = {{ flow = \"{}\" }}`: {e}",
            child.step, child.flow
        )
    })?;
    Ok(done.run_id)
}

impl Cx<'_> {
    /// Step `commit.i` errored with `message` on the input `kept` describes. With
    /// `on_error = "fail"` that fails the step; else the payload is recorded under
    /// `failed/` (a copy of its stored file: the same bytes, hashes, trimming and
    /// masking) and the step goes on.
    pub(super) fn payload_failed(
        &self,
        commit: &mut Committer<'_>,
        kept: Kept,
        message: String,
    ) -> Result<(), Failure> {
        let def = &self.flow.steps[commit.i];
        // An error because the run is being stopped or ran out of time (a command
        // ended by it) is not the payload's: the run ends there as without `on_error`.
        if !def.on_error.goes_on() || self.timed_out().is_some() {
            return Err(Failure {
                message,
                input: kept.file,
            });
        }
        let message = self.secrets.mask(&message).into_owned();
        let source = kept.file.clone();
        let store_failure = |e: &crate::store::StoreError| Failure::store(e, source.clone());
        let dir = commit.dir.join(FAILED);
        atomic::create_dir(&dir).map_err(|e| store_failure(&e))?;
        let how = payload::Encoding {
            max_bytes: self.max,
            secrets: self.secrets,
            threads: 1,
        };
        let pending = match (&kept.file, kept.enc) {
            (Some(file), Some(enc)) => payload::copy_to_temp(&dir, &self.run_dir.join(file), enc),
            (Some(file), None) => payload::read(&self.run_dir.join(file))
                .and_then(|v| payload::encode_to_temp(&dir, &v, how)),
            (None, _) => payload::encode_to_temp(&dir, &Value::Null, how),
        }
        .map_err(|e| store_failure(&e))?;
        commit.commit_failed(pending, source.as_deref(), message.clone())?;
        let Some(flow) = def.on_error.flow() else {
            return Ok(());
        };
        let rec = &commit.run.manifest.steps[commit.i];
        let failed_file = rec.failed.last().map(|f| f.payload.file.clone());
        let failed_file = failed_file.unwrap_or_default();
        let value = match (kept.value, &kept.file) {
            (Some(v), _) => v,
            (None, Some(file)) => {
                payload::read(&self.run_dir.join(file)).map_err(|e| store_failure(&e))?
            }
            (None, None) => Value::Null,
        };
        let child = ErrorChild {
            flow,
            step: &def.id,
            failed_file: &failed_file,
            input: json!({
                "error": message,
                "flow": self.flow.name,
                "run_id": self.run_id,
                "step": def.id,
                "payload": value,
                "file": failed_file,
            }),
        };
        if !self.error_children {
            // `flowrun test`: the payload is recorded; no child run acts for real.
            return Ok(());
        }
        match on_error_child(self, &child) {
            Ok(run_id) => {
                if let Some(f) = commit.run.manifest.steps[commit.i].failed.last_mut() {
                    f.child_run = Some(run_id);
                }
                Ok(())
            }
            Err(message) => Err(Failure {
                message,
                input: kept.file,
            }),
        }
    }
}
