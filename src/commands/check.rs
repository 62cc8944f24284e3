//! `flowrun check [FLOW...]`: validate flow files, reporting every problem with line:col.

use super::{Ctx, note, out, out_json};
use crate::error::{Error, Exit};
use crate::flow::{self, display_path};
use serde_json::json;

/// Says what `flow` treats as a secret (names, never values): one line listing the
/// secret names, a note for each `${env:…}` treated as a secret because of where it is
/// used, and a warning for each secret too short to mask (looked up in the environment
/// `check` runs in). Returns the names.
fn secret_notes(ctx: &Ctx, flow: &flow::Flow) -> Vec<String> {
    use crate::flow::VarKind;
    use crate::secrets::MIN_SECRET_CHARS;
    let uses = flow.placeholders();
    let mut names: Vec<String> = Vec::new();
    for u in uses.iter().filter(|u| u.secret) {
        if !names.contains(&u.name) {
            names.push(u.name.clone());
        }
    }
    if ctx.json || ctx.quiet {
        return names;
    }
    let file = flow.file();
    if !names.is_empty() {
        out(format!("  secrets: {}", names.join(", ")));
    }
    for u in uses.iter().filter(|u| u.implied) {
        note(format!(
            "note: {file}: step `{}`: `${{env:{}}}` in `{}` is treated as a secret (masked everywhere); write `${{secret:{}}}` to say so",
            u.step, u.name, u.option, u.name
        ));
    }
    let mut warned: Vec<&str> = Vec::new();
    for u in uses.iter().filter(|u| u.secret) {
        let Some(chars) = std::env::var(&u.name).ok().map(|v| v.chars().count()) else {
            continue;
        };
        if chars >= MIN_SECRET_CHARS || warned.contains(&u.name.as_str()) {
            continue;
        }
        warned.push(&u.name);
        let what = if u.kind == VarKind::Secret {
            "a run will refuse to start"
        } else {
            "it will not be masked"
        };
        note(format!(
            "warning: {file}: step `{}`: the secret `{}` is {chars} character{} long, too short to mask safely (at least {MIN_SECRET_CHARS}): {what}",
            u.step,
            u.name,
            crate::names::plural(chars)
        ));
    }
    names
}

/// Checks the given flows (all by default).
///
/// # Errors
/// The flows folder cannot be read.
pub(crate) fn check(ctx: &Ctx, flows: &[String]) -> Result<Exit, Error> {
    let names: Vec<String> = if flows.is_empty() {
        let dir = ctx.root.join("flows");
        flow::list(&ctx.root).map_err(|e| Error::Usage(format!("{}: {e}", display_path(&dir))))?
    } else {
        flows.to_vec()
    };
    let mut bad = 0;
    let mut report = Vec::new();
    for name in &names {
        let loaded = ctx
            .load_flow(name)
            .and_then(|f| match flow::calls::check(&ctx.root, &f) {
                Ok(()) => Ok(f),
                Err(e) => Err(Error::Flow(e)),
            });
        match loaded {
            Ok(f) => {
                if !ctx.json && !ctx.quiet {
                    out(format!(
                        "ok: {} ({} step{})",
                        f.file(),
                        f.steps.len(),
                        crate::names::plural(f.steps.len())
                    ));
                }
                let secrets = secret_notes(ctx, &f);
                report.push(json!({"flow": f.name, "file": f.file(), "ok": true, "problems": [], "secrets": secrets}));
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
