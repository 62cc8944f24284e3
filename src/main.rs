//! The `flowrun` binary: a thin shell around [`flowrun::main_with`].

// mimalloc: glibc's per-thread arenas made the pure-step worker threads hold on to
// freed memory (RSS 637 MiB vs 442 MiB on one thread for workload W).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    flowrun::main_with(std::env::args_os())
}
