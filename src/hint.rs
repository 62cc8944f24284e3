//! Commands printed for the user to paste: the one place that renders a `flowrun …` line.
//!
//! Every message, hint, log line or JSON field that shows a flowrun command builds it with
//! [`flowrun`], and every path inside such a command with [`path`]:
//!
//! ```text
//! hint::flowrun(["resume", run_id])                     // flowrun resume 2026…-7f3a
//! hint::flowrun(["replay", &hint::path(&dir), "--auto-skip"])
//! ```
//!
//! The line carries `--root DIR` (the project root, absolute) when the root was given
//! with `--root` or `FLOWRUN_ROOT`, or is not the current folder; path arguments are then
//! absolute too. A store given with `--store URL` is carried as `--store URL` (one from
//! `FLOWRUN_STORE` is not: the shell that ran the command has the variable, as it has the
//! `AWS_*` ones the store needs). So a printed command works pasted into a shell in any
//! folder. Arguments
//! that a POSIX shell would split or expand are quoted (`shlex`).
//!
//! [`ways_on`] decides which commands to recommend after a run that did not succeed.

use crate::engine::Finished;
use crate::flow::Flow;
use crate::store::{Manifest, PayloadRecord, RunStatus, StepStatus};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// The root that hints name, once the command line set it: `None` inside = no `--root`.
static ROOT: OnceLock<Option<PathBuf>> = OnceLock::new();

/// Records the project root (canonical) for the hints of this process; `explicit` when it
/// came from `--root` or `FLOWRUN_ROOT`. Later calls change nothing.
pub(crate) fn set_root(root: &Path, explicit: bool) {
    let cwd = std::env::current_dir().and_then(|c| c.canonicalize()).ok();
    let named = explicit || cwd.as_deref() != Some(root);
    let _ = ROOT.set(named.then(|| root.to_path_buf()));
}

fn root() -> Option<&'static Path> {
    ROOT.get().and_then(Option::as_deref)
}

/// The store that hints name: the `--store` option's URL, when it was given.
static STORE: OnceLock<Option<String>> = OnceLock::new();

/// Records the `--store` option of this process (`None`: not given) for its hints. Later
/// calls change nothing.
pub(crate) fn set_store(url: Option<&str>) {
    let _ = STORE.set(url.filter(|u| !u.is_empty()).map(str::to_owned));
}

/// `flowrun [--root DIR] ARGS…`, ready to paste.
#[must_use]
pub(crate) fn flowrun<I>(args: I) -> String
where
    I: IntoIterator,
    I::Item: AsRef<str>,
{
    render(root(), STORE.get().and_then(Option::as_deref), args)
}

/// A path as an argument of a printed command: absolute when the command names the root
/// (it may be pasted in another folder), else as messages show paths (relative to the
/// current folder when inside it).
#[must_use]
pub(crate) fn path(p: &Path) -> String {
    if root().is_some() {
        std::path::absolute(p)
            .unwrap_or_else(|_| p.to_path_buf())
            .display()
            .to_string()
    } else {
        crate::flow::display_path(p)
    }
}

/// [`flowrun`] with the root and the store given: the part that does not depend on the
/// process.
#[must_use]
pub(crate) fn render<I>(root: Option<&Path>, store: Option<&str>, args: I) -> String
where
    I: IntoIterator,
    I::Item: AsRef<str>,
{
    let mut line = String::from("flowrun");
    if let Some(root) = root {
        line.push_str(" --root ");
        line.push_str(&quote(&root.to_string_lossy()));
    }
    if let Some(store) = store {
        line.push_str(" --store ");
        line.push_str(&quote(store));
    }
    for arg in args {
        line.push(' ');
        line.push_str(&quote(arg.as_ref()));
    }
    line
}

fn quote(arg: &str) -> String {
    // Only a NUL byte cannot be quoted; no path or id a hint shows holds one.
    shlex::try_quote(arg).map_or_else(|_| arg.to_owned(), std::borrow::Cow::into_owned)
}

/// A command that continues from a run's end, with what it is for.
#[derive(Debug, Clone)]
pub(crate) struct Hint {
    /// The line before the command, saying when to use it.
    pub(crate) why: String,
    /// The command, rendered by [`flowrun`].
    pub(crate) command: String,
}

/// The ways on from a run that did not succeed, the best first: `resume` (the exact
/// continuation), then a `replay` only where one re-syncs everything the run left undone
/// without doing anything twice (see [`replay_point`]).
#[must_use]
pub(crate) fn ways_on(flow: &Flow, fin: &Finished) -> Vec<Hint> {
    ways_on_run(Some(flow), &fin.manifest, &fin.dir)
}

