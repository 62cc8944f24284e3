//! The `[[steps]]` array of a flow file: the common keys of each step table and
//! `track`; the step's own options are read by its kind (see `crate::steps`).

use super::StepDef;
use super::reader::{Cx, Item, Reader, as_str, line_col, table, type_err};
use crate::names::is_name;
use std::sync::Arc;
use toml::de::DeTable;

const STEP_KEYS: &[&str] = &["id", "kind", "skip", "description", "on_error", "track"];

pub(super) fn steps(cx: &mut Cx<'_>, item: &Item<'_>) -> Vec<StepDef> {
    let Some(array) = item.get_ref().as_array() else {
        type_err(cx, item, "steps", "an array of tables ([[steps]])");
        return Vec::new();
    };
    if array.is_empty() {
        cx.err(item.span().start, "the flow has no steps");
    }
    let mut out: Vec<StepDef> = Vec::new();
    let mut seen: Vec<(String, usize)> = Vec::new();
    for (i, entry) in array.iter().enumerate() {
        let Some(t) = table(cx, entry, "steps") else {
            continue;
        };
        let at = entry.span().start;
        // Duplicates are found from the id alone, so that a step with other problems
        // still counts as the first use of its id.
        // Both uses are located at their `id =` values.
        let id = t
            .iter()
            .find(|(k, _)| k.get_ref().as_ref() == "id")
            .and_then(|(_, v)| Some((v.get_ref().as_str()?, v.span().start)))
            .filter(|(id, _)| is_name(id));
        if let Some((id, id_at)) = id {
            if let Some((_, first)) = seen.iter().find(|(seen, _)| seen == id) {
                let (line, col) = line_col(cx.src, *first);
                let (again_line, again_col) = line_col(cx.src, id_at);
                cx.err(
                    id_at,
                    format!(
                        "duplicate step id `{id}`: first used at {line}:{col}, again at {again_line}:{again_col}"
                    ),
                );
            } else {
                seen.push((id.to_owned(), id_at));
            }
        }
        if let Some(step) = step(cx, t, at, i + 1) {
            out.push(step);
        }
    }
    out
}

fn step(cx: &mut Cx<'_>, t: &DeTable<'_>, at: usize, n: usize) -> Option<StepDef> {
    let mut r = Reader::new(t, at, format!("step {n}"));
    // A missing or invalid id is reported and the rest of the step is still checked.
    let id = match r.get("id") {
        Some(item) => match as_str(cx, item, "id") {
            Some((s, _)) if is_name(s) => Some(s.to_owned()),
            Some((s, at)) => {
                cx.err(
                    at,
                    format!("step id `{s}` is not valid: use lower-case letters, digits, `_` and `-` (at most 64, starting with a letter or digit)"),
                );
                None
            }
            None => None,
        },
        None => {
            cx.err(at, format!("step {n} needs an `id`"));
            None
        }
    };
    if let Some(id) = &id {
        r.what = format!("step `{id}`");
    }
    let label = r.what.clone();
    r.label.clone_from(&label);
    let skip = r.bool(cx, "skip").unwrap_or(false);
    let description = r.str(cx, "description").map(|(s, _)| s.to_owned());
    let on_error = r
        .get("on_error")
        .and_then(|item| super::on_error::read(cx, item))
        .unwrap_or_default();
    let track = track(cx, &mut r);
    let (kind, kind_at) = match r.required(cx, "kind") {
        Some(item) => as_str(cx, item, "kind")?,
        None => return None,
    };
    let Some(kind) = crate::steps::kind(kind) else {
        let names: Vec<&str> = crate::steps::KINDS.iter().map(|k| k.name).collect();
        cx.err(
            kind_at,
            format!(
                "unknown step kind `{kind}`; expected one of: {}",
                names.join(", ")
            ),
        );
        return None;
    };
    r.what = format!("{label} (kind {})", kind.name);
    let before = cx.count();
    let spec = (kind.read)(&mut r, cx);
    debug_assert!(
        r.read_keys()
            .iter()
            .all(|k| STEP_KEYS.contains(k) || kind.options.iter().any(|o| o.name == *k)),
        "kind {} reads an option it does not declare",
        kind.name
    );
    r.allow(kind.options.iter().map(|o| o.name));
    r.allow(STEP_KEYS.iter().copied());
    r.finish(cx);
    if cx.count() > before {
        return None;
    }
    let id = id?;
    spec.map(|spec| StepDef {
        id,
        skip,
        description,
        kind,
        spec: Arc::from(spec),
        on_error,
        track,
    })
}

/// `track = { NAME = "<jq>", … }`: each filter compiled now, so `check` reports it.
/// Placeholders are refused: the filters run again, without the run's environment,
/// when the index of tracked values is rebuilt from the stored runs.
fn track(cx: &mut Cx<'_>, r: &mut Reader<'_, '_>) -> Vec<(String, super::JqOpt)> {
    let Some(item) = r.get("track") else {
        return Vec::new();
    };
    let Some(t) = table(cx, item, "track") else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for (k, v) in t {
        let name: &str = k.get_ref();
        if !crate::track::is_track_name(name) {
            cx.err(
                k.span().start,
                format!("`track`: `{name}` is not a valid name: use letters, digits, `_` and `-` (at most 64)"),
            );
            continue;
        }
        let before = cx.count();
        let Some(jq) = super::reader::jq_of(cx, v, "track") else {
            continue;
        };
        if jq.text.has_placeholders() {
            cx.err(
                v.span().start,
                format!("`track.{name}`: ${{env:…}} and ${{secret:…}} are not allowed here (the filter runs again when the index is rebuilt, without the run's environment)"),
            );
            continue;
        }
        if cx.count() == before {
            out.push((name.to_owned(), jq));
        }
    }
    out
}
