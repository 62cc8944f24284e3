//! Sub-flows and routing: `flow` and `route` steps start child runs (ordinary runs of
//! their flows, trigger `flow`, linked both ways), which fail, stop and re-sync like any
//! run; `check` refuses cycles and unknown flows.

use crate::support::Project;
use serde_json::{Value, json};

/// read → one payload per order → route by country.
const ORDERS: &str = r#"
[[steps]]
id = "load"
kind = "read"
path = "data/orders.json"

[[steps]]
id = "each"
kind = "split"
size = 1

[[steps]]
id = "one"
kind = "map"
jq = '.[0]'

[[steps]]
id = "to-erp"
kind = "route"
routes = [
  { when = '.country == "DE"', flow = "erp-de" },
  { when = '.country == "FR"', flow = "erp-fr" },
]
"#;

/// A child flow that logs each payload it is given to `<name>.log`.
fn logger(name: &str) -> String {
    format!(
        r#"
[[steps]]
id = "send"
kind = "command"
run = ["sh", "-c", "cat >> {name}.log; echo >> {name}.log; echo '\"sent\"'"]
"#
    )
}

fn orders(p: &Project, list: &Value) {
    p.file("data/orders.json", &list.to_string());
}

/// The input payload of every run of `flow`, oldest run first.
fn child_inputs(p: &Project, flow: &str) -> Vec<Value> {
    p.run_ids(flow)
        .iter()
        .map(|id| p.json(&format!("runs/{flow}/{id}/input/000001.json")))
        .collect()
}

