//! `flowrun cat RUN STEP [N]` (one stored payload) and `flowrun diff RUN_A RUN_B`
//! (two runs step by step: payload counts, changed files by hash, a JSON diff of each
//! changed payload; a step skipped in one run is said to be, not listed as missing).

use super::{Ctx, out, out_json};
use crate::error::{Error, Exit};
use crate::store::{Manifest, PayloadRecord, StepStatus};
use crate::ui::diff::{Change, diff_values};
use serde_json::{Value, json};
use std::io::Write as _;
use std::path::Path;

/// Most differences printed for one pair of payloads.
const MAX_SHOWN: usize = 20;

/// Prints payload `n` (1-based) of `step` (or `input`) of `run`.
///
/// # Errors
/// No such run, step or payload; an unreadable file.
pub(crate) fn cat(
    ctx: &Ctx,
    run: &str,
    step: &str,
    n: usize,
    compact: bool,
) -> Result<Exit, Error> {
    let r = ctx.resolve_run(run, None)?;
    let m = ctx.store.read_manifest(&r.dir)?;
    let records = step_payloads(&m, step)?;
    let Some(rec) = n.checked_sub(1).and_then(|k| records.get(k)) else {
        return Err(Error::Usage(format!(
            "step `{step}` of run {} has {} payload{}; there is no payload {n}",
            m.run_id,
            records.len(),
            super::plural(records.len())
        )));
    };
    let path = r.dir.join(&rec.file);
    let bytes =
        std::fs::read(&path).map_err(|e| Error::Failed(format!("{}: {e}", super::shown(&path))))?;
    if compact {
        let v = crate::store::payload::read(&path)?;
        out(serde_json::to_string(&v).unwrap_or_default());
    } else {
        let mut stdout = std::io::stdout().lock();
        let _ = stdout.write_all(&bytes);
        if !bytes.ends_with(b"\n") {
            let _ = stdout.write_all(b"\n");
        }
    }
    Ok(Exit::Success)
}

/// The payload records of `step` (`input` for the run's input).
fn step_payloads<'m>(m: &'m Manifest, step: &str) -> Result<&'m [PayloadRecord], Error> {
    if step == "input" {
        return Ok(&m.input);
    }
    let Some(s) = m.steps.iter().find(|s| s.id == step) else {
        let ids: Vec<&str> = m.steps.iter().map(|s| s.id.as_str()).collect();
        return Err(Error::Usage(format!(
            "run {} has no step `{step}` (steps: input, {})",
            m.run_id,
            ids.join(", ")
        )));
    };
    if s.status == StepStatus::Skipped {
        return Err(Error::Usage(format!(
            "step `{step}` was skipped in run {}: it has no payloads of its own",
            m.run_id
        )));
    }
    Ok(&s.payloads)
}

/// How one step compares across the two runs.
#[derive(serde::Serialize)]
struct StepDiff {
    step: String,
    /// `same`, `changed`, `skipped in A`, `skipped in B`, `only in A`, `only in B`,
    /// `skipped in both`, `no input in A`, `no input in B`.
    verdict: String,
    a: Option<usize>,
    b: Option<usize>,
    changed: Vec<FileDiff>,
}

#[derive(serde::Serialize)]
struct FileDiff {
    /// 1-based position.
    n: usize,
    a: Option<String>,
    b: Option<String>,
    changes: Vec<Value>,
}

/// Compares runs `a` and `b` (only `step` when given).
///
/// # Errors
/// No such run or step.
pub(crate) fn diff(ctx: &Ctx, a: &str, b: &str, step: Option<&str>) -> Result<Exit, Error> {
    let ra = ctx.resolve_run(a, None)?;
    let rb = ctx.resolve_run(b, None)?;
    let ma = ctx.store.read_manifest(&ra.dir)?;
    let mb = ctx.store.read_manifest(&rb.dir)?;
    let mut ids: Vec<String> = vec!["input".to_owned()];
    ids.extend(ma.steps.iter().map(|s| s.id.clone()));
    for s in &mb.steps {
        if !ids.contains(&s.id) {
            ids.push(s.id.clone());
        }
    }
    if let Some(want) = step {
        if !ids.iter().any(|i| i == want) {
            return Err(Error::Usage(format!(
                "neither run {} nor run {} has a step `{want}`",
                ma.run_id, mb.run_id
            )));
        }
        ids.retain(|i| i == want);
    }
    let diffs: Vec<StepDiff> = ids
        .iter()
        .map(|id| step_diff(id, (&ra.dir, &ma), (&rb.dir, &mb)))
        .collect();
    if ctx.json {
        out_json(&json!({
            "a": ma.run_id,
            "b": mb.run_id,
            "steps": diffs,
        }));
        return Ok(Exit::Success);
    }
    out(format!(
        "A: {} ({}, {})\nB: {} ({}, {})",
        ma.run_id, ma.flow, ma.status, mb.run_id, mb.flow, mb.status
    ));
    let width = diffs.iter().map(|d| d.step.len()).max().unwrap_or(0);
    for d in &diffs {
        let counts = |n: Option<usize>| n.map_or_else(|| "-".to_owned(), |n| n.to_string());
        let verdict = match d.verdict.as_str() {
            "same" => super::style::ok("same"),
            "changed" => super::style::bad("changed"),
            v => super::style::warn(v),
        };
        out(format!(
            "{:<width$}  {verdict}  (payloads: A {}, B {})",
            d.step,
            counts(d.a),
            counts(d.b)
        ));
        for f in &d.changed {
            let name = |x: &Option<String>| x.clone().unwrap_or_else(|| "(none)".to_owned());
            out(format!(
                "  payload {}: A {} | B {}",
                f.n,
                name(&f.a),
                name(&f.b)
            ));
            for c in &f.changes {
                out(format!("    {}", c.as_str().unwrap_or_default()));
            }
        }
    }
    Ok(Exit::Success)
}

