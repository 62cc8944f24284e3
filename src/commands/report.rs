//! What a run prints: a line per step as it ends, then the outcome and the ways on.

use super::{Ctx, note, out, out_json, shown};
use crate::engine::{Event, Finished, elapsed};
use crate::error::Exit;
use crate::flow::Flow;
use crate::store::{Manifest, RunStatus, StepRecord, StepStatus};

/// Prints run events as they happen (nothing with `-q` but the run id).
pub fn printer<'a>(ctx: &'a Ctx, flow: &'a Flow) -> impl FnMut(Event<'_>) + 'a {
    let width = flow.steps.iter().map(|s| s.id.len()).max().unwrap_or(0);
    move |event| match event {
        // `--json` prints one object when the run has ended, and nothing else.
        _ if ctx.json => {}
        Event::Started { run_id, dir } => {
            if ctx.quiet {
                out(run_id);
            } else {
                out(format!(
                    "run {run_id} of flow {} ({})",
                    flow.name,
                    shown(dir)
                ));
            }
        }
        Event::Skipped(rec) => {
            if !ctx.quiet {
                out(step_line(rec, width, "skipped"));
            }
        }
        Event::StepEnded { record, inputs } => {
            if ctx.quiet {
                return;
            }
            let outputs = record.payloads.len();
            let bytes: u64 = record.payloads.iter().map(|p| p.full_bytes).sum();
            let trimmed = record.payloads.iter().filter(|p| p.trimmed).count();
            let what = match record.status {
                StepStatus::Failure => format!(
                    "FAILED after {} of {inputs} input payload{}",
                    record.inputs_done,
                    plural(inputs)
                ),
                _ => format!(
                    "ok      {inputs} → {outputs} payload{}  {}{}{}",
                    plural(outputs),
                    size(bytes),
                    if trimmed > 0 {
                        format!("  ({trimmed} trimmed)")
                    } else {
                        String::new()
                    },
                    if record.reused > 0 {
                        format!(
                            "  (reused for {} input{})",
                            record.reused,
                            plural(record.reused)
                        )
                    } else {
                        String::new()
                    }
                ),
            };
            out(step_line(record, width, &what));
        }
    }
}

fn step_line(rec: &StepRecord, width: usize, what: &str) -> String {
    format!(
        "  {:02} {:<width$}  {:<7}  {what}",
        rec.index, rec.id, rec.kind
    )
}

/// A command that continues from a run's end, with what it is for.
#[derive(Debug, Clone)]
pub struct Hint {
    /// The line before the command, saying when to use it.
    pub why: String,
    /// The command, rendered by [`crate::hint::flowrun`].
    pub command: String,
}

/// The ways on from a run that did not succeed, the best first: `resume` (the exact
/// continuation), then a `replay` only where one re-syncs everything the run left undone
/// without doing anything twice (see [`replay_point`]).
#[must_use]
pub fn ways_on(flow: &Flow, fin: &Finished) -> Vec<Hint> {
    let m = &fin.manifest;
    if m.status == RunStatus::Success {
        return Vec::new();
    }
    let mut hints = vec![Hint {
        why: if m.status == RunStatus::Failure {
            "fix the flow, then continue this run where it stopped (nothing it finished is done again):"
        } else {
            "continue this run where it stopped (nothing it finished is done again):"
        }
        .into(),
        command: crate::hint::flowrun(["resume", m.run_id.as_str()]),
    }];
    if m.status == RunStatus::Failure
        && let Some(s) = replay_point(flow, m)
    {
        let rec = &m.steps[s];
        let folder = rec
            .payloads
            .first()
            .and_then(|p| std::path::Path::new(&p.file).parent())
            .map(|f| fin.dir.join(f));
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
                command: crate::hint::flowrun([
                    "replay",
                    crate::hint::path(&folder).as_str(),
                    "--auto-skip",
                ]),
            });
        }
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
    if !def(f)?.spec.redo_is_harmless() && m.steps[f].inputs_done > 0 {
        return None;
    }
    let mut s = f;
    loop {
        s = s.checked_sub(1)?;
        if m.steps[s].status != StepStatus::Success {
            return None;
        }
        if !def(s)?.spec.redo_is_harmless() {
            break;
        }
    }
    let outputs = &m.steps[s].payloads;
    (!outputs.is_empty() && outputs.iter().all(|p| !p.trimmed && !p.masked)).then_some(s)
}

