//! Files matching a path pattern (`data/*.json`, `inbox/**/*.csv`): the one listing used
//! by `read` steps and by `watch` inboxes.
//!
//! The glob crate's own walker skips names that are not UTF-8 and, when hidden files
//! must be matched literally, panics on them; so the folders are walked with walkdir and
//! only the matching is glob's ([`glob::Pattern`]). A name that is not UTF-8 is matched
//! as its lossy form (each bad byte reads as U+FFFD, which `*` and `?` match) and
//! returned as its real path, so it can be read or moved like any other.

use std::path::{Path, PathBuf};

/// How a pattern matches.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Options {
    /// `*` and `?` match a leading `.` (a hidden file).
    pub(crate) hidden: bool,
    /// Symbolic links are followed (to files and into folders); otherwise they are
    /// returned as [`Kind::Symlink`] and never entered.
    pub(crate) follow_links: bool,
}

/// What a matching path that is not a plain file is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// A folder.
    Folder,
    /// A symbolic link (only when links are not followed).
    Symlink,
    /// A FIFO, socket or device.
    Special(&'static str),
}

/// What a pattern found.
#[derive(Debug, Default)]
pub(crate) struct Found {
    /// Matching regular files, sorted by path.
    pub(crate) files: Vec<PathBuf>,
    /// Matching paths that are not regular files, sorted by path.
    pub(crate) others: Vec<(PathBuf, Kind)>,
    /// Folders or entries that could not be looked at, with the reason.
    pub(crate) errors: Vec<(PathBuf, String)>,
    /// The folder the search started in: the pattern's part before its first wildcard.
    pub(crate) base: PathBuf,
    /// Whether that folder exists.
    pub(crate) base_exists: bool,
    /// Whether the pattern has no wildcard (it names one path).
    pub(crate) literal: bool,
}

/// Whether `part` (one path component) holds a glob wildcard.
fn is_wild(part: &str) -> bool {
    part.contains(['*', '?', '['])
}

/// The paths matching `pattern`, relative to `root` unless absolute.
///
/// # Errors
/// The pattern is not a valid glob (the message says why).
pub(crate) fn find(root: &Path, pattern: &str, opts: Options) -> Result<Found, String> {
    let full = if Path::new(pattern).is_absolute() {
        PathBuf::from(pattern)
    } else {
        root.join(pattern)
    };
    let parts: Vec<&str> = pattern.split('/').collect();
    let literal_len = parts.iter().take_while(|p| !is_wild(p)).count();
    let mut found = Found::default();
    if literal_len == parts.len() {
        found.literal = true;
        found.base = full.parent().map(Path::to_path_buf).unwrap_or_default();
        found.base_exists = found.base.is_dir();
        let meta = if opts.follow_links {
            std::fs::metadata(&full)
        } else {
            std::fs::symlink_metadata(&full)
        };
        match meta {
            Ok(m) => push(&mut found, full, m.file_type()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => found.errors.push((full, e.to_string())),
        }
        return Ok(found);
    }
    let base_rel = parts[..literal_len].join("/");
    let rest = parts[literal_len..].join("/");
    found.base = if Path::new(pattern).is_absolute() && base_rel.is_empty() {
        PathBuf::from("/")
    } else if Path::new(pattern).is_absolute() {
        PathBuf::from(&base_rel)
    } else {
        root.join(&base_rel)
    };
    found.base_exists = found.base.is_dir();
    let matcher =
        glob::Pattern::new(&rest).map_err(|e| format!("invalid path pattern `{pattern}`: {e}"))?;
    let how = glob::MatchOptions {
        case_sensitive: true,
        require_literal_separator: true,
        require_literal_leading_dot: !opts.hidden,
    };
    let deep = parts[literal_len..].contains(&"**");
    let mut walk = walkdir::WalkDir::new(&found.base)
        .min_depth(1)
        .follow_links(opts.follow_links)
        .sort_by_file_name();
    if !deep {
        walk = walk.max_depth(parts.len() - literal_len);
    }
    if !found.base_exists {
        return Ok(found);
    }
    for entry in walk {
        let entry = match entry {
            Ok(e) => e,
            Err(e) => {
                let path = e.path().map(Path::to_path_buf).unwrap_or_default();
                let reason = e
                    .io_error()
                    .map_or_else(|| e.to_string(), ToString::to_string);
                found.errors.push((path, reason));
                continue;
            }
        };
        let Ok(rel) = entry.path().strip_prefix(&found.base) else {
            continue;
        };
        if matcher.matches_with(&rel.to_string_lossy(), how) {
            push(&mut found, entry.path().to_path_buf(), entry.file_type());
        }
    }
    found.files.sort();
    found.others.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(found)
}

fn push(found: &mut Found, path: PathBuf, kind: std::fs::FileType) {
    use std::os::unix::fs::FileTypeExt as _;
    let other = if kind.is_file() {
        found.files.push(path);
        return;
    } else if kind.is_dir() {
        Kind::Folder
    } else if kind.is_symlink() {
        Kind::Symlink
    } else if kind.is_fifo() {
        Kind::Special("a FIFO")
    } else if kind.is_socket() {
        Kind::Special("a socket")
    } else {
        Kind::Special("a device")
    };
    found.others.push((path, other));
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::OsStr;
    use std::os::unix::ffi::OsStrExt as _;

    const READ: Options = Options {
        hidden: true,
        follow_links: true,
    };

    #[test]
    fn a_root_with_glob_characters_is_taken_literally() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("exports [old] *");
        std::fs::create_dir_all(root.join("data/sub")).unwrap();
        std::fs::write(root.join("data/a.json"), "[1]").unwrap();
        std::fs::write(root.join("data/b.json"), "[2]").unwrap();
        std::fs::write(root.join("data/sub/c.json"), "[3]").unwrap();
        let found = find(&root, "data/*.json", READ).unwrap();
        assert_eq!(
            found.files,
            [root.join("data/a.json"), root.join("data/b.json")]
        );
        let deep = find(&root, "data/**/*.json", READ).unwrap();
        assert_eq!(deep.files.len(), 3);
        let one = find(&root, "data/a.json", READ).unwrap();
        assert!(one.literal);
        assert_eq!(one.files, [root.join("data/a.json")]);
        let folder = find(&root, "data", READ).unwrap();
        assert_eq!(folder.others, [(root.join("data"), Kind::Folder)]);
    }

    #[test]
    fn names_that_are_not_utf8_are_found() {
        let dir = tempfile::tempdir().unwrap();
        let name = OsStr::from_bytes(b"caf\xe9.json");
        std::fs::write(dir.path().join(name), "[1]").unwrap();
        std::fs::write(dir.path().join(".hidden.json"), "[1]").unwrap();
        let plain = Options {
            hidden: false,
            follow_links: false,
        };
        let found = find(dir.path(), "*.json", plain).unwrap();
        assert_eq!(found.files, [dir.path().join(name)]);
    }
}
