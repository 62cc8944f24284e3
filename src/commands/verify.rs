//! `flowrun verify [RUN...]`: re-hash stored files against their manifests.

use super::{Ctx, note, out, out_json};
use crate::error::{Error, Exit};
use crate::store::verify;
use serde_json::json;

/// Verifies the given runs (all by default).
///
/// # Errors
/// A run reference that matches nothing.
pub(crate) fn verify(ctx: &Ctx, runs: &[String]) -> Result<Exit, Error> {
    let refs = if runs.is_empty() {
        ctx.store.runs_newest_first(None)
    } else {
        runs.iter()
            .map(|r| ctx.store.resolve(r))
            .collect::<Result<Vec<_>, _>>()?
    };
    let mut problems = 0;
    let mut rows = Vec::new();
    for r in &refs {
        let report = verify::verify(&ctx.store, r);
        if !report.ok() {
            problems += 1;
        }
        if ctx.json {
            let findings: Vec<_> = report
                .findings
                .iter()
                .map(|f| json!({"problem": f.is_problem(), "message": f.to_string()}))
                .collect();
            rows.push(json!({
                "run_id": r.id, "flow": r.flow, "ok": report.ok(),
                "checked": report.checked, "findings": findings,
            }));
            continue;
        }
        if report.ok() {
            if !ctx.quiet {
                out(format!(
                    "ok: {} {} ({} files)",
                    r.flow, r.id, report.checked
                ));
            }
        } else {
            note(format!(
                "error: {} {}: the trail does not match its manifest",
                r.flow, r.id
            ));
        }
        for f in &report.findings {
            if f.is_problem() {
                note(format!("  {f}"));
            } else if !ctx.quiet {
                out(format!("  {f}"));
            }
        }
    }
    if ctx.json {
        out_json(&rows);
    } else if refs.is_empty() && !ctx.quiet {
        note("no runs to verify");
    }
    Ok(if problems > 0 {
        Exit::Failed
    } else {
        Exit::Success
    })
}
