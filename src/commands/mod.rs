//! The commands, one file each, over a shared context.

mod check;
mod dryrun;
mod find;
mod inspect;
mod progress;
mod prune;
mod replay;
mod report;
mod rerun;
mod run;
mod runs;
mod scaffold;
pub(crate) mod schema;
mod show;
mod skip;
pub(crate) mod style;
mod test;
mod ui;
mod verify;
mod watch;

pub(crate) use report::{plural, resync_hints, size};
pub(crate) use runs::{check_filters, run_row, select};

use crate::cli::{Cli, Command};
use crate::error::{Error, Exit};
use crate::flow::{self, Flow, display_path};
use crate::replay::resume::RerunOptions;
use crate::store::Store;
use std::io::Write;
use std::path::{Path, PathBuf};

/// What every command gets: where the project is and how to print.
pub(crate) struct Ctx {
    /// The project root.
    pub(crate) root: PathBuf,
    /// Its run store.
    pub(crate) store: Store,
    /// `--json`.
    pub(crate) json: bool,
    /// `-q`.
    pub(crate) quiet: bool,
}

impl Ctx {
    /// Builds the context from the global options.
    ///
    /// # Errors
    /// The root folder does not exist.
    pub(crate) fn new(root: Option<PathBuf>, json: bool, quiet: bool) -> Result<Ctx, Error> {
        let given = root.or_else(|| std::env::var_os("FLOWRUN_ROOT").map(PathBuf::from));
        let explicit = given.is_some();
        let root = given.unwrap_or_else(|| PathBuf::from("."));
        let root = root
            .canonicalize()
            .map_err(|e| Error::Usage(format!("project root {}: {e}", root.display())))?;
        crate::hint::set_root(&root, explicit);
        Ok(Ctx {
            store: Store::new(&root),
            root,
            json,
            quiet,
        })
    }

    /// Whether progress lines go to stdout: not with `-q`, and not with `--json`, where
    /// stdout carries only the JSON.
    #[must_use]
    pub(crate) fn talk(&self) -> bool {
        !self.quiet && !self.json
    }

