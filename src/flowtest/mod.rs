//! Flow tests: running a flow's `flows/<name>.test.toml` cases against nothing but
//! stubs and files of the project, in a run store in a temporary folder.
//!
//! A stubbed step is not run at all: the flow is cut at each stub into segments, and
//! each segment is an ordinary engine run (the other steps skipped) whose inputs are the
//! stub's payloads. So the engine is the one `flowrun run` uses, unchanged.

pub(crate) mod file;
pub(crate) mod record;

use crate::engine::{self, RunSpec};
use crate::flow::{Flow, StepDef};
use crate::jq::Jq;
use crate::store::{StepStatus, Store, TriggerKind};
use file::Case;
use serde_json::Value;
use std::fmt::Write as _;
use std::path::Path;

/// What one step did in a test run.
#[derive(Debug, Clone)]
pub(crate) enum Ran {
    /// It ran (or was stubbed) and output these payloads.
    Output(Vec<Value>),
    /// It failed with this message.
    Failed(String),
    /// It never ran (an earlier step failed).
    NotRun,
}

/// The result of one test.
#[derive(Debug, serde::Serialize)]
pub(crate) struct Outcome {
    /// The flow.
    pub(crate) flow: String,
    /// The test's name.
    pub(crate) name: String,
    /// Whether it passed.
    pub(crate) ok: bool,
    /// What went wrong, as readable lines.
    pub(crate) problems: Vec<String>,
}

/// Whether a step acts outside the run: it must be stubbed in a test (a `read` of
/// project files may run).
#[must_use]
pub(crate) fn is_connector(def: &StepDef) -> bool {
    def.kind.props.connector
}

/// Checks a case against its flow before anything runs: steps exist, every connector
/// step is stubbed (or a `read` of files inside the project).
///
/// # Errors
/// What is wrong, naming the test and the step.
pub(crate) fn validate(flow: &Flow, case: &Case) -> Result<(), String> {
    let t = &case.name;
    let known = |step: &str, what: &str| -> Result<usize, String> {
        flow.step_index(step).ok_or_else(|| {
            let ids: Vec<&str> = flow.steps.iter().map(|s| s.id.as_str()).collect();
            format!(
                "test `{t}`: {what} names step `{step}`, which {} does not have (steps: {})",
                flow.file(),
                ids.join(", ")
            )
        })
    };
    for s in &case.stub {
        known(&s.step, "a stub")?;
        file::payloads(s.payloads.as_ref(), s.payloads_json.as_ref(), "stub")?
            .ok_or_else(|| format!("test `{t}`: the stub of `{}` needs payloads", s.step))?;
    }
    for e in &case.expect {
        known(&e.step, "an expectation")?;
        let p = file::payloads(e.payloads.as_ref(), e.payloads_json.as_ref(), "expect")?;
        if p.is_none() && e.jq.is_none() {
            return Err(format!(
                "test `{t}`: the expectation on `{}` needs payloads or jq",
                e.step
            ));
        }
        if let Some(src) = &e.jq {
            Jq::compile(src).map_err(|errs| {
                let msgs: Vec<String> = errs.iter().map(|e| e.message.clone()).collect();
                format!(
                    "test `{t}`: jq of the expectation on `{}`: {}",
                    e.step,
                    msgs.join("; ")
                )
            })?;
        }
    }
    if let Some(f) = &case.fails {
        known(&f.step, "[tests.fails]")?;
    }
    let given = [
        case.input.is_some(),
        case.inputs.is_some(),
        case.input_file.is_some(),
        case.inputs_json.is_some(),
    ];
    if given.iter().filter(|g| **g).count() > 1 {
        return Err(format!(
            "test `{t}`: give one of input, inputs, input_file, inputs_json"
        ));
    }
    for def in &flow.steps {
        if !is_connector(def) || case.stub.iter().any(|s| s.step == def.id) {
            continue;
        }
        let reads = def.spec.reads_only();
        if reads.is_some_and(|path| inside_project(path.raw())) {
            continue;
        }
        let why = if reads.is_some() {
            "reads outside the project"
        } else {
            "acts outside the run"
        };
        return Err(format!(
            "test `{t}`: step `{}` ({}) {why} and is not stubbed; flowrun test runs nothing against the real world: add a [[tests.stub]] with step = \"{}\"",
            def.id,
            def.kind(),
            def.id
        ));
    }
    Ok(())
}

