//! The index of tracked values of one flow, `runs/<flow>/.track/`: a compacted base
//! and one small segment per run since the last compaction (a log-structured merge).
//!
//! - `00` … `ff`: the base, 256 bucket files; the bucket of a value is the first byte of
//!   its key (see [`super::key`]). Each holds one line per place, sorted by key:
//!   `<key> <run-id> <step> <file> <element or ->`. A lookup reads one bucket (a 256th of
//!   the base) and binary-searches it.
//! - `runs`: the ids of the runs the base accounts for, sorted, fixed-width lines (the
//!   25-character id and a newline), so their count is the file's size over 26.
//! - `names`: the names the base's runs' flows tracked, one per line.
//! - `s-<run-id>`: the segment of one run not yet in the base: a first line `#` and the
//!   names its flow tracked, then its places in the buckets' line format, sorted. A run
//!   writes only its segment (one atomic write, the size of its own values); a lookup
//!   also binary-searches each segment, and there are at most [`bound`] of them.
//! - `format`: `flowrun.track/2`.
//!
//! Every file is written whole with the store's atomic write. The index is trusted while
//! the base's `runs` and the segments account for every sub-folder of `runs/<flow>/` —
//! the folder's link count, one stat, as the run index does (`store::list`), and a
//! listing of `.track/`; otherwise it is compacted against the runs: the runs it lacks
//! are added, the runs that are gone are removed (a missing index is every run lacking).
//! Compaction merges the segments into the base and removes them, and happens when a
//! run's segment makes more than [`bound`], on `prune`, and when the index is stale or
//! missing. Merging a run first drops any line of it from the buckets, so a compaction
//! cut off half-way (a segment left beside a base that already has its run) is
//! completed, not doubled, by the next one. Updates happen under the flow's lock: at the
//! end of every run, after a prune, or in `find` when the index is stale. A `find` that
//! finds the lock held (a run in progress) reads the stale index and adds the missing
//! runs in memory only.

use super::{Place, run_places};
use crate::store::{Store, StoreError, atomic, backend, layout, recorded};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The index's folder name inside `runs/<flow>/`.
pub(crate) const DIR: &str = ".track";
const FORMAT: &str = "flowrun.track/2\n";
/// Bytes of one line of `runs`.
const LINE: usize = 26;
/// Prefix of a segment file's name (the run id follows).
const SEGMENT: &str = "s-";
/// Segments a flow keeps before a run's compacts them into the base; the environment
/// variable `FLOWRUN_TRACK_SEGMENTS` sets another bound (0: every run compacts).
const SEGMENTS: usize = 64;

/// How many segments may stand beside the base (see [`SEGMENTS`]).
fn bound() -> usize {
    std::env::var("FLOWRUN_TRACK_SEGMENTS")
        .ok()
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(SEGMENTS)
}

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

fn read_text(path: &Path) -> String {
    recorded::read_text(path, recorded::MAX_MANIFEST_BYTES).unwrap_or_default()
}

fn read_lines(path: &Path) -> Vec<String> {
    read_text(path).lines().map(str::to_owned).collect()
}

fn format_ok(d: &Path) -> bool {
    recorded::read_text(&d.join("format"), 64).is_ok_and(|t| t == FORMAT)
}

/// How many runs the base's `runs` lists, when it is well-formed (none when missing).
fn covered_count(d: &Path) -> Option<u64> {
    let path = d.join("runs");
    backend::get().load(&path).ok()?;
    match std::fs::metadata(&path) {
        Ok(m) => (m.len() % LINE as u64 == 0).then_some(m.len() / LINE as u64),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Some(0),
        Err(_) => None,
    }
}

/// The run ids of the segments in `d`, sorted.
fn segments(d: &Path) -> Vec<String> {
    let mut ids: Vec<String> = backend::get()
        .names(d)
        .into_iter()
        .filter_map(|n| n.strip_prefix(SEGMENT).map(str::to_owned))
        .filter(|id| id.len() + 1 == LINE)
        .collect();
    ids.sort();
    ids
}

fn segment_path(d: &Path, run_id: &str) -> PathBuf {
    d.join(format!("{SEGMENT}{run_id}"))
}

