//! `assert`: checks each payload (per element for arrays unless `each = false`) and passes
//! it on unchanged.

use super::{PureStep, Step, StepCx, StepError};
use crate::jq::Jq;
use crate::json::{brief, first_difference, same};
use crate::secrets::Secrets;
use serde_json::Value;
use std::path::Path;
use std::sync::Arc;

/// An `assert` step.
pub struct Assert {
    pub jq: Option<Arc<Jq>>,
    /// Check `jq` per element of an array payload (else once on the whole payload).
    pub each: bool,
    pub expected: Option<Value>,
    pub message: Option<String>,
    /// The run's secrets: masked out of a failing element before it is cut to an excerpt.
    pub secrets: Arc<Secrets>,
}

impl Assert {
    fn fail(&self, detail: &str) -> StepError {
        match &self.message {
            Some(m) => StepError::new(format!("{m}: {detail}")),
            None => StepError::new(format!("assertion failed: {detail}")),
        }
    }

    /// A short excerpt of `v`, its secrets masked before it is cut.
    fn excerpt(&self, v: &Value) -> String {
        match self.secrets.mask_value(v) {
            Some(masked) => brief(&masked, 200),
            None => brief(v, 200),
        }
    }

    fn check(&self, jq: &Jq, v: &Value, element: Option<usize>) -> Result<(), StepError> {
        let at = element.map(|i| format!("element {i} ")).unwrap_or_default();
        match jq.test(v) {
            Ok(true) => Ok(()),
            Ok(false) => Err(self.fail(&format!(
                "{at}does not satisfy `{}`: {}",
                jq.source(),
                self.excerpt(v)
            ))),
            Err(e) => Err(self.fail(&format!(
                "{at}could not be checked: {}: {}",
                self.secrets.mask(&e),
                self.excerpt(v)
            ))),
        }
    }
}

impl PureStep for Assert {
    fn apply(&self, input: Value) -> Result<Vec<Value>, StepError> {
        if let Some(jq) = &self.jq {
            match &input {
                Value::Array(items) if self.each => {
                    for (i, item) in items.iter().enumerate() {
                        self.check(jq, item, Some(i))?;
                    }
                }
                other => self.check(jq, other, None)?,
            }
        }
        if let Some(expected) = &self.expected
            && !same(expected, &input)
        {
            let mask = |v: &Value| self.secrets.mask_value(v).unwrap_or_else(|| v.clone());
            let detail = match first_difference(&mask(expected), &mask(&input)) {
                Some((path, e, a)) => {
                    format!(
                        "the payload differs from the expected value at {path}: expected {e}, got {a}"
                    )
                }
                None => "the payload differs from the expected value".to_owned(),
            };
            return Err(self.fail(&detail));
        }
        Ok(vec![input])
    }
}

impl Step for Assert {
    fn passes_through(&self) -> bool {
        true
    }

    fn process(&mut self, input: Value, _cx: &StepCx<'_>) -> Result<Vec<Value>, StepError> {
        self.apply(input)
    }

    fn as_pure(&self) -> Option<&dyn PureStep> {
        Some(self)
    }
}

/// Reads the JSON file named by `equals_file`.
pub fn load_expected(path: &Path, shown: &str) -> Result<Value, String> {
    let bytes = std::fs::read(path).map_err(|e| format!("equals_file `{shown}`: {e}"))?;
    // Read as every other file from outside is (a BOM skipped, wide integers refused).
    crate::json::decode(&bytes, 1)
        .map_err(|e| format!("equals_file {shown}:{}:{}: {}", e.line, e.column, e.message))
}
