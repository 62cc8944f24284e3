//! `write`: a connector that writes each payload to a file and passes it on unchanged.
//!
//! Files are written through a temporary file in the same folder, named
//! `.flowrun-tmp.<flow>.<step>.<run>.<random>`, so a file a kill cut off is recognisably
//! this step's: the step removes such leftovers of its own (any run's) from a folder
//! before it first writes there. The flow's lock means no other process is writing them.

use super::BuildError;
use super::kind::{Build, Carries, Kind, Props, StepSpec, Ty, opt};
use super::{LineFormat, Step, StepCx, StepError};
use crate::flow::Text;
use crate::flow::reader::{Cx, Reader};
use serde_json::Value;
use std::collections::HashSet;
use std::io::Write as _;
use std::path::{Path, PathBuf};

/// What every temporary file of a `write` step starts with (then `<flow>.<step>.`).
pub(crate) const TEMP_PREFIX: &str = ".flowrun-tmp.";

/// A `write` step.
pub(crate) struct Write {
    pub(crate) template: String,
    pub(crate) format: LineFormat,
    /// Folders already cleared of this step's leftovers in this run.
    pub(crate) cleaned: HashSet<PathBuf>,
}

impl Step for Write {
    fn passes_through(&self) -> bool {
        true
    }

    fn file_is_enough(&self) -> bool {
        matches!(self.format, LineFormat::Json)
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
        let dir = path.parent().unwrap_or(Path::new(".")).to_path_buf();
        let ours = format!("{TEMP_PREFIX}{}.{}.", cx.flow, cx.step_id);
        if !self.cleaned.contains(&dir) {
            remove_leftovers(&dir, &ours);
            self.cleaned.insert(dir);
        }
        write_file(&path, &bytes, &format!("{ours}{}.", cx.run_id))
            .map_err(|e| StepError::new(format!("cannot write {rel}: {e}")))?;
        Ok(vec![input])
    }
}

/// Removes the temporary files in `dir` whose names start with `ours` (this step's,
/// left by a run that was killed while it wrote); nothing else is touched.
fn remove_leftovers(dir: &Path, ours: &str) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let mine = entry
            .file_name()
            .to_str()
            .is_some_and(|n| n.starts_with(ours));
        // Only plain files: a folder or link with such a name is not something we made.
        if mine && entry.file_type().is_ok_and(|t| t.is_file()) {
            let _ = std::fs::remove_file(entry.path());
        }
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

/// Writes through a temporary file (named `prefix…`) so a reader never sees half a file.
/// The file gets mode 0666 less the umask, like a file a shell creates (and like the
/// store's files), not the 0600 of a temporary file.
fn write_file(path: &Path, bytes: &[u8], prefix: &str) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt as _;
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)?;
    let mut temp = tempfile::Builder::new()
        .prefix(prefix)
        .permissions(std::fs::Permissions::from_mode(0o666))
        .tempfile_in(dir)?;
    temp.as_file_mut().write_all(bytes)?;
    temp.as_file().sync_data()?;
    temp.persist(path).map_err(|e| e.error)?;
    Ok(())
}

/// The `write` kind.
pub(crate) static KIND: Kind = Kind {
    name: "write",
    doc: "writes the payload to a file, passes it on",
    options: &[
        opt(
            "path",
            Ty::Str,
            true,
            "path template with {flow} {run} {step} {n} {hash}",
        ),
        opt(
            "format",
            Ty::OneOf(&["json", "ndjson"]),
            false,
            "file format (default json)",
        ),
    ],
    props: Props {
        connector: true,
        reuses_outputs: true,
    },
    read,
};

#[derive(Debug)]
struct WriteSpec {
    path: Text,
    format: LineFormat,
}

fn read(r: &mut Reader<'_, '_>, cx: &mut Cx<'_>) -> Option<Box<dyn StepSpec>> {
    let path = r.req_text(cx, "path");
    if let (Some(p), Some(item)) = (&path, r.get("path")) {
        check_template(cx, item.span().start, p.raw());
    }
    let format = LineFormat::read(r, cx, "format");
    Some(Box::new(WriteSpec {
        path: path?,
        format,
    }))
}

impl StepSpec for WriteSpec {
    fn build(&self, b: &mut Build<'_, '_>) -> Result<Box<dyn Step>, BuildError> {
        Ok(Box::new(Write {
            template: b.text(&self.path)?,
            format: self.format,
            cleaned: HashSet::new(),
        }))
    }

    fn texts(&self, f: &mut dyn FnMut(&str, &Text, Carries)) {
        f("path", &self.path, Carries::Data);
    }
}

/// Checks the `{…}` fields of a `write` path template.
fn check_template(cx: &mut Cx<'_>, at: usize, template: &str) {
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        let after = &rest[open + 1..];
        let Some(close) = after.find('}') else {
            cx.err(at, format!("`path`: unclosed `{{` in `{template}`"));
            return;
        };
        let field = &after[..close];
        // `${env:NAME}`/`${secret:NAME}` is a placeholder (checked by `Text::parse`), not a template field.
        let placeholder = rest[..open].ends_with('$')
            && (field.starts_with("env:") || field.starts_with("secret:"));
        if !placeholder && !["flow", "run", "step", "n", "hash"].contains(&field) {
            cx.err(
                at,
                format!("`path`: unknown field `{{{field}}}`; use {{flow}}, {{run}}, {{step}}, {{n}} or {{hash}}"),
            );
        }
        rest = &after[close + 1..];
    }
}
