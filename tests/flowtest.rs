//! `flowrun test`: flow tests against stubs, nothing real run, nothing under `runs/`;
//! `--record` turning a recorded run into a test.

use crate::server::{Reply, Server};
use crate::support::Project;
use serde_json::json;

const DOUBLE: &str = r#"
[[steps]]
id = "fetch"
kind = "command"
run = ["sh", "-c", "touch marker; echo 1"]

[[steps]]
id = "double"
kind = "map"
jq = ". * 2"

[[steps]]
id = "valid"
kind = "assert"
jq = ". < 100"
message = "too big"
"#;

#[test]
fn passing_and_failing_tests_with_a_diff_and_the_stubbed_command_never_runs() {
    let p = Project::new();
    p.flow("calc", DOUBLE);
    p.file(
        "flows/calc.test.toml",
        r#"
[[tests]]
name = "doubles the amount"
[[tests.stub]]
step = "fetch"
payloads = [21]
[[tests.expect]]
step = "double"
payloads = [42]

[[tests]]
name = "wrong on purpose"
[[tests.stub]]
step = "fetch"
payloads = [3]
[[tests.expect]]
step = "double"
jq = ". == 7"

[[tests]]
name = "object diff"
input = 5
[[tests.stub]]
step = "fetch"
payloads = [1, 2]
[[tests.expect]]
step = "double"
payloads = [2, 5]

[[tests]]
name = "too big fails at valid"
[[tests.stub]]
step = "fetch"
payloads = [60]
[tests.fails]
step = "valid"
message = "too big"
"#,
    );
    let out = p.cmd(&["test"]).run().code(1);
    let s = &out.stdout;
    assert!(s.contains("test calc::doubles the amount ... ok"), "{s}");
    assert!(s.contains("test calc::wrong on purpose ... FAILED"), "{s}");
    assert!(s.contains("test calc::object diff ... FAILED"), "{s}");
    assert!(
        s.contains("test calc::too big fails at valid ... ok"),
        "{s}"
    );
    assert!(s.contains("test result: FAILED. 2 passed; 2 failed"), "{s}");
    // The diff: expected vs actual by path.
    assert!(
        s.contains("payload 2:\n    .\n      - expected: 5\n      + actual:   4"),
        "{s}"
    );
    assert!(
        s.contains("step `double`: jq \". == 7\" is false for payload 1:\n    6"),
        "{s}"
    );
    // The command step never ran, and nothing was written under runs/.
    assert!(!p.exists("marker"), "the stubbed command ran");
    assert!(!p.exists("runs"), "flowrun test wrote under runs/");
    let j = p.cmd(&["test", "calc", "--json"]).run().code(1).json();
    assert_eq!(j["passed"], 2);
    assert_eq!(j["failed"], 2);
    assert_eq!(j["tests"][0]["ok"], true);
    assert!(!p.exists("runs/calc"));
}

#[test]
fn a_stubbed_http_step_makes_no_request_and_an_unstubbed_one_is_refused() {
    let s = Server::start(|_, _| Reply::json(200, &json!({"n": 1})));
    let p = Project::new();
    p.flow(
        "api",
        &format!(
            "[[steps]]\nid = \"call\"\nkind = \"http\"\nurl = \"{}\"\n\n[[steps]]\nid = \"pick\"\nkind = \"map\"\njq = \".n\"\n",
            s.url("/x")
        ),
    );
    p.file(
        "flows/api.test.toml",
        "[[tests]]\nname = \"picks n\"\n[[tests.stub]]\nstep = \"call\"\npayloads = [{ n = 7 }]\n[[tests.expect]]\nstep = \"pick\"\npayloads = [7]\n",
    );
    p.cmd(&["test", "api"])
        .run()
        .ok()
        .stdout_has("test api::picks n ... ok")
        .stdout_has("test result: ok. 1 passed; 0 failed");
    assert_eq!(s.requests().len(), 0, "a stubbed http step made a request");
    p.file(
        "flows/api.test.toml",
        "[[tests]]\nname = \"no stub\"\n[[tests.expect]]\nstep = \"pick\"\npayloads = [1]\n",
    );
    p.cmd(&["test", "api"])
        .run()
        .code(2)
        .stderr_has("step `call` (http) acts outside the run and is not stubbed");
    assert_eq!(s.requests().len(), 0);
    assert!(!p.exists("runs/api"));
}

