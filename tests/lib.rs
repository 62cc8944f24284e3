//! Integration tests: the real `flowrun` binary in temporary project folders.

mod support;

mod check;
mod commands;
mod crash;
mod flow_errors;
mod http;
mod lock;
mod replay;
mod run;
mod server;
mod steps;
mod store;
mod watch;
