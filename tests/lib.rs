//! Integration tests: the real `flowrun` binary in temporary project folders.

mod support;

mod check;
mod run;
