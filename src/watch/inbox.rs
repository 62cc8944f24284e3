//! File drops for `watch` triggers: finding new files, telling when they are completely
//! written, and moving them through `.processing/` to `done/` or `failed/` beside them.
//!
//! A file's way: `inbox/a.json` → (claimed, atomically by rename, just before its run
//! starts) `inbox/.processing/a.json` → `inbox/done/a.json` or `inbox/failed/a.json`.
//! A file found in `.processing/` when a flow is loaded belongs to a run that was cut off
//! (the runner was killed): it goes to `failed/` and is never re-run automatically.

use serde_json::Value;
use std::collections::HashMap;
use std::io;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

/// How often the inbox folders are looked at.
pub(crate) const POLL: Duration = Duration::from_millis(200);
/// How long a file's size and modification time must stay the same before it counts as
/// completely written.
pub(crate) const SETTLE: Duration = Duration::from_millis(200);
/// Where claimed files wait while their run goes on.
pub(crate) const PROCESSING: &str = ".processing";
/// Where files whose run succeeded go.
pub(crate) const DONE: &str = "done";
/// Where files whose run failed (or that could not be run) go.
pub(crate) const FAILED: &str = "failed";
/// How many `name.N.ext` names are tried before a time stamp is used instead.
const MAX_SUFFIX: u32 = 10_000;

/// What a file's size and modification time were, and since when.
#[derive(Debug, Clone, Copy)]
struct Seen {
    len: u64,
    mtime: Option<SystemTime>,
    since: Instant,
}

/// The files matching one flow's `watch` glob, and how long each has been unchanged.
#[derive(Debug)]
pub(crate) struct Inbox {
    /// The glob as written in the flow (relative to the project root).
    pub(crate) glob: String,
    /// The project root.
    root: PathBuf,
    /// The same glob, inside the `.processing/` folders.
    processing: String,
    seen: HashMap<PathBuf, Seen>,
    /// Entries already reported as refused (one that cannot be moved away is said once).
    refused: std::collections::HashSet<PathBuf>,
    /// The run store: never input, whatever the glob says.
    store: PathBuf,
    /// Whether files left in `.processing/` by an earlier runner have been dealt with.
    pub(crate) recovered: bool,
}

/// What one look at an inbox found.
#[derive(Debug, Default)]
pub(crate) struct Polled {
    /// Files completely written, oldest first.
    pub(crate) ready: Vec<PathBuf>,
    /// Matching entries that are not plain files (a symbolic link, a FIFO, a device),
    /// with what they are: never input. A link is not followed, or any file the runner
    /// can read could be fed into a flow by whoever can write to the inbox.
    pub(crate) refused: Vec<(PathBuf, &'static str)>,
}

/// Hidden files are how uploaders and editors write before they rename: never input.
/// Links are never followed.
const OPTIONS: crate::matching::Options = crate::matching::Options {
    hidden: false,
    follow_links: false,
};

impl Inbox {
    /// The inbox of glob `glob`, relative to `root`.
    #[must_use]
    pub(crate) fn new(root: &Path, glob: &str) -> Inbox {
        let (dir, name) = match glob.rsplit_once('/') {
            Some((dir, name)) => (format!("{dir}/"), name),
            None => (String::new(), glob),
        };
        Inbox {
            glob: glob.to_owned(),
            root: root.to_path_buf(),
            processing: format!("{dir}{PROCESSING}/{name}"),
            seen: HashMap::new(),
            refused: std::collections::HashSet::new(),
            store: crate::store::Store::new(root).path().to_path_buf(),
            recovered: false,
        }
    }

    /// Looks at the matching files and returns those completely written, oldest first:
    /// their size and modification time have not changed for [`SETTLE`]; and the
    /// matching entries that are not plain files.
    ///
    /// # Errors
    /// The glob cannot be used (it was checked when the flow was loaded, so this is rare).
    pub(crate) fn poll(&mut self, now: Instant) -> Result<Polled, String> {
        let found = crate::matching::find(&self.root, &self.glob, OPTIONS)?;
        let mut current = HashMap::new();
        let mut ready = Vec::new();
        let mut refused = Vec::new();
        let before = std::mem::take(&mut self.refused);
        for (path, kind) in found.others {
            if self.is_ours(&path) {
                continue;
            }
            // Still there since the last poll (it could not be moved away): said already.
            let known = before.contains(&path);
            self.refused.insert(path.clone());
            if known {
                continue;
            }
            match kind {
                crate::matching::Kind::Folder => {}
                crate::matching::Kind::Symlink => refused.push((path, "a symbolic link")),
                crate::matching::Kind::Special(what) => refused.push((path, what)),
            }
        }
        // Unreadable folders and files vanishing mid-listing are skipped: looked at again
        // at the next poll.
        for path in found.files {
            if self.is_ours(&path) {
                continue;
            }
            let Ok(meta) = std::fs::symlink_metadata(&path) else {
                continue;
            };
            if !meta.is_file() {
                continue;
            }
            let mtime = meta.modified().ok();
            let seen = match self.seen.get(&path) {
                Some(s) if s.len == meta.len() && s.mtime == mtime => *s,
                _ => Seen {
                    len: meta.len(),
                    mtime,
                    since: now,
                },
            };
            if now.saturating_duration_since(seen.since) >= SETTLE {
                ready.push((mtime, path.clone()));
            }
            current.insert(path, seen);
        }
        self.seen = current;
        ready.sort();
        Ok(Polled {
            ready: ready.into_iter().map(|(_, p)| p).collect(),
            refused,
        })
    }

