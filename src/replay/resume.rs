//! `resume` (continue a failed or interrupted run exactly where it stopped) and
//! `retry` (run it again from the start with its original input).

use super::reuse::{Checks, add_finished, add_links, input_hashes, ran, started_a_step};
use super::{FlowVersion, ReplayError, check_not_resynced, load_flow, read_recorded, refused};
use crate::engine::Reuse;
use crate::flow::Flow;
use crate::store::list::RunRef;
use crate::store::manifest::EditedFile;
use crate::store::{Manifest, RunStatus, StepStatus, Store};
use serde_json::Value;
use std::path::Path;

/// A resume or retry, planned and checked.
pub(crate) struct RerunPlan {
    /// The flow to run.
    pub(crate) flow: Flow,
    /// The run it continues or repeats.
    pub(crate) source: RunRef,
    /// Initial payloads of the new run.
    pub(crate) inputs: Vec<Value>,
    /// Steps to skip besides the flow's own flags (0-based).
    pub(crate) also_skip: Vec<usize>,
    /// Work already done, to reuse (resume only).
    pub(crate) reuse: Option<Reuse>,
    /// The first step that runs (0-based).
    pub(crate) start: usize,
    /// The step the source run stopped in (0-based).
    pub(crate) stopped: usize,
    /// When the run to resume is itself a resume that was cut off before it started a
    /// step: the earlier run whose work is continued instead.
    pub(crate) continues: Option<String>,
    /// The run to resume and the runs it resumes, transitively, newest first (resume only).
    pub(crate) lineage: Vec<String>,
    /// Recorded files it uses although they were edited (`--edited`).
    pub(crate) edited: Vec<EditedFile>,
    /// How many payloads steps failed on and went on past (`on_error`) run again
    /// (resume only).
    pub(crate) redo_failed: usize,
}

/// What `resume` and `retry` were asked besides the run.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RerunOptions {
    /// Which flow file to run.
    pub(crate) version: FlowVersion,
    /// Accept recorded files edited since they were recorded (the edit is recorded).
    pub(crate) edited: bool,
    /// Resume even though a re-sync already sent the run's data (resume only).
    pub(crate) force: bool,
}

/// One run of a resume lineage, with its manifest and flow file.
struct Member {
    run: RunRef,
    m: Manifest,
    source: String,
}

/// Plans `flowrun resume RUN`.
///
/// # Errors
/// The run did not fail, the flow no longer fits it, or a needed payload was trimmed.
pub(crate) fn plan_resume(
    store: &Store,
    root: &Path,
    run: &RunRef,
    opts: RerunOptions,
) -> Result<RerunPlan, ReplayError> {
    let version = opts.version;
    let m = store.read_manifest(&run.dir)?;
    match m.status {
        RunStatus::Failure | RunStatus::Interrupted | RunStatus::Partial => {}
        RunStatus::Success => {
            return Err(refused(format!(
                "run {} succeeded; there is nothing to resume (use `{}` to run it again)",
                run.id,
                crate::hint::flowrun(["retry", run.id.as_str()])
            )));
        }
        RunStatus::Running => {
            return Err(refused(format!(
                "run {} is still running; wait for it to end",
                run.id
            )));
        }
    }
    let lineage = lineage(store, run, m);
    // A run counts as re-synced once any resume of it (or of a resume of it…) or any
    // replay of its payloads succeeded.
    if !opts.force {
        let runs: Vec<RunRef> = lineage.iter().map(|x| x.run.clone()).collect();
        check_not_resynced(store, run, &runs)?;
    }
    // A resume cut off before it started a step recorded nothing of its own (not even,
    // perhaps, all of its input): continue the newest run of the lineage that did.
    let e = lineage
        .iter()
        .position(|x| started_a_step(&x.m))
        .unwrap_or(lineage.len() - 1);
    let eff = &lineage[e];
    let f = stop_point(&eff.m).ok_or_else(|| {
        refused(format!(
            "run {} has no failed or unfinished step to resume",
            eff.run.id
        ))
    })?;
    let flow = load_flow(root, run, version)?;
    check_fits(&flow, &eff.m, f)?;
    // A step changed since the run (before the one that stopped) runs again from there.
    let start = (0..f)
        .find(|&i| step_changed(&eff.source, &flow.source, i))
        .unwrap_or(f);

    let mut edited = Vec::new();
    let inputs = read_recorded(
        &eff.run.dir,
        &eff.run.id,
        eff.m.step_inputs(start),
        opts.edited,
        &mut edited,
    )?;
    let mut reuse = Reuse::default();
    let mut checks = Checks {
        allow_edits: opts.edited,
        edited: &mut edited,
    };
    // Every step that ran hands on what it finished: the steps after the one that
    // stopped ran too when the run went on past failed payloads (`on_error`), and
    // reusing their work leaves exactly the failed payloads to go on from their step.
    for i in start..eff.m.steps.len().min(flow.steps.len()) {
        // A changed step before the stop must redo its work; from the stop on, steps
        // keep what they finished (§5), changed or not: it went through already.
        if i < f && step_changed(&eff.source, &flow.source, i) {
            continue;
        }
        let mut covered = add_finished(&mut reuse, &mut checks, &eff.m, &eff.run, i, 0)?;
        if !ran(&eff.m, i) {
            continue;
        }
        let mut linked = vec![&eff.m];
        // Work an earlier run of the lineage finished that this one had not taken over
        // yet when it stopped (a resume cut off while copying reused outputs): the same
        // step over the same inputs, so its outputs line up position by position.
        for older in &lineage[e + 1..] {
            if step_changed(&older.source, &eff.source, i)
                || input_hashes(&older.m, i) != input_hashes(&eff.m, i)
            {
                break;
            }
            linked.push(&older.m);
            covered = covered.max(add_finished(
                &mut reuse,
                &mut checks,
                &older.m,
                &older.run,
                i,
                covered,
            )?);
        }
        add_links(&mut reuse, &linked, i);
    }
    Ok(RerunPlan {
        flow,
        source: run.clone(),
        inputs,
        also_skip: (0..start).collect(),
        reuse: Some(reuse),
        start,
        stopped: f,
        continues: (e > 0).then(|| eff.run.id.clone()),
        lineage: lineage.iter().map(|x| x.run.id.clone()).collect(),
        edited,
        redo_failed: eff.m.failed_count(),
    })
}

