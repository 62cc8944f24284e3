//! `split`: cuts the array at `path` into batches of `size` elements.

use super::BuildError;
use super::kind::{Build, Carries, Kind, Props, StepSpec, Ty, opt};
use super::{PureStep, Step, StepCx, StepError};
use crate::flow::reader::{Cx, Reader};
use crate::flow::{JqOpt, Text};
use crate::jq::Jq;
use serde_json::Value;
use std::sync::Arc;

/// A `split` step.
pub(crate) struct Split {
    pub(crate) path: Option<Arc<Jq>>,
    pub(crate) size: usize,
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
pub(crate) fn kind_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// The `split` kind.
pub(crate) static KIND: Kind = Kind {
    name: "split",
    doc: "cuts the array at path into batches of size",
    options: &[
        opt("path", Ty::Jq, false, "where the array is (default .)"),
        opt("size", Ty::Uint(1), true, "batch size"),
    ],
    props: Props {
        connector: false,
        reuses_outputs: true,
    },
    read,
};

#[derive(Debug)]
struct SplitSpec {
    path: Option<JqOpt>,
    size: usize,
}

fn read(r: &mut Reader<'_, '_>, cx: &mut Cx<'_>) -> Option<Box<dyn StepSpec>> {
    let path = r.jq(cx, "path", false);
    let size = match r.required(cx, "size") {
        Some(_) => r.uint(cx, "size", 1),
        None => None,
    };
    let size = size.and_then(|s| usize::try_from(s).ok())?;
    Some(Box::new(SplitSpec { path, size }))
}

impl StepSpec for SplitSpec {
    fn build(&self, b: &mut Build<'_, '_>) -> Result<Box<dyn Step>, BuildError> {
        Ok(Box::new(Split {
            path: self.path.as_ref().map(|p| b.jq(p)).transpose()?,
            size: self.size,
        }))
    }

    fn texts(&self, f: &mut dyn FnMut(&str, &Text, Carries)) {
        if let Some(p) = &self.path {
            f("path", &p.text, Carries::Data);
        }
    }
}
