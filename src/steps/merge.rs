//! `merge`: joins all input payloads into one array (split → merge gives the array back).

use super::BuildError;
use super::kind::{Build, Carries, Kind, Props, StepSpec};
use super::{Step, StepCx, StepError};
use crate::flow::Text;
use crate::flow::reader::{Cx, Reader};
use serde_json::Value;

/// A `merge` step.
#[derive(Default)]
pub(crate) struct Merge {
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

/// The `merge` kind.
pub(crate) static KIND: Kind = Kind {
    name: "merge",
    doc: "joins all its inputs into one array",
    options: &[],
    props: Props {
        connector: false,
        reuses_outputs: false,
    },
    read,
};

#[derive(Debug)]
struct MergeSpec;

#[allow(
    clippy::unnecessary_wraps,
    reason = "the signature every kind's reader has"
)]
fn read(_r: &mut Reader<'_, '_>, _cx: &mut Cx<'_>) -> Option<Box<dyn StepSpec>> {
    Some(Box::new(MergeSpec))
}

impl StepSpec for MergeSpec {
    fn build(&self, _b: &mut Build<'_, '_>) -> Result<Box<dyn Step>, BuildError> {
        Ok(Box::new(Merge::default()))
    }

    fn texts(&self, _f: &mut dyn FnMut(&str, &Text, Carries)) {}
}

/// A step that touches nothing outside the run, in place of a stubbed one (`flowrun test`).
pub(crate) fn inert() -> (&'static Kind, std::sync::Arc<dyn StepSpec>) {
    (&KIND, std::sync::Arc::new(MergeSpec))
}