/// A segment's names and its place lines.
fn read_segment(d: &Path, run_id: &str) -> (Vec<String>, Vec<String>) {
    let text = read_text(&segment_path(d, run_id));
    let mut lines = text.lines();
    let names = lines
        .next()
        .and_then(|h| h.strip_prefix('#'))
        .map(|h| h.split_whitespace().map(str::to_owned).collect())
        .unwrap_or_default();
    (names, lines.map(str::to_owned).collect())
}

/// How many run folders `runs/<flow>/` holds by its link count: 2, plus a link per
/// sub-folder (the runs, `dedupe/` and this index). A shared store's working copy holds
/// only what this host wrote or read: there the store's listing counts them.
fn folder_runs(store: &Store, flow: &str) -> Option<u64> {
    use std::os::unix::fs::MetadataExt as _;
    if backend::get().shared() {
        // One listing request per 1,000 runs; not `run_ids`, which on S3 also asks for
        // each run's manifest.
        let names = backend::get().listed_names(&store.flow_dir(flow));
        return Some(names.iter().filter(|n| crate::time::is_run_id(n)).count() as u64);
    }
    let fd = store.flow_dir(flow);
    let links = std::fs::metadata(&fd).ok()?.nlink();
    let others = u64::from(fd.join(layout::DEDUPE).is_dir()) + u64::from(fd.join(DIR).is_dir());
    links.checked_sub(2 + others)
}

/// Whether the index accounts for exactly the flow's runs (as far as one stat tells).
fn is_fresh(store: &Store, flow: &str) -> bool {
    let d = dir(store, flow);
    format_ok(&d)
        && covered_count(&d).map(|c| c + segments(&d).len() as u64) == folder_runs(store, flow)
}

/// Brings the index of `flow` in step with its runs; `new_run` is a run just finished,
/// which is then all that is added (as a segment) when the counts say it is the only
/// run missing. The caller holds the flow's lock.
///
/// # Errors
/// An index file could not be written.
pub(crate) fn sync(store: &Store, flow: &str, new_run: Option<&str>) -> Result<(), StoreError> {
    let d = dir(store, flow);
    if let Some(id) = new_run
        && format_ok(&d)
        && let Some(base) = covered_count(&d)
    {
        let segs = segments(&d);
        if folder_runs(store, flow) == Some(base + segs.len() as u64 + 1)
            && segs.binary_search_by(|s| s.as_str().cmp(id)).is_err()
            && id.len() + 1 == LINE
        {
            write_segment(store, flow, &d, id)?;
            if segs.len() < bound() {
                return Ok(());
            }
        }
    }
    compact(store, flow)
}

/// Writes the segment of run `run_id`: its names and its places, sorted.
fn write_segment(store: &Store, flow: &str, d: &Path, run_id: &str) -> Result<(), StoreError> {
    let (places, names) = run_places(store, flow, run_id);
    let mut lines: Vec<String> = places.iter().map(line).collect();
    lines.sort();
    lines.dedup();
    let mut text = String::with_capacity(lines.iter().map(|l| l.len() + 1).sum::<usize>() + 64);
    text.push('#');
    for n in &names {
        text.push(' ');
        text.push_str(n);
    }
    text.push('\n');
    text.push_str(&join(&lines));
    atomic::write(&segment_path(d, run_id), text.as_bytes())
}

/// Files place line `l` under its bucket (the key's first byte, two hex digits).
fn add(l: String, added: &mut BTreeMap<String, Vec<String>>) {
    if let Some(b) = l.get(..2) {
        added.entry(b.to_owned()).or_default().push(l);
    }
}

