//! What a run prints: a line per step as it ends, then the outcome and the ways on.

use super::{Ctx, note, out, out_json, shown};
use crate::engine::{Event, Finished};
use crate::error::Exit;
use crate::flow::Flow;
use crate::store::{Manifest, RunStatus, StepRecord, StepStatus};

/// Prints run events as they happen (nothing with `-q` but the run id).
pub(crate) fn printer<'a>(ctx: &'a Ctx, flow: &'a Flow) -> impl FnMut(Event<'_>) + 'a {
    let width = flow.steps.iter().map(|s| s.id.len()).max().unwrap_or(0);
    let mut progress: Option<super::progress::Progress> = None;
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
                progress = super::progress::Progress::start(dir.to_path_buf(), ctx.talk());
            }
        }
        Event::Skipped(rec) => {
            if !ctx.quiet {
                say(
                    progress.as_ref(),
                    step_line(rec, width, &super::style::warn("skipped")),
                );
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
                    "{} after {} of {inputs} input payload{}",
                    super::style::bad("FAILED"),
                    record.inputs_done,
                    plural(inputs)
                ),
                _ => format!(
                    "{}      {inputs} → {outputs} payload{}  {}{}{}{}",
                    super::style::ok("ok"),
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
                    },
                    if record.failed.is_empty() {
                        String::new()
                    } else {
                        format!(
                            "  ({})",
                            super::style::bad(&format!("{} failed", record.failed.len()))
                        )
                    }
                ),
            };
            say(progress.as_ref(), step_line(record, width, &what));
        }
    }
}

fn say(progress: Option<&super::progress::Progress>, line: String) {
    match progress {
        Some(p) => p.out(line),
        None => out(line),
    }
}

fn step_line(rec: &StepRecord, width: usize, what: &str) -> String {
    format!(
        "  {:02} {:<width$}  {:<7}  {what}",
        rec.index, rec.id, rec.kind
    )
}

/// How a run ended, as `--json` prints it: one object, the only thing on stdout.
#[derive(Debug, serde::Serialize)]
pub(crate) struct Outcome<'a> {
    /// The new run's id.
    pub(crate) run_id: &'a str,
    /// Its flow.
    pub(crate) flow: &'a str,
    /// `success`, `failure` or `interrupted`.
    pub(crate) status: RunStatus,
    /// `manual`, `replay`, `resume`, `retry`, …
    pub(crate) trigger: crate::store::TriggerKind,
    /// The run folder (absolute).
    pub(crate) folder: String,
    /// Start time, RFC 3339 UTC.
    pub(crate) started_at: &'a str,
    /// End time.
    pub(crate) finished_at: Option<&'a str>,
    /// The step that failed.
    pub(crate) failed_step: Option<&'a str>,
    /// The input payload file it failed on (absolute).
    pub(crate) failed_payload: Option<String>,
    /// Why it failed.
    pub(crate) error: Option<&'a str>,
    /// Payload files the run stored.
    pub(crate) payloads_stored: usize,
    /// The commands to continue from here, best first (empty after a success).
    pub(crate) hints: Vec<String>,
    /// Input payloads steps failed on and went on past (`on_error`), as stored under
    /// `failed/` (absolute).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub(crate) failed_payloads: Vec<String>,
}

