//! Errors a command ends with, and the one place they become exit codes.

use crate::flow::FlowError;
use crate::store::StoreError;
use std::process::ExitCode;

/// How a command ended, as the shell sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Exit {
    /// 0: done.
    Success,
    /// 1: the run failed, or `verify` found a problem.
    Failed,
    /// 2: bad usage, flow or input; nothing was run.
    Usage,
    /// 3: the flow is busy.
    Busy,
}

impl Exit {
    /// The process exit code.
    #[must_use]
    pub(crate) fn code(self) -> u8 {
        match self {
            Exit::Success => 0,
            Exit::Failed => 1,
            Exit::Usage => 2,
            Exit::Busy => 3,
        }
    }
}

impl From<Exit> for ExitCode {
    fn from(e: Exit) -> ExitCode {
        ExitCode::from(e.code())
    }
}

/// Why a command could not do its job.
#[derive(Debug, thiserror::Error)]
pub(crate) enum Error {
    /// Bad usage or input: nothing was run.
    #[error("{0}")]
    Usage(String),
    /// A flow file with problems.
    #[error(transparent)]
    Flow(#[from] FlowError),
    /// The run store.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A step could not be prepared (the message names the flow file).
    #[error("{0}")]
    Prepare(String),
    /// Something failed after work had started.
    #[error("{0}")]
    Failed(String),
}

impl From<crate::engine::EngineError> for Error {
    fn from(e: crate::engine::EngineError) -> Error {
        match e {
            e @ crate::engine::EngineError::Prepare { .. } => Error::Prepare(e.to_string()),
            crate::engine::EngineError::Store(s) => Error::Store(s),
        }
    }
}

impl Error {
    /// The exit code this error ends the process with.
    #[must_use]
    pub(crate) fn exit(&self) -> Exit {
        match self {
            Error::Usage(_) | Error::Flow(_) | Error::Prepare(_) => Exit::Usage,
            Error::Store(StoreError::Busy { .. }) => Exit::Busy,
            Error::Store(
                StoreError::NoSuchRun(_)
                | StoreError::Ambiguous { .. }
                | StoreError::Trimmed(_)
                | StoreError::Unreadable { .. }
                | StoreError::BadJson { .. }
                | StoreError::NotRegular { .. }
                | StoreError::TooLarge { .. }
                | StoreError::BadManifest { .. },
            ) => Exit::Usage,
            Error::Store(StoreError::Io { .. } | StoreError::LostLock { .. })
            | Error::Failed(_) => Exit::Failed,
        }
    }

    /// The lines to print, each to be prefixed with `error: `.
    #[must_use]
    pub(crate) fn lines(&self) -> Vec<String> {
        match self {
            Error::Flow(f) => f.to_string().lines().map(str::to_owned).collect(),
            other => vec![other.to_string()],
        }
    }
}

impl From<crate::replay::ReplayError> for Error {
    fn from(e: crate::replay::ReplayError) -> Error {
        match e {
            crate::replay::ReplayError::Store(s) => Error::Store(s),
            crate::replay::ReplayError::Flow(f) => Error::Flow(f),
            crate::replay::ReplayError::Refused(m) => Error::Usage(m),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io;
    use std::path::Path;

    #[test]
    fn unreadable_recorded_files_are_bad_input_not_a_failed_run() {
        let missing = || io::Error::from(io::ErrorKind::NotFound);
        let read = StoreError::io(Path::new("runs/f/r/manifest.json"), missing()).reading();
        assert!(matches!(read, StoreError::Unreadable { .. }), "{read:?}");
        assert!(
            read.to_string()
                .starts_with("runs/f/r/manifest.json: cannot read it: ")
        );
        assert_eq!(Error::Store(read).exit(), Exit::Usage);
        // Writing the store while a run goes on stays a failed run.
        let written = StoreError::io(Path::new("runs/f/r/manifest.json"), missing());
        assert_eq!(Error::Store(written).exit(), Exit::Failed);
    }
}
