//! `route`: sends each input payload to the flow of the first route whose condition
//! holds (`mode = "all"`: of every such route) as a child run, else to `otherwise`, and
//! passes its input payloads on unchanged.

use super::BuildError;
use super::flow::{flow_name, link, parent};
use super::kind::{Build, Carries, Kind, Props, StepSpec, Ty, opt};
use super::{Step, StepCx, StepError};
use crate::engine::child_run::{self, ChildRequest};
use crate::flow::reader::{Cx, Reader, table, type_err};
use crate::flow::{JqOpt, Text};
use crate::jq::Jq;
use serde_json::Value;
use std::sync::Arc;

/// A `route` step.
struct Route {
    routes: Vec<(Arc<Jq>, String)>,
    otherwise: Option<String>,
    all: bool,
}

impl Step for Route {
    fn process(&mut self, input: Value, cx: &StepCx<'_>) -> Result<Vec<Value>, StepError> {
        // Every condition is checked before any child run starts.
        let mut chosen: Vec<(Value, &str)> = Vec::new();
        for (n, (when, flow)) in self.routes.iter().enumerate() {
            let hit = when
                .test(&input)
                .map_err(|e| StepError::new(format!("route {} `when`: {e}", n + 1)))?;
            if hit {
                chosen.push((Value::from(n + 1), flow));
                if !self.all {
                    break;
                }
            }
        }
        if chosen.is_empty()
            && let Some(flow) = &self.otherwise
        {
            chosen.push((Value::from("otherwise"), flow));
        }
        if chosen.is_empty() {
            if let Some(sink) = cx.links {
                let mut unhandled = link(cx, None);
                "unhandled".clone_into(&mut unhandled.status);
                sink.record(unhandled)?;
            }
            return Ok(vec![input]);
        }
        for (route, flow) in chosen {
            child_run::start(ChildRequest {
                root: cx.root,
                flow,
                input: input.clone(),
                parent: parent(cx),
                link: link(cx, Some(route)),
                links: cx.links,
                prior: cx.prior,
                outputs: false,
            })?;
        }
        Ok(vec![input])
    }

    fn passes_through(&self) -> bool {
        true
    }
}

/// The `route` kind.
pub(crate) static KIND: Kind = Kind {
    name: "route",
    doc: "sends each payload to the flow of the first (or every) route whose condition holds, as a child run; passes its payloads on",
    options: &[
        opt(
            "routes",
            Ty::Any,
            true,
            "the routes, in order: [{ when = jq, flow = NAME }, …]",
        ),
        opt(
            "otherwise",
            Ty::Str,
            false,
            "the flow for payloads no route takes (default: they pass on unhandled)",
        ),
        opt(
            "mode",
            Ty::OneOf(&["first", "all"]),
            false,
            "first: the first route that holds (default); all: every route that holds",
        ),
    ],
    props: Props {
        connector: true,
        reuses_outputs: true,
    },
    read,
};

#[derive(Debug)]
struct RouteSpec {
    routes: Vec<(JqOpt, String, usize)>,
    otherwise: Option<(String, usize)>,
    all: bool,
}

fn read(r: &mut Reader<'_, '_>, cx: &mut Cx<'_>) -> Option<Box<dyn StepSpec>> {
    let mut ok = true;
    let mut routes = Vec::new();
    if let Some(item) = r.required(cx, "routes") {
        match item.get_ref().as_array() {
            Some(array) => {
                if array.is_empty() {
                    cx.err(item.span().start, "`routes` must list at least one route");
                    ok = false;
                }
                for (n, entry) in array.iter().enumerate() {
                    let Some(t) = table(cx, entry, "routes") else {
                        ok = false;
                        continue;
                    };
                    let mut rr = Reader::new(t, entry.span().start, format!("route {}", n + 1));
                    let when = rr.jq(cx, "when", true);
                    let flow = rr
                        .required(cx, "flow")
                        .and_then(|i| flow_name(cx, i, "flow"));
                    rr.finish(cx);
                    match (when, flow) {
                        (Some(when), Some((flow, at))) => routes.push((when, flow, at)),
                        _ => ok = false,
                    }
                }
            }
            None => {
                type_err(
                    cx,
                    item,
                    "routes",
                    "an array of tables, e.g. [{ when = '.country == \"DE\"', flow = \"erp-de\" }]",
                );
                ok = false;
            }
        }
    } else {
        ok = false;
    }
    let otherwise = match r.get("otherwise") {
        Some(item) => {
            let name = flow_name(cx, item, "otherwise");
            ok &= name.is_some();
            name
        }
        None => None,
    };
    let all = r
        .choice(cx, "mode", &[("first", false), ("all", true)])
        .unwrap_or(false);
    ok.then(|| {
        Box::new(RouteSpec {
            routes,
            otherwise,
            all,
        }) as Box<dyn StepSpec>
    })
}

impl StepSpec for RouteSpec {
    fn build(&self, b: &mut Build<'_, '_>) -> Result<Box<dyn Step>, BuildError> {
        let routes = self
            .routes
            .iter()
            .map(|(when, flow, _)| Ok((b.jq(when)?, flow.clone())))
            .collect::<Result<Vec<_>, BuildError>>()?;
        Ok(Box::new(Route {
            routes,
            otherwise: self.otherwise.as_ref().map(|(f, _)| f.clone()),
            all: self.all,
        }))
    }

    fn texts(&self, f: &mut dyn FnMut(&str, &Text, Carries)) {
        for (when, _, _) in &self.routes {
            f("when", &when.text, Carries::Data);
        }
    }

    fn calls(&self) -> Vec<(String, usize)> {
        self.routes
            .iter()
            .map(|(_, flow, at)| (flow.clone(), *at))
            .chain(self.otherwise.clone())
            .collect()
    }
}