#[test]
fn a_read_inside_the_project_runs_and_a_read_outside_is_refused() {
    let p = Project::new();
    p.file("data/in.json", "[1, 2, 3]");
    p.flow(
        "r",
        "[[steps]]\nid = \"load\"\nkind = \"read\"\npath = \"data/in.json\"\n\n[[steps]]\nid = \"sum\"\nkind = \"map\"\njq = \"add\"\n",
    );
    p.file(
        "flows/r.test.toml",
        "[[tests]]\nname = \"sums\"\n[[tests.expect]]\nstep = \"sum\"\npayloads = [6]\n",
    );
    p.cmd(&["test"])
        .run()
        .ok()
        .stdout_has("test r::sums ... ok");
    p.flow(
        "r",
        "[[steps]]\nid = \"load\"\nkind = \"read\"\npath = \"../elsewhere.json\"\n\n[[steps]]\nid = \"sum\"\nkind = \"map\"\njq = \"add\"\n",
    );
    p.cmd(&["test"])
        .run()
        .code(2)
        .stderr_has("step `load` (read) reads outside the project and is not stubbed");
    assert!(!p.exists("runs/r"));
    // A test file is not a flow: check and the flow list ignore it.
    p.cmd(&["check"]).run().ok();
}

#[test]
fn record_turns_a_failed_run_into_a_failing_test_that_passes_once_the_flow_is_fixed() {
    let p = Project::new();
    p.file("data/n.json", "[5, 80]");
    let flow = |limit: u32| {
        format!(
            "[[steps]]\nid = \"load\"\nkind = \"read\"\npath = \"data/n.json\"\n\n[[steps]]\nid = \"each\"\nkind = \"split\"\nsize = 1\n\n[[steps]]\nid = \"double\"\nkind = \"map\"\njq = \"map(. * 2)\"\n\n[[steps]]\nid = \"valid\"\nkind = \"assert\"\njq = \". < {limit}\"\nmessage = \"too big\"\n\n[[steps]]\nid = \"save\"\nkind = \"command\"\nrun = [\"sh\", \"-c\", \"touch marker; cat\"]\n"
        )
    };
    p.flow("nums", &flow(100));
    p.cmd(&["run", "nums"]).run().code(1);
    assert!(!p.exists("marker"));
    let existing = "# my tests\n[[tests]]\nname = \"first\"\n[[tests.stub]]\nstep = \"load\"\npayloads = [[1]]\n[[tests.stub]]\nstep = \"save\"\npayloads = []\n[[tests.expect]]\nstep = \"double\"\npayloads = [[2]]\n";
    p.file("flows/nums.test.toml", existing);
    p.cmd(&["test", "--record", "last"])
        .run()
        .ok()
        .stdout_has("wrote test `recorded run ");
    let text = p.read("flows/nums.test.toml");
    assert!(
        text.starts_with(existing),
        "existing content changed:\n{text}"
    );
    assert!(
        text.contains("[[tests.stub]]\nstep = \"save\"\npayloads = []"),
        "{text}"
    );
    let runs_before = p.run_ids("nums").len();
    p.cmd(&["test", "nums"])
        .run()
        .code(1)
        .stdout_has("test nums::first ... ok")
        .stdout_has("... FAILED")
        .stdout_has("the run failed at step `valid`");
    p.flow("nums", &flow(1000));
    p.cmd(&["test", "nums"])
        .run()
        .ok()
        .stdout_has("test result: ok. 2 passed; 0 failed");
    assert_eq!(
        p.run_ids("nums").len(),
        runs_before,
        "flowrun test made a run"
    );
    assert!(
        !p.exists("marker"),
        "the recorded command stub ran the command"
    );
}

#[test]
fn bad_test_files_are_clear_errors() {
    let p = Project::new();
    p.flow("calc", DOUBLE);
    p.file(
        "flows/calc.test.toml",
        "[[tests]]\nname = \"x\"\nbogus = 1\n",
    );
    p.cmd(&["test"])
        .run()
        .code(2)
        .stderr_has("flows/calc.test.toml:3:1")
        .stderr_has("bogus");
    p.file(
        "flows/calc.test.toml",
        "[[tests]]\nname = \"x\"\n[[tests.stub]]\nstep = \"nope\"\npayloads = []\n",
    );
    p.cmd(&["test"])
        .run()
        .code(2)
        .stderr_has("names step `nope`");
    p.cmd(&["test", "missing"]).run().code(2);
}

#[test]
fn an_on_error_flow_starts_no_child_run_in_a_flow_test() {
    let p = Project::new();
    p.flow(
        "alert",
        "[[steps]]\nid = \"touch\"\nkind = \"command\"\nrun = [\"sh\", \"-c\", \"touch marker; cat\"]\n",
    );
    p.flow(
        "shape",
        "[[steps]]\nid = \"check\"\nkind = \"map\"\non_error = { flow = \"alert\" }\njq = 'if . > 10 then error(\"too big\") else . end'\n",
    );
    p.file(
        "flows/shape.test.toml",
        "[[tests]]\nname = \"sets the big one aside\"\ninput = 11\n[[tests.expect]]\nstep = \"check\"\npayloads = []\n",
    );
    p.cmd(&["test", "shape"])
        .run()
        .ok()
        .stdout_has("test shape::sets the big one aside ... ok");
    assert!(!p.exists("marker"), "the child flow's command ran");
    assert!(!p.exists("runs/alert"), "a child run was stored");
    assert!(!p.exists("runs/shape"));
}
