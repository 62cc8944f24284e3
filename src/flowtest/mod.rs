//! Flow tests: running a flow's `flows/<name>.test.toml` cases against nothing but
//! stubs and files of the project, in a run store in a temporary folder.
//!
//! A stubbed step is not run at all: the flow is cut at each stub into segments, and
//! each segment is an ordinary engine run (the other steps skipped) whose inputs are the
//! stub's payloads. So the engine is the one `flowrun run` uses, unchanged.

pub(crate) mod file;
mod judge;
pub(crate) mod record;

pub(crate) use judge::judge;

use crate::engine::{self, RunSpec};
use crate::flow::{Flow, StepDef};
use crate::jq::Jq;
use crate::store::{StepStatus, Store, TriggerKind};
use file::Case;
use serde_json::Value;
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_inside_the_project_only() {
        assert!(inside_project("data/*.json"));
        assert!(!inside_project("../x.json"));
        assert!(!inside_project("/etc/passwd"));
        assert!(!inside_project("${env:DIR}/x.json"));
    }
}
