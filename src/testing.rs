//! Library internals that the property tests (`tests/props.rs`), the jq suite and the
//! corpus drive directly. Not an API: hidden from the docs, free to change with the
//! tests. Everything else in the crate is `pub(crate)`.

/// Flow files.
pub mod flow {
    pub use crate::flow::{Flow, FlowError, MAX_FLOW_FILE_BYTES, Problem, StepDef, is_name};
    pub use crate::flow::{load_file, load_str};

    /// Durations as flow files write them.
    pub mod duration {
        pub use crate::flow::duration::parse;
    }
}

/// The run store's files.
pub mod store {
    pub use crate::store::{StoreError, read_manifest_raw, write_manifest};

    /// The manifest.
    pub mod manifest {
        pub use crate::store::manifest::*;
    }

    /// Payload files.
    pub mod payload {
        pub use crate::store::payload::{Encoding, TRIMMED_MARK, read, write};
    }
}

/// The JSON helpers.
pub mod json {
    pub use crate::json::{parse, to_pretty, write_pretty_par};
}

/// Secrets.
pub mod secrets {
    pub use crate::secrets::Secrets;
}

/// The jq engine.
pub mod jq {
    pub use crate::jq::{CompileError, Jq};
}

/// Threads.
pub mod cores {
    pub use crate::cores::STEP_STACK;
}

/// The step kinds, as `flowrun schema` describes them.
pub mod steps {
    pub use crate::steps::describe;
}
