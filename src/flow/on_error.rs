//! The `on_error` step option: what a step does when it errors on one payload
//! (`"fail"`, `"continue"`, `{ flow = "NAME" }`), and the check that a named flow exists.

use super::reader::{Cx, Item, as_str, line_col, table, type_err};
use super::{Flow, Problem};
use crate::names::is_name;

/// What a step does when its processing of one payload errors.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) enum OnError {
    /// The run stops (the default, SPEC §2).
    #[default]
    Fail,
    /// The payload is recorded under `failed/` and the step goes on with the next one.
    Continue,
    /// As `Continue`, and a child run of flow `name` is started per failed payload.
    Flow {
        /// The flow to run.
        name: String,
        /// Where the name is written in the flow file (1-based line and column).
        line: usize,
        /// See `line`.
        col: usize,
    },
}

impl OnError {
    /// Whether a payload that errors lets the step go on (`continue` and `{ flow }`).
    #[must_use]
    pub(crate) fn goes_on(&self) -> bool {
        !matches!(self, OnError::Fail)
    }

    /// The flow started per failed payload, if any.
    #[must_use]
    pub(crate) fn flow(&self) -> Option<&str> {
        match self {
            OnError::Flow { name, .. } => Some(name),
            _ => None,
        }
    }
}

const HOW: &str = "`on_error` must be \"fail\", \"continue\" or { flow = \"NAME\" }";

/// Reads the `on_error` value `item`.
pub(crate) fn read(cx: &mut Cx<'_>, item: &Item<'_>) -> Option<OnError> {
    if item.get_ref().as_str().is_some() {
        let (s, at) = as_str(cx, item, "on_error")?;
        return match s {
            "fail" => Some(OnError::Fail),
            "continue" => Some(OnError::Continue),
            _ => {
                cx.err(at, format!("{HOW}, not `{s}`"));
                None
            }
        };
    }
    if item.get_ref().as_table().is_none() {
        type_err(
            cx,
            item,
            "on_error",
            "\"fail\", \"continue\" or { flow = \"NAME\" }",
        );
        return None;
    }
    let t = table(cx, item, "on_error")?;
    let mut name = None;
    for (key, value) in t {
        if key.get_ref().as_ref() == "flow" {
            name = Some(value);
        } else {
            cx.err(
                key.span().start,
                format!(
                    "unknown key `{}` in `on_error`; expected: flow",
                    key.get_ref().as_ref() as &str
                ),
            );
            return None;
        }
    }
    let Some(value) = name else {
        cx.err(item.span().start, format!("{HOW}: the table needs `flow`"));
        return None;
    };
    let (s, at) = as_str(cx, value, "on_error.flow")?;
    if !is_name(s) {
        cx.err(
            at,
            format!("`on_error.flow`: `{s}` is not a valid flow name: use lower-case letters, digits, `_` and `-` (at most 64, starting with a letter or digit)"),
        );
        return None;
    }
    let (line, col) = line_col(cx.src, at);
    Some(OnError::Flow {
        name: s.to_owned(),
        line,
        col,
    })
}

/// The problems of `flow`'s `on_error = { flow = … }` options naming a flow that has no
/// file beside the flow's own (`flows/NAME.toml`).
#[must_use]
pub(crate) fn missing_flows(flow: &Flow) -> Vec<Problem> {
    let Some(dir) = flow.path.parent() else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for step in &flow.steps {
        if let OnError::Flow { name, line, col } = &step.on_error
            && !dir.join(format!("{name}.toml")).is_file()
        {
            let known = super::load::list_in(dir);
            out.push(Problem {
                line: *line,
                col: *col,
                message: format!(
                    "step `{}`: `on_error` names flow `{name}`, but there is no {} ({})",
                    step.id,
                    crate::names::display_path(&dir.join(format!("{name}.toml"))),
                    if known.is_empty() {
                        "there are no flows".to_owned()
                    } else {
                        format!("flows: {}", known.join(", "))
                    }
                ),
            });
        }
    }
    out
}
