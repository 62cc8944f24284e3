//! `write`: a connector that writes each payload to a file and passes it on unchanged.

use super::{Step, StepCx, StepError};
use crate::flow::LineFormat;
use serde_json::Value;
use std::io::Write as _;
use std::path::Path;

/// A `write` step.
pub struct Write {
    pub template: String,
    pub format: LineFormat,
}

impl Step for Write {
    fn passes_through(&self) -> bool {
        true
    }

    fn process(&mut self, input: Value, cx: &StepCx<'_>) -> Result<Vec<Value>, StepError> {
        let rel = render(&self.template, cx);
        let path = cx.root.join(&rel);
        let bytes = match (self.format, &input) {
            (LineFormat::Ndjson, Value::Array(items)) => {
                let mut out = Vec::new();
                for item in items {
                    serde_json::to_writer(&mut out, item).expect("writing to a Vec cannot fail");
                    out.push(b'\n');
                }
                out
            }
            (LineFormat::Ndjson, other) => {
                let mut out = serde_json::to_vec(other).expect("writing to a Vec cannot fail");
                out.push(b'\n');
                out
            }
            (LineFormat::Json, _) if cx.input_file.is_some() => {
                // The run store already holds these exact bytes.
                let from = cx.input_file.expect("checked");
                std::fs::read(from)
                    .map_err(|e| StepError::new(format!("cannot read {}: {e}", from.display())))?
            }
            (LineFormat::Json, v) => crate::json::to_pretty(v),
        };
        write_file(&path, &bytes)
            .map_err(|e| StepError::new(format!("cannot write {rel}: {e}")))?;
        Ok(vec![input])
    }
}

/// Fills in `{flow}`, `{run}`, `{step}`, `{n}` and `{hash}`.
fn render(template: &str, cx: &StepCx<'_>) -> String {
    template
        .replace("{flow}", cx.flow)
        .replace("{run}", cx.run_id)
        .replace("{step}", cx.step_id)
        .replace("{n}", &cx.n.to_string())
        .replace("{hash}", cx.input_hash.get(..16).unwrap_or(cx.input_hash))
}

/// Writes through a temporary file so a reader never sees half a file.
fn write_file(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)?;
    let mut temp = tempfile::Builder::new().prefix(".tmp-").tempfile_in(dir)?;
    temp.as_file_mut().write_all(bytes)?;
    temp.as_file().sync_data()?;
    temp.persist(path).map_err(|e| e.error)?;
    Ok(())
}
