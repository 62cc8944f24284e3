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
