//! `read`: a connector that emits one payload per file matching a glob, sorted by path.

use super::BuildError;
use super::kind::{self, Build, Carries, Props, StepSpec, Ty, opt};
use super::{Step, StepCx, StepError};
use crate::flow::Text;
use crate::flow::reader::{Cx, Reader};
use crate::matching::Kind;
use serde_json::{Map, Value};
use std::path::{Path, PathBuf};

/// A `read` step.
pub(crate) struct Read {
    pub(crate) pattern: String,
    pub(crate) format: ReadFormat,
    /// Whether matching no file is fine.
    pub(crate) allow_empty: bool,
}

impl Step for Read {
    fn process(&mut self, _input: Value, cx: &StepCx<'_>) -> Result<Vec<Value>, StepError> {
        let files = self.files(cx.root)?;
        files
            .iter()
            .map(|path| read_file(path, &shown(cx.root, path), self.format))
            .collect()
    }

    fn json_file(&self, root: &Path) -> Option<PathBuf> {
        self.single_json_file(root)
    }
}

impl Read {
    /// The one file a JSON `read` would read, if it matches exactly one.
    fn single_json_file(&self, root: &Path) -> Option<PathBuf> {
        if !matches!(self.format, ReadFormat::Json) {
            return None;
        }
        match self.files(root).ok()?.as_slice() {
            [one] => Some(one.clone()),
            _ => None,
        }
    }
}

/// `path` as messages show it: relative to the project root when inside it (a name
/// that is not UTF-8 is shown lossily).
fn shown(root: &Path, path: &Path) -> String {
    path.strip_prefix(root)
        .unwrap_or(path)
        .display()
        .to_string()
}

impl Read {
    /// The files to read, sorted by path. Matching nothing, naming a folder, or
    /// matching something that is not a plain file (a FIFO would block) is an error:
    /// a typo in `path` must not pass as "no data today".
    fn files(&self, root: &Path) -> Result<Vec<PathBuf>, StepError> {
        let opts = crate::matching::Options {
            hidden: true,
            follow_links: true,
        };
        let found = crate::matching::find(root, &self.pattern, opts).map_err(StepError::new)?;
        if let Some((path, reason)) = found.errors.first() {
            return Err(StepError::new(format!(
                "cannot read {}: {reason}",
                shown(root, path)
            )));
        }
        for (path, kind) in &found.others {
            match kind {
                Kind::Folder if !found.literal => {}
                Kind::Folder => {
                    return Err(StepError::new(format!(
                        "path = \"{}\" is a folder, not a file; did you mean \"{}/*.{}\"?",
                        self.pattern,
                        self.pattern.trim_end_matches('/'),
                        extension(self.format)
                    )));
                }
                Kind::Symlink | Kind::Special(_) => {
                    let what = if let Kind::Special(what) = kind {
                        what
                    } else {
                        "a symbolic link"
                    };
                    return Err(StepError::new(format!(
                        "{} is not a regular file ({what}); `read` reads plain files only",
                        shown(root, path)
                    )));
                }
            }
        }
        if found.files.is_empty() && !self.allow_empty {
            let folders = found.others.len();
            let base = match shown(root, &found.base) {
                rel if rel.is_empty() => ".".to_owned(),
                rel => rel,
            };
            let looked = if found.base_exists {
                if folders > 0 {
                    format!("looked in {base}/: only {folders} folder(s) match")
                } else {
                    format!("looked in {base}/")
                }
            } else {
                format!("looked in {base}/, which does not exist")
            };
            return Err(StepError::new(format!(
                "no file matches path = \"{}\" ({looked}); set allow_empty = true on this step if finding no file is fine",
                self.pattern
            )));
        }
        Ok(found.files)
    }
}

/// The usual file extension of `format`, for hints.
fn extension(format: ReadFormat) -> &'static str {
    match format {
        ReadFormat::Json => "json",
        ReadFormat::Ndjson => "ndjson",
        ReadFormat::Csv => "csv",
    }
}

fn read_file(path: &Path, shown: &str, format: ReadFormat) -> Result<Value, StepError> {
    let bytes =
        std::fs::read(path).map_err(|e| StepError::new(format!("cannot read {shown}: {e}")))?;
    let located = |e: crate::json::DecodeError| StepError::new(format!("{shown}:{e}"));
    match format {
        ReadFormat::Json => crate::json::decode(&bytes, crate::cores::threads()).map_err(located),
        ReadFormat::Ndjson => crate::json::decode_lines(&bytes)
            .map(Value::Array)
            .map_err(located),
        ReadFormat::Csv => read_csv(&bytes, shown),
    }
}

/// CSV rows as objects keyed by the header line; a header named twice is an error
/// (one of the two columns would be lost).
fn read_csv(bytes: &[u8], shown: &str) -> Result<Value, StepError> {
    let mut reader = csv::Reader::from_reader(bytes);
    let headers = reader
        .headers()
        .map_err(|e| StepError::new(format!("{shown}: {e}")))?
        .clone();
    for (i, name) in headers.iter().enumerate() {
        if let Some(first) = headers.iter().take(i).position(|h| h == name) {
            return Err(StepError::new(format!(
                "{shown}:1: the CSV header `{name}` is repeated (columns {} and {}); each column needs its own name, or one of them would be lost",
                first + 1,
                i + 1
            )));
        }
    }
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

/// The `read` kind.
pub(crate) static KIND: kind::Kind = kind::Kind {
    name: "read",
    doc: "emits one payload per file matching a glob, sorted by path",
    options: &[
        opt("path", Ty::Str, true, "glob relative to the project root"),
        opt(
            "format",
            Ty::OneOf(&["json", "ndjson", "csv"]),
            false,
            "file format (default json)",
        ),
        opt(
            "allow_empty",
            Ty::Bool,
            false,
            "matching no file gives zero payloads instead of an error",
        ),
    ],
    props: Props {
        connector: true,
        reuses_outputs: true,
    },
    read,
};

/// `format` of `read`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ReadFormat {
    /// One JSON value per file.
    Json,
    /// One JSON value per line, collected into one array.
    Ndjson,
    /// Rows with a header line, as an array of objects of strings.
    Csv,
}

#[derive(Debug)]
struct ReadSpec {
    path: Text,
    format: ReadFormat,
    allow_empty: bool,
}

fn read(r: &mut Reader<'_, '_>, cx: &mut Cx<'_>) -> Option<Box<dyn StepSpec>> {
    let path = r.req_text(cx, "path");
    let format = r
        .choice(
            cx,
            "format",
            &[
                ("json", ReadFormat::Json),
                ("ndjson", ReadFormat::Ndjson),
                ("csv", ReadFormat::Csv),
            ],
        )
        .unwrap_or(ReadFormat::Json);
    let allow_empty = r.bool(cx, "allow_empty").unwrap_or(false);
    Some(Box::new(ReadSpec {
        path: path?,
        format,
        allow_empty,
    }))
}

impl StepSpec for ReadSpec {
    fn reads_only(&self) -> Option<&Text> {
        Some(&self.path)
    }

    fn build(&self, b: &mut Build<'_, '_>) -> Result<Box<dyn Step>, BuildError> {
        Ok(Box::new(Read {
            pattern: b.text(&self.path)?,
            format: self.format,
            allow_empty: self.allow_empty,
        }))
    }

    fn texts(&self, f: &mut dyn FnMut(&str, &Text, Carries)) {
        f("path", &self.path, Carries::Data);
    }
}