/// How a run ended, as `--json` prints it: one object, the only thing on stdout.
#[derive(Debug, serde::Serialize)]
pub struct Outcome<'a> {
    /// The new run's id.
    pub run_id: &'a str,
    /// Its flow.
    pub flow: &'a str,
    /// `success`, `failure` or `interrupted`.
    pub status: RunStatus,
    /// `manual`, `replay`, `resume`, `retry`, …
    pub trigger: crate::store::TriggerKind,
    /// The run folder (absolute).
    pub folder: String,
    /// Start and end, RFC 3339 UTC.
    pub started_at: &'a str,
    /// End time.
    pub finished_at: Option<&'a str>,
    /// The step that failed.
    pub failed_step: Option<&'a str>,
    /// The input payload file it failed on (absolute).
    pub failed_payload: Option<String>,
    /// Why it failed.
    pub error: Option<&'a str>,
    /// Payload files the run stored.
    pub payloads_stored: usize,
    /// The commands to continue from here, best first (empty after a success).
    pub hints: Vec<String>,
}

/// Prints how the run ended and returns the exit code for it.
pub fn finished(ctx: &Ctx, flow: &Flow, fin: &Finished) -> Exit {
    let m = &fin.manifest;
    let hints = ways_on(flow, fin);
    let exit = if m.status == RunStatus::Success {
        Exit::Success
    } else {
        Exit::Failed
    };
    if ctx.json {
        let err = m.error.as_ref();
        let abs = |p: &std::path::Path| {
            std::path::absolute(p)
                .unwrap_or_else(|_| p.to_path_buf())
                .display()
                .to_string()
        };
        out_json(&Outcome {
            run_id: &m.run_id,
            flow: &m.flow,
            status: m.status,
            trigger: m.trigger,
            folder: abs(&fin.dir),
            started_at: &m.started_at,
            finished_at: m.finished_at.as_deref(),
            failed_step: err.and_then(|e| e.step.as_deref()),
            failed_payload: err
                .and_then(|e| e.failed_input.as_deref())
                .map(|f| abs(&fin.dir.join(f))),
            error: err.map(|e| e.message.as_str()),
            payloads_stored: m.records().count(),
            hints: hints.iter().map(|h| h.command.clone()).collect(),
        });
    }
    let took = elapsed(m)
        .map(|d| format!(" in {:.2}s", d.as_secs_f64()))
        .unwrap_or_default();
    let talk = !ctx.quiet && !ctx.json;
    if m.status == RunStatus::Success {
        if talk {
            let stored = m.records().count();
            out(format!(
                "success: run {}{took}, {stored} payload file{} stored",
                m.run_id,
                plural(stored)
            ));
        }
        return exit;
    }
    let Some(err) = &m.error else {
        note(format!(
            "error: run {} ended with status {}",
            m.run_id, m.status
        ));
        return exit;
    };
    let step = err.step.as_deref().unwrap_or("?");
    match &err.failed_input {
        Some(file) => {
            let path = shown(&fin.dir.join(file));
            note(format!(
                "error: step `{step}` failed on payload {path}: {}",
                err.message
            ));
            if talk {
                out(format!("failed payload: {path}"));
            }
        }
        None => note(format!("error: step `{step}` failed: {}", err.message)),
    }
    if talk {
        for h in &hints {
            out(&h.why);
            out(format!("  {}", h.command));
        }
    }
    exit
}

/// `s` unless there is exactly one.
#[must_use]
pub fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

/// A byte count for people: `980 B`, `34.2 KiB`, `1.5 MiB`.
#[must_use]
pub fn size(bytes: u64) -> String {
    #[allow(
        clippy::cast_precision_loss,
        reason = "an approximate size is all that is shown"
    )]
    let b = bytes as f64;
    if bytes < 1024 {
        format!("{bytes} B")
    } else if bytes < 1024 * 1024 {
        format!("{:.1} KiB", b / 1024.0)
    } else if bytes < 1024 * 1024 * 1024 {
        format!("{:.1} MiB", b / (1024.0 * 1024.0))
    } else {
        format!("{:.2} GiB", b / (1024.0 * 1024.0 * 1024.0))
    }
}
