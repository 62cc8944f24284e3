//! In-place `skip` edits of flow files, keeping every comment and the layout.
//!
//! `skip` sets `skip = true` on steps; a key it has to add carries the comment
//! [`MARK`], so that `unskip` can remove exactly that line again and a
//! skip → replay → unskip cycle leaves the file byte-identical. A `skip` key the
//! user wrote is set to `false` by `unskip` instead.

use toml_edit::Item;

/// The comment on `skip` lines that `flowrun skip` added.
pub(crate) const MARK: &str = "# set by flowrun skip";

/// Why a skip edit could not be made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum SkipError {
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
/// `None` means every step. Returns the new text: `src` with only the edited lines
/// changed, byte for byte (a byte-order mark, CRLF line endings and every other line
/// stay as they are; an added line ends like the file's lines do). When nothing needs
/// changing, the text returned is `src` itself.
///
/// `toml_edit` locates the steps and their keys; the edits are spliced into `src`
/// rather than printed by `toml_edit`, which would turn CRLF into LF and drop a
/// byte-order mark.
///
/// # Errors
/// The text does not parse, or an id is not a step of the flow.
pub(crate) fn set(src: &str, ids: Option<&[String]>, on: bool) -> Result<String, SkipError> {
    let bom = if src.starts_with('\u{feff}') { 3 } else { 0 };
    let body = &src[bom..];
    let doc = toml_edit::Document::parse(body)
        .map_err(|e: toml_edit::TomlError| SkipError::Parse(e.message().to_owned()))?;
    let steps = doc
        .get("steps")
        .and_then(Item::as_array_of_tables)
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
    let eol = if body.contains("\r\n") { "\r\n" } else { "\n" };
    // (start, end, replacement) in `body`, applied back to front.
    let mut edits: Vec<(usize, usize, String)> = Vec::new();
    for table in steps {
        let id = table.get("id").and_then(Item::as_str).unwrap_or_default();
        if ids.is_some_and(|ids| !ids.iter().any(|i| i == id)) {
            continue;
        }
        let current = table
            .get("skip")
            .and_then(Item::as_value)
            .and_then(|v| Some((v.as_bool(), v.span()?)));
        match (current, on) {
            (Some((Some(true), _)), true) => {}
            (Some((_, span)), true) => edits.push((span.start, span.end, "true".to_owned())),
            (Some((_, span)), false) if ours(body, &span) => {
                let (start, end) = line_of(body, span.start);
                edits.push((start, end, String::new()));
            }
            (Some((Some(false), _)), false) => {}
            (Some((_, span)), false) => edits.push((span.start, span.end, "false".to_owned())),
            (None, true) => {
                let last = table
                    .iter()
                    .filter_map(|(_, item)| item.as_value().and_then(toml_edit::Value::span))
                    .map(|span| span.end)
                    .max();
                let Some(last) = last else { continue };
                let (_, end) = line_of(body, last);
                let line = format!("skip = true {MARK}");
                let text = if body[..end].ends_with('\n') {
                    format!("{line}{eol}")
                } else {
                    format!("{eol}{line}")
                };
                edits.push((end, end, text));
            }
            (None, false) => {}
        }
    }
    if edits.is_empty() {
        return Ok(src.to_owned());
    }
    edits.sort_by_key(|e| std::cmp::Reverse(e.0));
    let mut out = body.to_owned();
    for (start, end, text) in edits {
        out.replace_range(start..end, &text);
    }
    Ok(format!("{}{out}", &src[..bom]))
}

/// Whether the `skip` value at `span` carries [`MARK`] (it was added by `flowrun skip`).
fn ours(body: &str, span: &std::ops::Range<usize>) -> bool {
    let rest = &body[span.end..];
    let line = rest.split('\n').next().unwrap_or_default();
    line.contains(MARK)
}

/// The line holding byte `at`: its start and the end past its newline. A last line
/// without a newline takes the newline before it instead, so that removing the range
/// leaves no empty line.
fn line_of(body: &str, at: usize) -> (usize, usize) {
    let start = body[..at].rfind('\n').map_or(0, |p| p + 1);
    match body[at..].find('\n') {
        Some(p) => (start, at + p + 1),
        None => {
            let before = body[..start].strip_suffix('\n').map_or(start, str::len);
            let before = body[..before].strip_suffix('\r').map_or(before, str::len);
            (before, body.len())
        }
    }
}

/// Ids of the steps up to and including `through`, in flow order.
///
/// # Errors
/// `through` is not a step of the flow.
pub(crate) fn through(ids: &[String], through: &str) -> Result<Vec<String>, SkipError> {
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
    fn crlf_and_a_byte_order_mark_stay() {
        let crlf = format!("\u{feff}{}", FLOW.replace('\n', "\r\n"));
        let all = ["a".to_owned(), "b".to_owned(), "c".to_owned()];
        let skipped = set(&crlf, Some(&all), true).unwrap();
        assert!(skipped.starts_with('\u{feff}'), "{skipped:?}");
        assert!(!skipped.replace("\r\n", "").contains('\n'), "{skipped:?}");
        assert!(
            skipped.contains(&format!("kind = \"merge\"\r\nskip = true {MARK}\r\n")),
            "{skipped:?}"
        );
        assert_eq!(set(&skipped, None, false).unwrap(), crlf);
        // Nothing to change: the same text.
        assert_eq!(set(&crlf, None, false).unwrap(), crlf);
    }

    #[test]
    fn a_last_line_without_newline() {
        let src = "[[steps]]\nid = \"a\"\nkind = \"merge\"";
        let skipped = set(src, None, true).unwrap();
        assert_eq!(skipped, format!("{src}\nskip = true {MARK}"));
        assert_eq!(set(&skipped, None, false).unwrap(), src);
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