/// Merges the segments into the base and brings the base in step with the runs: the
/// runs it lacks are added, the runs that are gone removed, the segments then deleted.
/// A base of another format (or none) is rebuilt whole.
fn compact(store: &Store, flow: &str) -> Result<(), StoreError> {
    let d = dir(store, flow);
    let whole = !format_ok(&d);
    let on_disk = segments(&d);
    // The files the store holds (beyond the working copy's), to remove emptied buckets.
    let listed: BTreeSet<String> = backend::get().names(&d).into_iter().collect();
    let segs: Vec<String> = if whole { Vec::new() } else { on_disk.clone() };
    let covered: Vec<String> = if whole {
        Vec::new()
    } else {
        read_lines(&d.join("runs"))
    };
    let present: BTreeSet<String> = store.run_ids(flow).into_iter().collect();
    let had: BTreeSet<String> = covered.iter().chain(segs.iter()).cloned().collect();
    let new: Vec<String> = present.difference(&had).cloned().collect();
    let gone: BTreeSet<String> = had.difference(&present).cloned().collect();
    if new.is_empty() && gone.is_empty() && on_disk.is_empty() && !whole {
        return Ok(());
    }
    atomic::create_dir(&d)?;
    let mut names: BTreeSet<String> = if whole {
        BTreeSet::new()
    } else {
        read_lines(&d.join("names")).into_iter().collect()
    };
    let mut added: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let merged: Vec<&String> = segs.iter().filter(|s| present.contains(*s)).collect();
    for id in &merged {
        let (seg_names, lines) = read_segment(&d, id);
        names.extend(seg_names);
        for l in lines {
            add(l, &mut added);
        }
    }
    for id in &new {
        let (places, run_names) = run_places(store, flow, id);
        names.extend(run_names);
        for p in &places {
            add(line(p), &mut added);
        }
    }
    // Lines of a run being (re)added are dropped first, so a run never counts twice.
    let drop: BTreeSet<&str> = gone
        .iter()
        .chain(new.iter())
        .chain(merged.iter().copied())
        .map(String::as_str)
        .collect();
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
            if listed.contains(&b) {
                backend::get().removed(&path)?;
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
    runs.extend(merged.into_iter().cloned());
    let runs: Vec<String> = runs.into_iter().filter(|r| r.len() + 1 == LINE).collect();
    atomic::write(&d.join("runs"), join(&runs).as_bytes())?;
    atomic::write(&d.join("format"), FORMAT.as_bytes())?;
    // The base now holds every segment's run: the segments go (one left by a cut-off
    // compaction makes the counts disagree, and the next compaction merges it again).
    for id in &on_disk {
        let path = segment_path(&d, id);
        match std::fs::remove_file(&path) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(StoreError::io(&path, e)),
        }
        backend::get().removed(&path)?;
    }
    if !on_disk.is_empty() {
        atomic::sync_dir(&d)?;
    }
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

/// The places of `key` in sorted place lines: a binary search.
fn search<S: AsRef<str>>(lines: &[S], key: &str) -> Vec<Place> {
    let start = lines.partition_point(|l| l.as_ref().get(..key.len()).is_some_and(|k| k < key));
    lines[start..]
        .iter()
        .map(AsRef::as_ref)
        .take_while(|l| l.starts_with(key))
        .filter_map(parse)
        .filter(|p| p.key == key)
        .collect()
}

/// The places of `key` in the base (one bucket file) and in the segments `segs`, and
/// the names they tracked.
fn search_all(d: &Path, segs: &[String], key: &str) -> (Vec<Place>, Vec<String>) {
    let text = read_text(&d.join(&key[..2]));
    let lines: Vec<&str> = text.lines().collect();
    let mut places = search(&lines, key);
    let mut names = read_lines(&d.join("names"));
    for id in segs {
        let (seg_names, lines) = read_segment(d, id);
        names.extend(seg_names);
        places.extend(search(&lines, key));
    }
    (places, names)
}

/// Finds `key` in the index of `flow`, bringing the index up to date first when it is
/// stale and the flow's lock is free.
///
/// # Errors
/// The index could not be updated.
pub(crate) fn lookup(store: &Store, flow: &str, key: &str) -> Result<Lookup, StoreError> {
    if !backend::get().is_dir(&store.flow_dir(flow)) {
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
    let segs = segments(&d);
    let (mut places, mut names) = search_all(&d, &segs, key);
    let found: BTreeSet<&str> = places.iter().map(|p| p.run_id.as_str()).collect();
    if in_memory
        || found
            .iter()
            .any(|id| !backend::get().is_dir(&store.run_dir(flow, id)))
    {
        // A run in progress (or folders changed behind the index's back): the index as it
        // is, less the runs that are gone, plus the runs it lacks.
        let present: BTreeSet<String> = store.run_ids(flow).into_iter().collect();
        let mut covered: BTreeSet<String> = read_lines(&d.join("runs")).into_iter().collect();
        covered.extend(segs);
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
    places.sort_by_key(line);
    places.dedup();
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
