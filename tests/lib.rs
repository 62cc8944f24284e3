//! Integration tests: the real `flowrun` binary in temporary project folders.
// The test binary is no library: its helpers are `pub` for the test modules only.
#![allow(unreachable_pub)]

mod support;

mod check;
mod cli;
mod commands;
mod corpus;
mod crash;
mod crash_campaign;
mod demo;
mod deploy;
mod disk_faults;
mod flow_errors;
mod flowtest;
mod hints;
mod http;
mod http_faults;
mod jq_steps;
mod jq_suite;
mod lock;
mod notify_track;
mod on_error;
mod perf;
mod props;
mod prune;
mod replay;
mod resync;
mod run;
mod s3;
mod s3_crash;
mod s3_read;
mod schema;
mod secrets;
mod server;
mod silence;
mod steps;
mod stop;
mod store;
mod subflows;
mod track_index;
mod ui;
mod ui_browser;
mod watch;
