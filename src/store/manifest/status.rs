//! The states a manifest records: what started a run, the run's status, each step's.

use serde::{Deserialize, Serialize};
use std::fmt;

/// What started a run.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum TriggerKind {
    /// `flowrun run`.
    Manual,
    /// `every` / `cron`.
    Schedule,
    /// A file drop.
    Watch,
    /// `flowrun replay`.
    Replay,
    /// `flowrun retry`.
    Retry,
    /// `flowrun resume`.
    Resume,
    /// A `flow` or `route` step of another run (a child run).
    Flow,
}

/// The state of a run.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum RunStatus {
    /// In progress (or died: see [`RunStatus::Interrupted`]).
    Running,
    /// Every step succeeded.
    Success,
    /// A step failed.
    Failure,
    /// The process died while the run was in progress.
    Interrupted,
    /// Every step ran to its end, but some payloads failed in a step with
    /// `on_error = "continue"` (they are listed in the step's `failed`).
    Partial,
}

impl RunStatus {
    /// Whether the run's data went through: a success, or a partial success (whose
    /// failed payloads are recorded under `failed/` to re-sync on their own).
    #[must_use]
    pub fn went_through(self) -> bool {
        matches!(self, RunStatus::Success | RunStatus::Partial)
    }
}

/// The state of one step in a run.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum StepStatus {
    /// Not reached (yet).
    Pending,
    /// In progress.
    Running,
    /// Done.
    Success,
    /// Failed; the run's `error` says on which payload.
    Failure,
    /// Skipped: its inputs went on unchanged.
    Skipped,
}

impl fmt::Display for RunStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            RunStatus::Running => "running",
            RunStatus::Success => "success",
            RunStatus::Failure => "failure",
            RunStatus::Interrupted => "interrupted",
            RunStatus::Partial => "partial",
        })
    }
}

impl fmt::Display for StepStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            StepStatus::Pending => "pending",
            StepStatus::Running => "running",
            StepStatus::Success => "success",
            StepStatus::Failure => "failure",
            StepStatus::Skipped => "skipped",
        })
    }
}

impl fmt::Display for TriggerKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TriggerKind::Manual => "manual",
            TriggerKind::Schedule => "schedule",
            TriggerKind::Watch => "watch",
            TriggerKind::Replay => "replay",
            TriggerKind::Retry => "retry",
            TriggerKind::Resume => "resume",
            TriggerKind::Flow => "flow",
        })
    }
}
