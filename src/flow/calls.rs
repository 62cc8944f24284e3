//! Flows that call flows (`flow` and `route` steps): `check` refuses a name with no flow
//! file behind it and a cycle of flows calling each other, with the chain.

use super::reader::line_col;
use super::{Flow, FlowError, Problem, flow_path};
use std::collections::HashMap;
use std::path::Path;

/// The flows `flow` starts child runs of (`flow` and `route` steps, `on_error = { flow
/// = … }`), each with the line and column of its name.
fn calls(flow: &Flow) -> Vec<(String, usize, usize)> {
    let mut out = Vec::new();
    for s in &flow.steps {
        for (name, at) in s.spec.calls() {
            let (line, col) = line_col(&flow.source, at);
            out.push((name, line, col));
        }
        if let super::OnError::Flow { name, line, col } = &s.on_error {
            out.push((name.clone(), *line, *col));
        }
    }
    out
}

/// Every unknown flow name and every cycle through `flow`, located in its file.
///
/// # Errors
/// The problems found, as a [`FlowError`] of `flow`'s file.
pub(crate) fn check(root: &Path, flow: &Flow) -> Result<(), FlowError> {
    let mut problems = Vec::new();
    let mut loaded: HashMap<String, Option<Vec<String>>> = HashMap::new();
    let mut seen_cycle = Vec::new();
    for (name, line, col) in calls(flow) {
        if !flow_path(root, &name).is_file() {
            problems.push(Problem {
                line,
                col,
                message: format!(
                    "unknown flow `{name}` (there is no {})",
                    super::display_path(&flow_path(root, &name))
                ),
            });
            continue;
        }
        let mut chain = vec![flow.name.clone(), name.clone()];
        if leads_back(root, &flow.name, &mut chain, &mut loaded) && !seen_cycle.contains(&name) {
            seen_cycle.push(name.clone());
            problems.push(Problem {
                line,
                col,
                message: format!("flow cycle: {}", chain.join(" → ")),
            });
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(FlowError {
            file: flow.file(),
            problems,
        })
    }
}

/// Whether the last flow of `chain` leads back to `start`; `chain` is then the cycle.
fn leads_back(
    root: &Path,
    start: &str,
    chain: &mut Vec<String>,
    loaded: &mut HashMap<String, Option<Vec<String>>>,
) -> bool {
    let Some(last) = chain.last().cloned() else {
        return false;
    };
    if last == start {
        return true;
    }
    let callees = loaded
        .entry(last.clone())
        .or_insert_with(|| {
            // A flow that does not load is reported by its own check.
            super::load(root, &last)
                .ok()
                .map(|f| calls(&f).into_iter().map(|(n, _, _)| n).collect())
        })
        .clone()
        .unwrap_or_default();
    for next in callees {
        // A cycle that does not pass through `start` is reported for its own flows.
        if chain[1..].contains(&next) {
            continue;
        }
        chain.push(next);
        if leads_back(root, start, chain, loaded) {
            return true;
        }
        chain.pop();
    }
    false
}
