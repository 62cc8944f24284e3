//! `flowrun ui`: the run logs in a browser (the viewer itself lives in `crate::ui`).

use super::Ctx;
use crate::error::{Error, Exit};

/// Serves the viewer until the process is stopped.
///
/// # Errors
/// The address cannot be parsed or listened on.
pub(crate) fn ui(ctx: &Ctx, listen: &str, open: bool, actions: bool) -> Result<Exit, Error> {
    crate::ui::serve(
        ctx,
        &crate::ui::Options {
            listen: listen.to_owned(),
            open,
            actions,
        },
    )
}
