//! `filter`: keeps the array elements (or whole payloads) for which a jq condition holds.

use super::{PureStep, Step, StepCx, StepError};
use crate::jq::Jq;
use serde_json::Value;
use std::sync::Arc;

/// A `filter` step.
pub struct Filter {
    pub jq: Arc<Jq>,
    pub keep_empty: bool,
}

impl PureStep for Filter {
    fn apply(&self, input: Value) -> Result<Vec<Value>, StepError> {
        match input {
            Value::Array(items) => {
                let had_items = !items.is_empty();
                let mut kept = Vec::with_capacity(items.len());
                for (i, item) in items.into_iter().enumerate() {
                    let keep = self
                        .jq
                        .test(&item)
                        .map_err(|e| StepError::new(format!("element {i}: {e}")))?;
                    if keep {
                        kept.push(item);
                    }
                }
                if kept.is_empty() && had_items && !self.keep_empty {
                    Ok(Vec::new())
                } else {
                    Ok(vec![Value::Array(kept)])
                }
            }
            other => {
                let keep = self.jq.test(&other).map_err(StepError::new)?;
                Ok(if keep { vec![other] } else { Vec::new() })
            }
        }
    }
}

impl Step for Filter {
    fn process(&mut self, input: Value, _cx: &StepCx<'_>) -> Result<Vec<Value>, StepError> {
        self.apply(input)
    }

    fn as_pure(&self) -> Option<&dyn PureStep> {
        Some(self)
    }
}
