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
mod tests {
    use super::*;

    #[test]
    fn one_value_errors_do_not_name_a_kind() {
        // `run_one` serves `map`, `split`'s `path` and `dedupe`'s `key` alike.
        let none = Jq::compile("empty").unwrap().run_one(&Value::Null);
        let two = Jq::compile("1, 2").unwrap().run_one(&Value::Null);
        for e in [none, two] {
            let e = e.expect_err("not one value");
            assert!(!e.contains("map"), "{e}");
            assert!(e.contains("exactly one value"), "{e}");
        }
    }
    use serde_json::json;

    #[test]
    fn compile_errors_carry_ranges() {
        let err = Jq::compile(".a | nosuchfun").unwrap_err();
        assert_eq!(err[0].range, 5..14);
        assert!(err[0].message.contains("nosuchfun"), "{err:?}");
        let err = Jq::compile(".a | (").unwrap_err();
        assert!(!err.is_empty());
    }

    #[test]
    fn runs_std_definitions() {
        let jq = Jq::compile("map(select(.a > 1)) | length").unwrap();
        let out = jq.run(&json!([{"a": 1}, {"a": 2}, {"a": 3}])).unwrap();
        assert_eq!(out, vec![json!(2)]);
    }

    #[test]
    fn run_one_counts_outputs() {
        let jq = Jq::compile(".[]").unwrap();
        assert!(
            jq.run_one(&json!([1, 2]))
                .unwrap_err()
                .contains("2 outputs")
        );
        assert!(jq.run_one(&json!([])).unwrap_err().contains("no output"));
        assert_eq!(jq.run_one(&json!([7])).unwrap(), json!(7));
    }

    #[test]
    fn global_variables_are_values_not_code() {
        let jq = Jq::compile_with_vars(".who == $__env_WHO", "shown", &["$__env_WHO"]).unwrap();
        assert_eq!(jq.engine(), Engine::Interpreter);
        assert_eq!(jq.source(), "shown");
        let jq = jq.bind(vec![json!("nobody\" or true or \"")]);
        assert!(!jq.test(&json!({"who": "alice"})).unwrap());
        assert!(jq.test(&json!({"who": "nobody\" or true or \""})).unwrap());
        assert!(Jq::compile("$__env_WHO").is_err());
    }

    #[test]
    fn errors_are_reported() {
        let jq = Jq::compile(r#"error("boom")"#).unwrap();
        assert!(jq.run(&json!(null)).unwrap_err().contains("boom"));
    }

    #[test]
    fn numbers_round_trip_exactly() {
        let jq = Jq::compile("[.[] | . * 1]").unwrap();
        let input: Value =
            serde_json::from_str("[1808.1999999999998, 12345678901234567890, 0.1]").unwrap();
        let out = Jq::compile_with(".", Engine::Interpreter)
            .unwrap()
            .run(&input)
            .unwrap();
        assert_eq!(out[0], input);
        assert!(jq.run(&input).is_ok());
    }
}

#[cfg(test)]
mod semantics {
    //! The cases of issue 12, each as jq 1.8 answers it.
    use super::*;

    fn on_step_stack<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
        std::thread::Builder::new()
            .stack_size(crate::cores::STEP_STACK)
            .spawn(f)
            .unwrap()
            .join()
            .unwrap()
    }

    fn run(src: &str, input: &str) -> Result<Vec<Value>, String> {
        let input: Value = serde_json::from_str(input).unwrap();
        Jq::compile(src).unwrap().run(&input)
    }

    fn one(src: &str, input: &str) -> String {
        match run(src, input) {
            Ok(out) => out
                .iter()
                .map(Value::to_string)
                .collect::<Vec<_>>()
                .join(" "),
            Err(e) => format!("error: {e}"),
        }
    }

