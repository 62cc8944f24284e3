//! `manifest.json`: what a run did, step by step, with the hash of every stored file.
mod links;
mod status;

use serde::{Deserialize, Serialize};

pub use links::{ChildLink, EditedFile, Notification, ParentLink, ReplayOf, ReplayedPayload};
pub use status::{RunStatus, StepStatus, TriggerKind};

/// The `format` value of manifests this version writes.
pub const FORMAT: &str = "flowrun.run/1";

/// A run's manifest.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Manifest {
    /// Always [`FORMAT`].
    pub format: String,
    /// The run id.
    pub run_id: String,
    /// The flow's name.
    pub flow: String,
    /// blake3 of `flow.toml`.
    pub flow_blake3: String,
    /// What started the run.
    pub trigger: TriggerKind,
    /// For a replay: where its payloads came from.
    pub replay_of: Option<ReplayOf>,
    /// For a resume: the run it continues.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resume_of: Option<String>,
    /// For a retry: the run it repeats.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_of: Option<String>,
    /// The run's state.
    pub status: RunStatus,
    /// Start time, RFC 3339 UTC with milliseconds.
    pub started_at: String,
    /// End time, once the run ended.
    pub finished_at: Option<String>,
    /// The process that ran it.
    #[serde(default)]
    pub pid: u32,
    /// Initial payloads (`input/`).
    pub input: Vec<PayloadRecord>,
    /// One entry per step of the flow, in order.
    pub steps: Vec<StepRecord>,
    /// Why the run failed.
    pub error: Option<RunError>,
    /// For a resume or retry started with `--edited`: the recorded files it used although
    /// they changed after they were recorded (a replay records this in `replay_of`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub edited: Vec<EditedFile>,
    /// The `[notify]` targets told about the run's end, and how that went.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notifications: Vec<Notification>,
    /// For a child run (trigger `flow`): the run, step and payload that started it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent: Option<ParentLink>,
}

/// One stored payload file.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct PayloadRecord {
    /// Path relative to the run folder.
    pub file: String,
    /// Size of the file as stored.
    pub bytes: u64,
    /// blake3 of the file as stored.
    pub blake3: String,
    /// Whether only the start of the payload was stored.
    pub trimmed: bool,
    /// Size of the whole payload.
    pub full_bytes: u64,
    /// blake3 of the whole payload.
    pub full_blake3: String,
    /// Whether a secret was masked out of the stored file (it then differs from the payload).
    #[serde(default, skip_serializing_if = "is_false")]
    pub masked: bool,
    /// The input payload file it came from.
    pub source: Option<String>,
}

/// One step's part of a run.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct StepRecord {
    /// 1-based position.
    pub index: usize,
    /// Step id.
    pub id: String,
    /// Step kind.
    pub kind: String,
    /// State.
    pub status: StepStatus,
    /// When it started.
    pub started_at: Option<String>,
    /// When it ended.
    pub finished_at: Option<String>,
    /// Output payloads, numbered densely in output order.
    pub payloads: Vec<PayloadRecord>,
    /// Failure message.
    pub error: Option<String>,
    /// How many input payloads the step has fully handled (its outputs are all listed).
    #[serde(default)]
    pub inputs_done: usize,
    /// How many of those inputs had their outputs reused from an earlier run (resume).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub reused: usize,
    /// Extra per-payload facts (e.g. HTTP requests), when the kind records any.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub requests: Vec<serde_json::Value>,
    /// `flow` and `route` steps: the child runs started, per input payload.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub children: Vec<ChildLink>,
    /// Input payloads the step failed on and went on past (`on_error`), each stored
    /// as `steps/NN-id/failed/NNNNNN.json`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub failed: Vec<FailedRecord>,
}

/// One input payload a step failed on and went on past (`on_error = "continue"`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct FailedRecord {
    /// The stored copy (`steps/NN-id/failed/NNNNNN.json`) with its hashes, and the
    /// payload file it was a copy of (`source`; null for the start payload `null`).
    #[serde(flatten)]
    pub payload: PayloadRecord,
    /// What went wrong with it.
    pub error: String,
    /// The run started for it by `on_error = { flow = … }`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub child_run: Option<String>,
}

/// Why a run failed.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct RunError {
    /// The failed step's id (`null` when the run failed outside any step).
    pub step: Option<String>,
    /// What went wrong.
    pub message: String,
    /// The input payload file the step failed on.
    pub failed_input: Option<String>,
}

#[allow(
    clippy::trivially_copy_pass_by_ref,
    reason = "serde's skip_serializing_if passes a reference"
)]
fn is_zero(n: &usize) -> bool {
    *n == 0
}

#[allow(
    clippy::trivially_copy_pass_by_ref,
    reason = "serde's skip_serializing_if passes a reference"
)]
fn is_false(b: &bool) -> bool {
    !*b
}

