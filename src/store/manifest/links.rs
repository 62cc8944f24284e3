//! What a manifest records about other runs and the outside: parent and child runs,
//! the source of a replay, edited payload files used, notifications sent.

use super::is_false;
use serde::{Deserialize, Serialize};

/// One notification sent (or tried) when a run ended.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Notification {
    /// The webhook URL or the command line (secrets masked).
    pub target: String,
    /// `sent` or `failed`.
    pub status: String,
    /// How many times it was tried.
    pub attempts: u32,
    /// Why it failed (secrets masked).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// Where a child run came from: the parent run, its step, and the input payload file
/// (relative to the parent's run folder; `null` for the implicit start payload).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct ParentLink {
    /// The parent run.
    pub run_id: String,
    /// The parent's flow.
    pub flow: String,
    /// The step of the parent that started this run.
    pub step: String,
    /// The parent's input payload file this run was given.
    pub payload: Option<String>,
}

/// One child run a `flow` or `route` step started for one of its input payloads (or,
/// for `route`, a payload no route took: no `run_id`, status `unhandled`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct ChildLink {
    /// The input payload file of the parent step (`null` for the implicit start payload).
    pub source: Option<String>,
    /// blake3 of that input payload (pretty JSON), to match it again on resume.
    pub input_blake3: String,
    /// For `route`: the 1-based route that took it, or `otherwise`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub route: Option<serde_json::Value>,
    /// The child flow.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub flow: Option<String>,
    /// The child run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run_id: Option<String>,
    /// `running`, `success`, `failure`, `interrupted`, or `unhandled` (route only).
    pub status: String,
    /// Whether this run took the child run over from the run it resumes instead of
    /// starting one.
    #[serde(default, skip_serializing_if = "is_false")]
    pub reused: bool,
}

/// A recorded payload file used although it was edited after it was recorded.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct EditedFile {
    /// The run it belongs to.
    pub run_id: String,
    /// Path relative to that run's folder.
    pub file: String,
    /// blake3 of the file as used.
    pub blake3: String,
}

/// The source of a replay.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct ReplayOf {
    /// The source run.
    pub run_id: String,
    /// The step whose payloads were replayed (`input` for input payloads).
    pub step: String,
    /// The payload files, relative to the source run folder.
    pub payloads: Vec<ReplayedPayload>,
    /// Whether any payload was edited after it was recorded.
    pub edited: bool,
}

/// One replayed payload.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct ReplayedPayload {
    /// Path relative to the source run folder.
    pub file: String,
    /// blake3 of the file as replayed.
    pub blake3: String,
}
