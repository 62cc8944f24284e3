//! jq filters over payloads: compiled once per flow, run on `serde_json::Value`s.
//!
//! Filters run through the jaq interpreter; [`fast`] compiles the common subset
//! (paths, object construction, `map`, `select`, comparisons, …) to direct
//! operations on `Value`s so that hot steps skip the interpreter and the
//! conversions around it. Both paths give the same results (see the tests).

mod alt;
mod fast;
mod format;
mod guard;
mod interp;
pub(crate) mod limits;
mod natives;
mod nesting;
mod ops;
mod value;

use serde_json::Value;
use std::ops::Range;

/// A compiled jq filter.
pub struct Jq {
    source: String,
    fast: Option<fast::Expr>,
    interp: std::sync::Arc<interp::Program>,
    /// Values of the global variables the filter was compiled with, in their order.
    values: Vec<Value>,
}

/// A compile error, located by a byte range inside the filter text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CompileError {
    /// Byte range inside the filter text.
    pub range: Range<usize>,
    /// What is wrong.
    pub message: String,
}

/// Which engine runs a filter (for the tests comparing the engines).
#[cfg(test)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Engine {
    /// Direct operations on `Value`s.
    Fast,
    /// The jaq interpreter.
    Interpreter,
}

impl std::fmt::Debug for Jq {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Jq")
            .field("source", &self.source)
            .finish_non_exhaustive()
    }
}

impl Jq {
    /// Compiles `source`, reporting every error with its byte range.
    ///
    /// # Errors
    /// Lexer, parser and undefined-name errors, each with its location.
    pub fn compile(source: &str) -> Result<Jq, Vec<CompileError>> {
        Jq::compile_with_vars(source, source, &[])
    }

    /// Compiles `code`, which may use the global variables `vars` (each with its `$`);
    /// their values are given with [`Jq::bind`] (until then they are all `null`).
    /// `shown` is the filter as the user wrote it, for messages. Values reach the
    /// filter only as variables: no value can change what the filter does.
    ///
    /// # Errors
    /// As [`Jq::compile`].
    pub(crate) fn compile_with_vars(
        code: &str,
        shown: &str,
        vars: &[&str],
    ) -> Result<Jq, Vec<CompileError>> {
        // Compiling a filter nested thousands of levels deep would overflow the stack.
        if let Some(at) = nesting::too_deep(code, nesting::MAX_JQ_DEPTH) {
            return Err(vec![CompileError {
                range: at..at,
                message: nesting::message(),
            }]);
        }
        let interp = std::sync::Arc::new(interp::Program::compile_with_vars(code, vars)?);
        guard::check(code).map_err(|e| vec![e])?;
        // The direct evaluator has no variables: such filters run in the interpreter.
        let fast = if vars.is_empty() && !code.contains("$ENV") {
            fast::compile(code)
        } else {
            None
        };
        Ok(Jq {
            source: shown.to_owned(),
            fast,
            interp,
            values: vec![Value::Null; vars.len()],
        })
    }

    /// A copy of the filter with the values of its global variables, in the order of
    /// the names given to [`Jq::compile_with_vars`].
    #[must_use]
    pub(crate) fn bind(&self, values: Vec<Value>) -> Jq {
        Jq {
            source: self.source.clone(),
            fast: None,
            interp: std::sync::Arc::clone(&self.interp),
            values,
        }
    }

    /// Compiles `source` for the interpreter only (for tests comparing the engines).
    ///
    /// # Errors
    /// As [`Jq::compile`].
    #[cfg(test)]
    pub(crate) fn compile_with(source: &str, engine: Engine) -> Result<Jq, Vec<CompileError>> {
        let mut jq = Jq::compile(source)?;
        if engine == Engine::Interpreter {
            jq.fast = None;
        }
        Ok(jq)
    }

    /// The filter text.
    #[must_use]
    pub(crate) fn source(&self) -> &str {
        &self.source
    }

    /// The engine that runs this filter.
    #[cfg(test)]
    #[must_use]
    pub(crate) fn engine(&self) -> Engine {
        if self.fast.is_some() {
            Engine::Fast
        } else {
            Engine::Interpreter
        }
    }

    /// Runs the filter on `input` and returns all of its outputs.
    ///
    /// # Errors
    /// The first error the filter raises, as jq would print it.
    pub fn run(&self, input: &Value) -> Result<Vec<Value>, String> {
        if let Some(expr) = &self.fast
            && let Some(out) = expr.eval_all(input)
        {
            return out;
        }
        self.interp.run(input, &self.values)
    }

    /// Runs a filter that must yield exactly one value.
    ///
    /// # Errors
    /// A filter error, or a count of outputs other than one.
    pub(crate) fn run_one(&self, input: &Value) -> Result<Value, String> {
        let mut out = self.run(input)?;
        match out.len() {
            1 => Ok(out.pop().expect("length checked")),
            0 => Err("the filter produced no output (it must yield exactly one value)".into()),
            n => Err(format!(
                "the filter produced {n} outputs (it must yield exactly one value; wrap it in [ ] to collect them)"
            )),
        }
    }

    /// Runs a condition: true when its first output is neither `false` nor `null`.
    /// A condition with no output counts as false.
    ///
    /// # Errors
    /// A filter error.
    pub(crate) fn test(&self, input: &Value) -> Result<bool, String> {
        if let Some(expr) = &self.fast
            && let Some(out) = expr.eval_test(input)
        {
            return out;
        }
        Ok(self
            .interp
            .run(input, &self.values)?
            .first()
            .is_some_and(truthy))
    }
}

/// A float as jq would print it (NaN → null, integral values as integers).
#[must_use]
pub(crate) fn float_json(f: f64) -> Value {
    interp::float_value(f)
}

/// The process environment as jq's `$ENV` and `env` give it: an object of every
/// variable (names and values read lossily as UTF-8), read once per process. Values of
/// secrets the flow declares with `${secret:NAME}` are masked wherever they are stored
/// or printed, however they got there; every other variable is a plain setting.
pub(crate) fn environment() -> &'static Value {
    static ENV: std::sync::OnceLock<Value> = std::sync::OnceLock::new();
    ENV.get_or_init(|| {
        Value::Object(
            std::env::vars_os()
                .map(|(k, v)| {
                    (
                        k.to_string_lossy().into_owned(),
                        Value::String(v.to_string_lossy().into_owned()),
                    )
                })
                .collect(),
        )
    })
}

/// jq truthiness: everything but `false` and `null`.
#[must_use]
pub(crate) fn truthy(v: &Value) -> bool {
    !matches!(v, Value::Null | Value::Bool(false))
}

#[cfg(test)]
mod semantics;
#[cfg(test)]
mod tests;