/// [`ways_on`] for a stored run in `dir`; without the flow only `resume` is offered.
#[must_use]
pub(crate) fn ways_on_run(flow: Option<&Flow>, m: &Manifest, dir: &Path) -> Vec<Hint> {
    if m.status == RunStatus::Success {
        return Vec::new();
    }
    if m.status == RunStatus::Partial {
        return partial_ways_on(m, dir);
    }
    let mut hints = vec![Hint {
        why: if m.status == RunStatus::Failure {
            "fix the flow, then continue this run where it stopped (nothing it finished is done again):"
        } else {
            "continue this run where it stopped (nothing it finished is done again):"
        }
        .into(),
        command: flowrun(["resume", m.run_id.as_str()]),
    }];
    if m.status == RunStatus::Failure
        && let Some(flow) = flow
        && let Some(s) = replay_point(flow, m)
    {
        let rec = &m.steps[s];
        let folder = rec
            .payloads
            .first()
            .and_then(|p| Path::new(&p.file).parent())
            .map(|f| dir.join(f));
        if let Some(folder) = folder {
            hints.push(Hint {
                why: format!(
                    "or re-sync {} of step `{}` (for a fix in any step after it):",
                    match rec.payloads.len() {
                        1 => "the recorded output".to_owned(),
                        n => format!("all {n} recorded outputs"),
                    },
                    rec.id
                ),
                command: flowrun(["replay", path(&folder).as_str(), "--auto-skip"]),
            });
        }
    }
    hints
}

/// The ways on from a partial run (payloads failed in steps with `on_error`): `resume`
/// runs exactly the failed payloads again, each from the step it failed in, through the
/// rest of the flow; a `replay` of a step's `failed/` folder does the same for that
/// step's failed payloads (offered when their full content was stored).
fn partial_ways_on(m: &Manifest, dir: &Path) -> Vec<Hint> {
    let mut hints = vec![Hint {
        why: "fix the cause, then continue this run: only the failed payloads run again, from the step they failed in (nothing that went through is done again):".into(),
        command: flowrun(["resume", m.run_id.as_str()]),
    }];
    for s in m.steps.iter().filter(|s| !s.failed.is_empty()) {
        if !s.failed.iter().all(|f| f.payload.is_complete()) {
            continue;
        }
        let Some(folder) = Path::new(&s.failed[0].payload.file).parent() else {
            continue;
        };
        hints.push(Hint {
            why: format!(
                "or re-sync just the {} failed payload{} of step `{}` (the run starts at that step):",
                s.failed.len(),
                crate::names::plural(s.failed.len()),
                s.id
            ),
            command: flowrun([
                "replay",
                path(&dir.join(folder)).as_str(),
                "--auto-skip",
            ]),
        });
    }
    hints
}

/// The step (0-based) whose recorded outputs a `replay` of a failed run should start
/// from, if there is one.
///
/// Steps run one after another, so when step f failed on its input k, none of its
/// inputs reached a later step: what is left to do is step f on all of its inputs and
/// everything after it. A replay redoes every step after the one it starts from, so it
/// must start from a step s before f such that each step between s and f can be redone
/// without harm (it neither fetches nor changes anything outside the run), and the
/// failed step itself must not have done anything outside for its inputs 1..k-1. The
/// earliest such s (walking back over harmless steps to the first step that fetched or
/// acted) lets the fix be in any step after s. There is none when the walk reaches the
/// start or a step the run skipped, or s's outputs were trimmed or masked (`replay`
/// refuses those): then `resume` is the only way on.
fn replay_point(flow: &Flow, m: &Manifest) -> Option<usize> {
    let f = m
        .steps
        .iter()
        .position(|s| s.status == StepStatus::Failure)?;
    let def = |i: usize| flow.steps.get(i).filter(|d| d.id == m.steps[i].id);
    if !def(f)?.kind.props.redo_is_harmless() && m.steps[f].inputs_done > 0 {
        return None;
    }
    let mut s = f;
    loop {
        s = s.checked_sub(1)?;
        if m.steps[s].status != StepStatus::Success {
            return None;
        }
        if !def(s)?.kind.props.redo_is_harmless() {
            break;
        }
    }
    let outputs = &m.steps[s].payloads;
    (!outputs.is_empty() && outputs.iter().all(PayloadRecord::is_complete)).then_some(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_arguments_stay_as_they_are() {
        assert_eq!(
            render(None, None, ["resume", "20261128T093000.123Z-7f3a"]),
            "flowrun resume 20261128T093000.123Z-7f3a"
        );
    }

    #[test]
    fn the_root_comes_first_and_odd_characters_are_quoted() {
        assert_eq!(
            render(
                Some(Path::new("/srv/my integrations")),
                None,
                [
                    "replay",
                    "/srv/my integrations/runs/o/x/steps/01-load",
                    "--auto-skip"
                ]
            ),
            "flowrun --root '/srv/my integrations' replay '/srv/my integrations/runs/o/x/steps/01-load' --auto-skip"
        );
        assert_eq!(
            render(None, Some("s3://b/my runs"), ["show", "x"]),
            "flowrun --store 's3://b/my runs' show x"
        );
        assert_eq!(
            render(None, None, ["show", "it's"]),
            "flowrun show \"it's\""
        );
        assert_eq!(render(None, None, ["show", ""]), "flowrun show ''");
    }
}