    /// Whether `path` is in one of the runner's own folders or in the run store.
    fn is_ours(&self, path: &Path) -> bool {
        is_runner_folder(path.parent()) || path.starts_with(&self.store)
    }

    /// Forgets what was seen of `path` (it was claimed).
    pub(crate) fn forget(&mut self, path: &Path) {
        self.seen.remove(path);
    }

    /// Files left in this inbox's `.processing/` folders: their runs were cut off.
    #[must_use]
    pub(crate) fn cut_off(&self) -> Vec<PathBuf> {
        crate::matching::find(&self.root, &self.processing, OPTIONS)
            .map(|found| found.files)
            .unwrap_or_default()
    }
}

/// Whether `dir` is one of the runner's own folders (`done/`, `failed/`, `.processing/`),
/// whose files a glob such as `inbox/**/*.json` must not pick up again.
fn is_runner_folder(dir: Option<&Path>) -> bool {
    dir.and_then(Path::file_name)
        .and_then(|n| n.to_str())
        .is_some_and(|n| n == DONE || n == FAILED || n == PROCESSING)
}

/// Claims a dropped file for a run: moves it into `.processing/` beside it, by rename, so
/// that no other poll (or runner) takes it and a crash leaves a trace of it.
///
/// # Errors
/// The file is gone (another process took it) or cannot be moved.
pub(crate) fn claim(file: &Path) -> io::Result<PathBuf> {
    let dir = file
        .parent()
        .ok_or_else(|| io::Error::other("a dropped file has a folder"))?;
    move_into(file, &dir.join(PROCESSING))
}

/// Moves an inbox entry that is not a plain file (see [`Polled::refused`]) to `failed/`
/// beside it, as it is: a symbolic link moves as the link, never its target.
///
/// # Errors
/// The entry cannot be moved.
pub(crate) fn refuse(entry: &Path) -> io::Result<PathBuf> {
    let dir = entry
        .parent()
        .ok_or_else(|| io::Error::other("a dropped file has a folder"))?;
    move_into(entry, &dir.join(FAILED))
}

/// Where a file ends up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// Its run succeeded: `done/`.
    Done,
    /// Its run failed, or it could not be run: `failed/`.
    Failed,
}

/// Moves a claimed file from `.processing/` to `done/` or `failed/` beside the inbox,
/// keeping its name (`name.1.ext`, `name.2.ext`, … when that name is taken there).
///
/// # Errors
/// The file cannot be moved.
pub(crate) fn settle(claimed: &Path, outcome: Outcome) -> io::Result<PathBuf> {
    let inbox = claimed
        .parent()
        .and_then(Path::parent)
        .ok_or_else(|| io::Error::other("a claimed file sits in .processing/ of its inbox"))?;
    let to = match outcome {
        Outcome::Done => DONE,
        Outcome::Failed => FAILED,
    };
    move_into(claimed, &inbox.join(to))
}

/// Renames `file` into folder `dir` (created if needed) under a name not taken there.
fn move_into(file: &Path, dir: &Path) -> io::Result<PathBuf> {
    std::fs::create_dir_all(dir)?;
    let name = file
        .file_name()
        .ok_or_else(|| io::Error::other("a file has a name"))?;
    let dest = free_name(dir, Path::new(name));
    std::fs::rename(file, &dest)?;
    Ok(dest)
}

/// `dir/name`, or `dir/stem.N.ext` with the smallest N ≥ 1 that is not taken. The name
/// is kept as bytes: one that is not UTF-8 keeps its bytes too.
fn free_name(dir: &Path, name: &Path) -> PathBuf {
    use std::ffi::OsString;
    use std::os::unix::ffi::{OsStrExt as _, OsStringExt as _};
    let first = dir.join(name);
    if !first.exists() {
        return first;
    }
    let stem = name.file_stem().unwrap_or(name.as_os_str()).as_bytes();
    let ext = name.extension().map(std::ffi::OsStr::as_bytes);
    let with = |middle: &str| {
        let mut bytes = stem.to_vec();
        bytes.push(b'.');
        bytes.extend_from_slice(middle.as_bytes());
        if let Some(ext) = ext {
            bytes.push(b'.');
            bytes.extend_from_slice(ext);
        }
        dir.join(OsString::from_vec(bytes))
    };
    (1..MAX_SUFFIX)
        .map(|n| with(&n.to_string()))
        .find(|p| !p.exists())
        // Thousands of files of one name: a time stamp keeps this one apart.
        .unwrap_or_else(|| {
            let stamp = crate::time::run_id(chrono::Utc::now());
            let mut bytes = stem.to_vec();
            bytes.push(b'.');
            bytes.extend_from_slice(stamp.as_bytes());
            dir.join(OsString::from_vec(bytes))
        })
}

