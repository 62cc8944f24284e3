//! `flowrun check [FLOW...]`: validate flow files, reporting every problem with line:col.

use super::{Ctx, note, out, out_json};
use crate::error::{Error, Exit};
use crate::flow::{self, display_path};
use serde_json::json;

/// Checks the given flows (all by default).
///
/// # Errors
/// The flows folder cannot be read.
pub fn check(ctx: &Ctx, flows: &[String]) -> Result<Exit, Error> {
    let names: Vec<String> = if flows.is_empty() {
        let dir = ctx.root.join("flows");
        flow::list(&ctx.root).map_err(|e| Error::Usage(format!("{}: {e}", display_path(&dir))))?
    } else {
        flows.to_vec()
    };
    let mut bad = 0;
    let mut report = Vec::new();
    for name in &names {
        match ctx.load_flow(name) {
            Ok(f) => {
                if !ctx.json && !ctx.quiet {
                    out(format!(
                        "ok: {} ({} step{})",
                        f.file(),
                        f.steps.len(),
                        if f.steps.len() == 1 { "" } else { "s" }
                    ));
                }
                report.push(json!({"flow": f.name, "file": f.file(), "ok": true, "problems": []}));
            }
            Err(Error::Flow(e)) => {
                bad += 1;
                if !ctx.json {
                    for line in e.to_string().lines() {
                        note(format!("error: {line}"));
                    }
                }
                let problems: Vec<_> = e
                    .problems
                    .iter()
                    .map(|p| json!({"line": p.line, "col": p.col, "message": p.message}))
                    .collect();
                report
                    .push(json!({"flow": name, "file": e.file, "ok": false, "problems": problems}));
            }
            Err(other) => {
                bad += 1;
                if !ctx.json {
                    note(format!("error: {other}"));
                }
                report.push(json!({"flow": name, "ok": false, "problems": [{"message": other.to_string()}]}));
            }
        }
    }
    if ctx.json {
        out_json(&report);
    } else if names.is_empty() && !ctx.quiet {
        note("no flows to check");
    }
    Ok(if bad > 0 { Exit::Usage } else { Exit::Success })
}
