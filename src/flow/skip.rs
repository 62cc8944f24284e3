//! In-place `skip` edits of flow files, keeping every comment and the layout.
//!
//! `skip` sets `skip = true` on steps; a key it has to add carries the comment
//! [`MARK`], so that `unskip` can remove exactly that line again and a
//! skip → replay → unskip cycle leaves the file byte-identical. A `skip` key the
//! user wrote is set to `false` by `unskip` instead.

use toml_edit::{DocumentMut, Item, Value};

/// The comment on `skip` lines that `flowrun skip` added.
pub const MARK: &str = "# set by flowrun skip";

/// Why a skip edit could not be made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SkipError {
    /// The file does not parse as TOML.
    #[error("the flow file does not parse: {0}")]
    Parse(String),
    /// The steps are not written as `[[steps]]` tables.
    #[error("steps must be written as [[steps]] tables to be edited in place")]
    NotTables,
    /// A step that is not in the flow.
    #[error("no step `{id}` in this flow; its steps are: {}", ids.join(", "))]
    UnknownStep {
        /// The id asked for.
        id: String,
        /// The flow's step ids.
        ids: Vec<String>,
    },
}

/// Sets (`on = true`) or clears the `skip` flag of the steps in `ids` in flow text `src`;
/// `None` means every step. Returns the new text.
///
/// # Errors
/// The text does not parse, or an id is not a step of the flow.
pub fn set(src: &str, ids: Option<&[String]>, on: bool) -> Result<String, SkipError> {
    let mut doc: DocumentMut = src
        .parse()
        .map_err(|e: toml_edit::TomlError| SkipError::Parse(e.message().to_owned()))?;
    let steps = doc
        .get_mut("steps")
        .and_then(Item::as_array_of_tables_mut)
        .ok_or(SkipError::NotTables)?;
    let all: Vec<String> = steps
        .iter()
        .map(|t| {
            t.get("id")
                .and_then(Item::as_str)
                .unwrap_or_default()
                .to_owned()
        })
        .collect();
    if let Some(bad) = ids.and_then(|ids| ids.iter().find(|id| !all.contains(id))) {
        return Err(SkipError::UnknownStep {
            id: bad.clone(),
            ids: all,
        });
    }
    for table in steps.iter_mut() {
        let id = table.get("id").and_then(Item::as_str).unwrap_or_default();
        if ids.is_some_and(|ids| !ids.iter().any(|i| i == id)) {
            continue;
        }
        let current = table.get_mut("skip").and_then(Item::as_value_mut);
        match (current, on) {
            (Some(v), true) => replace(v, true),
            (None, true) => {
                let mut v = Value::from(true);
                v.decor_mut().set_suffix(format!(" {MARK}"));
                table.insert("skip", Item::Value(v));
            }
            (Some(v), false) => {
                let ours = v
                    .decor()
                    .suffix()
                    .and_then(|s| s.as_str())
                    .is_some_and(|s| s.contains(MARK));
                if ours {
                    table.remove("skip");
                } else {
                    replace(v, false);
                }
            }
            (None, false) => {}
        }
    }
    Ok(doc.to_string())
}

/// Replaces a value, keeping the whitespace and comment around it.
fn replace(v: &mut Value, to: bool) {
    if v.as_bool() == Some(to) {
        return;
    }
    let decor = v.decor().clone();
    *v = Value::from(to);
    *v.decor_mut() = decor;
}

/// Ids of the steps up to and including `through`, in flow order.
///
/// # Errors
/// `through` is not a step of the flow.
pub fn through(ids: &[String], through: &str) -> Result<Vec<String>, SkipError> {
    let pos = ids
        .iter()
        .position(|i| i == through)
        .ok_or_else(|| SkipError::UnknownStep {
            id: through.to_owned(),
            ids: ids.to_vec(),
        })?;
    Ok(ids[..=pos].to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;

    const FLOW: &str = "# top comment\n[[steps]]\nid = \"a\"   # first\nkind = \"merge\"\n\n# between\n[[steps]]\nid = \"b\"\nkind = \"merge\"\nskip = false # keep me\n\n[[steps]]\nid = \"c\"\nkind = \"merge\"\n";

    #[test]
    fn skip_then_unskip_round_trips() {
        let all = ["a".to_owned(), "b".to_owned()];
        let skipped = set(FLOW, Some(&all), true).unwrap();
        assert!(
            skipped.contains(&format!(
                "kind = \"merge\"\nskip = true {MARK}\n\n# between"
            )),
            "{skipped}"
        );
        assert!(skipped.contains("skip = true # keep me"), "{skipped}");
        assert_eq!(set(&skipped, None, false).unwrap(), FLOW);
    }

    #[test]
    fn other_bytes_stay() {
        let one = set(FLOW, Some(&["c".to_owned()]), true).unwrap();
        assert_eq!(one, format!("{FLOW}skip = true {MARK}\n"));
    }

    #[test]
    fn unknown_step_lists_ids() {
        let err = set(FLOW, Some(&["x".to_owned()]), true).unwrap_err();
        assert_eq!(
            err.to_string(),
            "no step `x` in this flow; its steps are: a, b, c"
        );
    }
}