/// Prints how the run ended and returns the exit code for it.
pub(crate) fn finished(ctx: &Ctx, flow: &Flow, fin: &Finished) -> Exit {
    let m = &fin.manifest;
    let hints = crate::hint::ways_on(flow, fin);
    let exit = if m.status == RunStatus::Success {
        Exit::Success
    } else {
        Exit::Failed
    };
    notifications(ctx, m);
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
            failed_step: err
                .and_then(|e| e.step.as_deref())
                .or_else(|| m.first_failed_step().map(|s| s.id.as_str())),
            failed_payload: err
                .and_then(|e| e.failed_input.as_deref())
                .map(|f| abs(&fin.dir.join(f))),
            error: err.map(|e| e.message.as_str()),
            payloads_stored: m.records().count(),
            hints: hints.iter().map(|h| h.command.clone()).collect(),
            failed_payloads: m
                .steps
                .iter()
                .flat_map(|s| s.failed.iter())
                .map(|f| abs(&fin.dir.join(&f.payload.file)))
                .collect(),
        });
    }
    let took = m
        .elapsed()
        .map(|d| format!(" in {:.2}s", d.as_secs_f64()))
        .unwrap_or_default();
    let talk = ctx.talk();
    if m.status == RunStatus::Success {
        if talk {
            let stored = m.records().count();
            out(format!(
                "{}: run {}{took}, {stored} payload file{} stored",
                super::style::ok("success"),
                m.run_id,
                plural(stored)
            ));
        }
        return exit;
    }
    if m.status == RunStatus::Interrupted {
        interrupted(fin);
        return Exit::Failed;
    }
    if m.failed_count() > 0 {
        let partial = m.status == RunStatus::Partial;
        failed_payloads(fin, (talk && partial).then_some(hints.as_slice()));
        if partial {
            return exit;
        }
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

/// The payloads steps failed on and went on past (`on_error`), one line each on
/// stderr; after a partial run, the outcome, the failed files and the ways on (`hints`)
/// follow on stdout.
fn failed_payloads(fin: &Finished, hints: Option<&[crate::hint::Hint]>) {
    let m = &fin.manifest;
    let count = m.failed_count();
    let steps: Vec<&str> = m
        .steps
        .iter()
        .filter(|s| !s.failed.is_empty())
        .map(|s| s.id.as_str())
        .collect();
    for s in &m.steps {
        for f in &s.failed {
            let from = f
                .payload
                .source
                .as_ref()
                .map(|src| format!(" (from {src})"))
                .unwrap_or_default();
            note(format!(
                "error: step `{}` failed on payload {}{from} and went on: {}",
                s.id,
                shown(&fin.dir.join(&f.payload.file)),
                f.error
            ));
        }
    }
    if let Some(hints) = hints {
        let took = m
            .elapsed()
            .map(|d| format!(" in {:.2}s", d.as_secs_f64()))
            .unwrap_or_default();
        out(format!(
            "{}: run {}{took}: {count} payload{} failed in step{} {} (the others went through); failed payloads:",
            super::style::bad("partial"),
            m.run_id,
            plural(count),
            plural(steps.len()),
            steps
                .iter()
                .map(|s| format!("`{s}`"))
                .collect::<Vec<_>>()
                .join(", ")
        ));
        for s in &m.steps {
            for f in &s.failed {
                out(format!("  {}", shown(&fin.dir.join(&f.payload.file))));
            }
        }
        for h in hints {
            out(&h.why);
            out(format!("  {}", h.command));
        }
    }
}

/// A failed notification is a warning (stderr, even with `--json`), never the exit code.
fn notifications(ctx: &Ctx, m: &Manifest) {
    for n in &m.notifications {
        match &n.error {
            Some(e) => note(format!(
                "warning: notification to {} failed after {} attempt{}: {e}",
                n.target,
                n.attempts,
                plural(n.attempts as usize)
            )),
            None if ctx.talk() => note(format!("notified {}", n.target)),
            None => {}
        }
    }
}

/// A run a stop request ended: what stopped it, where, and how to go on.
fn interrupted(fin: &Finished) {
    let m = &fin.manifest;
    let (how, step) = m.error.as_ref().map_or(("stopped", None), |e| {
        (e.message.as_str(), e.step.as_deref())
    });
    let at = step.map(|s| format!(" in step {s}")).unwrap_or_default();
    note(format!(
        "interrupted: run {} of flow {} {how}{at}; resume with {}",
        m.run_id,
        m.flow,
        crate::hint::flowrun(["resume", m.run_id.as_str()])
    ));
}

/// The ways on after a run that did not succeed, as `run` prints them on stdout (also
/// shown by the web viewer): the failed payload, then each hint's reason and command.
/// `flow` is the flow as it is now; without it only `resume` is offered.
#[must_use]
pub(crate) fn resync_hints(
    flow: Option<&Flow>,
    m: &Manifest,
    dir: &std::path::Path,
) -> Vec<String> {
    let mut lines = Vec::new();
    if let Some(file) = m.error.as_ref().and_then(|e| e.failed_input.as_deref()) {
        lines.push(format!("failed payload: {}", shown(&dir.join(file))));
    }
    for h in crate::hint::ways_on_run(flow, m, dir) {
        lines.push(h.why);
        lines.push(format!("  {}", h.command));
    }
    lines
}

pub(crate) use crate::names::plural;

/// A byte count for people: `980 B`, `34.2 KiB`, `1.5 MiB`.
#[must_use]
pub(crate) fn size(bytes: u64) -> String {
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