type Side<'a> = (&'a Path, &'a Manifest);

fn records<'m>(m: &'m Manifest, id: &str) -> Option<(StepStatus, &'m [PayloadRecord])> {
    if id == "input" {
        return Some((StepStatus::Success, &m.input));
    }
    m.steps
        .iter()
        .find(|s| s.id == id)
        .map(|s| (s.status, s.payloads.as_slice()))
}

fn step_diff(id: &str, (da, ma): Side<'_>, (db, mb): Side<'_>) -> StepDiff {
    let ra = records(ma, id);
    let rb = records(mb, id);
    let skipped = |r: &Option<(StepStatus, &[PayloadRecord])>| {
        r.as_ref().is_some_and(|(s, _)| *s == StepStatus::Skipped)
    };
    let count = |r: &Option<(StepStatus, &[PayloadRecord])>| match r {
        Some((StepStatus::Skipped, _)) | None => None,
        Some((_, p)) => Some(p.len()),
    };
    let mut d = StepDiff {
        step: id.to_owned(),
        verdict: String::new(),
        a: count(&ra),
        b: count(&rb),
        changed: Vec::new(),
    };
    d.verdict = match (&ra, &rb) {
        (None, _) => "only in B".into(),
        (_, None) => "only in A".into(),
        _ if skipped(&ra) && skipped(&rb) => "skipped in both".into(),
        _ if skipped(&ra) => "skipped in A".into(),
        _ if skipped(&rb) => "skipped in B".into(),
        // A run started without input had the one payload `null`, stored nowhere.
        (Some((_, pa)), Some((_, pb))) if id == "input" && pa.is_empty() != pb.is_empty() => {
            if pa.is_empty() {
                "no input in A"
            } else {
                "no input in B"
            }
            .into()
        }
        (Some((_, pa)), Some((_, pb))) => {
            for k in 0..pa.len().max(pb.len()) {
                let (x, y) = (pa.get(k), pb.get(k));
                if let (Some(x), Some(y)) = (x, y)
                    && x.full_blake3 == y.full_blake3
                {
                    continue;
                }
                d.changed.push(FileDiff {
                    n: k + 1,
                    a: x.map(|r| r.file.clone()),
                    b: y.map(|r| r.file.clone()),
                    changes: json_changes(x.map(|r| da.join(&r.file)), y.map(|r| db.join(&r.file))),
                });
            }
            if d.changed.is_empty() {
                "same".into()
            } else {
                "changed".into()
            }
        }
    };
    d
}

/// The structural diff of two payload files, as readable lines.
fn json_changes(a: Option<std::path::PathBuf>, b: Option<std::path::PathBuf>) -> Vec<Value> {
    let (Some(a), Some(b)) = (a, b) else {
        return Vec::new();
    };
    let (va, vb) = match (
        crate::store::payload::read(&a),
        crate::store::payload::read(&b),
    ) {
        (Ok(x), Ok(y)) => (x, y),
        (Err(e), _) | (_, Err(e)) => return vec![Value::String(format!("not compared: {e}"))],
    };
    let mut changes: Vec<Change> = Vec::new();
    diff_values("", &va, &vb, &mut changes);
    let shown = |v: &Option<Value>| {
        v.as_ref().map_or_else(
            || "(absent)".to_owned(),
            |v| {
                let s = serde_json::to_string(v).unwrap_or_default();
                if s.chars().count() > 120 {
                    format!("{}…", s.chars().take(120).collect::<String>())
                } else {
                    s
                }
            },
        )
    };
    let mut lines: Vec<Value> = changes
        .iter()
        .take(MAX_SHOWN)
        .map(|c| {
            let path = if c.path.is_empty() { "." } else { &c.path };
            Value::String(format!("{path}: {} → {}", shown(&c.a), shown(&c.b)))
        })
        .collect();
    if changes.len() > MAX_SHOWN {
        lines.push(Value::String(format!(
            "… and {} more differences",
            changes.len() - MAX_SHOWN
        )));
    }
    lines
}
