//! `flowrun skip` / `flowrun unskip`: set or clear `skip` flags in a flow file in place.

use super::{Ctx, out};
use crate::error::{Error, Exit};
use crate::flow::skip;

/// Sets (`on`) or clears skip flags. `steps` empty with `through` `None` = every step.
///
/// # Errors
/// The flow has problems, or a step is not in it.
pub(crate) fn skip(
    ctx: &Ctx,
    flow: &str,
    steps: &[String],
    through: Option<&str>,
    on: bool,
) -> Result<Exit, Error> {
    let f = ctx.load_flow(flow)?;
    let ids: Vec<String> = f.steps.iter().map(|s| s.id.clone()).collect();
    let chosen: Option<Vec<String>> = match through {
        Some(t) => {
            Some(skip::through(&ids, t).map_err(|e| Error::Usage(format!("{}: {e}", f.file())))?)
        }
        None if steps.is_empty() => None,
        None => Some(steps.to_vec()),
    };
    let text = skip::set(&f.source, chosen.as_deref(), on)
        .map_err(|e| Error::Usage(format!("{}: {e}", f.file())))?;
    if text != f.source {
        crate::store::atomic::replace(&f.path, text.as_bytes())?;
    }
    // The edit must leave a valid flow; report it if it somehow does not.
    let after = crate::flow::load_file(&f.path)?;
    let skipped: Vec<&str> = after.skipped_steps();
    if !ctx.quiet {
        if skipped.is_empty() {
            out(format!("{}: no steps skipped", after.file()));
        } else {
            out(format!("{}: skipped: {}", after.file(), skipped.join(", ")));
        }
    }
    Ok(Exit::Success)
}
