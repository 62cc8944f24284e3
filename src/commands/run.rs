//! `flowrun run FLOW [--input FILE|-]...`: run a flow now.

use super::{Ctx, out, report};
use crate::engine::{self, RunSpec};
use crate::error::{Error, Exit};
use crate::flow::Flow;
use crate::store::TriggerKind;
use serde_json::Value;
use std::io::Read;

/// Runs `flow_arg` with the given input files.
///
/// # Errors
/// A bad flow or input, a busy flow, or a store failure.
pub(crate) fn run(
    ctx: &Ctx,
    flow_arg: &str,
    inputs: &[String],
    force: bool,
) -> Result<Exit, Error> {
    let (flow, inputs) = prepare(ctx, flow_arg, inputs, force)?;
    let inputs = inputs.into_iter().map(|(_, v)| v).collect();
    let mut lock = ctx.store.lock(&flow.name)?;
    let _stop = stop_on_signal()?;
    announce_skips(ctx, &flow);
    let env = |name: &str| std::env::var(name).ok();
    let spec = RunSpec::new(&ctx.root, &flow, TriggerKind::Manual, inputs, &env);
    let finished = engine::run(
        &ctx.store,
        &mut lock,
        spec,
        &mut report::printer(ctx, &flow),
    )?;
    Ok(report::finished(ctx, &flow, &finished))
}

/// What `run` and `run --dry-run` both check first: the flow, a skipped start, and
/// each input file read (with the name it was given).
fn prepare(
    ctx: &Ctx,
    flow_arg: &str,
    inputs: &[String],
    force: bool,
) -> Result<(Flow, Vec<(String, Value)>), Error> {
    let flow = ctx.load_flow(flow_arg)?;
    if inputs.is_empty() && !force {
        refuse_skipped_start(&flow)?;
    }
    let inputs = inputs
        .iter()
        .map(|f| Ok((f.clone(), read_input(f)?)))
        .collect::<Result<Vec<_>, Error>>()?;
    Ok((flow, inputs))
}

/// `run --dry-run`: what `run` would do, writing nothing.
///
/// # Errors
/// A bad flow or input, or a variable that is not set.
pub(crate) fn dry(
    ctx: &Ctx,
    flow_arg: &str,
    inputs: &[String],
    force: bool,
) -> Result<Exit, Error> {
    let (flow, inputs) = prepare(ctx, flow_arg, inputs, force)?;
    super::dryrun::dry_run(ctx, &flow, &inputs)
}

/// Refuses a run without input of a flow whose first step is skipped: skip flags there
/// mean a re-sync is in progress, and the first step that runs would get `null`.
fn refuse_skipped_start(flow: &crate::flow::Flow) -> Result<(), Error> {
    if !flow.steps.first().is_some_and(|s| s.skip) {
        return Ok(());
    }
    let skipped = flow.skipped_steps().join(", ");
    let what = match flow.steps.iter().find(|s| !s.skip) {
        Some(live) => format!(
            "without --input its first step that runs, `{}`, would get the payload null",
            live.id
        ),
        None => "every step is skipped, so the run would do nothing".to_owned(),
    };
    Err(Error::Usage(format!(
        "{} skips {skipped} (skip = true: a re-sync is in progress); {what}. Give its payloads with --input (or re-sync with `{}`), clear the flags with `{}`, or add --force to run anyway",
        flow.file(),
        crate::hint::flowrun(["replay", "PAYLOAD..."]),
        crate::hint::flowrun(["unskip", flow.name.as_str()]),
    )))
}

/// From here until the command ends, SIGINT/SIGTERM stop the run's work and record the
/// run `interrupted` (see `crate::child`) instead of ending the process at once.
///
/// # Errors
/// The signal handlers could not be installed.
pub(crate) fn stop_on_signal() -> Result<crate::child::StopOnSignal, Error> {
    crate::child::StopOnSignal::install()
        .map_err(|e| Error::Failed(format!("cannot handle SIGINT/SIGTERM: {e}")))
}

/// Says which steps the flow file skips.
pub(crate) fn announce_skips(ctx: &Ctx, flow: &crate::flow::Flow) {
    let skipped: Vec<&str> = flow.skipped_steps();
    if !skipped.is_empty() && ctx.talk() {
        out(format!(
            "skipping {} (skip = true in {}): {}",
            if skipped.len() == 1 {
                "1 step"
            } else {
                "steps"
            },
            flow.file(),
            skipped.join(", ")
        ));
    }
}

/// Reads one `--input`: a JSON file, or `-` for stdin.
fn read_input(arg: &str) -> Result<Value, Error> {
    let (bytes, shown) = if arg == "-" {
        let mut buf = Vec::new();
        std::io::stdin()
            .read_to_end(&mut buf)
            .map_err(|e| Error::Usage(format!("stdin: {e}")))?;
        (buf, "stdin".to_owned())
    } else {
        let bytes = std::fs::read(arg).map_err(|e| Error::Usage(format!("{arg}: {e}")))?;
        (bytes, arg.to_owned())
    };
    crate::json::decode(&bytes, 1).map_err(|e| Error::Usage(format!("{shown}:{e}")))
}
