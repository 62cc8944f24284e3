//! The `flowrun` binary: a thin shell around [`flowrun::main_with`].

fn main() -> std::process::ExitCode {
    flowrun::main_with(std::env::args_os())
}