/// Reads a dropped file as the run's one input payload.
///
/// # Errors
/// A message with `file:line:col` when it is not JSON, or the I/O error.
pub(crate) fn read_payload(file: &Path, shown: &str) -> Result<Value, String> {
    use std::io::Read as _;
    use std::os::unix::fs::OpenOptionsExt as _;
    // Not through a link, and without blocking on a FIFO, should one have been put
    // under the claimed name since the poll.
    let flags = rustix::fs::OFlags::NOFOLLOW | rustix::fs::OFlags::NONBLOCK;
    let mut f = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(flags.bits().cast_signed())
        .open(file)
        .map_err(|e| format!("{shown}: {e}"))?;
    if !f.metadata().is_ok_and(|m| m.is_file()) {
        return Err(format!("{shown}: not a regular file"));
    }
    let mut bytes = Vec::new();
    f.read_to_end(&mut bytes)
        .map_err(|e| format!("{shown}: {e}"))?;
    crate::json::decode(&bytes, 1).map_err(|e| format!("{shown}:{e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_is_ready_once_unchanged_for_the_settle_time() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("inbox")).unwrap();
        std::fs::write(dir.path().join("inbox/a.json"), "{}").unwrap();
        std::fs::write(dir.path().join("inbox/.a.json.part"), "{").unwrap();
        std::fs::write(dir.path().join("inbox/b.txt"), "{}").unwrap();
        let mut inbox = Inbox::new(dir.path(), "inbox/*.json");
        let t0 = Instant::now();
        assert!(inbox.poll(t0).unwrap().ready.is_empty());
        let ready = inbox.poll(t0 + SETTLE).unwrap().ready;
        assert_eq!(ready, [dir.path().join("inbox/a.json")]);

        // Still being written: its clock starts again.
        std::fs::write(dir.path().join("inbox/a.json"), "{\"more\": 1}").unwrap();
        assert!(inbox.poll(t0 + SETTLE * 2).unwrap().ready.is_empty());
        assert_eq!(inbox.poll(t0 + SETTLE * 3).unwrap().ready.len(), 1);
    }

    #[test]
    fn files_move_through_processing_and_never_overwrite() {
        let dir = tempfile::tempdir().unwrap();
        let inbox = dir.path().join("inbox");
        std::fs::create_dir(&inbox).unwrap();
        for round in 0..3 {
            std::fs::write(inbox.join("a.json"), format!("{round}")).unwrap();
            let claimed = claim(&inbox.join("a.json")).unwrap();
            assert_eq!(claimed, inbox.join(".processing/a.json"));
            assert!(!inbox.join("a.json").exists());
            settle(&claimed, Outcome::Done).unwrap();
        }
        assert_eq!(
            std::fs::read_to_string(inbox.join("done/a.json")).unwrap(),
            "0"
        );
        assert_eq!(
            std::fs::read_to_string(inbox.join("done/a.1.json")).unwrap(),
            "1"
        );
        assert_eq!(
            std::fs::read_to_string(inbox.join("done/a.2.json")).unwrap(),
            "2"
        );

        // Files in the runner's own folders are not input, even for a `**` glob.
        std::fs::create_dir(inbox.join("sub")).unwrap();
        std::fs::write(inbox.join("sub/c.json"), "{}").unwrap();
        let mut deep = Inbox::new(dir.path(), "inbox/**/*.json");
        let t0 = Instant::now();
        deep.poll(t0).unwrap();
        assert_eq!(
            deep.poll(t0 + SETTLE).unwrap().ready,
            [inbox.join("sub/c.json")]
        );

        // Nor is the run store.
        std::fs::create_dir_all(dir.path().join("runs/f/r")).unwrap();
        std::fs::write(dir.path().join("runs/f/r/manifest.json"), "{}").unwrap();
        let mut all = Inbox::new(dir.path(), "**/*.json");
        all.poll(t0).unwrap();
        assert_eq!(
            all.poll(t0 + SETTLE).unwrap().ready,
            [inbox.join("sub/c.json")]
        );
    }

    #[test]
    fn files_left_in_processing_are_found_as_cut_off() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("in/.processing")).unwrap();
        std::fs::write(dir.path().join("in/.processing/x.json"), "{}").unwrap();
        let inbox = Inbox::new(dir.path(), "in/*.json");
        let cut = inbox.cut_off();
        assert_eq!(cut, [dir.path().join("in/.processing/x.json")]);
        let to = settle(&cut[0], Outcome::Failed).unwrap();
        assert_eq!(to, dir.path().join("in/failed/x.json"));
    }

    #[test]
    fn bad_json_is_located() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("bad.json");
        std::fs::write(&f, "{\n  \"a\": nope\n}").unwrap();
        let e = read_payload(&f, "in/bad.json").unwrap_err();
        assert!(e.starts_with("in/bad.json:2:"), "{e}");
    }
}