/// `run` and the runs it resumes, transitively, newest first.
fn lineage(store: &Store, run: &RunRef, m: Manifest) -> Vec<Member> {
    let source = |r: &RunRef| {
        crate::store::recorded::read_text(
            &crate::store::layout::flow_copy(&r.dir),
            crate::store::recorded::MAX_FLOW_BYTES,
        )
        .unwrap_or_default()
    };
    let mut out = vec![Member {
        source: source(run),
        run: run.clone(),
        m,
    }];
    while let Some(parent) = out[out.len() - 1].m.resume_of.clone() {
        // Run ids sort by start time and a resume starts after its source: no cycles,
        // but a hand-edited manifest could still claim one.
        if out.iter().any(|x| x.run.id == parent) || !crate::time::is_run_id(&parent) {
            break;
        }
        let dir = store.run_dir(&run.flow, &parent);
        let Ok(pm) = crate::store::read_manifest_raw(&dir) else {
            break;
        };
        let pr = RunRef {
            flow: run.flow.clone(),
            id: parent,
            dir,
        };
        out.push(Member {
            source: source(&pr),
            run: pr,
            m: pm,
        });
    }
    out
}

/// Whether step `i` reads differently in the two flow texts (ignoring `skip` and
/// `description`).
fn step_changed(old: &str, new: &str, i: usize) -> bool {
    let step = |src: &str| -> Option<toml::Table> {
        let doc: toml::Table = src.parse().ok()?;
        let mut t = doc.get("steps")?.as_array()?.get(i)?.as_table()?.clone();
        t.remove("skip");
        t.remove("description");
        Some(t)
    };
    step(old) != step(new)
}

/// Plans `flowrun retry RUN`.
///
/// # Errors
/// An input payload was trimmed, or the flow has problems.
pub(crate) fn plan_retry(
    store: &Store,
    root: &Path,
    run: &RunRef,
    opts: RerunOptions,
) -> Result<RerunPlan, ReplayError> {
    let m = store.read_manifest(&run.dir)?;
    if m.status == RunStatus::Running {
        return Err(refused(format!(
            "run {} is still running; wait for it to end",
            run.id
        )));
    }
    let mut edited = Vec::new();
    let inputs = read_recorded(&run.dir, &run.id, &m.input, opts.edited, &mut edited)?;
    let flow = load_flow(root, run, opts.version)?;
    Ok(RerunPlan {
        flow,
        source: run.clone(),
        inputs,
        also_skip: Vec::new(),
        reuse: None,
        start: 0,
        stopped: 0,
        continues: None,
        lineage: Vec::new(),
        edited,
        redo_failed: 0,
    })
}

/// The step a failed, interrupted or partial run stopped in (0-based): the first that
/// failed, was cut off, or went on past failed payloads (`on_error`) — those payloads
/// stopped there.
fn stop_point(m: &Manifest) -> Option<usize> {
    m.steps
        .iter()
        .position(|s| {
            matches!(s.status, StepStatus::Failure | StepStatus::Running) || !s.failed.is_empty()
        })
        .or_else(|| m.steps.iter().position(|s| s.status == StepStatus::Pending))
}

/// The flow must still have the run's steps, in order, up to the one that stopped.
fn check_fits(flow: &Flow, m: &Manifest, f: usize) -> Result<(), ReplayError> {
    let then: Vec<&str> = m.steps[..=f].iter().map(|s| s.id.as_str()).collect();
    let now: Vec<&str> = flow
        .steps
        .iter()
        .take(f + 1)
        .map(|s| s.id.as_str())
        .collect();
    if then != now {
        return Err(refused(format!(
            "{} no longer has the run's steps up to `{}` in the same order (then: {}; now: {}); resume needs them unchanged — use `{}` on the payloads you need, or --flow-version original",
            flow.file(),
            m.steps[f].id,
            then.join(", "),
            now.join(", "),
            crate::hint::flowrun(["replay"])
        )));
    }
    Ok(())
}
