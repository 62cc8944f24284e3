//! The commands, one file each, over a shared context.

mod check;
mod prune;
mod replay;
mod report;
mod rerun;
mod run;
mod runs;
mod show;
mod skip;
mod ui;
mod verify;
mod watch;

pub use report::{plural, resync_hints, size};
pub use runs::{check_filters, run_row, select};

use crate::cli::{Cli, Command};
use crate::error::{Error, Exit};
use crate::flow::{self, Flow, display_path};
use crate::store::Store;
use std::io::Write;
use std::path::{Path, PathBuf};

/// What every command gets: where the project is and how to print.
pub struct Ctx {
    /// The project root.
    pub root: PathBuf,
    /// Its run store.
    pub store: Store,
    /// `--json`.
    pub json: bool,
    /// `-q`.
    pub quiet: bool,
}

impl Ctx {
    /// Builds the context from the global options.
    ///
    /// # Errors
    /// The root folder does not exist.
    pub fn new(root: Option<PathBuf>, json: bool, quiet: bool) -> Result<Ctx, Error> {
        let root = root
            .or_else(|| std::env::var_os("FLOWRUN_ROOT").map(PathBuf::from))
            .unwrap_or_else(|| PathBuf::from("."));
        let root = root
            .canonicalize()
            .map_err(|e| Error::Usage(format!("project root {}: {e}", root.display())))?;
        Ok(Ctx {
            store: Store::new(&root),
            root,
            json,
            quiet,
        })
    }

    /// Loads a flow given by name or by the path of its file.
    ///
    /// # Errors
    /// The flow does not exist or has problems.
    pub fn load_flow(&self, arg: &str) -> Result<Flow, Error> {
        let path = if Path::new(arg)
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("toml"))
            || arg.contains('/')
        {
            PathBuf::from(arg)
        } else {
            flow::flow_path(&self.root, arg)
        };
        if !path.is_file() {
            let known = flow::list(&self.root).unwrap_or_default();
            let hint = if known.is_empty() {
                format!(
                    "there are no flows in {}",
                    display_path(&self.root.join("flows"))
                )
            } else {
                format!("flows: {}", known.join(", "))
            };
            return Err(Error::Usage(format!(
                "{}: no such flow file ({hint})",
                display_path(&path)
            )));
        }
        Ok(flow::load_file(&path)?)
    }
}

/// Prints a line on stdout; a closed pipe is not an error worth a panic.
pub fn out(line: impl AsRef<str>) {
    let mut stdout = std::io::stdout().lock();
    let _ = writeln!(stdout, "{}", line.as_ref());
}

/// Prints a line on stderr.
pub fn note(line: impl AsRef<str>) {
    let mut stderr = std::io::stderr().lock();
    let _ = writeln!(stderr, "{}", line.as_ref());
}

/// Prints `value` as pretty JSON on stdout.
pub fn out_json(value: &impl serde::Serialize) {
    let text = serde_json::to_string_pretty(value).expect("JSON output always serialises");
    out(text);
}

/// Runs the parsed command line.
///
/// # Errors
/// Whatever the command failed with.
pub fn dispatch(cli: Cli) -> Result<Exit, Error> {
    let g = cli.global;
    let ctx = Ctx::new(g.root, g.json, g.quiet)?;
    match cli.command {
        Command::Run { flow, inputs } => run::run(&ctx, &flow, &inputs),
        Command::Runs {
            flow,
            status,
            limit,
        } => runs::runs(&ctx, flow.as_deref(), status.as_deref(), limit),
        Command::Show { run, step } => show::show(&ctx, &run, step.as_deref()),
        Command::Check { flows } => check::check(&ctx, &flows),
        Command::Verify { runs, all: _ } => verify::verify(&ctx, &runs),
        Command::Replay {
            payloads,
            auto_skip,
            flow_version,
            edited,
            force,
            dry_run,
        } => replay::replay(
            &ctx,
            &payloads,
            &replay::Options {
                auto_skip,
                flow_version: version(flow_version),
                edited,
                force,
                dry_run,
            },
        ),
        Command::Resume { run, flow_version } => rerun::resume(&ctx, &run, version(flow_version)),
        Command::Retry { run, flow_version } => rerun::retry(&ctx, &run, version(flow_version)),
        Command::Skip {
            flow,
            steps,
            through,
        } => skip::skip(&ctx, &flow, &steps, through.as_deref(), true),
        Command::Unskip { flow, steps } => skip::skip(&ctx, &flow, &steps, None, false),
        Command::Watch { grace } => watch::watch(&ctx, &grace),
        Command::Ui {
            listen,
            open,
            actions,
        } => ui::ui(&ctx, &listen, open, actions),
        Command::Prune {
            keep,
            older_than,
            flow,
            dry_run,
        } => prune::prune(
            &ctx,
            &prune::Options {
                keep,
                older_than: older_than.as_deref(),
                flow: flow.as_deref(),
                dry_run,
            },
        ),
    }
}

fn version(v: crate::cli::FlowVersion) -> crate::replay::FlowVersion {
    match v {
        crate::cli::FlowVersion::Current => crate::replay::FlowVersion::Current,
        crate::cli::FlowVersion::Original => crate::replay::FlowVersion::Original,
    }
}

/// A path for messages: relative to the working directory when inside it.
#[must_use]
pub fn shown(path: &Path) -> String {
    display_path(path)
}
