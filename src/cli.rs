//! The command line, as clap sees it. Turned into plain values before anything else runs.

use clap::{Args, Parser, Subcommand, ValueEnum};
use std::path::PathBuf;

/// Run process flows defined in TOML and keep an audit trail of plain files.
#[derive(Debug, Parser)]
#[command(name = "flowrun", version, about, max_term_width = 100)]
pub(crate) struct Cli {
    #[command(flatten)]
    pub(crate) global: Global,
    #[command(subcommand)]
    pub(crate) command: Command,
}

/// Options every command takes.
#[derive(Debug, Args)]
pub(crate) struct Global {
    /// Project folder holding flows/ and runs/ [env: `FLOWRUN_ROOT`; default: .]
    #[arg(long, global = true, value_name = "DIR")]
    pub(crate) root: Option<PathBuf>,
    /// Print JSON (run, replay, resume, retry, runs, show, verify, check, prune, watch, find)
    #[arg(long, global = true)]
    pub(crate) json: bool,
    /// Print less: only errors and what a script needs
    #[arg(short, long, global = true)]
    pub(crate) quiet: bool,
    /// Where runs are kept: `s3://BUCKET/PREFIX`, configured by the AWS_* variables [env:
    /// `FLOWRUN_STORE`; default: the project's runs/ folder]
    #[arg(long, global = true, value_name = "URL")]
    pub(crate) store: Option<String>,
}

pub(crate) use crate::replay::FlowVersion;

/// Which starter `flowrun new` writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum Starter {
    /// Read JSON files, reshape, write
    Read,
    /// Fetch pages over HTTP, batch, write
    Http,
    /// Runs on files dropped into an inbox folder
    Watch,
}

