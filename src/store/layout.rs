//! The names inside the run store, in one place: `runs/<flow>/<run-id>/` holds
//! `manifest.json`, `flow.toml` (the flow file as it ran), `input/` and
//! `steps/NN-<id>/`; `runs/<flow>/` also holds `.lock` and `dedupe/`.

use std::path::{Path, PathBuf};

/// The run store under the project root.
pub(crate) const RUNS: &str = "runs";
/// A run's manifest.
pub(crate) const MANIFEST: &str = "manifest.json";
/// The copy of the flow file a run ran.
pub(crate) const FLOW_COPY: &str = "flow.toml";
/// A run's input payloads; also the name of the run's input where a step id goes.
pub(crate) const INPUT: &str = "input";
/// The folder of the steps' outputs.
pub(crate) const STEPS: &str = "steps";
/// A step's folder of the input payloads it failed on and went on past (`on_error`).
pub(crate) const FAILED: &str = "failed";
/// A flow's lock file.
pub(crate) const LOCK: &str = ".lock";
/// A flow's saved dedupe keys.
pub(crate) const DEDUPE: &str = "dedupe";

/// `run_dir/manifest.json`.
pub(crate) fn manifest(run_dir: &Path) -> PathBuf {
    run_dir.join(MANIFEST)
}

/// `run_dir/flow.toml`.
pub(crate) fn flow_copy(run_dir: &Path) -> PathBuf {
    run_dir.join(FLOW_COPY)
}

/// `steps/NN-<id>`, NN zero-padded to the width of the step count (at least two digits).
#[must_use]
pub(crate) fn step_rel(index: usize, count: usize, id: &str) -> String {
    let width = count.to_string().len().max(2);
    format!("{STEPS}/{index:0width$}-{id}")
}

/// `steps/<dir>`: a step folder named as it is on disk.
pub(crate) fn step_dir_rel(dir: &str) -> String {
    format!("{STEPS}/{dir}")
}
