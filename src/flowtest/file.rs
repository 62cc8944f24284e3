//! Test files: the model of `flows/<name>.test.toml` and reading it.

use serde::Deserialize;
use serde_json::Value;
use std::path::{Path, PathBuf};

/// The path of the test file of flow `name` under `root`.
#[must_use]
pub(crate) fn test_path(root: &Path, name: &str) -> PathBuf {
    root.join("flows").join(format!("{name}{SUFFIX}"))
}

/// How test files end; files ending so in `flows/` are not flows.
pub(crate) const SUFFIX: &str = ".test.toml";

/// A whole test file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct TestFile {
    /// `[[tests]]`.
    #[serde(default)]
    pub(crate) tests: Vec<Case>,
}

/// One `[[tests]]` entry.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Case {
    /// `name`.
    pub(crate) name: String,
    /// `input`: one input payload.
    pub(crate) input: Option<toml::Value>,
    /// `inputs`: several input payloads.
    pub(crate) inputs: Option<Vec<toml::Value>>,
    /// `input_file`: a JSON file holding the one input payload (relative to the test file).
    pub(crate) input_file: Option<String>,
    /// `inputs_json`: the input payloads as a JSON array (for values TOML cannot hold,
    /// such as `null`).
    pub(crate) inputs_json: Option<String>,
    /// `[[tests.stub]]`.
    #[serde(default)]
    pub(crate) stub: Vec<Stub>,
    /// `[[tests.expect]]`.
    #[serde(default)]
    pub(crate) expect: Vec<Expect>,
    /// `[tests.fails]`.
    pub(crate) fails: Option<Fails>,
}

/// A step replaced by fixed payloads.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Stub {
    /// `step`.
    pub(crate) step: String,
    /// `payloads`.
    pub(crate) payloads: Option<Vec<toml::Value>>,
    /// `payloads_json`: the payloads as a JSON array.
    pub(crate) payloads_json: Option<String>,
}

/// What a step must output.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Expect {
    /// `step`.
    pub(crate) step: String,
    /// `payloads`: its output payloads, in order.
    pub(crate) payloads: Option<Vec<toml::Value>>,
    /// `payloads_json`: the same as a JSON array.
    pub(crate) payloads_json: Option<String>,
    /// `jq`: a condition every output payload must meet.
    pub(crate) jq: Option<String>,
}

/// Where and how the run must fail.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Fails {
    /// `step`.
    pub(crate) step: String,
    /// `message`: text the error must contain.
    pub(crate) message: Option<String>,
}

/// Reads and parses a test file; errors name the file and line:col.
///
/// # Errors
/// The file is unreadable or not a valid test file.
pub(crate) fn load(path: &Path) -> Result<TestFile, String> {
    let shown = crate::flow::display_path(path);
    let text = std::fs::read_to_string(path).map_err(|e| format!("{shown}: {e}"))?;
    toml::from_str::<TestFile>(&text).map_err(|e| {
        let at = e.span().map_or_else(String::new, |s| {
            let (line, col) = line_col(&text, s.start);
            format!(":{line}:{col}")
        });
        format!("{shown}{at}: {}", e.message().trim_end())
    })
}

fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let before = text.get(..offset).unwrap_or(text);
    let line = before.matches('\n').count() + 1;
    let col = before.rsplit('\n').next().unwrap_or("").chars().count() + 1;
    (line, col)
}

/// A TOML value as JSON (dates and times become strings).
#[must_use]
pub(crate) fn to_json(v: &toml::Value) -> Value {
    match v {
        toml::Value::String(s) => Value::String(s.clone()),
        toml::Value::Integer(i) => Value::from(*i),
        toml::Value::Float(f) => crate::jq::float_json(*f),
        toml::Value::Boolean(b) => Value::Bool(*b),
        toml::Value::Datetime(d) => Value::String(d.to_string()),
        toml::Value::Array(a) => Value::Array(a.iter().map(to_json).collect()),
        toml::Value::Table(t) => {
            Value::Object(t.iter().map(|(k, v)| (k.clone(), to_json(v))).collect())
        }
    }
}

/// Payloads given either as TOML values or as a JSON array in text.
///
/// # Errors
/// Both or neither are given (when `required`), or the JSON is not an array.
pub(crate) fn payloads(
    toml: Option<&Vec<toml::Value>>,
    json: Option<&String>,
    what: &str,
) -> Result<Option<Vec<Value>>, String> {
    match (toml, json) {
        (Some(_), Some(_)) => Err(format!("{what}: give payloads or payloads_json, not both")),
        (Some(t), None) => Ok(Some(t.iter().map(to_json).collect())),
        (None, Some(j)) => match serde_json::from_str::<Value>(j) {
            Ok(Value::Array(a)) => Ok(Some(a)),
            Ok(_) => Err(format!("{what}: payloads_json must be a JSON array")),
            Err(e) => Err(format!("{what}: payloads_json is not JSON: {e}")),
        },
        (None, None) => Ok(None),
    }
}
