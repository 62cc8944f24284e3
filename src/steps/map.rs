//! `map`: a jq filter that turns each payload into exactly one new payload.

use super::BuildError;
use super::kind::{Build, Carries, Kind, Props, StepSpec, Ty, opt};
use super::{PureStep, Step, StepCx, StepError};
use crate::flow::reader::{Cx, Reader};
use crate::flow::{JqOpt, Text};
use crate::jq::Jq;
use serde_json::Value;
use std::sync::Arc;

/// A `map` step.
pub(crate) struct Map {
    pub(crate) jq: Arc<Jq>,
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

/// The `map` kind.
pub(crate) static KIND: Kind = Kind {
    name: "map",
    doc: "jq filter yielding exactly one value",
    options: &[opt("jq", Ty::Jq, true, "the filter")],
    props: Props {
        connector: false,
        reuses_outputs: true,
    },
    read,
};

#[derive(Debug)]
struct MapSpec {
    jq: JqOpt,
}

fn read(r: &mut Reader<'_, '_>, cx: &mut Cx<'_>) -> Option<Box<dyn StepSpec>> {
    Some(Box::new(MapSpec {
        jq: r.jq(cx, "jq", true)?,
    }))
}

impl StepSpec for MapSpec {
    fn build(&self, b: &mut Build<'_, '_>) -> Result<Box<dyn Step>, BuildError> {
        Ok(Box::new(Map {
            jq: b.jq(&self.jq)?,
        }))
    }

    fn texts(&self, f: &mut dyn FnMut(&str, &Text, Carries)) {
        f("jq", &self.jq.text, Carries::Data);
    }
}
