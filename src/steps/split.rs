//! `split`: cuts the array at `path` into batches of `size` elements.

use super::{PureStep, Step, StepCx, StepError};
use crate::jq::Jq;
use serde_json::Value;
use std::sync::Arc;

/// A `split` step.
pub struct Split {
    pub path: Option<Arc<Jq>>,
    pub size: usize,
}

impl PureStep for Split {
    fn apply(&self, input: Value) -> Result<Vec<Value>, StepError> {
        let array = match &self.path {
            None => input,
            Some(jq) => jq
                .run_one(&input)
                .map_err(|e| StepError::new(format!("`path`: {e}")))?,
        };
        let Value::Array(items) = array else {
            return Err(StepError::new(format!(
                "split needs an array{}, got {}",
                self.path
                    .as_ref()
                    .map(|p| format!(" at `{}`", p.source()))
                    .unwrap_or_default(),
                kind_name(&array)
            )));
        };
        let mut batches = Vec::with_capacity(items.len().div_ceil(self.size));
        let mut items = items.into_iter();
        loop {
            let batch: Vec<Value> = items.by_ref().take(self.size).collect();
            if batch.is_empty() {
                break;
            }
            batches.push(Value::Array(batch));
        }
        Ok(batches)
    }
}

impl Step for Split {
    fn process(&mut self, input: Value, _cx: &StepCx<'_>) -> Result<Vec<Value>, StepError> {
        self.apply(input)
    }

    fn as_pure(&self) -> Option<&dyn PureStep> {
        Some(self)
    }

    fn batch_size(&self) -> Option<usize> {
        self.path.is_none().then_some(self.size)
    }
}

/// jq's name for the type of `v`.
pub fn kind_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}
