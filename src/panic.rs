//! Panics are bugs: they are reported as errors, never with a backtrace dump, and code
//! known to panic on odd input (a third-party interpreter) is run contained.

use std::cell::Cell;
use std::panic::{self, AssertUnwindSafe};

thread_local! {
    static CONTAINED: Cell<bool> = const { Cell::new(false) };
}

/// Reports panics as `error: internal error …` on stderr (except contained ones).
pub(crate) fn install_hook() {
    panic::set_hook(Box::new(|info| {
        if CONTAINED.with(Cell::get) {
            return;
        }
        let at = info
            .location()
            .map(|l| format!(" at {}:{}", l.file(), l.line()))
            .unwrap_or_default();
        eprintln!(
            "error: internal error{at}: {} (this is a bug in flowrun; please report it)",
            message(info.payload())
        );
    }));
}

/// Runs `f`, turning a panic inside it into `Err(message)`.
///
/// # Errors
/// `f` panicked.
pub(crate) fn quietly<T>(f: impl FnOnce() -> T) -> Result<T, String> {
    let was = CONTAINED.with(|c| c.replace(true));
    let result = panic::catch_unwind(AssertUnwindSafe(f));
    CONTAINED.with(|c| c.set(was));
    result.map_err(|p| message(&*p))
}

fn message(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".to_owned())
}
