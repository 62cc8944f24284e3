//! `dedupe`: drops array elements (or whole payloads) whose key an earlier successful
//! run already saw. The engine loads and saves the seen keys; this step only decides.

use super::{Step, StepCx, StepError};
use crate::flow::DedupeMode;
use crate::jq::Jq;
use serde_json::Value;
use std::collections::HashSet;
use std::sync::Arc;

/// A `dedupe` step.
pub struct Dedupe {
    pub key: Arc<Jq>,
    pub mode: DedupeMode,
    /// Hashes of the keys earlier runs saw.
    pub seen: HashSet<String>,
    /// Hashes of the keys first seen in this run.
    pub new: Vec<String>,
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

    fn set_seen_keys(&mut self, keys: HashSet<String>) {
        self.seen = keys;
    }

    fn take_new_keys(&mut self) -> Vec<String> {
        std::mem::take(&mut self.new)
    }
}
