//! Judging what a test run did against the case's expectations, with a diff of payloads.

use super::Ran;
use super::file::{self, Case};
use crate::flow::Flow;
use crate::jq::Jq;
use serde_json::Value;
use std::fmt::Write as _;

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
}
