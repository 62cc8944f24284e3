//! jq steps through the real binary: jq's semantics, refusals and budgets (issue 12).

use crate::support::Project;
use serde_json::json;
use std::time::{Duration, Instant};

fn map_flow(jq: &str, input: &str, settings: &str) -> Project {
    let p = Project::new();
    p.flow(
        "f",
        &format!("{settings}[[steps]]\nid = \"m\"\nkind = \"map\"\njq = '{jq}'\n"),
    )
    .file("in.json", input);
    p
}

#[test]
fn tonumber_of_an_empty_string_fails_the_step() {
    let p = map_flow(
        "[.[] | .age | tonumber]",
        r#"[{"age":""},{"age":"20"}]"#,
        "",
    );
    p.cmd(&["run", "f", "--input", "in.json"])
        .run()
        .code(1)
        .stderr_has("cannot be parsed as a number");
}

#[test]
fn deleting_a_key_keeps_the_order_of_the_others() {
    let p = map_flow(
        "del(.foo) | .n = (null | .a.b = 1)",
        r#"{"z":1,"foo":2,"a":3}"#,
        "",
    );
    p.cmd(&["run", "f", "--input", "in.json"]).run().ok();
    let text = serde_json::to_string(&p.outputs("f", "m")[0]).unwrap();
    assert_eq!(text, r#"{"z":1,"a":3,"n":{"a":{"b":1}}}"#);
}

#[test]
fn a_huge_repeat_fails_the_step_instead_of_the_process() {
    let p = map_flow(r#""abc" * 1000000000"#, "null", "");
    p.cmd(&["run", "f", "--input", "in.json"])
        .run()
        .code(1)
        .stderr_has("Repeat string result too long");
}

#[test]
fn runaway_recursion_fails_the_step() {
    let p = map_flow("def f: if true then 1 + f else 1 end; f", "null", "");
    p.cmd(&["run", "f", "--input", "in.json"])
        .run()
        .code(1)
        .stderr_has("recursed too deeply");
}

#[test]
fn the_runs_timeout_stops_an_endless_filter() {
    let p = map_flow(
        "last(range(1e15))",
        "null",
        "[settings]\ntimeout = \"1s\"\n",
    );
    let started = Instant::now();
    p.cmd(&["run", "f", "--input", "in.json"])
        .run()
        .code(1)
        .stderr_has("timeout");
    assert!(started.elapsed() < Duration::from_secs(20));
}

#[test]
fn a_parameter_may_share_its_definitions_name() {
    let p = map_flow(
        "def f(a;b;c;d;e;f): [a+1,b,c,d,e,f]; f(1;2;3;4;5;6)",
        "null",
        "",
    );
    p.cmd(&["run", "f", "--input", "in.json"]).run().ok();
    assert_eq!(p.outputs("f", "m"), [json!([2, 2, 3, 4, 5, 6])]);
}

#[test]
fn input_is_refused_with_the_reason() {
    let p = map_flow("[., input]", "null", "");
    p.cmd(&["run", "f", "--input", "in.json"])
        .run()
        .code(2)
        .stderr_has("one payload at a time");
}