    #[test]
    fn issue_cases_behave_as_jq() {
        for (src, input, want) in [
            (
                "[.[] | .age | tonumber]",
                r#"[{"age":""},{"age":"20"}]"#,
                "error",
            ),
            (r#""0x10" | tonumber"#, "null", "error"),
            ("del(.foo)", r#"{"a":1,"foo":2,"b":3}"#, r#"{"a":1,"b":3}"#),
            ("del(.[1,2])", "[1,2,3,4]", "[1,4]"),
            ("{} | .a.b = 1", "null", r#"{"a":{"b":1}}"#),
            ("null | .a = 1", "null", r#"{"a":1}"#),
            ("reduce .[] as $x (null; .n += $x)", "[1,2]", r#"{"n":3}"#),
            ("1 / 0", "null", "error"),
            (
                "to_entries",
                r#"{"b":1,"a":2}"#,
                r#"[{"key":"b","value":1},{"key":"a","value":2}]"#,
            ),
            (
                "with_entries(.value += 1)",
                r#"{"b":1,"a":2}"#,
                r#"{"b":2,"a":3}"#,
            ),
            ("[limit(2; .[])]", "[1,2,3]", "[1,2]"),
            (
                "[.[] | tostring]",
                "[1, 1.5, 12345678901234567890]",
                r#"["1","1.5","12345678901234567890"]"#,
            ),
            (
                "[.[] | tojson] + [1e1000 | tojson]",
                "[3.0, 0.00001]",
                r#"["3","1e-05","1.7976931348623157e+308"]"#,
            ),
            ("[.[] | ltrimstr(\"a\")]", r#"["ab","b"]"#, r#"["b","b"]"#),
            ("implode", "[65, 66]", r#""AB""#),
            ("@csv", r#"[1,"a\"b",null]"#, r#""1,\"a\"\"b\",""#),
            ("[.[] | IN(2, 3)]", "[1,2]", "[false,true]"),
            ("[paths]", r#"{"a":[1]}"#, r#"[["a"],["a",0]]"#),
            (
                "[tostream] | fromstream(.[])",
                r#"{"a":[1,2]}"#,
                r#"{"a":[1,2]}"#,
            ),
            (
                "def f(a;b;c;d;e;f): [a+1,b,c,d,e,f]; f(1;2;3;4;5;6)",
                "null",
                "[2,2,3,4,5,6]",
            ),
        ] {
            let got = one(src, input);
            if want == "error" {
                assert!(got.starts_with("error"), "{src} on {input}: {got}");
            } else {
                let want: Value = serde_json::from_str(want).unwrap();
                assert_eq!(got, want.to_string(), "{src} on {input}");
            }
        }
    }

    #[test]
    fn env_and_dollar_env_are_the_process_environment() {
        let want = Value::from(std::env::var("PATH").unwrap_or_default());
        for src in ["$ENV.PATH", "env.PATH", "[$ENV.PATH] | .[0]"] {
            let jq = Jq::compile(src).unwrap();
            assert_eq!(jq.engine(), Engine::Interpreter, "{src}");
            assert_eq!(jq.run(&Value::Null).unwrap(), vec![want.clone()], "{src}");
        }
        // Alongside a flow's own variables, `$ENV` comes after them.
        let jq = Jq::compile_with_vars("[$__env_A, $ENV.PATH]", "shown", &["$__env_A"])
            .unwrap()
            .bind(vec![Value::from("a")]);
        assert_eq!(
            jq.run(&Value::Null).unwrap(),
            vec![Value::Array(vec![Value::from("a"), want])]
        );
    }

    /// The differences README's "jq in flowrun" table lists, as they are.
    #[test]
    fn documented_differences_hold() {
        assert_eq!(one("[(1,2) + (10,20)]", "null"), "[11,21,12,22]");
        assert_eq!(one(".[1,4,2,3] |= empty", "[0,1,2,3,4,5]"), "[0,2,4]");
        assert_eq!(one("del(.[1,4,2,3])", "[0,1,2,3,4,5]"), "[0,5]");
        assert!(Jq::compile(". as {$a, $b: [$c]} | $c").is_err());
        assert!(one(r#"gsub("(?=u)"; "u")"#, r#""qux""#).starts_with("error"));
        assert_eq!(
            one(r#"gsub("[^a-z]*(?<x>[a-z]*)"; "Z")"#, r#""1a2b""#),
            r#""ZZ""#
        );
        assert_eq!(
            one(
                r#"[match("(a)?b"; "g") | .captures[0].offset]"#,
                r#""b ab""#
            ),
            "[-1,2]"
        );
    }

    #[test]
    fn unsupported_features_are_refused_with_reasons() {
        let err = Jq::compile("input").unwrap_err();
        assert!(err[0].message.contains("one payload at a time"), "{err:?}");
        let err = Jq::compile("[inputs]").unwrap_err();
        assert!(err[0].message.contains("one payload at a time"), "{err:?}");
        let err = Jq::compile(r#"import "a" as a; ."#).unwrap_err();
        assert!(
            err[0].message.contains("modules are not supported"),
            "{err:?}"
        );
    }

    #[test]
    fn runaway_filters_end_with_an_error() {
        on_step_stack(|| {
            for (src, why) in [
                (r#""abc" * 1000000000"#, "too long"),
                ("[repeat(1)]", "array of more than"),
                ("[range(1e12)]", "array of more than"),
                (
                    "def f: if true then 1 + f else 1 end; f",
                    "recursed too deeply",
                ),
                ("repeat(1)", "outputs"),
                (r#""x" * 200000000 | . + ."#, "string of more than"),
            ] {
                // Unoptimised test builds are slow: a short run deadline bounds the test; a
                // budget or the deadline must end every case.
                let started = std::time::Instant::now();
                limits::set_run_deadline(Some(started + std::time::Duration::from_secs(8)));
                let err = run(src, "null").unwrap_err();
                limits::set_run_deadline(None);
                assert!(err.contains(why) || err.contains("timeout"), "{src}: {err}");
                assert!(
                    started.elapsed() < std::time::Duration::from_secs(30),
                    "{src}"
                );
            }
        });
    }

    #[test]
    fn run_deadline_stops_a_loop() {
        on_step_stack(|| {
            limits::set_run_deadline(Some(
                std::time::Instant::now() + std::time::Duration::from_millis(200),
            ));
            let started = std::time::Instant::now();
            let err = run("last(range(1e15))", "null").unwrap_err();
            limits::set_run_deadline(None);
            assert!(err.contains("timeout"), "{err}");
            assert!(started.elapsed() < std::time::Duration::from_secs(5));
        });
    }
}
