//! `flowrun run FLOW [--input FILE|-]...`: run a flow now.

use super::{Ctx, out, report};
use crate::engine::{self, RunSpec};
use crate::error::{Error, Exit};
use crate::store::TriggerKind;
use serde_json::Value;
use std::io::Read;

/// Runs `flow_arg` with the given input files.
///
/// # Errors
/// A bad flow or input, a busy flow, or a store failure.
pub fn run(ctx: &Ctx, flow_arg: &str, inputs: &[String]) -> Result<Exit, Error> {
    let flow = ctx.load_flow(flow_arg)?;
    let inputs = inputs
        .iter()
        .map(|f| read_input(f))
        .collect::<Result<Vec<_>, _>>()?;
    let mut lock = ctx.store.lock(&flow.name)?;
    announce_skips(ctx, &flow);
    let env = |name: &str| std::env::var(name).ok();
    let spec = RunSpec::new(&ctx.root, &flow, TriggerKind::Manual, inputs, &env);
    let finished = engine::run(
        &ctx.store,
        &mut lock,
        spec,
        &mut report::printer(ctx, &flow),
    )?;
    Ok(report::finished(ctx, &finished))
}

/// Says which steps the flow file skips.
pub fn announce_skips(ctx: &Ctx, flow: &crate::flow::Flow) {
    let skipped: Vec<&str> = flow.skipped_steps();
    if !skipped.is_empty() && !ctx.quiet {
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
