//! `map`: a jq filter that turns each payload into exactly one new payload.

use super::{PureStep, Step, StepCx, StepError};
use crate::jq::Jq;
use serde_json::Value;
use std::sync::Arc;

/// A `map` step.
pub struct Map {
    pub jq: Arc<Jq>,
}

impl PureStep for Map {
    fn apply(&self, input: Value) -> Result<Vec<Value>, StepError> {
        self.jq
            .run_one(&input)
            .map(|v| vec![v])
            .map_err(StepError::new)
    }
}

impl Step for Map {
    fn process(&mut self, input: Value, _cx: &StepCx<'_>) -> Result<Vec<Value>, StepError> {
        self.apply(input)
    }

    fn as_pure(&self) -> Option<&dyn PureStep> {
        Some(self)
    }
}