/// Whether a payload file named in a manifest stays inside the run folder: relative,
/// `/`-separated, without empty, `.` or `..` parts.
#[must_use]
pub fn is_inside_run(file: &str) -> bool {
    !file.is_empty()
        && !file.contains('\\')
        && file
            .split('/')
            .all(|p| !p.is_empty() && p != "." && p != "..")
}

impl Manifest {
    /// The payload records that were the inputs of step `f` (0-based): the outputs of
    /// the last step before it that ran, else the run's `input/`. An empty list means
    /// the implicit start payload `null`.
    #[must_use]
    pub fn step_inputs(&self, f: usize) -> &[PayloadRecord] {
        for s in self.steps[..f].iter().rev() {
            if s.status != StepStatus::Skipped {
                return &s.payloads;
            }
        }
        &self.input
    }

    /// How long the run took, for messages (`None` while it runs).
    #[must_use]
    pub fn elapsed(&self) -> Option<std::time::Duration> {
        let start = crate::time::parse(&self.started_at)?;
        let end = crate::time::parse(self.finished_at.as_deref()?)?;
        (end - start).to_std().ok()
    }
}

impl PayloadRecord {
    /// Whether the file holds the payload's full content: neither trimmed nor masked.
    #[must_use]
    pub fn is_complete(&self) -> bool {
        !self.trimmed && !self.masked
    }
}

impl Manifest {
    /// Checks what the store relies on before it follows a manifest's names: the
    /// format, a flow name that is a name, and payload files inside the run folder
    /// (a manifest listing `../../etc/passwd` must not make any command read it).
    ///
    /// # Errors
    /// What is wrong.
    pub fn check(&self) -> Result<(), String> {
        if self.format != FORMAT {
            return Err(format!("unknown format `{}`", self.format));
        }
        if !crate::names::is_name(&self.flow) {
            return Err(format!(
                "`flow` is `{}`, which is not a flow name",
                self.flow
            ));
        }
        match self.records().find(|r| !is_inside_run(&r.file)) {
            Some(r) => Err(format!(
                "payload file `{}` is not a path inside the run folder",
                r.file
            )),
            None => Ok(()),
        }
    }

    /// The step that failed, if any.
    #[must_use]
    pub fn failed_step(&self) -> Option<&str> {
        self.error.as_ref().and_then(|e| e.step.as_deref())
    }

    /// Every payload record, inputs first, with its step index (0 = input); a step's
    /// `failed/` files follow its outputs.
    pub fn records(&self) -> impl Iterator<Item = &PayloadRecord> {
        self.input.iter().chain(
            self.steps
                .iter()
                .flat_map(|s| s.payloads.iter().chain(s.failed.iter().map(|f| &f.payload))),
        )
    }

    /// How many input payloads failed and were gone on past, in all steps.
    #[must_use]
    pub fn failed_count(&self) -> usize {
        self.steps.iter().map(|s| s.failed.len()).sum()
    }

    /// The first step with failed payloads.
    #[must_use]
    pub fn first_failed_step(&self) -> Option<&StepRecord> {
        self.steps.iter().find(|s| !s.failed.is_empty())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn manifest(flow: &str, file: &str) -> Manifest {
        Manifest {
            format: FORMAT.into(),
            run_id: "20261128T093000.123Z-7f3a".into(),
            flow: flow.into(),
            flow_blake3: String::new(),
            trigger: TriggerKind::Manual,
            replay_of: None,
            resume_of: None,
            retry_of: None,
            status: RunStatus::Failure,
            started_at: String::new(),
            finished_at: None,
            pid: 0,
            input: vec![PayloadRecord {
                file: file.into(),
                bytes: 0,
                blake3: String::new(),
                trimmed: false,
                full_bytes: 0,
                full_blake3: String::new(),
                masked: false,
                source: None,
            }],
            steps: Vec::new(),
            error: None,
            edited: Vec::new(),
            notifications: Vec::new(),
            parent: None,
        }
    }

    #[test]
    fn paths_outside_the_run_folder_are_refused() {
        assert_eq!(manifest("f", "input/000001.json").check(), Ok(()));
        for bad in [
            "../../etc/passwd",
            "/etc/passwd",
            "",
            "input//000001.json",
            "input/./000001.json",
            "steps\\01-a\\000001.json",
            "input/..",
        ] {
            let err = manifest("f", bad).check().unwrap_err();
            assert!(
                err.contains("not a path inside the run folder"),
                "{bad}: {err}"
            );
        }
        assert!(manifest("../x", "input/000001.json").check().is_err());
        let mut m = manifest("f", "input/000001.json");
        m.format = "flowrun.run/2".into();
        assert_eq!(m.check(), Err("unknown format `flowrun.run/2`".into()));
    }
}