/// Whether a `read` glob stays inside the project: relative, no `..`, no placeholder.
fn inside_project(glob: &str) -> bool {
    let p = Path::new(glob);
    !glob.contains("${")
        && p.is_relative()
        && p.components()
            .all(|c| !matches!(c, std::path::Component::ParentDir))
}

/// The input payloads of a case.
///
/// # Errors
/// An unreadable input file.
pub(crate) fn inputs(case: &Case, test_file: &Path) -> Result<Vec<Value>, String> {
    if let Some(v) = &case.input {
        return Ok(vec![file::to_json(v)]);
    }
    if let Some(vs) = &case.inputs {
        return Ok(vs.iter().map(file::to_json).collect());
    }
    if let Some(j) = &case.inputs_json {
        return file::payloads(None, Some(j), &format!("test `{}`: inputs", case.name))
            .map(Option::unwrap_or_default);
    }
    if let Some(f) = &case.input_file {
        let dir = test_file.parent().unwrap_or(Path::new("."));
        let path = dir.join(f);
        let shown = crate::flow::display_path(&path);
        let bytes = std::fs::read(&path).map_err(|e| format!("{shown}: {e}"))?;
        let v = crate::json::decode(&bytes, 1).map_err(|e| format!("{shown}:{e}"))?;
        return Ok(vec![v]);
    }
    Ok(Vec::new())
}

/// Runs one validated case; returns what each step did.
///
/// # Errors
/// The run could not be prepared or recorded (a missing variable, a store failure).
pub(crate) fn run_case(
    root: &Path,
    flow: &Flow,
    case: &Case,
    inputs: Vec<Value>,
) -> Result<Vec<Ran>, String> {
    let n = flow.steps.len();
    let mut stubs: Vec<(usize, Vec<Value>)> = Vec::new();
    for s in &case.stub {
        let i = flow.step_index(&s.step).unwrap_or(n);
        let p = file::payloads(s.payloads.as_ref(), s.payloads_json.as_ref(), "stub")?
            .unwrap_or_default();
        stubs.push((i, p));
    }
    stubs.sort_by_key(|(i, _)| *i);
    let mut test_flow = flow.clone();
    test_flow.settings.max_payload_bytes = 0;
    for def in &mut test_flow.steps {
        // Skip flags mark a re-sync in progress, not the flow's logic: tests run every step.
        def.skip = false;
    }
    for (i, _) in &stubs {
        // Never built into anything that acts (and needs no variables): it is skipped.
        (test_flow.steps[*i].kind, test_flow.steps[*i].spec) = crate::steps::inert();
    }
    let temp = tempfile::Builder::new()
        .prefix("flowrun-test-")
        .tempdir()
        .map_err(|e| format!("cannot make a temporary folder: {e}"))?;
    let store = Store::new(temp.path());
    let mut ran: Vec<Ran> = vec![Ran::NotRun; n];
    let mut next_inputs = inputs;
    let mut start = 0;
    let mut cuts = stubs.into_iter().peekable();
    let mut after_stub = false;
    loop {
        let end = cuts.peek().map_or(n, |(i, _)| *i);
        if start < end {
            if after_stub && next_inputs.is_empty() {
                // Nothing reaches these steps: they output nothing.
                for r in &mut ran[start..end] {
                    *r = Ran::Output(Vec::new());
                }
            } else if run_segment(
                root,
                &store,
                &test_flow,
                (start, end),
                std::mem::take(&mut next_inputs),
                &mut ran,
            )? {
                return Ok(ran);
            }
        }
        let Some((i, payloads)) = cuts.next() else {
            break;
        };
        ran[i] = Ran::Output(payloads.clone());
        next_inputs = payloads;
        start = i + 1;
        after_stub = true;
    }
    Ok(ran)
}

