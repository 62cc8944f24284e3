//! Integration tests: the real `flowrun` binary in temporary project folders.

mod support;

mod check;
mod commands;
mod corpus;
mod crash;
mod crash_campaign;
mod disk_faults;
mod flow_errors;
mod hints;
mod http;
mod http_faults;
mod lock;
mod perf;
mod props;
mod prune;
mod replay;
mod resync;
mod run;
mod secrets;
mod server;
mod silence;
mod steps;
mod stop;
mod store;
mod ui;
mod ui_browser;
mod watch;
