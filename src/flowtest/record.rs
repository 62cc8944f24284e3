//! `flowrun test --record RUN`: a test written from a recorded run — its input, stubs
//! from its connector steps' recorded payloads, expectations from every other step —
//! appended to the flow's test file. A failed run gives a test that fails the same way
//! until the flow is fixed (no `[tests.fails]`): a regression test.

use super::file::{self, SUFFIX};
use crate::store::{Manifest, StepStatus};
use serde_json::Value;
use std::path::Path;
use toml_edit::{Array, ArrayOfTables, DocumentMut, InlineTable, Item, Table, Value as TV};

/// The text of one `[[tests]]` entry made from the run in `dir` with manifest `m`.
///
/// # Errors
/// A payload cannot be read back (trimmed, missing), or a connector step failed (a stub
/// cannot fail).
pub(crate) fn test_text(dir: &Path, m: &Manifest, name: &str) -> Result<String, String> {
    let read = |file: &str| -> Result<Value, String> {
        crate::store::payload::read(&dir.join(file))
            .map_err(|e| format!("{e} (a test needs every payload of the run whole)"))
    };
    let mut t = Table::new();
    t["name"] = toml_edit::value(name);
    let inputs: Vec<Value> = m
        .input
        .iter()
        .map(|p| read(&p.file))
        .collect::<Result<_, _>>()?;
    if !inputs.is_empty() {
        match list(&inputs) {
            Some(a) => t["inputs"] = toml_edit::value(a),
            None => t["inputs_json"] = toml_edit::value(compact(&inputs)),
        }
    }
    let mut flowing = if inputs.is_empty() {
        vec![Value::Null]
    } else {
        inputs
    };
    let mut stubs = ArrayOfTables::new();
    let mut expects = ArrayOfTables::new();
    let mut failure: Option<String> = None;
    for s in &m.steps {
        // Connector kinds' recorded payloads become stubs (a kind no longer known: not one).
        let connector = crate::steps::kind(&s.kind).is_some_and(|k| k.props.connector);
        let outputs: Vec<Value> = match s.status {
            StepStatus::Skipped => flowing.clone(),
            StepStatus::Success => s
                .payloads
                .iter()
                .map(|p| read(&p.file))
                .collect::<Result<_, _>>()?,
            StepStatus::Failure if connector => {
                return Err(format!(
                    "run {} failed at step `{}` ({}): a stub cannot fail, so this failure cannot become a test",
                    m.run_id, s.id, s.kind
                ));
            }
            StepStatus::Failure => {
                failure = Some(format!(
                    "# Run {} failed at step `{}`: this test fails until the flow is fixed.\n",
                    m.run_id, s.id
                ));
                continue;
            }
            _ if failure.is_some() && connector => Vec::new(),
            _ if failure.is_some() => continue,
            _ => {
                return Err(format!(
                    "run {} did not finish step `{}` (it is {:?}): record a finished run",
                    m.run_id, s.id, s.status
                ));
            }
        };
        let mut entry = Table::new();
        entry["step"] = toml_edit::value(s.id.as_str());
        match list(&outputs) {
            Some(a) => entry["payloads"] = toml_edit::value(a),
            None => entry["payloads_json"] = toml_edit::value(compact(&outputs)),
        }
        if connector || s.status == StepStatus::Skipped {
            stubs.push(entry);
        } else {
            expects.push(entry);
        }
        flowing = outputs;
    }
    if !stubs.is_empty() {
        t["stub"] = Item::ArrayOfTables(stubs);
    }
    if !expects.is_empty() {
        t["expect"] = Item::ArrayOfTables(expects);
    }
    let mut all = ArrayOfTables::new();
    all.push(t);
    let mut doc = DocumentMut::new();
    doc["tests"] = Item::ArrayOfTables(all);
    Ok(format!("{}{doc}", failure.unwrap_or_default()))
}

/// Appends `entry` to the test file of `flow` under `root` (created if missing),
/// keeping what is there byte for byte; returns the file's path.
///
/// # Errors
/// The file cannot be read or written, it already has a test of this name, or the result
/// would not be a valid test file.
pub(crate) fn append(
    root: &Path,
    flow: &str,
    name: &str,
    entry: &str,
) -> Result<std::path::PathBuf, String> {
    let path = file::test_path(root, flow);
    let shown = crate::flow::display_path(&path);
    let old = match std::fs::read_to_string(&path) {
        Ok(s) => s,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(e) => return Err(format!("{shown}: {e}")),
    };
    if !old.is_empty() {
        let parsed = file::load(&path)?;
        if parsed.tests.iter().any(|c| c.name == name) {
            return Err(format!("{shown} already has a test named `{name}`"));
        }
    }
    let mut text = old.clone();
    if !text.is_empty() {
        if !text.ends_with('\n') {
            text.push('\n');
        }
        text.push('\n');
    }
    text.push_str(entry);
    toml::from_str::<file::TestFile>(&text).map_err(|e| {
        format!(
            "{shown}: the recorded test cannot be appended: {}",
            e.message()
        )
    })?;
    debug_assert!(path.to_string_lossy().ends_with(SUFFIX));
    let written = if old.is_empty() && !path.exists() {
        crate::store::atomic::write(&path, text.as_bytes())
    } else {
        crate::store::atomic::replace(&path, text.as_bytes())
    };
    written.map_err(|e| e.to_string())?;
    Ok(path)
}

fn compact(vs: &[Value]) -> String {
    serde_json::to_string(vs).unwrap_or_default()
}

/// The payloads as a TOML array; `None` when one holds something TOML cannot (`null`,
/// an integer beyond 64 bits).
fn list(vs: &[Value]) -> Option<Array> {
    let mut a = Array::new();
    for v in vs {
        a.push(to_toml(v)?);
    }
    Some(a)
}

fn to_toml(v: &Value) -> Option<TV> {
    Some(match v {
        Value::Null => return None,
        Value::Bool(b) => TV::from(*b),
        Value::Number(n) => match (n.as_i64(), n.as_f64()) {
            (Some(i), _) => TV::from(i),
            (None, Some(f)) if n.is_f64() => TV::from(f),
            _ => return None,
        },
        Value::String(s) => TV::from(s.as_str()),
        Value::Array(xs) => {
            let mut a = Array::new();
            for x in xs {
                a.push(to_toml(x)?);
            }
            TV::Array(a)
        }
        Value::Object(o) => {
            let mut t = InlineTable::new();
            for (k, x) in o {
                t.insert(k, to_toml(x)?);
            }
            TV::InlineTable(t)
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn values_toml_cannot_hold_fall_back_to_json_text() {
        assert!(list(&[json!({"a": [1, 2.5, "x", true]})]).is_some());
        assert!(list(&[json!({"a": null})]).is_none());
        assert!(list(&[json!(u64::MAX)]).is_none());
        let a = list(&[json!({"a": 1})]).expect("TOML");
        let back: toml::Value = toml::from_str(&format!("p = {a}")).expect("parses");
        assert_eq!(super::file::to_json(&back["p"]), json!([{"a": 1}]));
    }
}