/// Runs steps `start..end` of `flow` (the others skipped) over `inputs`, filling in
/// `ran`; returns whether a step failed.
fn run_segment(
    root: &Path,
    store: &Store,
    flow: &Flow,
    (start, end): (usize, usize),
    inputs: Vec<Value>,
    ran: &mut [Ran],
) -> Result<bool, String> {
    let n = flow.steps.len();
    let env = |name: &str| std::env::var(name).ok();
    let mut spec = RunSpec::new(root, flow, TriggerKind::Manual, inputs, &env);
    spec.also_skip = (0..start).chain(end..n).collect();
    spec.notify = false;
    spec.error_children = false;
    let mut lock = store.lock(&flow.name).map_err(|e| e.to_string())?;
    let finished = engine::run(store, &mut lock, spec, &mut |_| {}).map_err(|e| e.to_string())?;
    let mut failed = false;
    for (i, slot) in ran.iter_mut().enumerate().take(end).skip(start) {
        let rec = &finished.manifest.steps[i];
        *slot = match rec.status {
            StepStatus::Success => {
                let mut vals = Vec::with_capacity(rec.payloads.len());
                for p in &rec.payloads {
                    let v = crate::store::payload::read(&finished.dir.join(&p.file))
                        .map_err(|e| e.to_string())?;
                    vals.push(v);
                }
                Ran::Output(vals)
            }
            StepStatus::Failure => {
                failed = true;
                Ran::Failed(rec.error.clone().unwrap_or_default())
            }
            _ => Ran::NotRun,
        };
    }
    Ok(failed)
}

/// Judges what ran against the case's expectations.
#[must_use]
pub(crate) fn judge(flow: &Flow, case: &Case, ran: &[Ran]) -> Vec<String> {
    let mut problems = Vec::new();
    let failure = flow.steps.iter().zip(ran).find_map(|(d, r)| match r {
        Ran::Failed(m) => Some((d.id.as_str(), m.as_str())),
        _ => None,
    });
    match (&case.fails, failure) {
        (None, Some((step, msg))) => {
            problems.push(format!("the run failed at step `{step}`: {msg}"));
        }
        (Some(f), None) => problems.push(format!(
            "expected the run to fail at step `{}`{}, but it succeeded",
            f.step,
            f.message
                .as_ref()
                .map_or_else(String::new, |m| format!(" with {m:?}"))
        )),
        (Some(f), Some((step, msg))) => {
            if f.step != step {
                problems.push(format!(
                    "expected the run to fail at step `{}`, but it failed at `{step}`: {msg}",
                    f.step
                ));
            } else if let Some(m) = &f.message
                && !msg.contains(m.as_str())
            {
                problems.push(format!(
                    "step `{step}` failed as expected, but its error does not contain {m:?}\n  error: {msg}"
                ));
            }
        }
        (None, None) => {}
    }
    for e in &case.expect {
        let i = flow.step_index(&e.step).unwrap_or(0);
        let actual = match &ran[i] {
            Ran::Output(v) => v,
            Ran::Failed(m) => {
                problems.push(format!(
                    "step `{}`: expected outputs, but the step failed: {m}",
                    e.step
                ));
                continue;
            }
            Ran::NotRun => {
                problems.push(format!(
                    "step `{}`: expected outputs, but the step never ran",
                    e.step
                ));
                continue;
            }
        };
        if let Ok(Some(expected)) =
            file::payloads(e.payloads.as_ref(), e.payloads_json.as_ref(), "expect")
            && !same_list(&expected, actual)
        {
            problems.push(payload_diff(&e.step, &expected, actual));
        }
        if let Some(src) = &e.jq {
            check_jq(&e.step, src, actual, &mut problems);
        }
    }
    problems
}

