//! Work a step already finished in an earlier run, reused instead of done again.
//!
//! A resumed run hands each step the outputs it recorded before for an input with the
//! same content (matched by blake3, the n-th occurrence of a payload to the n-th), so
//! no step repeats work it finished — and a step given changed input does the work.

use crate::store::PayloadRecord;
use crate::store::manifest::ChildLink;
use std::collections::{HashMap, VecDeque};
use std::path::PathBuf;

/// One recorded output of an earlier run.
#[derive(Debug, Clone)]
pub(crate) struct Recorded {
    /// The file in the earlier run.
    pub(crate) path: PathBuf,
    /// Its manifest record there.
    pub(crate) record: PayloadRecord,
    /// Whether the file was edited since and is used anyway (`--edited`).
    pub(crate) edited: bool,
}

/// Outputs recorded per step and input content.
#[derive(Debug, Default)]
pub(crate) struct Reuse {
    steps: HashMap<usize, HashMap<String, VecDeque<Vec<Recorded>>>>,
    /// Child runs recorded per step and input content (`flow`, `route`).
    links: HashMap<usize, HashMap<String, VecDeque<Vec<ChildLink>>>>,
}

impl Reuse {
    /// Records that step `step` (0-based) turned an input with blake3 `input_hash`
    /// into `outputs`.
    pub(crate) fn add(&mut self, step: usize, input_hash: &str, outputs: Vec<Recorded>) {
        self.steps
            .entry(step)
            .or_default()
            .entry(input_hash.to_owned())
            .or_default()
            .push_back(outputs);
    }

    /// Takes the outputs recorded for the next input of `step` with this content.
    pub(crate) fn take(&mut self, step: usize, input_hash: &str) -> Option<Vec<Recorded>> {
        self.steps.get_mut(&step)?.get_mut(input_hash)?.pop_front()
    }

    /// Whether anything is recorded for `step`.
    #[must_use]
    pub(crate) fn covers(&self, step: usize) -> bool {
        self.steps.contains_key(&step)
    }

    /// Records the child runs step `step` started for its next input with this content.
    pub(crate) fn add_links(&mut self, step: usize, input_hash: &str, links: Vec<ChildLink>) {
        self.links
            .entry(step)
            .or_default()
            .entry(input_hash.to_owned())
            .or_default()
            .push_back(links);
    }

    /// Takes the child runs recorded for the next input of `step` with this content.
    pub(crate) fn take_links(&mut self, step: usize, input_hash: &str) -> Vec<ChildLink> {
        self.links
            .get_mut(&step)
            .and_then(|m| m.get_mut(input_hash))
            .and_then(VecDeque::pop_front)
            .unwrap_or_default()
    }
}
