//! The index of tracked values of one flow, `runs/<flow>/.track/`:
//!
//! - `00` … `ff`: 256 bucket files; the bucket of a value is the first byte of its key
//!   (see [`super::key`]). Each holds one line per place, sorted by key:
//!   `<key> <run-id> <step> <file> <element or ->`. A lookup reads one bucket (a 256th of
//!   the index) and binary-searches it.
//! - `runs`: the ids of the runs the buckets account for, sorted, fixed-width lines (the
//!   25-character id and a newline), so their count is the file's size over 26.
//! - `names`: the names the indexed runs' flows tracked, one per line.
//! - `format`: `flowrun.track/1`.
//!
//! Every file is written whole with the store's atomic write. The index is trusted while
//! `runs` accounts for every sub-folder of `runs/<flow>/` — the folder's link count, one
//! stat, as the run index does (`store::list`); otherwise the runs it lacks are added and
//! the runs that are gone are removed (a missing index is every run lacking). Adding a
//! run first drops any line of it from the buckets, so a sync cut off half-way is
//! completed, not doubled, by the next one. Updates happen under the flow's lock: at the
//! end of every run, after a prune, or in `find` when the index is stale. A `find` that
//! finds the lock held (a run in progress) reads the stale index and adds the missing
//! runs in memory only.

use super::{Place, run_places};
use crate::store::{Store, StoreError, atomic, layout, recorded};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The index's folder name inside `runs/<flow>/`.
pub(crate) const DIR: &str = ".track";
const FORMAT: &str = "flowrun.track/1\n";
/// Bytes of one line of `runs`.
const LINE: usize = 26;

/// One place found, with its flow.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Hit {
    /// The flow.
    pub(crate) flow: String,
    /// Where.
    pub(crate) place: Place,
}

/// What a lookup found in one flow.
#[derive(Debug, Default)]
pub(crate) struct Lookup {
    /// The places, in index order.
    pub(crate) hits: Vec<Hit>,
    /// The names the flow's indexed runs tracked.
    pub(crate) names: Vec<String>,
}

fn dir(store: &Store, flow: &str) -> PathBuf {
    store.flow_dir(flow).join(DIR)
}

fn read_lines(path: &Path) -> Vec<String> {
    recorded::read_text(path, recorded::MAX_MANIFEST_BYTES)
        .map(|t| t.lines().map(str::to_owned).collect())
        .unwrap_or_default()
}

fn format_ok(d: &Path) -> bool {
    recorded::read_text(&d.join("format"), 64).is_ok_and(|t| t == FORMAT)
}

/// How many runs `runs` lists, when it is well-formed.
fn covered_count(d: &Path) -> Option<u64> {
    let len = std::fs::metadata(d.join("runs")).ok()?.len();
    (len % LINE as u64 == 0).then_some(len / LINE as u64)
}

/// How many run folders `runs/<flow>/` holds by its link count: 2, plus a link per
/// sub-folder (the runs, `dedupe/` and this index).
fn folder_runs(store: &Store, flow: &str) -> Option<u64> {
    use std::os::unix::fs::MetadataExt as _;
    let fd = store.flow_dir(flow);
    let links = std::fs::metadata(&fd).ok()?.nlink();
    let others = u64::from(fd.join(layout::DEDUPE).is_dir()) + u64::from(fd.join(DIR).is_dir());
    links.checked_sub(2 + others)
}

/// Whether the index accounts for exactly the flow's runs (as far as one stat tells).
fn is_fresh(store: &Store, flow: &str) -> bool {
    let d = dir(store, flow);
    format_ok(&d) && covered_count(&d).is_some() && covered_count(&d) == folder_runs(store, flow)
}

/// Brings the index of `flow` in step with its runs; `new_run` is a run just finished,
/// which is then all that is added when the counts say it is the only run missing. The
/// caller holds the flow's lock.
///
/// # Errors
/// An index file could not be written.
pub(crate) fn sync(store: &Store, flow: &str, new_run: Option<&str>) -> Result<(), StoreError> {
    let d = dir(store, flow);
    let whole = !format_ok(&d);
    let covered: Vec<String> = if whole {
        Vec::new()
    } else {
        read_lines(&d.join("runs"))
    };
    let only_new = new_run.filter(|id| {
        !whole
            && covered_count(&d) == Some(covered.len() as u64)
            && folder_runs(store, flow) == Some(covered.len() as u64 + 1)
            && !covered.iter().any(|c| c == id)
    });
    let (new, gone): (Vec<String>, BTreeSet<String>) = match only_new {
        Some(id) => (vec![id.to_owned()], BTreeSet::new()),
        None => {
            let present: BTreeSet<String> = store.run_ids(flow).into_iter().collect();
            let had: BTreeSet<String> = covered.iter().cloned().collect();
            (
                present.difference(&had).cloned().collect(),
                had.difference(&present).cloned().collect(),
            )
        }
    };
    if new.is_empty() && gone.is_empty() && !whole {
        return Ok(());
    }
    atomic::create_dir(&d)?;
    let mut names: BTreeSet<String> = if whole {
        BTreeSet::new()
    } else {
        read_lines(&d.join("names")).into_iter().collect()
    };
    let mut added: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for id in &new {
        let (places, run_names) = run_places(store, flow, id);
        names.extend(run_names);
        for p in places {
            added
                .entry(p.key[..2].to_owned())
                .or_default()
                .push(line(&p));
        }
    }
    let drop: BTreeSet<&str> = gone.iter().chain(new.iter()).map(String::as_str).collect();
    let buckets: Vec<String> = if whole || !gone.is_empty() {
        (0..=255u8).map(|b| format!("{b:02x}")).collect()
    } else {
        added.keys().cloned().collect()
    };
    let mut writes: Vec<(PathBuf, String)> = Vec::new();
    for b in buckets {
        let path = d.join(&b);
        let mut lines: Vec<String> = if whole {
            Vec::new()
        } else {
            read_lines(&path)
                .into_iter()
                .filter(|l| l.split(' ').nth(1).is_none_or(|r| !drop.contains(r)))
                .collect()
        };
        lines.extend(added.remove(&b).unwrap_or_default());
        if lines.is_empty() {
            if path.exists() {
                std::fs::remove_file(&path).map_err(|e| StoreError::io(&path, e))?;
            }
            continue;
        }
        lines.sort();
        lines.dedup();
        writes.push((path, join(&lines)));
    }
    write_all(&writes)?;
    let names: Vec<String> = names.into_iter().collect();
    atomic::write(&d.join("names"), join(&names).as_bytes())?;
    let mut runs: BTreeSet<String> = covered.into_iter().filter(|c| !gone.contains(c)).collect();
    runs.extend(new);
    let runs: Vec<String> = runs.into_iter().filter(|r| r.len() + 1 == LINE).collect();
    atomic::write(&d.join("runs"), join(&runs).as_bytes())?;
    atomic::write(&d.join("format"), FORMAT.as_bytes())?;
    Ok(())
}