fn check_jq(step: &str, src: &str, actual: &[Value], problems: &mut Vec<String>) {
    let Ok(jq) = Jq::compile(src) else {
        return;
    };
    if actual.is_empty() {
        problems.push(format!(
            "step `{step}`: jq {src:?} has no payload to hold for (the step output none)"
        ));
    }
    for (k, v) in actual.iter().enumerate() {
        match jq.test(v) {
            Ok(true) => {}
            Ok(false) => problems.push(format!(
                "step `{step}`: jq {src:?} is false for payload {}:\n{}",
                k + 1,
                indent(&pretty(v))
            )),
            Err(e) => problems.push(format!(
                "step `{step}`: jq {src:?} failed on payload {}: {e}",
                k + 1
            )),
        }
    }
}

/// Equality of JSON values where numbers compare by value (`42` equals `42.0`).
#[must_use]
pub(crate) fn same(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => {
            x == y || (x.as_f64().is_some() && x.as_f64() == y.as_f64())
        }
        (Value::Array(x), Value::Array(y)) => same_list(x, y),
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| same(v, w)))
        }
        _ => a == b,
    }
}

fn same_list(a: &[Value], b: &[Value]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| same(x, y))
}

fn pretty(v: &Value) -> String {
    serde_json::to_string_pretty(v).unwrap_or_default()
}

fn indent(s: &str) -> String {
    s.lines()
        .map(|l| format!("    {l}"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Expected vs actual payloads of a step: counts, then each difference by path.
fn payload_diff(step: &str, expected: &[Value], actual: &[Value]) -> String {
    let mut out = format!(
        "step `{step}`: payloads differ (expected {} payload{}, got {})",
        expected.len(),
        crate::commands::plural(expected.len()),
        actual.len()
    );
    for k in 0..expected.len().max(actual.len()) {
        match (expected.get(k), actual.get(k)) {
            (Some(e), Some(a)) if same(e, a) => {}
            (Some(e), Some(a)) => {
                let mut changes = Vec::new();
                crate::ui::diff::diff_values("", e, a, &mut changes);
                let _ = write!(out, "\n  payload {}:", k + 1);
                for c in changes.iter().take(20) {
                    if let (Some(x), Some(y)) = (&c.a, &c.b)
                        && same(x, y)
                    {
                        continue;
                    }
                    let path = if c.path.is_empty() { "." } else { &c.path };
                    let _ = write!(out, "\n    {path}");
                    let _ = write!(out, "\n      - expected: {}", side(c.a.as_ref()));
                    let _ = write!(out, "\n      + actual:   {}", side(c.b.as_ref()));
                }
                if changes.len() > 20 {
                    let _ = write!(out, "\n    … and {} more", changes.len() - 20);
                }
            }
            (Some(e), None) => {
                let _ = write!(
                    out,
                    "\n  payload {}: expected, missing:\n{}",
                    k + 1,
                    indent(&indent(&pretty(e)))
                );
            }
            (None, Some(a)) => {
                let _ = write!(
                    out,
                    "\n  payload {}: not expected, got:\n{}",
                    k + 1,
                    indent(&indent(&pretty(a)))
                );
            }
            (None, None) => {}
        }
    }
    out
}

fn side(v: Option<&Value>) -> String {
    v.map_or_else(
        || "(absent)".to_owned(),
        |v| {
            let s = serde_json::to_string(v).unwrap_or_default();
            if s.chars().count() > 200 {
                let cut: String = s.chars().take(200).collect();
                format!("{cut}…")
            } else {
                s
            }
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn numbers_compare_by_value() {
        assert!(same(&json!({"t": 10}), &json!({"t": 10.0})));
        assert!(!same(&json!([1, 2]), &json!([1, 2, 3])));
        assert!(!same(&json!({"a": 1}), &json!({"b": 1})));
    }

    #[test]
    fn reads_inside_the_project_only() {
        assert!(inside_project("data/*.json"));
        assert!(!inside_project("../x.json"));
        assert!(!inside_project("/etc/passwd"));
        assert!(!inside_project("${env:DIR}/x.json"));
    }
}
