//! `flowrun new NAME [--from read|http|watch]` (a commented starter flow),
//! `flowrun completions SHELL` and `flowrun man`, both generated from the clap types.

use super::{Ctx, out};
use crate::cli::{Cli, Starter};
use crate::error::{Error, Exit};
use clap::CommandFactory as _;
use std::io::Write as _;

const HEAD: &str = "#:schema ./flowrun.schema.json\n";

const READ: &str = r#"# {name}: read JSON files, reshape each payload, write the result.
# Try it: put a JSON array in data/{name}.json, then `flowrun run {name}`.
# `flowrun check {name}` validates this file; `flowrun run {name} --dry-run` shows
# what would run. Editors that read the `#:schema` line above (Taplo, Even Better TOML)
# complete and check it against flows/flowrun.schema.json (`flowrun schema` writes it).
description = "Read data/{name}.json, reshape it, write it to out/"

[[steps]]
id = "load"
kind = "read"                 # one payload per file matching the glob, sorted by path
path = "data/{name}.json"     # relative to the project root
allow_empty = true            # no file yet is fine: the run does nothing

[[steps]]
id = "shape"
kind = "map"                  # a jq filter yielding exactly one value
jq = "."

[[steps]]
id = "save"
kind = "write"                # {flow} {run} {step} {n} {hash} are filled in
path = "out/{flow}-{n}.json"
"#;

const HTTP: &str = r#"# {name}: fetch JSON over HTTP (page by page), cut it into batches, write them.
# Set the URL, then `flowrun run {name} --dry-run` to see what would run.
# A token goes in the environment, never in this file: ${secret:API_TOKEN} below is
# masked in every stored payload and message.
description = "Fetch items from an API in batches"

[settings]
timeout = "10m"               # whole-run limit

[[steps]]
id = "fetch"
kind = "http"
method = "GET"
url = "https://api.example.com/items"
headers = { Authorization = "Bearer ${secret:API_TOKEN}" }
next = ".next"                # jq giving the next page's URL, or null
retries = 3                   # on connection errors, 429 and 5xx
timeout = "30s"               # per request

[[steps]]
id = "items"
kind = "map"
jq = ".items"

[[steps]]
id = "batch"
kind = "split"                # arrays of at most `size` elements
size = 100

[[steps]]
id = "save"
kind = "write"
path = "out/{flow}/{run}-{n}.json"
"#;

const WATCH: &str = r#"# {name}: each JSON file dropped into inbox/{name}/ starts a run under
# `flowrun watch`, with the file as its input; the file then moves to done/ or failed/.
# Try it without the runner: `flowrun run {name} --input some.json`.
description = "Process files dropped into inbox/{name}/"

[trigger]
watch = "inbox/{name}/*.json"

[[steps]]
id = "valid"
kind = "assert"               # the run fails here on a payload without an id
jq = 'has("id")'
each = false
message = "every file needs an id"

[[steps]]
id = "save"
kind = "write"
path = "out/{flow}/{hash}.json"
"#;

/// Writes `flows/NAME.toml` from a starter; refuses to overwrite.
///
/// # Errors
/// A bad name, or the file exists or cannot be written.
pub(crate) fn new(ctx: &Ctx, name: &str, from: Starter) -> Result<Exit, Error> {
    if !crate::flow::is_name(name) {
        return Err(Error::Usage(format!(
            "`{name}` is not a valid flow name ([a-z0-9][a-z0-9_-]{{0,63}})"
        )));
    }
    let path = crate::flow::flow_path(&ctx.root, name);
    let shown = super::shown(&path);
    if path.exists() || path.is_symlink() {
        return Err(Error::Usage(format!(
            "{shown} already exists; not overwriting it"
        )));
    }
    let body = match from {
        Starter::Read => READ,
        Starter::Http => HTTP,
        Starter::Watch => WATCH,
    };
    let text = format!("{HEAD}{}", body.replace("{name}", name));
    let dir = ctx.root.join("flows");
    std::fs::create_dir_all(&dir)
        .map_err(|e| Error::Failed(format!("{}: {e}", super::shown(&dir))))?;
    // create_new: a file appearing meanwhile is not overwritten either.
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&path)
        .map_err(|e| Error::Usage(format!("{shown}: {e}")))?;
    f.write_all(text.as_bytes())
        .and_then(|()| f.sync_all())
        .map_err(|e| Error::Failed(format!("{shown}: {e}")))?;
    if !ctx.quiet {
        out(format!(
            "wrote {shown}; check it with `{}`",
            crate::hint::flowrun(["check", name])
        ));
    }
    Ok(Exit::Success)
}

/// Prints a completion script for `shell`.
#[must_use]
pub(crate) fn completions(shell: clap_complete::Shell) -> Exit {
    let mut cmd = Cli::command();
    let mut buf = Vec::new();
    clap_complete::generate(shell, &mut cmd, "flowrun", &mut buf);
    let _ = std::io::stdout().lock().write_all(&buf);
    Exit::Success
}

/// Prints the man page (roff): `flowrun(1)`, with every command's options.
///
/// # Errors
/// Rendering failed.
pub(crate) fn man() -> Result<Exit, Error> {
    let cmd = Cli::command();
    let mut buf = Vec::new();
    let render = |buf: &mut Vec<u8>| -> std::io::Result<()> {
        clap_mangen::Man::new(cmd.clone()).render(buf)?;
        for sub in cmd.get_subcommands() {
            let name = sub.get_name();
            writeln!(buf, ".SH \"FLOWRUN {}\"", name.to_uppercase())?;
            let about = sub.get_about().map(ToString::to_string).unwrap_or_default();
            writeln!(buf, "{}", roff_escape(&about))?;
            let page = clap_mangen::Man::new(sub.clone().bin_name(format!("flowrun {name}")));
            page.render_synopsis_section(buf)?;
            page.render_options_section(buf)?;
        }
        Ok(())
    };
    render(&mut buf).map_err(|e| Error::Failed(format!("cannot render the man page: {e}")))?;
    let _ = std::io::stdout().lock().write_all(&buf);
    Ok(Exit::Success)
}

fn roff_escape(s: &str) -> String {
    let s = s.replace('\\', "\\\\");
    if s.starts_with(['.', '\'']) {
        format!("\\&{s}")
    } else {
        s
    }
}
