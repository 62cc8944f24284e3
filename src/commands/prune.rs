//! `flowrun prune [--keep N] [--older-than DUR] [--flow F] [--dry-run]`: delete old runs.

use super::report::plural;
use super::{Ctx, note, out, out_json};
use crate::error::{Error, Exit};
use crate::store::StoreError;
use crate::store::prune::Policy;
use serde_json::json;

/// What `prune` was asked to do.
pub(crate) struct Options<'a> {
    /// Keep the newest N runs of each flow.
    pub(crate) keep: Option<usize>,
    /// Delete only runs older than this.
    pub(crate) older_than: Option<&'a str>,
    /// Only this flow.
    pub(crate) flow: Option<&'a str>,
    /// Only say what would be deleted.
    pub(crate) dry_run: bool,
}

/// Deletes the runs the options select, flow by flow; a flow with a run in progress is
/// left alone with a warning.
///
/// # Errors
/// Neither `--keep` nor `--older-than`, a bad duration or flow name, or the store failed.
pub(crate) fn prune(ctx: &Ctx, o: &Options<'_>) -> Result<Exit, Error> {
    if o.keep.is_none() && o.older_than.is_none() {
        return Err(Error::Usage(
            "prune needs --keep N (keep the newest N runs of each flow) and/or --older-than DURATION (e.g. 30d); with both, a run is deleted when it is outside the newest N and older".into(),
        ));
    }
    let before = match o.older_than {
        None => None,
        Some(text) => {
            let d = crate::flow::duration::parse(text)
                .map_err(|e| Error::Usage(format!("--older-than: {e}")))?;
            let d = chrono::Duration::from_std(d)
                .map_err(|_| Error::Usage(format!("--older-than: `{text}` is too long")))?;
            Some(
                chrono::Utc::now()
                    .checked_sub_signed(d)
                    .unwrap_or(chrono::DateTime::<chrono::Utc>::MIN_UTC),
            )
        }
    };
    let policy = Policy {
        keep: o.keep,
        before,
    };
    let flows = match o.flow {
        Some(f) => {
            ctx.known_flow(f)?;
            vec![f.to_owned()]
        }
        None => ctx.store.flows(),
    };
    let verb = if o.dry_run { "would delete" } else { "deleted" };
    let mut rows = Vec::new();
    let (mut deleted, mut kept, mut touched) = (0, 0, 0);
    for flow in &flows {
        let pruned = match ctx.store.prune_flow(flow, &policy, o.dry_run) {
            Ok(p) => p,
            Err(e @ StoreError::Busy { .. }) => {
                note(format!("warning: {e}; its runs were left alone"));
                continue;
            }
            Err(e) => return Err(e.into()),
        };
        if !o.dry_run && !pruned.deleted.is_empty() {
            // The index of tracked values forgets the deleted runs now (a `find` would
            // notice them gone anyway); a run started meanwhile leaves it to that `find`.
            if let Ok(_lock) = ctx.store.lock(flow)
                && let Err(e) = crate::track::sync(&ctx.store, flow, None)
            {
                note(format!(
                    "warning: the index of tracked values was not updated: {e}"
                ));
            }
        }
        for w in &pruned.warnings {
            note(format!("warning: {w}"));
        }
        if pruned.leftovers > 0 && !ctx.quiet && !ctx.json {
            out(format!(
                "removed {} folder{} of {flow} left by a prune or run that was cut off",
                pruned.leftovers,
                plural(pruned.leftovers)
            ));
        }
        kept += pruned.kept;
        if !pruned.deleted.is_empty() {
            touched += 1;
        }
        for d in pruned.deleted {
            deleted += 1;
            let status = d.status.map(|s| s.to_string());
            if ctx.json {
                rows.push(json!({
                    "flow": flow, "run_id": d.id, "status": status,
                    "started_at": d.started_at, "deleted": !o.dry_run,
                }));
            } else if !ctx.quiet {
                out(format!(
                    "{verb} {flow} {} ({})",
                    d.id,
                    status.as_deref().unwrap_or("manifest unreadable")
                ));
            }
        }
    }
    if ctx.json {
        out_json(&rows);
    } else if !ctx.quiet {
        let verb = if o.dry_run { "would prune" } else { "pruned" };
        out(format!(
            "{verb} {deleted} run{} of {touched} flow{}; {kept} kept",
            plural(deleted),
            plural(touched)
        ));
    }
    Ok(Exit::Success)
}
