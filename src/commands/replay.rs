//! `flowrun replay PAYLOAD...`: re-sync from recorded payloads, with the guards of SPEC §5.

use super::run::announce_skips;
use super::{Ctx, note, out, report};
use crate::engine::{self, RunSpec};
use crate::error::{Error, Exit};
use crate::replay::{self, ReplayPlan, ReplayRequest};
use crate::store::replays::Entry;
use crate::store::{RunStatus, TriggerKind};
use std::path::PathBuf;

/// Options of `replay`.
pub(crate) struct Options {
    pub(crate) auto_skip: bool,
    pub(crate) flow_version: replay::FlowVersion,
    pub(crate) edited: bool,
    pub(crate) force: bool,
    pub(crate) dry_run: bool,
}

/// Replays the given payload files.
///
/// # Errors
/// A guard refused, the flow is busy, or the store failed.
pub(crate) fn replay(ctx: &Ctx, payloads: &[PathBuf], o: &Options) -> Result<Exit, Error> {
    let req = ReplayRequest {
        payloads,
        auto_skip: o.auto_skip,
        flow_version: o.flow_version,
        edited: o.edited,
        force: o.force,
    };
    let plan = replay::plan(&ctx.store, &ctx.root, &req).map_err(Error::from)?;
    for w in &plan.warnings {
        note(w);
    }
    let summary = summary(&plan, o.flow_version);
    if o.dry_run {
        dry_run(ctx, &plan, &summary);
        return Ok(Exit::Success);
    }
    let flow = &plan.flow;
    let mut lock = ctx.store.lock(&flow.name)?;
    let _stop = super::run::stop_on_signal()?;
    // The duplicate guard again, now that no other run of the flow can finish meanwhile.
    if !o.force {
        for p in &plan.replay_of.payloads {
            if let Some(e) = ctx
                .store
                .replayed_by(&flow.name, &plan.source.id, &p.file)
                .first()
            {
                return Err(Error::Usage(format!(
                    "{}: already replayed by run {} ({}); add --force to replay anyway",
                    p.file, e.run_id, e.status
                )));
            }
        }
    }
    if ctx.talk() {
        out(summary);
        if !plan.also_skip.is_empty() {
            let auto: Vec<&str> = plan
                .also_skip
                .iter()
                .map(|&i| flow.steps[i].id.as_str())
                .collect();
            out(format!(
                "skipping for this run only (--auto-skip): {}",
                auto.join(", ")
            ));
        }
    }
    announce_skips(ctx, flow);
    let env = |name: &str| std::env::var(name).ok();
    let source_id = plan.source.id.clone();
    let files: Vec<String> = plan
        .replay_of
        .payloads
        .iter()
        .map(|p| p.file.clone())
        .collect();
    let spec = RunSpec {
        also_skip: plan.also_skip,
        replay_of: Some(plan.replay_of),
        ..RunSpec::new(&ctx.root, flow, TriggerKind::Replay, plan.inputs, &env)
    };
    let mut started: Option<String> = None;
    let mut printer = report::printer(ctx, flow);
    let store = &ctx.store;
    let finished = engine::run(store, &mut lock, spec, &mut |ev| {
        if let engine::Event::Started { run_id, .. } = &ev {
            started = Some((*run_id).to_owned());
            let _ = store.record_replay(
                &flow.name,
                Entry {
                    run_id: (*run_id).to_owned(),
                    of_run: source_id.clone(),
                    files: files.clone(),
                    resume: false,
                    status: RunStatus::Running,
                },
            );
        }
        printer(ev);
    })?;
    ctx.store.record_replay(
        &flow.name,
        Entry {
            run_id: finished.manifest.run_id.clone(),
            of_run: source_id,
            files,
            resume: false,
            status: finished.manifest.status,
        },
    )?;
    Ok(report::finished(ctx, flow, &finished))
}

/// One line saying what the replay does.
fn summary(plan: &ReplayPlan, version: replay::FlowVersion) -> String {
    // The inputs a step failed on (`failed/`) are replayed into that step.
    let failed = plan.replay_of.payloads.first().is_some_and(|p| {
        p.file
            .contains(&format!("/{}/", crate::store::layout::FAILED))
    });
    format!(
        "replay {} {}payload{} of step `{}` from run {} into flow {} ({} version)",
        plan.inputs.len(),
        if failed { "failed " } else { "" },
        report::plural(plan.inputs.len()),
        plan.replay_of.step,
        plan.source.id,
        plan.flow.name,
        match version {
            replay::FlowVersion::Current => "current",
            replay::FlowVersion::Original => "original",
        }
    )
}

/// `--dry-run`: which steps would be skipped and which would run.
fn dry_run(ctx: &Ctx, plan: &ReplayPlan, summary: &str) {
    let (skipped, running): (Vec<_>, Vec<_>) = plan
        .flow
        .steps
        .iter()
        .enumerate()
        .partition(|(i, s)| s.skip || plan.also_skip.contains(i));
    let ids = |v: Vec<(usize, &crate::flow::StepDef)>| -> String {
        if v.is_empty() {
            "-".to_owned()
        } else {
            v.iter()
                .map(|(_, s)| s.id.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        }
    };
    if ctx.json {
        let ids = |v: &[(usize, &crate::flow::StepDef)]| -> Vec<String> {
            v.iter().map(|(_, s)| s.id.clone()).collect()
        };
        super::out_json(&serde_json::json!({
            "dry_run": true,
            "flow": plan.flow.name,
            "source_run": plan.source.id,
            "step": plan.replay_of.step,
            "payloads": plan.inputs.len(),
            "skip": ids(&skipped),
            "run": ids(&running),
            "edited": plan.replay_of.edited,
        }));
        return;
    }
    out(format!("dry run: would {summary}"));
    out(format!("  skip: {}", ids(skipped)));
    out(format!("  run:  {}", ids(running)));
    if plan.replay_of.edited {
        out("  (edited payloads: the edit would be recorded)");
    }
}
