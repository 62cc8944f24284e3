//! `filter`: keeps the array elements (or whole payloads) for which a jq condition holds.

use super::BuildError;
use super::kind::{Build, Carries, Kind, Props, StepSpec, Ty, opt};
use super::{PureStep, Step, StepCx, StepError};
use crate::flow::reader::{Cx, Reader};
use crate::flow::{JqOpt, Text};
use crate::jq::Jq;
use serde_json::Value;
use std::sync::Arc;

/// A `filter` step.
pub(crate) struct Filter {
    pub(crate) jq: Arc<Jq>,
    pub(crate) keep_empty: bool,
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

/// The `filter` kind.
pub(crate) static KIND: Kind = Kind {
    name: "filter",
    doc: "keeps array elements (or whole payloads) for which the condition holds",
    options: &[
        opt("jq", Ty::Jq, true, "the condition"),
        opt(
            "keep_empty",
            Ty::Bool,
            false,
            "keep arrays the filter emptied",
        ),
    ],
    props: Props {
        connector: false,
        reuses_outputs: true,
    },
    read,
};

#[derive(Debug)]
struct FilterSpec {
    jq: JqOpt,
    keep_empty: bool,
}

fn read(r: &mut Reader<'_, '_>, cx: &mut Cx<'_>) -> Option<Box<dyn StepSpec>> {
    let jq = r.jq(cx, "jq", true);
    let keep_empty = r.bool(cx, "keep_empty").unwrap_or(false);
    Some(Box::new(FilterSpec {
        jq: jq?,
        keep_empty,
    }))
}

impl StepSpec for FilterSpec {
    fn build(&self, b: &mut Build<'_, '_>) -> Result<Box<dyn Step>, BuildError> {
        Ok(Box::new(Filter {
            jq: b.jq(&self.jq)?,
            keep_empty: self.keep_empty,
        }))
    }

    fn texts(&self, f: &mut dyn FnMut(&str, &Text, Carries)) {
        f("jq", &self.jq.text, Carries::Data);
    }
}
