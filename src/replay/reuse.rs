//! What a resume takes over from the runs it continues: the outputs each step finished
//! for its inputs and the child runs it started, checked as recorded payloads are.

use super::{ReplayError, check_recorded, refused};
use crate::engine::{Recorded, Reuse};
use crate::store::list::RunRef;
use crate::store::manifest::EditedFile;
use crate::store::{Manifest, StepStatus};
use serde_json::Value;

/// How recorded outputs to reuse are checked, and the edited ones used.
pub(super) struct Checks<'a> {
    pub(super) allow_edits: bool,
    pub(super) edited: &'a mut Vec<EditedFile>,
}

/// Whether any step of the run got as far as starting (a skip is not recorded before then).
pub(super) fn started_a_step(m: &Manifest) -> bool {
    (0..m.steps.len()).any(|i| ran(m, i))
}

/// Whether step `i` of the run handled any of its inputs (rather than being skipped or
/// never reached).
pub(super) fn ran(m: &Manifest, i: usize) -> bool {
    matches!(
        m.steps[i].status,
        StepStatus::Running | StepStatus::Success | StepStatus::Failure
    )
}

/// The hashes of the inputs of step `i` in run `m`, in order.
pub(super) fn input_hashes(m: &Manifest, i: usize) -> Vec<&str> {
    m.step_inputs(i)
        .iter()
        .map(|r| r.full_blake3.as_str())
        .collect()
}

/// Records the outputs step `i` of run `m` finished for its inputs after the first
/// `skip`, grouped by the input they came from. Returns how many of the step's inputs
/// the run finished.
pub(super) fn add_finished(
    reuse: &mut Reuse,
    checks: &mut Checks<'_>,
    m: &Manifest,
    run: &RunRef,
    i: usize,
    skip: usize,
) -> Result<usize, ReplayError> {
    let rec = &m.steps[i];
    // A step that holds its outputs back until its last input (merge), or whose state
    // is saved only by a successful run (dedupe), starts over.
    let reuses = crate::steps::kind(&rec.kind).is_some_and(|k| k.props.reuses_outputs);
    if !reuses || !ran(m, i) {
        return Ok(0);
    }
    let inputs = m.step_inputs(i);
    let null_hash;
    let finished: Vec<(Option<&str>, &str)> = if inputs.is_empty() {
        null_hash = crate::json::payload_hash(&Value::Null);
        if rec.inputs_done > 0 {
            vec![(None, null_hash.as_str())]
        } else {
            Vec::new()
        }
    } else {
        inputs
            .iter()
            .take(rec.inputs_done)
            .map(|r| (Some(r.file.as_str()), r.full_blake3.as_str()))
            .collect()
    };
    let done = finished.len();
    // An input the step failed on and went on past (`on_error`) was handled but not
    // finished: it runs again.
    let failed = |file: Option<&str>| {
        rec.failed
            .iter()
            .any(|f| f.payload.source.as_deref() == file)
    };
    for (file, hash) in finished.into_iter().skip(skip) {
        if failed(file) {
            continue;
        }
        let outputs: Vec<Recorded> = rec
            .payloads
            .iter()
            .filter(|p| p.source.as_deref() == file)
            .map(|p| Recorded {
                path: run.dir.join(&p.file),
                record: p.clone(),
                edited: false,
            })
            .collect();
        if let Some(t) = outputs.iter().find(|o| !o.record.is_complete()) {
            return Err(refused(format!(
                "{}: an output to reuse was trimmed or had a secret masked out when it was stored, so its full content is not available; use `{}` instead",
                crate::flow::display_path(&t.path),
                crate::hint::flowrun(["retry", run.id.as_str()])
            )));
        }
        let mut outputs = outputs;
        for o in &mut outputs {
            let (hash, changed) = check_recorded(&run.dir, &o.record, checks.allow_edits)?;
            if changed {
                o.edited = true;
                checks.edited.push(EditedFile {
                    run_id: run.id.clone(),
                    file: o.record.file.clone(),
                    blake3: hash,
                });
            }
        }
        reuse.add(i, hash, outputs);
    }
    Ok(done)
}

/// Records the child runs step `i` started (`flow`, `route`), per input in input order,
/// so that the resumed step takes over those that succeeded. `ms` is the run being
/// resumed and then older runs of its lineage over the same inputs: for each input, the
/// links of the first run that has any for it (a resume cut off before it re-linked
/// what it took over leaves them in the run before it).
pub(super) fn add_links(reuse: &mut Reuse, ms: &[&Manifest], i: usize) {
    let Some(first) = ms.first() else {
        return;
    };
    let links_for = |j: usize| -> Vec<crate::store::manifest::ChildLink> {
        for m in ms {
            let inputs = m.step_inputs(i);
            let source = if inputs.is_empty() {
                None
            } else {
                match inputs.get(j) {
                    Some(r) => Some(r.file.as_str()),
                    None => continue,
                }
            };
            let links: Vec<_> = m.steps[i]
                .children
                .iter()
                .filter(|c| c.source.as_deref() == source)
                .cloned()
                .collect();
            if !links.is_empty() {
                return links;
            }
        }
        Vec::new()
    };
    let inputs = first.step_inputs(i);
    if inputs.is_empty() {
        let hash = crate::json::payload_hash(&Value::Null);
        reuse.add_links(i, &hash, links_for(0));
        return;
    }
    for (j, input) in inputs.iter().enumerate() {
        reuse.add_links(i, &input.full_blake3, links_for(j));
    }
}
