//! Every step kind as SPEC §2 describes it, one behaviour per test.

use crate::support::{Project, blake3_hex};
use serde_json::{Value, json};

/// A flow of one step (TOML body after `[[steps]]`) fed the payload `input`.
fn one_step(step: &str, input: &str) -> Project {
    let p = Project::new();
    p.flow("f", &format!("[[steps]]\n{step}"))
        .file("in.json", input);
    p
}

/// The file names a step recorded in the newest run of `f`.
fn files(p: &Project, step: &str) -> Vec<String> {
    let id = p.last_run("f");
    p.step_record("f", &id, step)["payloads"]
        .as_array()
        .expect("payloads")
        .iter()
        .map(|r| r["file"].as_str().expect("file").to_owned())
        .collect()
}

// ---- read ----

#[test]
fn read_json_emits_one_payload_per_matching_file_sorted_by_path() {
    let p = Project::new();
    p.flow(
        "f",
        "[[steps]]\nid = \"load\"\nkind = \"read\"\npath = \"data/*.json\"\n",
    )
    // Written out of order; `10` sorts before `9` as a path.
    .file("data/b.json", r#"{"n": "b"}"#)
    .file("data/9.json", r#"{"n": "9"}"#)
    .file("data/10.json", r#"{"n": "10"}"#)
    .file("data/a.json", r#"{"n": "a"}"#)
    .file("data/skip.txt", "not json")
    .file("data/sub/c.json", r#"{"n": "deep"}"#);
    p.cmd(&["run", "f"]).run().ok();
    assert_eq!(
        p.outputs("f", "load"),
        [
            json!({"n": "10"}),
            json!({"n": "9"}),
            json!({"n": "a"}),
            json!({"n": "b"})
        ]
    );
}

#[test]
fn read_works_in_a_project_folder_with_glob_characters() {
    let p = Project::in_folder(Some("exports [2024] *"));
    p.flow(
        "f",
        "[[steps]]\nid = \"load\"\nkind = \"read\"\npath = \"data/*.json\"\n",
    )
    .file("data/a.json", "[1]")
    .file("data/b.json", "[2]");
    p.cmd(&["run", "f"]).run().ok();
    assert_eq!(p.outputs("f", "load"), [json!([1]), json!([2])]);
}

#[test]
fn read_with_no_matching_file_and_allow_empty_emits_zero_payloads() {
    let p = Project::new();
    p.flow(
        "f",
        "[[steps]]\nid = \"load\"\nkind = \"read\"\npath = \"data/*.json\"\nallow_empty = true\n\n\
         [[steps]]\nid = \"m\"\nkind = \"map\"\njq = '.x'\n",
    );
    p.cmd(&["run", "f"]).run().ok();
    let id = p.last_run("f");
    for step in ["load", "m"] {
        let rec = p.step_record("f", &id, step);
        assert_eq!(rec["status"], "success", "{step}");
        assert_eq!(rec["payloads"], json!([]), "{step}");
    }
}

#[test]
fn read_ndjson_collects_lines_into_one_array() {
    let p = Project::new();
    p.flow(
        "f",
        "[[steps]]\nid = \"load\"\nkind = \"read\"\npath = \"data/x.ndjson\"\nformat = \"ndjson\"\n",
    )
    .file("data/x.ndjson", "{\"a\": 1}\n\n[2, 3]\n\"four\"\n");
    p.cmd(&["run", "f"]).run().ok();
    assert_eq!(p.outputs("f", "load"), [json!([{"a": 1}, [2, 3], "four"])]);
}

#[test]
fn read_csv_gives_rows_as_objects_of_strings() {
    let p = Project::new();
    p.flow(
        "f",
        "[[steps]]\nid = \"load\"\nkind = \"read\"\npath = \"data/x.csv\"\nformat = \"csv\"\n",
    )
    .file("data/x.csv", "name,id\nAda,1\n\"Lovelace, A.\",2\n");
    p.cmd(&["run", "f"]).run().ok();
    let out = p.outputs("f", "load");
    assert_eq!(
        out,
        [json!([{"name": "Ada", "id": "1"}, {"name": "Lovelace, A.", "id": "2"}])]
    );
    // Columns keep the header's order.
    let keys: Vec<&String> = out[0][0].as_object().unwrap().keys().collect();
    assert_eq!(keys, ["name", "id"]);
}

#[test]
fn read_of_bad_json_names_file_line_and_column() {
    let p = Project::new();
    p.flow(
        "f",
        "[[steps]]\nid = \"load\"\nkind = \"read\"\npath = \"data/*.json\"\n",
    )
    .file("data/a.json", "[1]")
    .file("data/bad.json", "{\n  \"a\": 1,\n  \"b\": ,\n}\n");
    p.cmd(&["run", "f"])
        .run()
        .code(1)
        .stderr_has("data/bad.json:3:8: not valid JSON");
    let id = p.last_run("f");
    let m = p.manifest("f", &id);
    assert_eq!(m["status"], "failure");
    assert_eq!(m["error"]["step"], "load");
}

#[test]
fn read_of_bad_ndjson_names_the_line() {
    let p = Project::new();
    p.flow(
        "f",
        "[[steps]]\nid = \"load\"\nkind = \"read\"\npath = \"data/x.ndjson\"\nformat = \"ndjson\"\n",
    )
    .file("data/x.ndjson", "1\n2\n{oops}\n");
    p.cmd(&["run", "f"])
        .run()
        .code(1)
        .stderr_has("data/x.ndjson:3:2: not valid JSON");
}

// ---- write ----

#[test]
fn write_path_may_use_env_placeholders() {
    let p = one_step(
        "id = \"save\"\nkind = \"write\"\npath = \"out/${env:FLOWRUN_TEST_DIR}/{n}.json\"\n",
        "[1]",
    );
    p.cmd(&["run", "f", "--input", "in.json"])
        .env("FLOWRUN_TEST_DIR", "erp")
        .run()
        .ok();
    assert_eq!(p.json("out/erp/1.json"), json!([1]));
}

#[test]
fn write_fills_in_the_path_template() {
    let p = Project::new();
    p.flow(
        "shop",
        "[[steps]]\nid = \"batch\"\nkind = \"split\"\nsize = 1\n\n\
         [[steps]]\nid = \"save\"\nkind = \"write\"\npath = \"out/{flow}/{run}/{step}-{n}-{hash}.json\"\n",
    )
    .file("in.json", r#"[{"a": 1}, {"b": "é"}]"#);
    p.cmd(&["run", "shop", "--input", "in.json"]).run().ok();
    let id = p.last_run("shop");
    let batches = p.step_record("shop", &id, "batch")["payloads"].clone();
    let mut want = Vec::new();
    for (n, rec) in batches.as_array().unwrap().iter().enumerate() {
        let stored = p.bytes(&format!("runs/shop/{id}/{}", rec["file"].as_str().unwrap()));
        let hash = blake3_hex(&stored);
        assert_eq!(rec["full_blake3"], hash.as_str());
        let name = format!("save-{}-{}.json", n + 1, &hash[..16]);
        // json format: the file holds the payload exactly as the store does.
        assert_eq!(p.bytes(&format!("out/shop/{id}/{name}")), stored);
        want.push(name);
    }
    let written: Vec<String> = p.tree(&format!("out/shop/{id}")).into_keys().collect();
    want.sort();
    assert_eq!(written, want);
    // write passes its payloads on unchanged.
    let saved = p.step_record("shop", &id, "save")["payloads"].clone();
    for (b, s) in batches
        .as_array()
        .unwrap()
        .iter()
        .zip(saved.as_array().unwrap())
    {
        assert_eq!(b["blake3"], s["blake3"]);
        assert_eq!(s["source"], b["file"]);
    }
}

#[test]
fn write_hash_names_the_same_payload_the_same_in_every_run() {
    let p = one_step(
        "id = \"save\"\nkind = \"write\"\npath = \"out/{hash}.json\"\n",
        r#"{"same": true}"#,
    );
    p.cmd(&["run", "f", "--input", "in.json"]).run().ok();
    p.cmd(&["run", "f", "--input", "in.json"]).run().ok();
    let out = p.tree("out");
    assert_eq!(out.len(), 1, "{:?}", out.keys());
    let (name, bytes) = out.into_iter().next().unwrap();
    assert_eq!(name, format!("{}.json", &blake3_hex(&bytes)[..16]));
}

#[test]
fn write_ndjson_puts_array_elements_on_lines() {
    let p = Project::new();
    p.flow(
        "f",
        "[[steps]]\nid = \"save\"\nkind = \"write\"\npath = \"out/{n}.ndjson\"\nformat = \"ndjson\"\n",
    )
    .file("a.json", r#"[{"b": 2, "a": 1}, [1, 2], "x"]"#)
    .file("o.json", r#"{"k": {"v": null}}"#);
    p.cmd(&["run", "f", "--input", "a.json", "--input", "o.json"])
        .run()
        .ok();
    assert_eq!(p.read("out/1.ndjson"), "{\"b\":2,\"a\":1}\n[1,2]\n\"x\"\n");
    assert_eq!(p.read("out/2.ndjson"), "{\"k\":{\"v\":null}}\n");
}

#[test]
fn write_json_is_pretty_like_the_store() {
    let p = one_step(
        "id = \"save\"\nkind = \"write\"\npath = \"out/x.json\"\n",
        r#"{"z": [1, {"y": []}], "a": "é"}"#,
    );
    p.cmd(&["run", "f", "--input", "in.json"]).run().ok();
    assert_eq!(
        p.read("out/x.json"),
        "{\n  \"z\": [\n    1,\n    {\n      \"y\": []\n    }\n  ],\n  \"a\": \"é\"\n}\n"
    );
}

// ---- command ----

#[test]
fn command_gets_the_payload_on_stdin_and_its_stdout_is_the_output() {
    let p = one_step(
        "id = \"py\"\nkind = \"command\"\nrun = [\"python3\", \"scripts/t.py\", \"arg1\"]\n\
         env = { GREETING = \"hi\" }\n",
        r#"{"n": 41}"#,
    );
    p.file(
        "scripts/t.py",
        "import json, os, sys\n\
         v = json.load(sys.stdin)\n\
         print(json.dumps({'n': v['n'] + 1, 'arg': sys.argv[1], 'greeting': os.environ['GREETING'],\n\
                           'flow': os.environ['FLOWRUN_FLOW'], 'step': os.environ['FLOWRUN_STEP'],\n\
                           'cwd': os.getcwd()}))\n",
    );
    p.cmd(&["run", "f", "--input", "in.json"]).run().ok();
    let root = p.root().canonicalize().unwrap();
    assert_eq!(
        p.outputs("f", "py"),
        [
            json!({"n": 42, "arg": "arg1", "greeting": "hi", "flow": "f", "step": "py",
                "cwd": root.to_str().unwrap()})
        ]
    );
    let id = p.last_run("f");
    assert_eq!(
        p.step_record("f", &id, "py")["payloads"][0]["source"],
        "input/000001.json"
    );
}

#[test]
fn command_with_ndjson_output_emits_one_payload_per_line() {
    let p = one_step(
        "id = \"sh\"\nkind = \"command\"\nrun = [\"scripts/lines.sh\"]\noutput = \"ndjson\"\n",
        "null",
    );
    p.script(
        "scripts/lines.sh",
        "#!/bin/sh\ncat >/dev/null\necho 1\necho\necho '{\"a\": 2}'\necho '[3]'\n",
    );
    p.cmd(&["run", "f", "--input", "in.json"]).run().ok();
    assert_eq!(
        p.outputs("f", "sh"),
        [json!(1), json!({"a": 2}), json!([3])]
    );
}

#[test]
fn command_relative_program_resolves_against_the_root() {
    let p = one_step(
        "id = \"s\"\nkind = \"command\"\nrun = [\"scripts/echo.sh\"]\n",
        "[1, 2]",
    );
    p.script("scripts/echo.sh", "#!/bin/sh\nexec cat\n");
    let elsewhere = tempfile::tempdir().unwrap();
    let root = p.root().to_str().unwrap().to_owned();
    let input = p.path("in.json");
    p.cmd(&[
        "--root",
        &root,
        "run",
        "f",
        "--input",
        input.to_str().unwrap(),
    ])
    .cwd(elsewhere.path())
    .run()
    .ok();
    assert_eq!(p.outputs("f", "s"), [json!([1, 2])]);
}

#[test]
fn command_failing_names_status_stderr_and_the_payload() {
    let p = one_step(
        "id = \"s\"\nkind = \"command\"\nrun = [\"sh\", \"-c\", \"echo 'no route to ERP' >&2; exit 3\"]\n",
        "{}",
    );
    let out = p.cmd(&["run", "f", "--input", "in.json"]).run().code(1);
    let id = p.last_run("f");
    out.stderr_has("exited with status 3")
        .stderr_has("no route to ERP")
        .stderr_has(&format!("runs/f/{id}/input/000001.json"));
    let m = p.manifest("f", &id);
    assert_eq!(m["error"]["step"], "s");
    assert_eq!(m["error"]["failed_input"], "input/000001.json");
    assert!(
        m["error"]["message"]
            .as_str()
            .unwrap()
            .contains("no route to ERP")
    );
}

#[test]
fn command_that_prints_no_json_fails() {
    let p = one_step(
        "id = \"s\"\nkind = \"command\"\nrun = [\"sh\", \"-c\", \"echo not-json\"]\n",
        "{}",
    );
    p.cmd(&["run", "f", "--input", "in.json"])
        .run()
        .code(1)
        .stderr_has("not one JSON value");
}

#[test]
fn command_timeout_stops_the_program_and_fails_the_step() {
    let p = one_step(
        "id = \"s\"\nkind = \"command\"\nrun = [\"sh\", \"-c\", \"exec sleep 30\"]\ntimeout = \"200ms\"\n",
        "{}",
    );
    p.cmd(&["run", "f", "--input", "in.json"])
        .run()
        .code(1)
        .stderr_has("did not finish within its timeout");
    let id = p.last_run("f");
    assert_eq!(p.manifest("f", &id)["error"]["step"], "s");
}

#[test]
fn command_env_from_the_environment_is_kept_out_of_the_store() {
    let p = one_step(
        "id = \"s\"\nkind = \"command\"\nrun = [\"sh\", \"-c\", \"echo \\\"token $TOKEN rejected\\\" >&2; exit 1\"]\n\
         env = { TOKEN = \"${env:FLOWRUN_TEST_TOKEN}\" }\n",
        "{}",
    );
    p.cmd(&["run", "f", "--input", "in.json"])
        .env("FLOWRUN_TEST_TOKEN", "s3cr3t-value")
        .run()
        .code(1)
        .stderr_has("token *** rejected")
        .stderr_lacks("s3cr3t-value");
    let id = p.last_run("f");
    for (file, bytes) in p.tree(&format!("runs/f/{id}")) {
        assert!(
            !String::from_utf8_lossy(&bytes).contains("s3cr3t-value"),
            "{file} holds the secret"
        );
    }
}

// ---- map ----

#[test]
fn map_turns_each_payload_into_one() {
    let p = one_step(
        "id = \"m\"\nkind = \"map\"\njq = '{total: (.items | add), n: (.items | length)}'\n",
        r#"{"items": [1, 2, 3]}"#,
    );
    p.cmd(&["run", "f", "--input", "in.json"]).run().ok();
    assert_eq!(p.outputs("f", "m"), [json!({"total": 6, "n": 3})]);
}

#[test]
fn map_yielding_two_values_fails_on_that_payload() {
    let p = one_step("id = \"m\"\nkind = \"map\"\njq = '.[]'\n", "[1, 2]");
    p.cmd(&["run", "f", "--input", "in.json"])
        .run()
        .code(1)
        .stderr_has("2 outputs");
    let m = p.manifest("f", &p.last_run("f"));
    assert_eq!(m["error"]["failed_input"], "input/000001.json");
    assert_eq!(m["steps"][0]["payloads"], json!([]));
}

#[test]
fn map_yielding_nothing_fails() {
    let p = one_step("id = \"m\"\nkind = \"map\"\njq = 'empty'\n", "[1, 2]");
    p.cmd(&["run", "f", "--input", "in.json"])
        .run()
        .code(1)
        .stderr_has("no output");
}

// ---- filter ----

fn filter_flow(keep_empty: bool) -> Project {
    let p = Project::new();
    p.flow(
        "f",
        &format!(
            "[[steps]]\nid = \"keep\"\nkind = \"filter\"\njq = '.ok'\nkeep_empty = {keep_empty}\n"
        ),
    )
    .file(
        "some.json",
        r#"[{"ok": true, "i": 1}, {"ok": false, "i": 2}, {"ok": true, "i": 3}]"#,
    )
    .file("none.json", r#"[{"ok": false}]"#)
    .file("yes.json", r#"{"ok": true, "whole": 1}"#)
    .file("no.json", r#"{"ok": false, "whole": 2}"#);
    p.cmd(&[
        "run",
        "f",
        "-i",
        "some.json",
        "-i",
        "none.json",
        "-i",
        "yes.json",
        "-i",
        "no.json",
    ])
    .run()
    .ok();
    p
}

#[test]
fn filter_keeps_array_elements_and_drops_emptied_arrays() {
    let p = filter_flow(false);
    assert_eq!(
        p.outputs("f", "keep"),
        [
            json!([{"ok": true, "i": 1}, {"ok": true, "i": 3}]),
            json!({"ok": true, "whole": 1}),
        ]
    );
    let id = p.last_run("f");
    let sources: Vec<Value> = p.step_record("f", &id, "keep")["payloads"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["source"].clone())
        .collect();
    assert_eq!(
        sources,
        [json!("input/000001.json"), json!("input/000003.json")]
    );
}

#[test]
fn filter_with_keep_empty_keeps_emptied_arrays() {
    let p = filter_flow(true);
    assert_eq!(
        p.outputs("f", "keep"),
        [
            json!([{"ok": true, "i": 1}, {"ok": true, "i": 3}]),
            json!([]),
            json!({"ok": true, "whole": 1}),
        ]
    );
}

// ---- assert ----

#[test]
fn assert_names_the_first_failing_element_and_the_payload() {
    let p = Project::new();
    p.flow(
        "f",
        "[[steps]]\nid = \"check\"\nkind = \"assert\"\njq = '.qty > 0'\nmessage = \"quantities must be positive\"\n",
    )
    .file("good.json", r#"[{"qty": 1}]"#)
    .file("bad.json", r#"[{"qty": 1}, {"qty": 0, "sku": "A-7"}, {"qty": -1}]"#);
    let out = p
        .cmd(&["run", "f", "-i", "good.json", "-i", "bad.json"])
        .run()
        .code(1);
    let id = p.last_run("f");
    out.stderr_has(&format!("runs/f/{id}/input/000002.json"))
        .stderr_has("quantities must be positive")
        .stderr_has("element 1 ")
        .stderr_has("A-7")
        .stderr_lacks("element 2");
    let m = p.manifest("f", &id);
    assert_eq!(m["error"]["failed_input"], "input/000002.json");
    // The payload before the failing one passed, unchanged.
    let rec = &m["steps"][0]["payloads"];
    assert_eq!(rec.as_array().unwrap().len(), 1);
    assert_eq!(rec[0]["blake3"], m["input"][0]["blake3"]);
}

#[test]
fn assert_jq_checks_a_non_array_payload_whole() {
    let p = one_step(
        "id = \"check\"\nkind = \"assert\"\njq = '.qty > 0'\n",
        r#"{"qty": 0}"#,
    );
    p.cmd(&["run", "f", "--input", "in.json"])
        .run()
        .code(1)
        .stderr_has("assertion failed")
        .stderr_lacks("element");
}

#[test]
fn assert_equals_an_inline_toml_value() {
    let step = "id = \"same\"\nkind = \"assert\"\nequals = { a = 1, b = [\"x\", 2.5], c = { d = true } }\n";
    let p = one_step(step, r#"{"b": ["x", 2.5], "a": 1.0, "c": {"d": true}}"#);
    p.cmd(&["run", "f", "--input", "in.json"]).run().ok();

    let p = one_step(step, r#"{"a": 1, "b": ["x", 3], "c": {"d": true}}"#);
    p.cmd(&["run", "f", "--input", "in.json"])
        .run()
        .code(1)
        .stderr_has("differs from the expected value at .\"b\"[1]: expected 2.5, got 3");
}

#[test]
fn assert_equals_file() {
    let step = "id = \"same\"\nkind = \"assert\"\nequals_file = \"expect/x.json\"\n";
    let p = one_step(step, r#"[1, {"k": "v"}]"#);
    p.file("expect/x.json", "[1, {\"k\": \"v\"}]\n");
    p.cmd(&["run", "f", "--input", "in.json"]).run().ok();
    p.file("expect/x.json", "[1, {\"k\": \"w\"}]\n");
    p.cmd(&["run", "f", "--input", "in.json"])
        .run()
        .code(1)
        .stderr_has("expected \"w\", got \"v\"");
}

// ---- split and merge ----

#[test]
fn split_cuts_the_array_at_path_into_batches() {
    let p = one_step(
        "id = \"b\"\nkind = \"split\"\npath = '.data.items'\nsize = 2\n",
        r#"{"data": {"items": [1, 2, 3, 4, 5]}}"#,
    );
    p.cmd(&["run", "f", "--input", "in.json"]).run().ok();
    assert_eq!(
        p.outputs("f", "b"),
        [json!([1, 2]), json!([3, 4]), json!([5])]
    );
    assert_eq!(
        files(&p, "b"),
        [
            "steps/01-b/000001.json",
            "steps/01-b/000002.json",
            "steps/01-b/000003.json"
        ]
    );
}

#[test]
fn split_of_a_non_array_fails() {
    let p = one_step("id = \"b\"\nkind = \"split\"\nsize = 2\n", r#"{"a": 1}"#);
    p.cmd(&["run", "f", "--input", "in.json"])
        .run()
        .code(1)
        .stderr_has("split needs an array");
}

#[test]
fn split_then_merge_gives_back_the_array() {
    let array = r#"[{"id": 1}, {"id": 2}, {"id": 3}, {"id": 4}, {"id": 5}, {"id": 6}, {"id": 7}]"#;
    let p = Project::new();
    p.flow(
        "f",
        "[[steps]]\nid = \"b\"\nkind = \"split\"\nsize = 3\n\n\
         [[steps]]\nid = \"m\"\nkind = \"map\"\njq = 'map(.)'\n\n\
         [[steps]]\nid = \"j\"\nkind = \"merge\"\n",
    )
    .file("in.json", array);
    p.cmd(&["run", "f", "--input", "in.json"]).run().ok();
    let id = p.last_run("f");
    assert_eq!(p.outputs("f", "b").len(), 3);
    let merged = p.step_record("f", &id, "j")["payloads"].clone();
    assert_eq!(merged.as_array().unwrap().len(), 1);
    assert_eq!(merged[0]["source"], Value::Null);
    assert_eq!(
        p.bytes(&format!(
            "runs/f/{id}/{}",
            merged[0]["file"].as_str().unwrap()
        )),
        p.bytes(&format!("runs/f/{id}/input/000001.json"))
    );
}

#[test]
fn merge_concatenates_arrays_and_appends_other_payloads() {
    let p = Project::new();
    p.flow("f", "[[steps]]\nid = \"j\"\nkind = \"merge\"\n")
        .file("a.json", "[1, 2]")
        .file("b.json", r#"{"x": 3}"#)
        .file("c.json", "[[4]]");
    p.cmd(&["run", "f", "-i", "a.json", "-i", "b.json", "-i", "c.json"])
        .run()
        .ok();
    assert_eq!(p.outputs("f", "j"), [json!([1, 2, {"x": 3}, [4]])]);
}

// ---- placeholders ----

#[test]
fn jq_options_may_use_env_placeholders() {
    let p = Project::new();
    p.flow(
        "f",
        "[[steps]]\nid = \"small\"\nkind = \"filter\"\njq = '.n < ${env:FLOWRUN_TEST_LIMIT}'\n\n\
         [[steps]]\nid = \"tag\"\nkind = \"map\"\njq = 'map(. + {by: \"${env:FLOWRUN_TEST_WHO}\"})'\n",
    )
    .file("in.json", r#"[{"n": 1}, {"n": 13}, {"n": 25}, {"n": 3}]"#);
    p.cmd(&["check"]).run().ok();
    p.cmd(&["run", "f", "--input", "in.json"])
        .env("FLOWRUN_TEST_LIMIT", "20")
        .env("FLOWRUN_TEST_WHO", "robot-42")
        .run()
        .ok();
    // `${env:…}` values are plain settings: a number stays a number, and nothing is masked.
    assert_eq!(
        p.outputs("f", "small"),
        [json!([{"n": 1}, {"n": 13}, {"n": 3}])]
    );
    assert_eq!(
        p.outputs("f", "tag"),
        [
            json!([{"n": 1, "by": "robot-42"}, {"n": 13, "by": "robot-42"}, {"n": 3, "by": "robot-42"}])
        ]
    );
}

#[test]
fn a_short_env_value_does_not_corrupt_payload_files() {
    let p = one_step(
        "id = \"small\"\nkind = \"filter\"\njq = '.n < ${env:FLOWRUN_TEST_LIMIT}'\n",
        r#"[{"n": 1}, {"n": 13}, {"n": 3}, {"n": 2}]"#,
    );
    p.cmd(&["run", "f", "--input", "in.json"])
        .env("FLOWRUN_TEST_LIMIT", "3")
        .run()
        .ok();
    let id = p.last_run("f");
    for (name, bytes) in p.tree(&format!("runs/f/{id}")) {
        if std::path::Path::new(&name)
            .extension()
            .is_some_and(|e| e == "json")
        {
            serde_json::from_slice::<Value>(&bytes).unwrap_or_else(|e| {
                panic!(
                    "{name} is not JSON ({e}):\n{}",
                    String::from_utf8_lossy(&bytes)
                )
            });
        }
    }
    assert_eq!(p.outputs("f", "small"), [json!([{"n": 1}, {"n": 2}])]);
}