/// Writes the bucket files, each atomically, on a few threads: their syncs then share
/// the file system's journal commits (a run touching 140 buckets took 2.2 s one file
/// after another on the benchmark machine).
fn write_all(writes: &[(PathBuf, String)]) -> Result<(), StoreError> {
    const THREADS: usize = 8;
    if writes.len() < 2 {
        return writes
            .iter()
            .try_for_each(|(path, text)| atomic::write(path, text.as_bytes()));
    }
    let chunk = writes.len().div_ceil(THREADS);
    std::thread::scope(|scope| {
        let handles: Vec<_> = writes
            .chunks(chunk)
            .map(|part| {
                scope.spawn(move || {
                    part.iter()
                        .try_for_each(|(path, text)| atomic::write(path, text.as_bytes()))
                })
            })
            .collect();
        handles.into_iter().try_for_each(|h| {
            h.join().unwrap_or_else(|_| {
                Err(StoreError::io(
                    Path::new(DIR),
                    std::io::Error::other("a thread writing the index stopped"),
                ))
            })
        })
    })
}

fn join(lines: &[String]) -> String {
    let mut out = String::with_capacity(lines.iter().map(|l| l.len() + 1).sum());
    for l in lines {
        out.push_str(l);
        out.push('\n');
    }
    out
}

fn line(p: &Place) -> String {
    let element = p.element.map_or_else(|| "-".to_owned(), |e| e.to_string());
    format!("{} {} {} {} {element}", p.key, p.run_id, p.step, p.file)
}

fn parse(l: &str) -> Option<Place> {
    let mut f = l.split(' ');
    let key = f.next()?.to_owned();
    let run_id = f.next()?.to_owned();
    let step = f.next()?.to_owned();
    let file = f.next()?.to_owned();
    let element = match f.next()? {
        "-" => None,
        n => Some(n.parse().ok()?),
    };
    Some(Place {
        key,
        run_id,
        step,
        file,
        element,
    })
}

/// The places of `key` in one bucket file: a binary search over its sorted lines.
fn search(path: &Path, key: &str) -> Vec<Place> {
    let Ok(text) = recorded::read_text(path, recorded::MAX_MANIFEST_BYTES) else {
        return Vec::new();
    };
    let lines: Vec<&str> = text.lines().collect();
    let start = lines.partition_point(|l| l.get(..key.len()).is_some_and(|k| k < key));
    lines[start..]
        .iter()
        .take_while(|l| l.starts_with(key))
        .filter_map(|l| parse(l))
        .filter(|p| p.key == key)
        .collect()
}

/// Finds `key` in the index of `flow`, bringing the index up to date first when it is
/// stale and the flow's lock is free.
///
/// # Errors
/// The index could not be updated.
pub(crate) fn lookup(store: &Store, flow: &str, key: &str) -> Result<Lookup, StoreError> {
    if !store.flow_dir(flow).is_dir() {
        return Ok(Lookup::default());
    }
    let d = dir(store, flow);
    let mut in_memory = false;
    if !is_fresh(store, flow) {
        match store.lock(flow) {
            Ok(_lock) => sync(store, flow, None)?,
            Err(StoreError::Busy { .. }) => in_memory = true,
            Err(e) => return Err(e),
        }
    }
    let mut places = search(&d.join(&key[..2]), key);
    let mut names = read_lines(&d.join("names"));
    if in_memory
        || places
            .iter()
            .any(|p| !store.run_dir(flow, &p.run_id).is_dir())
    {
        // A run in progress (or folders changed behind the index's back): the index as it
        // is, less the runs that are gone, plus the runs it lacks.
        let present: BTreeSet<String> = store.run_ids(flow).into_iter().collect();
        let covered: BTreeSet<String> = read_lines(&d.join("runs")).into_iter().collect();
        places.retain(|p| present.contains(&p.run_id));
        for id in present.difference(&covered) {
            let (more, more_names) = run_places(store, flow, id);
            places.extend(more.into_iter().filter(|p| p.key == key));
            names.extend(more_names);
        }
        if !in_memory && let Ok(_lock) = store.lock(flow) {
            sync(store, flow, None)?;
        }
    }
    names.sort();
    names.dedup();
    Ok(Lookup {
        hits: places
            .into_iter()
            .map(|place| Hit {
                flow: flow.to_owned(),
                place,
            })
            .collect(),
        names,
    })
}
