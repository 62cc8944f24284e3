//! flowrun: run process flows defined in TOML and keep an audit trail of plain files.
//!
//! Layers, top to bottom; each uses only the layers below it (exceptions named):
//!
//! - front ends: `cli` (arguments), `commands` (one file per command), `watch` (the
//!   runner), `ui` (the viewer); `error` gathers every layer's errors into exit codes;
//!   `hint` spells the commands that messages suggest (the store's messages use it too).
//! - `replay` (replay, resume, retry: plans from recorded runs) and `engine` (runs a
//!   flow: steps in order, payloads between them, the manifest kept up to date).
//! - `steps`: the step kinds, one file each, listed once in `steps::KINDS`; each kind
//!   reads its own options, builds its step and declares its properties
//!   (`steps::Props`); nothing outside `steps` names a kind.
//! - `flow`: the model of a flow file, its loading and its located reader (every
//!   problem with line:col). `flow` and `steps` meet in one place: `flow::schema`
//!   looks each `[[steps]]` table's kind up in `steps::KINDS`, and the kind reads its
//!   options with `flow::reader`.
//! - `store`: the run store (`store::layout` owns every name in a run folder),
//!   manifests, payload files, locks, pruning, verification.
//! - `jq` (filters), `json` (parsing, pretty printing, hashing), `secrets` (masking),
//!   `child` (process groups), `matching` (globs).
//! - leaves: `names` (valid names, display paths), `time`, `cores`, `panic`.
//!
//! A payload's path: `flow::load` reads `flows/<name>.toml`, and each step's kind
//! (`steps::KINDS`) reads its options into a `steps::StepSpec`; `engine::run` builds
//! every step with the run's placeholders resolved (`steps::Resolver`), stores the
//! run's inputs in `runs/<flow>/<run>/input/`, then hands each payload to the first
//! step, whose outputs `store::payload` writes (secrets masked, large ones trimmed,
//! hashed) to `steps/NN-<id>/NNNNNN.json` as the next step takes them in memory; the
//! manifest (`store::manifest`) records every file with its blake3 and is rewritten
//! atomically as the run goes.

pub(crate) mod child;
pub(crate) mod cli;
pub(crate) mod commands;
pub(crate) mod cores;
pub(crate) mod engine;
pub(crate) mod error;
pub(crate) mod flow;
pub(crate) mod flowtest;
pub(crate) mod hint;
pub(crate) mod jq;
pub(crate) mod json;
pub(crate) mod matching;
pub(crate) mod names;
pub(crate) mod notify;
pub(crate) mod panic;
pub(crate) mod replay;
pub(crate) mod secrets;
pub(crate) mod steps;
pub(crate) mod store;
#[doc(hidden)]
pub mod testing;
pub(crate) mod time;
pub(crate) mod track;
pub(crate) mod ui;
pub(crate) mod watch;

use clap::Parser;
use std::ffi::OsString;
use std::process::ExitCode;

/// Runs the command line `args` (program name first) and returns the exit code.
pub fn main_with(args: impl IntoIterator<Item = OsString>) -> ExitCode {
    panic::install_hook();
    let cli = match cli::Cli::try_parse_from(args) {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() {
                error::Exit::Usage.into()
            } else {
                error::Exit::Success.into()
            };
        }
    };
    // Commands run on a thread with a large stack: steps may recurse deeply (jq).
    let worker = std::thread::Builder::new()
        .name("flowrun".into())
        .stack_size(cores::STEP_STACK)
        .spawn(move || commands::dispatch(cli));
    let result = match worker {
        Ok(handle) => handle.join().unwrap_or_else(|_| {
            Err(error::Error::Failed(
                "internal error: the command thread stopped".into(),
            ))
        }),
        Err(e) => Err(error::Error::Failed(format!("cannot start a thread: {e}"))),
    };
    match result {
        Ok(exit) => exit.into(),
        Err(e) => {
            for line in e.lines() {
                commands::note(format!("error: {line}"));
            }
            e.exit().into()
        }
    }
}
