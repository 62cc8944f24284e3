//! Leaf helpers every layer may use: what a valid name is, how a path is shown, how
//! large a flow file may be. Imports nothing from the crate.

use std::path::Path;

/// Flow files larger than this are refused before parsing (and not kept in a run).
pub const MAX_FLOW_FILE_BYTES: u64 = 4 * 1024 * 1024;

/// Whether `s` is a valid flow name or step id: `[a-z0-9][a-z0-9_-]{0,63}`.
#[must_use]
pub fn is_name(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && b.len() <= 64
        && (b[0].is_ascii_lowercase() || b[0].is_ascii_digit())
        && b.iter()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'_' || *c == b'-')
}

/// How a path is shown in messages: relative to the working directory when inside it.
#[must_use]
pub(crate) fn display_path(path: &Path) -> String {
    if let Ok(cwd) = std::env::current_dir()
        && let Ok(rel) = path.strip_prefix(&cwd)
    {
        return rel.display().to_string();
    }
    path.display().to_string()
}

/// `"s"` unless `n` is 1: `format!("{n} file{}", plural(n))`.
#[must_use]
pub(crate) fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

/// `text` percent-encoded for one URL path segment or query component: everything but
/// ASCII letters, digits and `-_.~` as `%XX`.
#[must_use]
pub(crate) fn url_part(text: &str) -> String {
    const SET: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
        .remove(b'-')
        .remove(b'_')
        .remove(b'.')
        .remove(b'~');
    percent_encoding::utf8_percent_encode(text, SET).to_string()
}
