//! `merge`: joins all input payloads into one array (split → merge gives the array back).

use super::{Step, StepCx, StepError};
use serde_json::Value;

/// A `merge` step.
#[derive(Default)]
pub struct Merge {
    joined: Vec<Value>,
}

impl Step for Merge {
    fn process(&mut self, input: Value, _cx: &StepCx<'_>) -> Result<Vec<Value>, StepError> {
        match input {
            Value::Array(items) => self.joined.extend(items),
            other => self.joined.push(other),
        }
        Ok(Vec::new())
    }

    fn finish(&mut self, _cx: &StepCx<'_>) -> Result<Vec<Value>, StepError> {
        Ok(vec![Value::Array(std::mem::take(&mut self.joined))])
    }
}
