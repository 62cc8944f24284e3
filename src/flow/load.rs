//! Loading flow files: size and encoding checks, then validation (see `schema`).

use super::{Flow, FlowError, Problem, reader, schema};
use crate::names::{MAX_FLOW_FILE_BYTES, display_path, is_name};
use std::path::{Path, PathBuf};

/// The path of flow `name` under `root`.
#[must_use]
pub(crate) fn flow_path(root: &Path, name: &str) -> PathBuf {
    root.join("flows").join(format!("{name}.toml"))
}

/// Loads and validates the flow file at `path`.
///
/// # Errors
/// Every problem found, each with line and column.
pub fn load_file(path: &Path) -> Result<Flow, FlowError> {
    let file = display_path(path);
    let name = path
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or_default()
        .to_owned();
    let meta =
        std::fs::metadata(path).map_err(|e| FlowError::whole_file(file.clone(), io_message(&e)))?;
    if meta.len() > MAX_FLOW_FILE_BYTES {
        return Err(FlowError::whole_file(
            file,
            format!(
                "the flow file is {} bytes; flow files are limited to {} MiB ({MAX_FLOW_FILE_BYTES} bytes)",
                meta.len(),
                MAX_FLOW_FILE_BYTES / (1024 * 1024)
            ),
        ));
    }
    let bytes =
        std::fs::read(path).map_err(|e| FlowError::whole_file(file.clone(), io_message(&e)))?;
    let source = match String::from_utf8(bytes) {
        Ok(s) => s,
        Err(e) => {
            let good = &e.as_bytes()[..e.utf8_error().valid_up_to()];
            let good = String::from_utf8_lossy(good);
            let (line, col) = reader::line_col(&good, good.len());
            return Err(FlowError {
                file,
                problems: vec![Problem {
                    line,
                    col,
                    message: "the flow file is not valid UTF-8 text".into(),
                }],
            });
        }
    };
    let flow = load_str(&name, path, source)?;
    // A flow named by `on_error` must exist beside this one (a copy stored in a run
    // folder is loaded with `load_str` and not held to this).
    let missing = super::on_error::missing_flows(&flow);
    if missing.is_empty() {
        Ok(flow)
    } else {
        Err(FlowError {
            file,
            problems: missing,
        })
    }
}

/// Validates flow text as if it were the file at `path`.
///
/// # Errors
/// Every problem found, each with line and column.
pub fn load_str(name: &str, path: &Path, source: String) -> Result<Flow, FlowError> {
    let file = display_path(path);
    let mut problems = Vec::new();
    if !is_name(name) {
        problems.push(Problem {
            line: 0,
            col: 0,
            message: format!(
                "`{name}` is not a valid flow name: use lower-case letters, digits, `_` and `-` (at most 64, starting with a letter or digit)"
            ),
        });
    }
    match schema::parse(&source) {
        Ok(parsed) if problems.is_empty() => Ok(Flow {
            name: name.to_owned(),
            path: path.to_path_buf(),
            source,
            description: parsed.description,
            trigger: parsed.trigger,
            settings: parsed.settings,
            steps: parsed.steps,
            notify: parsed.notify.map(std::sync::Arc::new),
        }),
        Ok(_) => Err(FlowError { file, problems }),
        Err(found) => {
            problems.extend(found);
            Err(FlowError { file, problems })
        }
    }
}

/// Loads flow `name` from `root/flows`.
///
/// # Errors
/// A missing file, or every problem in it.
pub(crate) fn load(root: &Path, name: &str) -> Result<Flow, FlowError> {
    let path = flow_path(root, name);
    if !is_name(name) {
        return Err(FlowError::whole_file(
            display_path(&path),
            format!("`{name}` is not a valid flow name"),
        ));
    }
    load_file(&path)
}

/// Names of all flows under `root/flows`, sorted.
///
/// # Errors
/// The flows folder cannot be read.
pub(crate) fn list(root: &Path) -> std::io::Result<Vec<String>> {
    list_dir(&root.join("flows"))
}

/// Names of the flows in folder `dir`, sorted; none when it cannot be read.
pub(crate) fn list_in(dir: &Path) -> Vec<String> {
    list_dir(dir).unwrap_or_default()
}

fn list_dir(dir: &Path) -> std::io::Result<Vec<String>> {
    let mut names = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.extension().is_some_and(|e| e == "toml")
            && let Some(stem) = path.file_stem().and_then(|s| s.to_str())
            // `NAME.test.toml` holds the tests of flow NAME (`flowrun test`).
            && !Path::new(stem)
                .extension()
                .is_some_and(|e| e.eq_ignore_ascii_case("test"))
        {
            names.push(stem.to_owned());
        }
    }
    names.sort();
    Ok(names)
}

fn io_message(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::NotFound => "no such flow file".into(),
        _ => format!("cannot read the flow file: {e}"),
    }
}
