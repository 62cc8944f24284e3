//! Seen keys of `dedupe` steps: `runs/<flow>/dedupe/<step>.json`, written only when a
//! run succeeds, so a failed run never marks keys as seen. Keys are stored as blake3
//! hashes ([`crate::secrets::fingerprint`]), so no key value — secret or personal data —
//! sits in the file; files of the first format, with plain keys, are still read.

use super::{Store, StoreError, atomic};
use serde::{Deserialize, Serialize};
use std::collections::HashSet;
use std::path::PathBuf;

const FORMAT: &str = "flowrun.dedupe/2";
/// The first format: plain keys, each the compact JSON of the key value.
const FORMAT_PLAIN: &str = "flowrun.dedupe/1";

#[derive(Serialize, Deserialize)]
#[allow(
    clippy::struct_field_names,
    reason = "`keys` is the field's name on disk"
)]
struct Keys {
    format: String,
    /// `flowrun.dedupe/1` only: plain keys.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    keys: Vec<String>,
    /// Hashes of the keys in the order they were first seen.
    #[serde(default)]
    hashes: Vec<String>,
}

impl Store {
    fn dedupe_path(&self, flow: &str, step: &str) -> PathBuf {
        self.flow_dir(flow)
            .join(super::layout::DEDUPE)
            .join(format!("{step}.json"))
    }

    fn read_keys(&self, flow: &str, step: &str) -> Result<Vec<String>, StoreError> {
        let path = self.dedupe_path(flow, step);
        super::backend::get().load(&path)?;
        let bytes = match std::fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(StoreError::io(&path, e)),
        };
        let keys: Keys = serde_json::from_slice(&bytes).map_err(|e| StoreError::BadJson {
            path: path.clone(),
            line: e.line(),
            column: e.column(),
            message: e.to_string(),
        })?;
        match keys.format.as_str() {
            FORMAT => Ok(keys.hashes),
            FORMAT_PLAIN => Ok(keys
                .keys
                .iter()
                .map(|k| crate::secrets::fingerprint(k))
                .collect()),
            other => Err(StoreError::BadManifest {
                path,
                message: format!("unknown format `{other}`"),
            }),
        }
    }

    /// Hashes of the keys that successful runs of `flow` saw at `dedupe` step `step`.
    ///
    /// # Errors
    /// The state file is unreadable (it is never silently reset: that would let duplicates through).
    pub(crate) fn dedupe_keys(
        &self,
        flow: &str,
        step: &str,
    ) -> Result<HashSet<String>, StoreError> {
        Ok(self.read_keys(flow, step)?.into_iter().collect())
    }

    /// Adds the hashes of `new` keys to the state of `step` (call only after the run
    /// succeeded).
    ///
    /// # Errors
    /// The state file cannot be read or written.
    pub(crate) fn add_dedupe_keys(
        &self,
        flow: &str,
        step: &str,
        new: Vec<String>,
    ) -> Result<(), StoreError> {
        if new.is_empty() {
            return Ok(());
        }
        let mut keys = self.read_keys(flow, step)?;
        let known: HashSet<String> = keys.iter().cloned().collect();
        keys.extend(new.into_iter().filter(|k| !known.contains(k)));
        let path = self.dedupe_path(flow, step);
        atomic::create_dir(path.parent().expect("dedupe files sit in a folder"))?;
        atomic::write_json(
            &path,
            &Keys {
                format: FORMAT.to_owned(),
                keys: Vec::new(),
                hashes: keys,
            },
        )
    }
}
