//! `assert`: checks each payload (per element for arrays unless `each = false`) and passes
//! it on unchanged.

use super::BuildError;
use super::kind::{Build, Carries, Kind, Props, StepSpec, Ty, opt};
use super::{PureStep, Step, StepCx, StepError};
use crate::flow::reader::to_json;
use crate::flow::reader::{Cx, Reader};
use crate::flow::{JqOpt, Text};
use crate::jq::Jq;
use crate::json::{brief, first_difference, same};
use crate::secrets::Secrets;
use serde_json::Value;
use std::path::Path;
use std::sync::Arc;

/// An `assert` step.
pub(crate) struct Assert {
    pub(crate) jq: Option<Arc<Jq>>,
    /// Check `jq` per element of an array payload (else once on the whole payload).
    pub(crate) each: bool,
    pub(crate) expected: Option<Value>,
    pub(crate) message: Option<String>,
    /// The run's secrets: masked out of a failing element before it is cut to an excerpt.
    pub(crate) secrets: Arc<Secrets>,
}

impl Assert {
    fn fail(&self, detail: &str) -> StepError {
        match &self.message {
            Some(m) => StepError::new(format!("{m}: {detail}")),
            None => StepError::new(format!("assertion failed: {detail}")),
        }
    }

    /// A short excerpt of `v`, its secrets masked before it is cut.
    fn excerpt(&self, v: &Value) -> String {
        match self.secrets.mask_value(v) {
            Some(masked) => brief(&masked, 200),
            None => brief(v, 200),
        }
    }

    fn check(&self, jq: &Jq, v: &Value, element: Option<usize>) -> Result<(), StepError> {
        let at = element.map(|i| format!("element {i} ")).unwrap_or_default();
        match jq.test(v) {
            Ok(true) => Ok(()),
            Ok(false) => Err(self.fail(&format!(
                "{at}does not satisfy `{}`: {}",
                jq.source(),
                self.excerpt(v)
            ))),
            Err(e) => Err(self.fail(&format!(
                "{at}could not be checked: {}: {}",
                self.secrets.mask(&e),
                self.excerpt(v)
            ))),
        }
    }
}

impl PureStep for Assert {
    fn apply(&self, input: Value) -> Result<Vec<Value>, StepError> {
        if let Some(jq) = &self.jq {
            match &input {
                Value::Array(items) if self.each => {
                    for (i, item) in items.iter().enumerate() {
                        self.check(jq, item, Some(i))?;
                    }
                }
                other => self.check(jq, other, None)?,
            }
        }
        if let Some(expected) = &self.expected
            && !same(expected, &input)
        {
            let mask = |v: &Value| self.secrets.mask_value(v).unwrap_or_else(|| v.clone());
            let detail = match first_difference(&mask(expected), &mask(&input)) {
                Some((path, e, a)) => {
                    format!(
                        "the payload differs from the expected value at {path}: expected {e}, got {a}"
                    )
                }
                None => "the payload differs from the expected value".to_owned(),
            };
            return Err(self.fail(&detail));
        }
        Ok(vec![input])
    }
}

impl Step for Assert {
    fn passes_through(&self) -> bool {
        true
    }

    fn process(&mut self, input: Value, _cx: &StepCx<'_>) -> Result<Vec<Value>, StepError> {
        self.apply(input)
    }

    fn as_pure(&self) -> Option<&dyn PureStep> {
        Some(self)
    }
}

/// Reads the JSON file named by `equals_file`.
pub(crate) fn load_expected(path: &Path, shown: &str) -> Result<Value, String> {
    let bytes = std::fs::read(path).map_err(|e| format!("equals_file `{shown}`: {e}"))?;
    // Read as every other file from outside is (a BOM skipped, wide integers refused).
    crate::json::decode(&bytes, 1)
        .map_err(|e| format!("equals_file {shown}:{}:{}: {}", e.line, e.column, e.message))
}

/// The `assert` kind.
pub(crate) static KIND: Kind = Kind {
    name: "assert",
    doc: "checks the payload (per element for arrays), passes it on",
    options: &[
        opt("jq", Ty::Jq, false, "condition"),
        opt(
            "each",
            Ty::Bool,
            false,
            "check jq per element (default true)",
        ),
        opt("equals", Ty::Any, false, "the expected whole payload"),
        opt(
            "equals_file",
            Ty::Str,
            false,
            "a file holding the expected payload",
        ),
        opt("message", Ty::Str, false, "message on failure"),
    ],
    props: Props {
        connector: false,
        reuses_outputs: true,
    },
    read,
};

#[derive(Debug)]
struct AssertSpec {
    jq: Option<JqOpt>,
    each: bool,
    equals: Option<Value>,
    equals_file: Option<Text>,
    message: Option<String>,
}

#[allow(
    clippy::unnecessary_wraps,
    reason = "the signature every kind's reader has"
)]
fn read(r: &mut Reader<'_, '_>, cx: &mut Cx<'_>) -> Option<Box<dyn StepSpec>> {
    let jq = r.jq(cx, "jq", false);
    let equals = r.get("equals").and_then(|v| to_json(cx, v, 0));
    let equals_file = r.text(cx, "equals_file");
    let message = r.str(cx, "message").map(|(s, _)| s.to_owned());
    let each = r.bool(cx, "each").unwrap_or(true);
    if equals.is_some() && equals_file.is_some() {
        cx.err(
            r.at,
            format!("{}: use `equals` or `equals_file`, not both", r.label),
        );
    }
    if jq.is_none() && equals.is_none() && equals_file.is_none() && r.get("jq").is_none() {
        cx.err(
            r.at,
            format!("{} needs `jq`, `equals` or `equals_file`", r.what),
        );
    }
    Some(Box::new(AssertSpec {
        jq,
        each,
        equals,
        equals_file,
        message,
    }))
}

impl StepSpec for AssertSpec {
    fn build(&self, b: &mut Build<'_, '_>) -> Result<Box<dyn Step>, BuildError> {
        let expected = match (&self.equals, &self.equals_file) {
            (Some(v), _) => Some(v.clone()),
            (None, Some(file)) => {
                let file = b.text(file)?;
                Some(load_expected(&b.root.join(&file), &file).map_err(|m| b.other(m))?)
            }
            (None, None) => None,
        };
        Ok(Box::new(Assert {
            jq: self.jq.as_ref().map(|j| b.jq(j)).transpose()?,
            each: self.each,
            expected,
            message: self.message.clone(),
            secrets: b.secrets(),
        }))
    }

    fn texts(&self, f: &mut dyn FnMut(&str, &Text, Carries)) {
        if let Some(j) = &self.jq {
            f("jq", &j.text, Carries::Data);
        }
        if let Some(e) = &self.equals_file {
            f("equals_file", e, Carries::Data);
        }
    }
}
