//! `read`: a connector that emits one payload per file matching a glob, sorted by path.

use super::{Step, StepCx, StepError};
use crate::flow::ReadFormat;
use serde_json::{Map, Value};
use std::path::{Path, PathBuf};

/// A `read` step.
pub struct Read {
    pub pattern: String,
    pub format: ReadFormat,
}

impl Step for Read {
    fn process(&mut self, _input: Value, cx: &StepCx<'_>) -> Result<Vec<Value>, StepError> {
        let full = pattern_under(cx.root, &self.pattern);
        let paths = glob::glob(&full)
            .map_err(|e| StepError::new(format!("invalid path pattern `{}`: {e}", self.pattern)))?;
        let mut files: Vec<PathBuf> = Vec::new();
        for entry in paths {
            let path = entry.map_err(|e| {
                StepError::new(format!("cannot read {}: {}", e.path().display(), e.error()))
            })?;
            if path.is_file() {
                files.push(path);
            }
        }
        files.sort();
        files
            .iter()
            .map(|path| {
                let shown = path
                    .strip_prefix(cx.root)
                    .unwrap_or(path)
                    .display()
                    .to_string();
                read_file(path, &shown, self.format)
            })
            .collect()
    }
}

/// The glob for `pattern` resolved against `root`: the root is taken literally, so a
/// project folder named e.g. `exports [old]` still matches its files.
fn pattern_under(root: &Path, pattern: &str) -> String {
    if Path::new(pattern).is_absolute() {
        return pattern.to_owned();
    }
    let root = glob::Pattern::escape(&root.to_string_lossy());
    let sep = if root.ends_with('/') { "" } else { "/" };
    format!("{root}{sep}{pattern}")
}

fn read_file(path: &Path, shown: &str, format: ReadFormat) -> Result<Value, StepError> {
    let bytes =
        std::fs::read(path).map_err(|e| StepError::new(format!("cannot read {shown}: {e}")))?;
    match format {
        ReadFormat::Json => serde_json::from_slice(&bytes).map_err(|e| {
            StepError::new(format!(
                "{shown}:{}:{}: not valid JSON: {e}",
                e.line(),
                e.column()
            ))
        }),
        ReadFormat::Ndjson => {
            let text = std::str::from_utf8(&bytes)
                .map_err(|e| StepError::new(format!("{shown}: not UTF-8 text: {e}")))?;
            let mut items = Vec::new();
            for (i, line) in text.lines().enumerate() {
                if line.trim().is_empty() {
                    continue;
                }
                let v = serde_json::from_str(line).map_err(|e| {
                    StepError::new(format!(
                        "{shown}:{}:{}: not valid JSON: {e}",
                        i + 1,
                        e.column()
                    ))
                })?;
                items.push(v);
            }
            Ok(Value::Array(items))
        }
        ReadFormat::Csv => {
            let mut reader = csv::Reader::from_reader(bytes.as_slice());
            let headers = reader
                .headers()
                .map_err(|e| StepError::new(format!("{shown}: {e}")))?
                .clone();
            let mut rows = Vec::new();
            for record in reader.records() {
                let record = record.map_err(|e| {
                    let line = e.position().map(csv::Position::line).unwrap_or_default();
                    StepError::new(format!("{shown}:{line}: bad CSV row: {e}"))
                })?;
                let mut row = Map::new();
                for (key, value) in headers.iter().zip(record.iter()) {
                    row.insert(key.to_owned(), Value::String(value.to_owned()));
                }
                rows.push(Value::Object(row));
            }
            Ok(Value::Array(rows))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_root_with_glob_characters_is_taken_literally() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("exports [old] *");
        std::fs::create_dir_all(root.join("data")).unwrap();
        std::fs::write(root.join("data/a.json"), "[1]").unwrap();
        std::fs::write(root.join("data/b.json"), "[2]").unwrap();
        let found: Vec<PathBuf> = glob::glob(&pattern_under(&root, "data/*.json"))
            .unwrap()
            .map(Result::unwrap)
            .collect();
        assert_eq!(found, [root.join("data/a.json"), root.join("data/b.json")]);
        assert_eq!(pattern_under(&root, "/abs/*.json"), "/abs/*.json");
    }
}
