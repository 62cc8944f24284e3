//! `flowrun watch [--grace DUR]`: the runner, until SIGINT/SIGTERM.

use super::Ctx;
use crate::error::{Error, Exit};
use crate::watch::{self, Log, Options, WatchError};

/// Runs the runner over the project; returns when a signal has stopped it.
///
/// # Errors
/// A bad `--grace`, or the runner could not start.
pub(crate) fn watch(ctx: &Ctx, grace: &str) -> Result<Exit, Error> {
    let grace =
        crate::flow::duration::parse(grace).map_err(|e| Error::Usage(format!("--grace: {e}")))?;
    let opts = Options {
        grace,
        log: Log {
            json: ctx.json,
            quiet: ctx.quiet,
        },
    };
    watch::run(&ctx.root, &ctx.store, opts).map_err(|e| match e {
        WatchError::Flows { .. } => Error::Usage(e.to_string()),
        _ => Error::Failed(e.to_string()),
    })?;
    Ok(Exit::Success)
}
