//! How many threads flowrun uses for work that can be shared out.

/// `FLOWRUN_THREADS` when set, else the machine's cores (at most 8).
#[must_use]
pub(crate) fn threads() -> usize {
    std::env::var("FLOWRUN_THREADS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::thread::available_parallelism()
                .map_or(1, usize::from)
                .min(8)
        })
        .max(1)
}

/// Stack size of threads that run steps: jq filters may recurse deeply on deep data,
/// and running out of stack aborts the process instead of failing the step. Only the
/// pages used are ever backed by memory.
pub const STEP_STACK: usize = 256 << 20;
