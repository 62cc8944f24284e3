//! Unit tests of compiling and running filters.

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
