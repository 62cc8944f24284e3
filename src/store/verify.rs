//! `verify`: re-hash a run's files against its manifest.

use super::list::RunRef;
use super::{RunStatus, Store, StoreError, atomic::TEMP_PREFIX, layout, payload::hash_file};
use std::collections::HashSet;
use std::fmt;

/// What verification found about one file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Finding {
    /// The manifest cannot be read.
    BadManifest(String),
    /// A listed file whose size or hash differs.
    Changed(String),
    /// A listed file that is not there.
    Missing(String),
    /// A listed file that cannot be read as a recorded file (a FIFO, a device, too
    /// large): the message says why.
    Unreadable(String),
    /// A file the manifest does not list.
    Unlisted(String),
    /// A payload file written after the last checkpoint of a run that is still going or
    /// was interrupted (not a problem).
    Unrecorded(String),
    /// A temporary file left by an interrupted write (not a problem).
    Leftover(String),
}

impl Finding {
    /// Whether this finding means the run's trail is damaged.
    #[must_use]
    pub(crate) fn is_problem(&self) -> bool {
        !matches!(self, Finding::Unrecorded(_) | Finding::Leftover(_))
    }
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Finding::BadManifest(m) => write!(f, "manifest unreadable: {m}"),
            Finding::Changed(p) => write!(f, "changed: {p} (its hash differs from the manifest)"),
            Finding::Missing(p) => write!(f, "missing: {p}"),
            Finding::Unreadable(m) => write!(f, "unreadable: {m}"),
            Finding::Unlisted(p) => write!(f, "unlisted: {p} (not in the manifest)"),
            Finding::Unrecorded(p) => write!(
                f,
                "note: {p} was written after the run's last checkpoint (not part of the trail yet)"
            ),
            Finding::Leftover(p) => {
                write!(
                    f,
                    "note: {p} is a temporary file left by an interrupted write"
                )
            }
        }
    }
}

/// The result of verifying one run.
#[derive(Debug)]
pub(crate) struct Report {
    /// Files checked against the manifest.
    pub(crate) checked: usize,
    /// Everything found.
    pub(crate) findings: Vec<Finding>,
}

impl Report {
    /// Whether the run has any problem.
    #[must_use]
    pub(crate) fn ok(&self) -> bool {
        !self.findings.iter().any(Finding::is_problem)
    }
}

/// Verifies one run.
#[must_use]
pub(crate) fn verify(store: &Store, run: &RunRef) -> Report {
    let mut report = Report {
        checked: 0,
        findings: Vec::new(),
    };
    let manifest = match store.read_manifest(&run.dir) {
        Ok(m) => m,
        Err(e) => {
            report.findings.push(Finding::BadManifest(e.to_string()));
            return report;
        }
    };
    let mut listed: HashSet<String> = HashSet::new();
    listed.insert(layout::FLOW_COPY.to_owned());
    report.checked += 1;
    match hash_file(&layout::flow_copy(&run.dir)) {
        Ok((_, h)) if h == manifest.flow_blake3 => {}
        Ok(_) => report
            .findings
            .push(Finding::Changed(layout::FLOW_COPY.into())),
        Err(e) => report.findings.push(not_hashed(layout::FLOW_COPY, &e)),
    }
    for r in manifest.records() {
        listed.insert(r.file.clone());
        report.checked += 1;
        if !super::manifest::is_inside_run(&r.file) {
            report.findings.push(Finding::Changed(r.file.clone()));
            continue;
        }
        match hash_file(&run.dir.join(&r.file)) {
            Ok((n, h)) if n == r.bytes && h == r.blake3 => {}
            Ok(_) => report.findings.push(Finding::Changed(r.file.clone())),
            Err(e) => report.findings.push(not_hashed(&r.file, &e)),
        }
    }
    listed.insert(layout::MANIFEST.into());
    // A run in progress records its files in the manifest at checkpoints, so the newest
    // ones may not be listed yet; those of an interrupted run never will be. That holds
    // for its input files too: a run killed while storing them never listed them.
    let unfinished = matches!(manifest.status, RunStatus::Running | RunStatus::Interrupted);
    // A shared store: every stored file of the run, so that strays are seen too.
    if let Err(e) = super::backend::get().pull(&run.dir) {
        report.findings.push(not_hashed(layout::MANIFEST, &e));
    }
    for entry in walkdir::WalkDir::new(&run.dir)
        .min_depth(1)
        .into_iter()
        .flatten()
    {
        if entry.file_type().is_dir() {
            continue;
        }
        let Ok(rel) = entry.path().strip_prefix(&run.dir) else {
            continue;
        };
        let rel = rel.to_string_lossy().replace('\\', "/");
        if listed.contains(&rel) {
            continue;
        }
        let name = entry.file_name().to_string_lossy();
        if name.starts_with(TEMP_PREFIX) {
            report.findings.push(Finding::Leftover(rel));
        } else if unfinished
            && (rel.starts_with(&format!("{}/", layout::STEPS))
                || rel.starts_with(&format!("{}/", layout::INPUT)))
        {
            report.findings.push(Finding::Unrecorded(rel));
        } else {
            report.findings.push(Finding::Unlisted(rel));
        }
    }
    report
}

/// What it means that listed file `rel` could not be hashed.
fn not_hashed(rel: &str, e: &StoreError) -> Finding {
    match e {
        StoreError::NotRegular { what, .. } => {
            Finding::Unreadable(format!("{rel} is not a regular file ({what})"))
        }
        StoreError::TooLarge { bytes, max, .. } => Finding::Unreadable(format!(
            "{rel} holds {bytes} bytes, more than the {max} flowrun reads"
        )),
        StoreError::Io { source, .. } if source.kind() != std::io::ErrorKind::NotFound => {
            Finding::Unreadable(format!("{rel}: {source}"))
        }
        _ => Finding::Missing(rel.to_owned()),
    }
}
