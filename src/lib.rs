//! flowrun: run process flows defined in TOML and keep an audit trail of plain files.

pub(crate) mod child;
pub(crate) mod cli;
pub(crate) mod commands;
pub(crate) mod cores;
pub(crate) mod engine;
pub(crate) mod error;
pub(crate) mod flow;
pub(crate) mod hint;
pub(crate) mod jq;
pub(crate) mod json;
pub(crate) mod matching;
pub(crate) mod names;
pub(crate) mod panic;
pub(crate) mod replay;
pub(crate) mod secrets;
pub(crate) mod steps;
pub(crate) mod store;
#[doc(hidden)]
pub mod testing;
pub(crate) mod time;
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
