//! `dedupe`: drops array elements (or whole payloads) whose key an earlier successful
//! run already saw. The engine loads and saves the seen keys; this step only decides.

use super::BuildError;
use super::kind::{Build, Carries, Kind, Props, StepSpec, Ty, opt};
use super::{Stateful, Step, StepCx, StepError};
use crate::flow::reader::{Cx, Reader};
use crate::flow::{JqOpt, Text};
use crate::jq::Jq;
use serde_json::Value;
use std::collections::HashSet;
use std::sync::Arc;

/// A `dedupe` step.
pub(crate) struct Dedupe {
    pub(crate) key: Arc<Jq>,
    pub(crate) mode: DedupeMode,
    /// Hashes of the keys earlier runs saw.
    pub(crate) seen: HashSet<String>,
    /// Hashes of the keys first seen in this run.
    pub(crate) new: Vec<String>,
}

impl Dedupe {
    /// Whether `v` is kept; records its key as new when tracking.
    fn keep(&mut self, v: &Value, at: Option<usize>) -> Result<bool, StepError> {
        let key = self.key.run_one(v).map_err(|e| {
            let at = at.map(|i| format!("element {i}: ")).unwrap_or_default();
            StepError::new(format!("{at}`key`: {e}"))
        })?;
        // Only the key's hash is kept (and stored): see `store::dedupe`.
        let key = crate::secrets::fingerprint(&key.to_string());
        let seen = self.seen.contains(&key);
        if !seen && self.mode != DedupeMode::Filter && !self.new.contains(&key) {
            self.new.push(key);
        }
        Ok(!seen || self.mode == DedupeMode::Track)
    }
}

impl Step for Dedupe {
    fn process(&mut self, input: Value, _cx: &StepCx<'_>) -> Result<Vec<Value>, StepError> {
        match input {
            Value::Array(items) => {
                let had_items = !items.is_empty();
                let mut kept = Vec::with_capacity(items.len());
                for (i, item) in items.into_iter().enumerate() {
                    if self.keep(&item, Some(i))? {
                        kept.push(item);
                    }
                }
                Ok(if kept.is_empty() && had_items {
                    Vec::new()
                } else {
                    vec![Value::Array(kept)]
                })
            }
            other => Ok(if self.keep(&other, None)? {
                vec![other]
            } else {
                Vec::new()
            }),
        }
    }

    fn as_stateful(&mut self) -> Option<&mut dyn Stateful> {
        Some(self)
    }
}

impl Stateful for Dedupe {
    fn set_seen_keys(&mut self, keys: HashSet<String>) {
        self.seen = keys;
    }

    fn take_new_keys(&mut self) -> Vec<String> {
        std::mem::take(&mut self.new)
    }
}

/// The `dedupe` kind.
pub(crate) static KIND: Kind = Kind {
    name: "dedupe",
    doc: "drops elements whose key an earlier successful run saw",
    options: &[
        opt("key", Ty::Jq, true, "jq giving an element's key"),
        opt(
            "mode",
            Ty::OneOf(&["filter", "track", "filter-and-track"]),
            false,
            "what to do with keys (default filter-and-track)",
        ),
    ],
    props: Props {
        connector: false,
        reuses_outputs: false,
    },
    read,
};

/// `mode` of `dedupe`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum DedupeMode {
    /// Drop seen keys, record nothing.
    Filter,
    /// Record keys, drop nothing.
    Track,
    /// Drop seen keys and record the new ones.
    FilterAndTrack,
}

#[derive(Debug)]
struct DedupeSpec {
    key: JqOpt,
    mode: DedupeMode,
}

fn read(r: &mut Reader<'_, '_>, cx: &mut Cx<'_>) -> Option<Box<dyn StepSpec>> {
    let key = r.jq(cx, "key", true);
    let mode = r
        .choice(
            cx,
            "mode",
            &[
                ("filter", DedupeMode::Filter),
                ("track", DedupeMode::Track),
                ("filter-and-track", DedupeMode::FilterAndTrack),
            ],
        )
        .unwrap_or(DedupeMode::FilterAndTrack);
    Some(Box::new(DedupeSpec { key: key?, mode }))
}

impl StepSpec for DedupeSpec {
    fn build(&self, b: &mut Build<'_, '_>) -> Result<Box<dyn Step>, BuildError> {
        Ok(Box::new(Dedupe {
            key: b.jq(&self.key)?,
            mode: self.mode,
            seen: HashSet::new(),
            new: Vec::new(),
        }))
    }

    fn texts(&self, f: &mut dyn FnMut(&str, &Text, Carries)) {
        f("key", &self.key.text, Carries::Data);
    }
}
