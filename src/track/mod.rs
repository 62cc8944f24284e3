//! `track = { NAME = "<jq>" }` and `flowrun find`: the values a run's payloads carried,
//! taken from the run as stored, and the per-flow index that finds them (`index`).
//!
//! The values of a run are a function of its folder alone: its `flow.toml` copy says
//! which steps track what, its manifest lists the steps' payload files, and the filters
//! run over those files. So the index is rebuilt from the runs with the same result as
//! it was built run by run, and a masked payload (a secret in it became `***`) indexes
//! the masked value, never the secret.

mod index;

pub(crate) use index::{DIR as INDEX_DIR, Hit, lookup, sync};

use crate::store::{Store, layout};
use serde_json::Value;

/// Whether `name` may be a tracked name: what `find NAME=VALUE` can type unquoted.
#[must_use]
pub(crate) fn is_track_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// The text a tracked value is found by: a string as it is, a number or bool as JSON
/// writes it (`42`, `1.5`, `true`). Null, arrays and objects are not values.
#[must_use]
pub(crate) fn value_text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// The key of `NAME=VALUE` in the index: the first 128 bits of a blake3 (hex). Values
/// may be personal data, so the index holds only this.
#[must_use]
pub(crate) fn key(name: &str, value: &str) -> String {
    let mut h = blake3::Hasher::new();
    h.update(b"flowrun.track/1\0");
    h.update(name.as_bytes());
    h.update(b"\0");
    h.update(value.as_bytes());
    h.finalize().to_hex()[..32].to_owned()
}

/// One place a value was carried: a payload file of a step (and the element, for an
/// array payload).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Place {
    /// [`key`] of the name and value.
    pub(crate) key: String,
    /// The run.
    pub(crate) run_id: String,
    /// The step id.
    pub(crate) step: String,
    /// The payload file, relative to the run folder.
    pub(crate) file: String,
    /// 0-based element index in an array payload.
    pub(crate) element: Option<usize>,
}

/// The tracked values of one stored run, and the names its flow tracks. A run whose
/// flow copy or manifest cannot be read, or a payload that cannot (a trimmed one: its
/// full content was never stored), contributes nothing.
pub(crate) fn run_places(store: &Store, flow: &str, run_id: &str) -> (Vec<Place>, Vec<String>) {
    let dir = store.run_dir(flow, run_id);
    let mut places = Vec::new();
    let mut names = Vec::new();
    let copy = layout::flow_copy(&dir);
    let Ok(source) =
        crate::store::recorded::read_text(&copy, crate::store::recorded::MAX_FLOW_BYTES)
    else {
        return (places, names);
    };
    if !source.contains("track") {
        return (places, names);
    }
    let Ok(def) = crate::flow::load_str(flow, &copy, source) else {
        return (places, names);
    };
    if def.steps.iter().all(|s| s.track.is_empty()) {
        return (places, names);
    }
    let Ok(m) = crate::store::read_manifest_raw(&dir) else {
        return (places, names);
    };
    for step in def.steps.iter().filter(|s| !s.track.is_empty()) {
        names.extend(step.track.iter().map(|(n, _)| n.clone()));
        let Some(rec) = m.steps.iter().find(|r| r.id == step.id) else {
            continue;
        };
        for p in rec.payloads.iter().filter(|p| !p.trimmed) {
            let Ok(value) = crate::store::payload::read(&dir.join(&p.file)) else {
                continue;
            };
            let elements: Vec<(Option<usize>, &Value)> = match &value {
                Value::Array(items) => items
                    .iter()
                    .enumerate()
                    .map(|(k, v)| (Some(k), v))
                    .collect(),
                other => vec![(None, other)],
            };
            for (element, v) in elements {
                for (name, jq) in &step.track {
                    let Ok(outputs) = jq.jq.run(v) else { continue };
                    let mut seen: Vec<String> = Vec::new();
                    for text in outputs.iter().filter_map(value_text) {
                        if seen.contains(&text) {
                            continue;
                        }
                        places.push(Place {
                            key: key(name, &text),
                            run_id: run_id.to_owned(),
                            step: step.id.clone(),
                            file: p.file.clone(),
                            element,
                        });
                        seen.push(text);
                    }
                }
            }
        }
    }
    names.sort();
    names.dedup();
    (places, names)
}

/// The names the current flow file of `flow` tracks (none when it cannot be loaded).
#[must_use]
pub(crate) fn flow_names(root: &std::path::Path, flow: &str) -> Vec<String> {
    let mut names: Vec<String> = crate::flow::load(root, flow)
        .map(|f| {
            f.steps
                .iter()
                .flat_map(|s| s.track.iter().map(|(n, _)| n.clone()))
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names.dedup();
    names
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_scalars_as_json_writes_them() {
        assert_eq!(
            value_text(&serde_json::json!("ORD-1")).as_deref(),
            Some("ORD-1")
        );
        assert_eq!(value_text(&serde_json::json!(42)).as_deref(), Some("42"));
        assert_eq!(value_text(&serde_json::json!(1.5)).as_deref(), Some("1.5"));
        assert_eq!(
            value_text(&serde_json::json!(true)).as_deref(),
            Some("true")
        );
        assert_eq!(value_text(&Value::Null), None);
        assert_eq!(value_text(&serde_json::json!([1])), None);
    }

    #[test]
    fn keys_separate_name_and_value() {
        assert_ne!(key("a", "bc"), key("ab", "c"));
        assert_eq!(key("order", "1").len(), 32);
    }
}
