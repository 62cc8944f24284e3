//! What a run prints: a line per step as it ends, then the outcome and the ways on.

use super::{Ctx, note, out, shown};
use crate::engine::{Event, Finished, elapsed};
use crate::error::Exit;
use crate::flow::Flow;
use crate::store::{Manifest, RunStatus, StepRecord, StepStatus};

/// Prints run events as they happen (nothing with `-q` but the run id).
pub fn printer<'a>(ctx: &'a Ctx, flow: &'a Flow) -> impl FnMut(Event<'_>) + 'a {
    let width = flow.steps.iter().map(|s| s.id.len()).max().unwrap_or(0);
    move |event| match event {
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

/// Prints how the run ended and returns the exit code for it.
pub fn finished(ctx: &Ctx, fin: &Finished) -> Exit {
    let m = &fin.manifest;
    let took = elapsed(m)
        .map(|d| format!(" in {:.2}s", d.as_secs_f64()))
        .unwrap_or_default();
    if m.status == RunStatus::Success {
        if !ctx.quiet {
            let stored = m.records().count();
            out(format!(
                "success: run {}{took}, {stored} payload file{} stored",
                m.run_id,
                plural(stored)
            ));
        }
        return Exit::Success;
    }
    let Some(err) = &m.error else {
        note(format!(
            "error: run {} ended with status {}",
            m.run_id, m.status
        ));
        return Exit::Failed;
    };
    let step = err.step.as_deref().unwrap_or("?");
    match &err.failed_input {
        Some(file) => {
            let path = shown(&fin.dir.join(file));
            note(format!(
                "error: step `{step}` failed on payload {path}: {}",
                err.message
            ));
        }
        None => note(format!("error: step `{step}` failed: {}", err.message)),
    }
    if !ctx.quiet {
        for line in resync_hints(m, &fin.dir) {
            out(line);
        }
    }
    Exit::Failed
}

/// The ways on after a failed run, as printed on stdout (also shown by the web viewer).
#[must_use]
pub fn resync_hints(m: &Manifest, dir: &std::path::Path) -> Vec<String> {
    let Some(err) = &m.error else {
        return Vec::new();
    };
    match &err.failed_input {
        Some(file) => {
            let path = shown(&dir.join(file));
            vec![
                format!("failed payload: {path}"),
                "fix the flow, then either continue this run where it stopped:".into(),
                format!("  flowrun resume {}", m.run_id),
                "or re-sync just the failed payload:".into(),
                format!("  flowrun replay {path} --auto-skip"),
            ]
        }
        None => vec![
            "fix the flow, then continue this run where it stopped:".into(),
            format!("  flowrun resume {}", m.run_id),
        ],
    }
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