    /// Loads a flow given by name or by the path of its file.
    ///
    /// # Errors
    /// The flow does not exist or has problems.
    pub(crate) fn load_flow(&self, arg: &str) -> Result<Flow, Error> {
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

impl Ctx {
    /// Checks that `--flow NAME` names a flow: it has a flow file or runs.
    ///
    /// # Errors
    /// Not a valid name, or no such flow.
    pub(crate) fn known_flow(&self, name: &str) -> Result<(), Error> {
        if !flow::is_name(name) {
            return Err(Error::Usage(format!("`{name}` is not a valid flow name")));
        }
        let file = flow::flow_path(&self.root, name);
        if file.is_file() || crate::store::backend::get().is_dir(&self.store.flow_dir(name)) {
            return Ok(());
        }
        let mut known = flow::list(&self.root).unwrap_or_default();
        known.extend(self.store.flows());
        known.sort();
        known.dedup();
        let known = if known.is_empty() {
            "there are no flows".to_owned()
        } else {
            format!("flows: {}", known.join(", "))
        };
        Err(Error::Usage(format!(
            "no flow `{name}`: there is no {} and no run of it in {} ({known})",
            display_path(&file),
            display_path(self.store.path())
        )))
    }

    /// Resolves what a user typed for RUN; with `--flow F`, `last` is the newest run of
    /// F, and a run of another flow is refused.
    ///
    /// # Errors
    /// No such flow or run, or the run belongs to another flow.
    pub(crate) fn resolve_run(
        &self,
        run: &str,
        flow: Option<&str>,
    ) -> Result<crate::store::list::RunRef, Error> {
        let Some(f) = flow else {
            return Ok(self.store.resolve(run)?);
        };
        self.known_flow(f)?;
        if run == "last" {
            return self.store.newest_runs(Some(f)).next().ok_or_else(|| {
                Error::Usage(format!(
                    "flow `{f}` has no runs yet (nothing matches `last`)"
                ))
            });
        }
        // A prefix is looked for among F's runs only: other flows' runs cannot make it
        // ambiguous.
        if !run.contains('/') && !Path::new(run).is_dir() {
            let ids: Vec<String> = self
                .store
                .run_ids(f)
                .into_iter()
                .filter(|id| id.starts_with(run))
                .collect();
            let pick = |id: &str| crate::store::list::RunRef {
                flow: f.to_owned(),
                id: id.to_owned(),
                dir: self.store.run_dir(f, id),
            };
            if let Some(id) = ids.iter().find(|id| id.as_str() == run) {
                return Ok(pick(id));
            }
            match ids.as_slice() {
                [id] => return Ok(pick(id)),
                [] => {}
                many => {
                    let examples: Vec<&str> =
                        many.iter().rev().take(3).map(String::as_str).collect();
                    return Err(crate::store::StoreError::Ambiguous {
                        prefix: run.to_owned(),
                        count: many.len(),
                        examples: examples.join(", "),
                    }
                    .into());
                }
            }
        }
        let r = self.store.resolve(run)?;
        if r.flow != f {
            return Err(Error::Usage(format!(
                "run {} is a run of flow `{}`, not of `{f}` (drop --flow, or give a run of `{f}`: `{}` lists them)",
                r.id,
                r.flow,
                crate::hint::flowrun(["runs", "--flow", f])
            )));
        }
        Ok(r)
    }
}

/// Prints a line on stdout; a closed pipe is not an error worth a panic.
pub(crate) fn out(line: impl AsRef<str>) {
    let line = crate::secrets::mask_output(line.as_ref());
    let mut stdout = std::io::stdout().lock();
    let _ = writeln!(stdout, "{line}");
}

/// Prints a line on stderr.
pub(crate) fn note(line: impl AsRef<str>) {
    let line = crate::secrets::mask_output(line.as_ref());
    let mut stderr = std::io::stderr().lock();
    let _ = writeln!(stderr, "{line}");
}

/// Prints `value` as pretty JSON on stdout.
pub(crate) fn out_json(value: &impl serde::Serialize) {
    let text = serde_json::to_string_pretty(value).expect("JSON output always serialises");
    out(text);
}

/// Runs the parsed command line.
///
/// # Errors
/// Whatever the command failed with.
#[allow(clippy::too_many_lines, reason = "one arm per command")]
pub(crate) fn dispatch(cli: Cli) -> Result<Exit, Error> {
    let g = cli.global;
    let ctx = Ctx::new(g.root, g.json, g.quiet)?;
    crate::store::backend::select(g.store.as_deref(), ctx.store.path()).map_err(Error::Usage)?;
    crate::hint::set_store(g.store.as_deref());
    match cli.command {
        Command::Run {
            flow,
            inputs,
            force,
            dry_run: true,
        } => run::dry(&ctx, &flow, &inputs, force),
        Command::Run {
            flow,
            inputs,
            force,
            dry_run: false,
        } => run::run(&ctx, &flow, &inputs, force),
        Command::Runs {
            flow,
            status,
            limit,
        } => runs::runs(&ctx, flow.as_deref(), status.as_deref(), limit),
        Command::Show { run, step, flow } => {
            show::show(&ctx, &run, flow.as_deref(), step.as_deref())
        }
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
                flow_version,
                edited,
                force,
                dry_run,
            },
        ),
        Command::Resume {
            run,
            flow,
            flow_version,
            edited,
            force,
        } => rerun::resume(
            &ctx,
            &run,
            flow.as_deref(),
            RerunOptions {
                version: flow_version,
                edited,
                force,
            },
        ),
        Command::Retry {
            run,
            flow,
            flow_version,
            edited,
        } => rerun::retry(
            &ctx,
            &run,
            flow.as_deref(),
            RerunOptions {
                version: flow_version,
                edited,
                force: false,
            },
        ),
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
        Command::Cat {
            run,
            step,
            n,
            compact,
        } => inspect::cat(&ctx, &run, &step, n, compact),
        Command::New { name, from } => scaffold::new(&ctx, &name, from),
        Command::Completions { shell } => Ok(scaffold::completions(shell)),
        Command::Man => scaffold::man(),
        Command::Schema => schema::print(&ctx),
        Command::Diff { a, b, step } => inspect::diff(&ctx, &a, &b, step.as_deref()),
        Command::Test {
            flows,
            record: Some(run),
            name,
        } if flows.is_empty() => test::record(&ctx, &run, name.as_deref()),
        Command::Test { flows, .. } => test::test(&ctx, &flows),
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
        Command::Find { what, flow } => find::find(&ctx, &what, flow.as_deref()),
    }
}

/// A path for messages: relative to the working directory when inside it.
#[must_use]
pub(crate) fn shown(path: &Path) -> String {
    display_path(path)
}