#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Run a flow now
    Run {
        /// The flow (name, or path of its file)
        flow: String,
        /// Start with this payload (a JSON file, or - for stdin); repeat for several
        #[arg(long = "input", short = 'i', value_name = "FILE")]
        inputs: Vec<String>,
        /// Run without --input even though the flow file skips its first steps
        #[arg(long)]
        force: bool,
        /// Validate, resolve variables and print what would run; write nothing
        #[arg(long)]
        dry_run: bool,
    },
    /// List runs, newest first
    Runs {
        /// Only runs of this flow
        #[arg(long)]
        flow: Option<String>,
        /// Only runs with this status (running, success, failure, interrupted)
        #[arg(long)]
        status: Option<String>,
        /// How many runs to list
        #[arg(long, default_value_t = 20)]
        limit: usize,
    },
    /// Show one run: its steps, payloads and error
    Show {
        /// Run id, unique prefix, run folder, or `last`
        run: String,
        /// The run must be of this flow; `last` is then its newest run
        #[arg(long, value_name = "FLOW")]
        flow: Option<String>,
        /// List the payload files of this step
        #[arg(long)]
        step: Option<String>,
    },
    /// Re-sync: run the flow again from recorded payloads
    Replay {
        /// Payload files of one step of one run, or a step folder
        #[arg(required = true, value_name = "PAYLOAD")]
        payloads: Vec<PathBuf>,
        /// Skip the steps up to the payloads' step for this run only
        #[arg(long)]
        auto_skip: bool,
        /// Which flow file to run
        #[arg(long, value_enum, default_value_t = FlowVersion::Current)]
        flow_version: FlowVersion,
        /// Accept payload files edited since they were recorded
        #[arg(long)]
        edited: bool,
        /// Replay even when it may duplicate data
        #[arg(long)]
        force: bool,
        /// Print what would run, and stop
        #[arg(long)]
        dry_run: bool,
    },
    /// Continue a failed or interrupted run where it stopped
    Resume {
        /// Run id, unique prefix, run folder, or `last`
        run: String,
        /// The run must be of this flow; `last` is then its newest run
        #[arg(long, value_name = "FLOW")]
        flow: Option<String>,
        /// Which flow file to run
        #[arg(long, value_enum, default_value_t = FlowVersion::Current)]
        flow_version: FlowVersion,
        /// Accept recorded payload files edited since they were recorded
        #[arg(long)]
        edited: bool,
        /// Resume even when a re-sync already sent the run's data
        #[arg(long)]
        force: bool,
    },
    /// Run a run again from the start with its original input
    Retry {
        /// Run id, unique prefix, run folder, or `last`
        run: String,
        /// The run must be of this flow; `last` is then its newest run
        #[arg(long, value_name = "FLOW")]
        flow: Option<String>,
        /// Which flow file to run
        #[arg(long, value_enum, default_value_t = FlowVersion::Current)]
        flow_version: FlowVersion,
        /// Accept input files edited since they were recorded
        #[arg(long)]
        edited: bool,
    },
    /// Mark steps `skip = true` in the flow file
    Skip {
        /// The flow
        flow: String,
        /// Steps to skip
        #[arg(required_unless_present = "through", conflicts_with = "through")]
        steps: Vec<String>,
        /// Skip every step up to and including this one
        #[arg(long, value_name = "STEP")]
        through: Option<String>,
    },
    /// Clear `skip` flags in the flow file (all, or the steps named)
    Unskip {
        /// The flow
        flow: String,
        /// Steps to un-skip (default: all)
        steps: Vec<String>,
    },
    /// Validate flow files
    Check {
        /// Flows to check (default: all)
        flows: Vec<String>,
    },
    /// Re-hash stored files against their manifests
    Verify {
        /// Runs to verify (default: all)
        runs: Vec<String>,
        /// Verify every run
        #[arg(long, conflicts_with = "runs")]
        all: bool,
    },
    /// Run flows on their triggers; reload them when their files change
    Watch {
        /// How long to wait for running flows on SIGINT/SIGTERM
        #[arg(long, default_value = "30s", value_name = "DURATION")]
        grace: String,
    },
    /// Browse the run logs in a web browser (read-only unless --actions)
    Ui {
        /// Address to listen on (port 0: any free port; the address is printed)
        #[arg(long, default_value = "127.0.0.1:8760", value_name = "ADDR")]
        listen: String,
        /// Open the viewer in the default browser
        #[arg(long)]
        open: bool,
        /// Offer resume, replay and run-with-data, behind a token printed at start
        #[arg(long)]
        actions: bool,
    },
    /// Delete old runs (never one in progress); give --keep and/or --older-than
    Prune {
        /// Keep the newest N runs of each flow
        #[arg(long, value_name = "N")]
        keep: Option<usize>,
        /// Delete runs that started longer ago than this
        #[arg(long, value_name = "DURATION")]
        older_than: Option<String>,
        /// Only runs of this flow
        #[arg(long)]
        flow: Option<String>,
        /// Print what would be deleted, and stop
        #[arg(long)]
        dry_run: bool,
    },
    /// Run flow tests (flows/NAME.test.toml) against stubs; nothing runs for real, nothing is written under runs/
    Test {
        /// Flows to test (default: every flow with a test file)
        flows: Vec<String>,
        /// Write a test from this recorded run into its flow's test file, and stop
        #[arg(long, value_name = "RUN", conflicts_with = "flows")]
        record: Option<String>,
        /// The recorded test's name (default: `recorded run ID`)
        #[arg(long, requires = "record")]
        name: Option<String>,
    },
    /// Print one stored payload of a run
    Cat {
        /// Run id, unique prefix, run folder, or `last`
        run: String,
        /// The step (or `input` for the run's input)
        step: String,
        /// Which payload, from 1
        #[arg(default_value_t = 1)]
        n: usize,
        /// Print compact JSON instead of the file as stored
        #[arg(long)]
        compact: bool,
    },
    /// Compare two runs step by step: payload counts, changed files, a JSON diff of each
    Diff {
        /// The first run (A)
        a: String,
        /// The second run (B)
        b: String,
        /// Only this step
        #[arg(long)]
        step: Option<String>,
    },
    /// Write a commented starter flow to flows/NAME.toml (never overwrites)
    New {
        /// The flow's name
        name: String,
        /// Which starter
        #[arg(long, value_enum, default_value_t = Starter::Read)]
        from: Starter,
    },
    /// Print a shell completion script
    Completions {
        /// The shell
        shell: clap_complete::Shell,
    },
    /// Print the man page (roff)
    Man,
    /// Print the JSON schema of flow files (for editors: `#:schema ./flowrun.schema.json`)
    Schema,
    /// Find the runs, steps and payloads that carried a tracked value (`track` on a step)
    Find {
        /// NAME=VALUE, e.g. order_id=ORD-00000023
        #[arg(value_name = "NAME=VALUE")]
        what: String,
        /// Only runs of this flow
        #[arg(long)]
        flow: Option<String>,
    },
}
