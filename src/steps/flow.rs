//! `flow`: runs another flow once per input payload (a child run with the payload as its
//! input); the step's outputs are the child run's final payloads, in order.

use super::BuildError;
use super::kind::{Build, Carries, Kind, Props, StepSpec, Ty, opt};
use super::{Step, StepCx, StepError};
use crate::engine::child_run::{self, ChildRequest};
use crate::flow::Text;
use crate::flow::reader::{Cx, Reader};
use crate::store::manifest::{ChildLink, ParentLink};
use serde_json::Value;

/// A `flow` step.
struct FlowStep {
    flow: String,
}

/// The link a child run of this step gets, before its run id is known.
pub(super) fn link(cx: &StepCx<'_>, route: Option<Value>) -> ChildLink {
    ChildLink {
        source: cx.source.map(str::to_owned),
        input_blake3: cx.input_hash.to_owned(),
        route,
        flow: None,
        run_id: None,
        status: "running".to_owned(),
        reused: false,
    }
}

/// What a child run of this step records as its parent.
pub(super) fn parent(cx: &StepCx<'_>) -> ParentLink {
    ParentLink {
        run_id: cx.run_id.to_owned(),
        flow: cx.flow.to_owned(),
        step: cx.step_id.to_owned(),
        payload: cx.source.map(str::to_owned),
    }
}

impl Step for FlowStep {
    fn process(&mut self, input: Value, cx: &StepCx<'_>) -> Result<Vec<Value>, StepError> {
        let done = child_run::start(ChildRequest {
            root: cx.root,
            flow: &self.flow,
            input,
            parent: parent(cx),
            link: link(cx, None),
            links: cx.links,
            prior: cx.prior,
            outputs: true,
        })?;
        Ok(done.outputs)
    }
}

/// The `flow` kind.
pub(crate) static KIND: Kind = Kind {
    name: "flow",
    doc: "runs another flow once per input payload (a child run); its final payloads are the outputs",
    options: &[opt(
        "flow",
        Ty::Str,
        true,
        "the flow to run (flows/NAME.toml)",
    )],
    props: Props {
        connector: true,
        reuses_outputs: true,
    },
    read,
};

#[derive(Debug)]
struct FlowSpec {
    flow: String,
    at: usize,
}

/// Reads a flow name option: a string that is a flow name.
pub(super) fn flow_name(
    cx: &mut Cx<'_>,
    item: &crate::flow::reader::Item<'_>,
    key: &str,
) -> Option<(String, usize)> {
    let (s, at) = crate::flow::reader::as_str(cx, item, key)?;
    if crate::flow::is_name(s) {
        Some((s.to_owned(), at))
    } else {
        cx.err(
            at,
            format!("`{key}`: `{s}` is not a flow name ([a-z0-9][a-z0-9_-]{{0,63}})"),
        );
        None
    }
}

fn read(r: &mut Reader<'_, '_>, cx: &mut Cx<'_>) -> Option<Box<dyn StepSpec>> {
    let item = r.required(cx, "flow")?;
    let (flow, at) = flow_name(cx, item, "flow")?;
    Some(Box::new(FlowSpec { flow, at }))
}

impl StepSpec for FlowSpec {
    fn build(&self, _b: &mut Build<'_, '_>) -> Result<Box<dyn Step>, BuildError> {
        Ok(Box::new(FlowStep {
            flow: self.flow.clone(),
        }))
    }

    fn texts(&self, _f: &mut dyn FnMut(&str, &Text, Carries)) {}

    fn calls(&self) -> Vec<(String, usize)> {
        vec![(self.flow.clone(), self.at)]
    }
}