fn children(p: &Project, flow: &str, id: &str, step: &str) -> Vec<Value> {
    p.step_record(flow, id, step)["children"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

#[test]
fn route_sends_each_payload_to_the_first_matching_flow_once() {
    let p = Project::new();
    p.flow("orders", ORDERS)
        .flow("erp-de", &logger("de"))
        .flow("erp-fr", &logger("fr"));
    orders(
        &p,
        &json!([{"id": 1, "country": "DE"}, {"id": 2, "country": "FR"}, {"id": 3, "country": "DE"}]),
    );
    p.cmd(&["run", "orders"]).run().ok();
    let parent = p.last_run("orders");
    assert_eq!(
        child_inputs(&p, "erp-de"),
        vec![
            json!({"id": 1, "country": "DE"}),
            json!({"id": 3, "country": "DE"})
        ]
    );
    assert_eq!(
        child_inputs(&p, "erp-fr"),
        vec![json!({"id": 2, "country": "FR"})]
    );
    assert_eq!(
        p.read("de.log")
            .lines()
            .filter(|l| !l.trim().is_empty())
            .count(),
        2
    );
    // The child manifests name their parent; the parent lists its children per payload.
    let de = p.run_ids("erp-de");
    let m = p.manifest("erp-de", &de[0]);
    assert_eq!(m["trigger"], "flow");
    assert_eq!(
        m["parent"],
        json!({"run_id": parent, "flow": "orders", "step": "to-erp", "payload": "steps/03-one/000001.json"})
    );
    let links = children(&p, "orders", &parent, "to-erp");
    let got: Vec<(Value, Value, Value, Value)> = links
        .iter()
        .map(|l| {
            (
                l["source"].clone(),
                l["route"].clone(),
                l["run_id"].clone(),
                l["status"].clone(),
            )
        })
        .collect();
    let fr = p.last_run("erp-fr");
    assert_eq!(
        got,
        vec![
            (
                json!("steps/03-one/000001.json"),
                json!(1),
                json!(de[0]),
                json!("success")
            ),
            (
                json!("steps/03-one/000002.json"),
                json!(2),
                json!(fr),
                json!("success")
            ),
            (
                json!("steps/03-one/000003.json"),
                json!(1),
                json!(de[1]),
                json!("success")
            ),
        ]
    );
    // The route step passes its payloads on unchanged.
    assert_eq!(p.outputs("orders", "to-erp"), p.outputs("orders", "one"));
    // `show` prints the links both ways; `runs --json` has the parent.
    p.cmd(&["show", "--flow", "orders", "last"])
        .run()
        .ok()
        .stdout_has("child runs of step to-erp:")
        .stdout_has(&format!(
            "steps/03-one/000002.json → route 2 erp-fr run {fr} success"
        ));
    p.cmd(&["show", &fr]).run().ok().stdout_has(&format!(
        "parent   {parent} of flow orders, step to-erp, payload steps/03-one/000002.json"
    ));
    let rows = p
        .cmd(&["runs", "--flow", "erp-fr", "--json"])
        .run()
        .ok()
        .json();
    assert_eq!(rows[0]["parent"]["run_id"], json!(parent));
}

#[test]
fn route_mode_all_otherwise_and_unmatched_payloads() {
    let p = Project::new();
    let flow = |extra: &str| {
        format!(
            r#"
[[steps]]
id = "r"
kind = "route"
routes = [{{ when = '.n > 0', flow = "a" }}, {{ when = '.n > 1', flow = "b" }}]
{extra}
"#
        )
    };
    p.flow("all", &flow("mode = \"all\"\notherwise = \"c\""))
        .flow("first", &flow(""))
        .flow("a", &logger("a"))
        .flow("b", &logger("b"))
        .flow("c", &logger("c"));
    for n in 0..3 {
        p.file(&format!("in{n}.json"), &json!({"n": n}).to_string());
    }
    let args = [
        "run", "all", "--input", "in0.json", "--input", "in1.json", "--input", "in2.json",
    ];
    p.cmd(&args).run().ok();
    assert_eq!(
        child_inputs(&p, "a"),
        vec![json!({"n": 1}), json!({"n": 2})]
    );
    assert_eq!(child_inputs(&p, "b"), vec![json!({"n": 2})]);
    assert_eq!(child_inputs(&p, "c"), vec![json!({"n": 0})]);
    let id = p.last_run("all");
    let routes: Vec<Value> = children(&p, "all", &id, "r")
        .iter()
        .map(|l| l["route"].clone())
        .collect();
    assert_eq!(
        routes,
        vec![json!("otherwise"), json!(1), json!(1), json!(2)]
    );

    // Without `otherwise`, a payload no route takes passes on unhandled; `first` stops
    // at the first route that holds.
    let mut args = args;
    args[1] = "first";
    p.cmd(&args).run().ok();
    assert_eq!(child_inputs(&p, "a").len(), 4);
    assert_eq!(child_inputs(&p, "b").len(), 1);
    assert_eq!(child_inputs(&p, "c").len(), 1);
    let id = p.last_run("first");
    let links = children(&p, "first", &id, "r");
    assert_eq!(links[0]["status"], "unhandled");
    assert_eq!(links[0]["source"], "input/000001.json");
    assert!(links[0].get("run_id").is_none());
    assert_eq!(
        p.outputs("first", "r"),
        vec![json!({"n": 0}), json!({"n": 1}), json!({"n": 2})]
    );
}

#[test]
fn a_jq_error_in_when_fails_that_payload() {
    let p = Project::new();
    p.flow(
        "r",
        r#"
[[steps]]
id = "r"
kind = "route"
routes = [{ when = '.n + 1 > 1', flow = "a" }]
"#,
    )
    .flow("a", &logger("a"))
    .file("in.json", r#"{"n": "x"}"#);
    p.cmd(&["run", "r", "--input", "in.json"])
        .run()
        .code(1)
        .stderr_has("route 1 `when`");
    assert!(p.run_ids("a").is_empty());
}

#[test]
fn a_flow_step_outputs_the_child_runs_final_payloads_in_order() {
    let p = Project::new();
    p.flow(
        "parent",
        r#"
[[steps]]
id = "sub"
kind = "flow"
flow = "twice"

[[steps]]
id = "after"
kind = "map"
jq = '{got: .}'
"#,
    )
    .flow(
        "twice",
        r#"
[[steps]]
id = "pair"
kind = "map"
jq = '[.n, .n * 10]'

[[steps]]
id = "cut"
kind = "split"
size = 1
"#,
    )
    .file("a.json", r#"{"n": 1}"#)
    .file("b.json", r#"{"n": 2}"#);
    p.cmd(&["run", "parent", "--input", "a.json", "--input", "b.json"])
        .run()
        .ok();
    assert_eq!(
        p.outputs("parent", "sub"),
        vec![json!([1]), json!([10]), json!([2]), json!([20])]
    );
    assert_eq!(p.outputs("parent", "after")[3], json!({"got": [20]}));
    let id = p.last_run("parent");
    let rec = p.step_record("parent", &id, "sub");
    let kids = p.run_ids("twice");
    assert_eq!(kids.len(), 2);
    assert_eq!(rec["children"][1]["run_id"], json!(kids[1]));
    assert_eq!(rec["payloads"][2]["source"], "input/000002.json");
}

/// A child flow that fails on payloads with `bad` set, while `flows/child.toml` says so.
const PICKY: &str = r#"
[[steps]]
id = "check"
kind = "assert"
jq = 'false'

[[steps]]
id = "send"
kind = "command"
run = ["sh", "-c", "cat >> child.log; echo >> child.log; echo '\"sent\"'"]
"#;

#[test]
fn a_failing_child_fails_the_parent_and_resume_does_not_rerun_succeeded_children() {
    let p = Project::new();
    p.flow(
        "parent",
        r#"
[[steps]]
id = "sub"
kind = "flow"
flow = "child"
"#,
    )
    .flow("child", &PICKY.replace("jq = 'false'", "jq = '.bad | not'"))
    .file("a.json", r#"{"n": 1}"#)
    .file("b.json", r#"{"n": 2, "bad": true}"#)
    .file("c.json", r#"{"n": 3}"#);
    let out = p
        .cmd(&[
            "run", "parent", "--input", "a.json", "--input", "b.json", "--input", "c.json",
        ])
        .run()
        .code(1);
    let kids = p.run_ids("child");
    assert_eq!(kids.len(), 2, "the third payload never went out");
    let failed = &kids[1];
    assert!(
        out.stderr.contains(&format!(
            "child run {failed} of flow `child` ended failure in step `check`"
        )) && out.stderr.contains(&format!("flowrun resume {failed}")),
        "{}",
        out.stderr
    );
    assert_eq!(p.manifest("child", failed)["status"], "failure");
    // The child is re-synced on its own: fix its flow, resume it.
    p.flow("child", &PICKY.replace("jq = 'false'", "jq = 'true'"));
    p.cmd(&["resume", failed]).run().ok();
    let resumed = p.last_run("child");
    assert_eq!(p.manifest("child", &resumed)["resume_of"], json!(failed));
    // Resuming the parent takes over both the child that succeeded and the re-synced
    // one: only the third payload starts a new child run.
    let parent = p.last_run("parent");
    p.cmd(&["resume", &parent]).run().ok();
    let kids = p.run_ids("child");
    assert_eq!(kids.len(), 4, "{kids:?}");
    assert_eq!(
        p.json(&format!("runs/child/{}/input/000001.json", kids[3])),
        json!({"n": 3})
    );
    let log: Vec<String> = p
        .read("child.log")
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(str::to_owned)
        .collect();
    assert_eq!(log.len(), 3, "each payload sent once: {log:?}");
    let new_parent = p.last_run("parent");
    let links = children(&p, "parent", &new_parent, "sub");
    let got: Vec<(Value, Value)> = links
        .iter()
        .map(|l| (l["run_id"].clone(), l["reused"].clone()))
        .collect();
    assert_eq!(
        got,
        vec![
            (json!(kids[0]), json!(true)),
            (json!(resumed), json!(true)),
            (json!(kids[3]), Value::Null),
        ]
    );
    assert_eq!(p.outputs("parent", "sub"), vec![json!("sent"); 3]);
}

#[test]
fn a_busy_or_skipped_child_flow_fails_the_step_saying_so() {
    let p = Project::new();
    p.flow(
        "parent",
        r#"
[[steps]]
id = "sub"
kind = "flow"
flow = "child"
"#,
    )
    .flow(
        "child",
        r#"
[[steps]]
id = "wait"
kind = "command"
run = ["sh", "-c", "touch started; while [ -e hold ]; do sleep 0.05; done; echo 1"]
"#,
    )
    .file("hold", "");
    let mut busy = p.cmd(&["run", "child"]).spawn();
    crate::support::wait_for("the child flow to run", || p.exists("started"));
    let holder = p.last_run("child");
    p.cmd(&["run", "parent"]).run().code(1).stderr_has(&format!(
        "child flow `child` is busy: run {holder} holds its lock"
    ));
    std::fs::remove_file(p.path("hold")).expect("remove hold");
    while !busy.has_exited() {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    assert_eq!(p.run_ids("child").len(), 1);

    p.cmd(&["skip", "child", "wait"]).run().ok();
    p.cmd(&["run", "parent"]).run().code(1).stderr_has(
        "child flow `child` skips wait (skip = true in flows/child.toml: a re-sync is in progress)",
    );
    assert_eq!(p.run_ids("child").len(), 1);
}

#[test]
fn check_refuses_flow_cycles_and_unknown_flows() {
    let p = Project::new();
    p.flow(
        "a",
        r#"[[steps]]
id = "x"
kind = "map"
jq = '.'

[[steps]]
id = "call"
kind = "flow"
flow = "b"
"#,
    )
    .flow(
        "b",
        r#"[[steps]]
id = "r"
kind = "route"
routes = [{ when = 'true', flow = "a" }]
otherwise = "nope"
"#,
    );
    let out = p.cmd(&["check"]).run().code(2);
    assert!(
        out.stderr
            .contains("error: flows/a.toml:9:8: flow cycle: a → b → a"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr
            .contains("flows/b.toml:4:35: flow cycle: b → a → b"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr
            .contains("flows/b.toml:5:13: unknown flow `nope` (there is no flows/nope.toml)"),
        "{}",
        out.stderr
    );
}

#[test]
fn sigterm_during_a_child_run_interrupts_both_and_resume_finishes_once() {
    let p = Project::new();
    p.flow(
        "parent",
        r#"
[[steps]]
id = "sub"
kind = "flow"
flow = "child"
"#,
    )
    .flow(
        "child",
        r#"
[[steps]]
id = "slow"
kind = "command"
run = ["sh", "-c", "read -r x; if [ -e slow ]; then touch started; sleep 30; fi; echo \"$x\" >> child.log; echo \"$x\""]
"#,
    )
    .file("slow", "")
    .file("a.json", "1")
    .file("b.json", "2");
    let running = p
        .cmd(&["run", "parent", "--input", "a.json", "--input", "b.json"])
        .spawn();
    crate::support::wait_for("the child's command to start", || p.exists("started"));
    crate::stop::send("TERM", running.pid());
    let out = running.wait().code(1);
    assert!(out.stderr.contains("interrupted: run"), "{}", out.stderr);
    let parent = p.last_run("parent");
    let child = p.last_run("child");
    assert_eq!(p.manifest("parent", &parent)["status"], "interrupted");
    assert_eq!(p.manifest("child", &child)["status"], "interrupted");
    assert!(!p.exists("child.log"));
    std::fs::remove_file(p.path("slow")).expect("remove slow");
    p.cmd(&["resume", &parent]).run().ok();
    assert_eq!(p.read("child.log"), "1\n2\n");
    assert_eq!(p.outputs("parent", "sub"), vec![json!(1), json!(2)]);
}

#[test]
fn on_error_flow_starts_a_child_run_per_failed_payload() {
    let p = Project::new();
    p.flow(
        "orders",
        r#"
[[steps]]
id = "check"
kind = "map"
jq = 'if .bad then error("bad order") else . end'
on_error = { flow = "errs" }
"#,
    )
    .flow("errs", &logger("errs"))
    .file("a.json", r#"{"n": 1}"#)
    .file("b.json", r#"{"n": 2, "bad": true}"#);
    p.cmd(&["run", "orders", "--input", "a.json", "--input", "b.json"])
        .run()
        .code(1);
    let id = p.last_run("orders");
    assert_eq!(p.manifest("orders", &id)["status"], "partial");
    let kids = p.run_ids("errs");
    assert_eq!(kids.len(), 1);
    let rec = p.step_record("orders", &id, "check");
    let failed_file = rec["failed"][0]["file"]
        .as_str()
        .expect("a failed file")
        .to_owned();
    assert_eq!(rec["failed"][0]["child_run"], json!(kids[0]));
    p.cmd(&["show", &id])
        .run()
        .stdout_has(&format!("error route: child run {}", kids[0]));
    let input = p.json(&format!("runs/errs/{}/input/000001.json", kids[0]));
    assert_eq!(input["flow"], "orders");
    assert_eq!(input["run_id"], json!(id));
    assert_eq!(input["step"], "check");
    assert_eq!(input["payload"], json!({"n": 2, "bad": true}));
    assert!(
        input["error"]
            .as_str()
            .expect("error")
            .contains("bad order"),
        "{input}"
    );
    let m = p.manifest("errs", &kids[0]);
    assert_eq!(m["trigger"], "flow");
    assert_eq!(
        m["parent"],
        json!({"run_id": id, "flow": "orders", "step": "check", "payload": failed_file})
    );

    // A cycle through on_error is refused by `check`.
    p.flow(
        "errs",
        r#"[[steps]]
id = "again"
kind = "flow"
flow = "orders"
"#,
    );
    p.cmd(&["check"])
        .run()
        .code(2)
        .stderr_has("flows/orders.toml:6:21: flow cycle: orders → errs → orders");
}
