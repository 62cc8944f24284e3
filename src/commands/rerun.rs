//! `flowrun resume RUN` and `flowrun retry RUN`.

use super::run::announce_skips;
use super::{Ctx, out, report};
use crate::engine::{self, RunSpec};
use crate::error::{Error, Exit};
use crate::replay::resume::{RerunOptions, RerunPlan, plan_resume, plan_retry};
use crate::store::replays::Entry;
use crate::store::{RunStatus, TriggerKind};

/// Continues a failed or interrupted run.
///
/// # Errors
/// The run cannot be resumed, the flow is busy, or the store failed.
pub(crate) fn resume(
    ctx: &Ctx,
    run: &str,
    flow: Option<&str>,
    opts: RerunOptions,
) -> Result<Exit, Error> {
    let r = ctx.resolve_run(run, flow)?;
    // Take the lock first: a run that is still going must not be resumed. Holding it,
    // a run left `running` by a process that died is recorded as `interrupted` (readers
    // would otherwise see it as running: the lock is held, by this process).
    let mut lock = ctx.store.lock(&r.flow)?;
    ctx.store.settle_previous(&r.flow, &lock)?;
    let plan = plan_resume(&ctx.store, &ctx.root, &r, opts)?;
    // A resume killed before it recorded itself in the replay index is recorded now, so
    // the guards see the whole lineage once this run finishes it.
    let known = ctx.store.replay_entries(&r.flow);
    for pair in plan.lineage.windows(2) {
        if !known.iter().any(|e| e.run_id == pair[0]) {
            ctx.store.record_replay(
                &r.flow,
                Entry {
                    run_id: pair[0].clone(),
                    of_run: pair[1].clone(),
                    files: Vec::new(),
                    resume: true,
                    status: RunStatus::Interrupted,
                },
            )?;
        }
    }
    if ctx.talk() {
        let stopped = &plan.flow.steps[plan.stopped].id;
        if let Some(earlier) = &plan.continues {
            out(format!(
                "resume run {}: it was cut off before it started a step, so the work of run {earlier} is continued",
                r.id
            ));
        }
        if plan.redo_failed > 0 {
            out(format!(
                "resume run {}: {} payload{} that failed (first in step `{stopped}`) run again, each from the step it failed in; everything that went through is reused",
                r.id,
                plan.redo_failed,
                report::plural(plan.redo_failed),
            ));
        }
        if plan.start < plan.stopped {
            out(format!(
                "resume run {}: it stopped in step `{stopped}`; step `{}` changed since, so the run continues from there (work already finished on unchanged payloads is reused)",
                r.id, plan.flow.steps[plan.start].id
            ));
        } else if plan.redo_failed == 0 {
            out(format!(
                "resume run {} at step `{stopped}` (outputs it already finished are reused)",
                r.id
            ));
        }
    }
    execute(ctx, &mut lock, plan, TriggerKind::Resume)
}

/// Runs a run again from the start with its original input.
///
/// # Errors
/// An input was trimmed, the flow is busy, or the store failed.
pub(crate) fn retry(
    ctx: &Ctx,
    run: &str,
    flow: Option<&str>,
    opts: RerunOptions,
) -> Result<Exit, Error> {
    let r = ctx.resolve_run(run, flow)?;
    let mut lock = ctx.store.lock(&r.flow)?;
    ctx.store.settle_previous(&r.flow, &lock)?;
    let plan = plan_retry(&ctx.store, &ctx.root, &r, opts)?;
    if ctx.talk() {
        out(format!("retry run {} from the start", r.id));
    }
    execute(ctx, &mut lock, plan, TriggerKind::Retry)
}

fn execute(
    ctx: &Ctx,
    lock: &mut crate::store::FlowLock,
    plan: RerunPlan,
    trigger: TriggerKind,
) -> Result<Exit, Error> {
    let flow = &plan.flow;
    let _stop = super::run::stop_on_signal()?;
    announce_skips(ctx, flow);
    let env = |name: &str| std::env::var(name).ok();
    let source = plan.source.id.clone();
    let resume = trigger == TriggerKind::Resume;
    let spec = RunSpec {
        also_skip: plan.also_skip,
        resume_of: resume.then(|| source.clone()),
        retry_of: (!resume).then(|| source.clone()),
        reuse: plan.reuse,
        edited: plan.edited,
        ..RunSpec::new(&ctx.root, flow, trigger, plan.inputs, &env)
    };
    let store = &ctx.store;
    let mut printer = report::printer(ctx, flow);
    let finished = engine::run(store, lock, spec, &mut |ev| {
        if let (true, engine::Event::Started { run_id, .. }) = (resume, &ev) {
            let _ = store.record_replay(
                &flow.name,
                Entry {
                    run_id: (*run_id).to_owned(),
                    of_run: source.clone(),
                    files: Vec::new(),
                    resume: true,
                    status: RunStatus::Running,
                },
            );
        }
        printer(ev);
    })?;
    if resume {
        store.record_replay(
            &flow.name,
            Entry {
                run_id: finished.manifest.run_id.clone(),
                of_run: source,
                files: Vec::new(),
                resume: true,
                status: finished.manifest.status,
            },
        )?;
    }
    Ok(report::finished(ctx, flow, &finished))
}
