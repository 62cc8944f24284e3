//! The run store (SPEC §3): layout, payload files, the manifest, trimming, skips, timeouts.

use crate::support::{Project, blake3_hex, is_run_id};
use serde_json::{Value, json};

/// `n` map steps `s1`..`sn`, each adding one to the payload.
fn counting_flow(n: usize) -> String {
    (1..=n)
        .map(|i| format!("[[steps]]\nid = \"s{i}\"\nkind = \"map\"\njq = '. + 1'\n\n"))
        .collect::<Vec<_>>()
        .concat()
}

/// A flow file with comments, odd spacing and non-ASCII text.
const ODD_FLOW: &str = "# Orders → ERP  \n\ndescription = \"naïve  café\"   # trailing comment\n\n\
                        [[steps]]\r\nid    = \"load\"\nkind = \"read\"\npath = \"data/*.json\"\n\n\
                        [[steps]]\nid = \"pick\"\nkind = \"map\"\njq = '''\n  .items\n'''\n";

#[test]
fn layout_of_a_run_folder() {
    let p = Project::new();
    p.flow("f", ODD_FLOW)
        .file("data/a.json", r#"{"items": [1]}"#)
        .file("data/b.json", r#"{"items": [2]}"#);
    p.cmd(&["run", "f"]).run().ok();
    let id = p.last_run("f");
    let files: Vec<String> = p.tree(&format!("runs/f/{id}")).into_keys().collect();
    assert_eq!(
        files,
        [
            "flow.toml",
            "manifest.json",
            "steps/01-load/000001.json",
            "steps/01-load/000002.json",
            "steps/02-pick/000001.json",
            "steps/02-pick/000002.json",
        ]
    );
    assert_eq!(
        p.bytes(&format!("runs/f/{id}/flow.toml")),
        ODD_FLOW.as_bytes()
    );
    assert_eq!(
        p.json(&format!("runs/f/{id}/steps/02-pick/000002.json")),
        json!([2])
    );
}

#[test]
fn input_files_are_stored_under_input() {
    let p = Project::new();
    p.flow("f", "[[steps]]\nid = \"m\"\nkind = \"map\"\njq = '.'\n")
        .file("one.json", r#"{"n": 1}"#)
        .file("two.json", "[2]");
    p.cmd(&[
        "run", "f", "--input", "one.json", "-i", "-", "--input", "two.json",
    ])
    .stdin("\"from stdin\"")
    .run()
    .ok();
    let id = p.last_run("f");
    let dir = format!("runs/f/{id}");
    assert_eq!(
        p.read(&format!("{dir}/input/000001.json")),
        "{\n  \"n\": 1\n}\n"
    );
    assert_eq!(
        p.read(&format!("{dir}/input/000002.json")),
        "\"from stdin\"\n"
    );
    assert_eq!(p.read(&format!("{dir}/input/000003.json")), "[\n  2\n]\n");
    let m = p.manifest("f", &id);
    let inputs: Vec<&str> = m["input"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["file"].as_str().unwrap())
        .collect();
    assert_eq!(
        inputs,
        [
            "input/000001.json",
            "input/000002.json",
            "input/000003.json"
        ]
    );
    for r in m["input"].as_array().unwrap() {
        let bytes = p.bytes(&format!("{dir}/{}", r["file"].as_str().unwrap()));
        assert_eq!(r["bytes"], bytes.len());
        assert_eq!(r["blake3"], blake3_hex(&bytes).as_str());
        assert_eq!(r["trimmed"], false);
        assert_eq!(r["source"], Value::Null);
    }
    // Each input payload went through the step, in order, naming its source.
    let sources: Vec<&str> = m["steps"][0]["payloads"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["source"].as_str().unwrap())
        .collect();
    assert_eq!(sources, inputs);
}

#[test]
fn a_run_without_input_has_no_input_folder() {
    let p = Project::new();
    p.flow(
        "f",
        "[[steps]]\nid = \"m\"\nkind = \"map\"\njq = '{was: .}'\n",
    );
    p.cmd(&["run", "f"]).run().ok();
    let id = p.last_run("f");
    assert!(!p.exists(&format!("runs/f/{id}/input")));
    assert_eq!(p.manifest("f", &id)["input"], json!([]));
    assert_eq!(p.outputs("f", "m"), [json!({"was": null})]);
}

#[test]
fn bad_input_is_refused_before_anything_runs() {
    let p = Project::new();
    p.flow("f", "[[steps]]\nid = \"m\"\nkind = \"map\"\njq = '.'\n")
        .file("bad.json", "{\n  \"a\": 1,\n}\n");
    p.cmd(&["run", "f", "--input", "bad.json"])
        .run()
        .code(2)
        .only_errors()
        .stderr_has("bad.json:3:1");
    p.cmd(&["run", "f", "--input", "missing.json"])
        .run()
        .code(2)
        .only_errors()
        .stderr_has("missing.json");
    p.cmd(&["run", "f", "--input", "-"])
        .stdin("{oops")
        .run()
        .code(2)
        .stderr_has("error: stdin:1:2");
    assert!(p.run_ids("f").is_empty());
}

#[test]
fn step_folders_have_two_digits_up_to_99_steps() {
    let p = Project::new();
    p.flow("f", &counting_flow(10));
    p.cmd(&["run", "f"]).run().ok();
    let id = p.last_run("f");
    let dirs: Vec<String> = p.tree(&format!("runs/f/{id}/steps")).into_keys().collect();
    let want: Vec<String> = (1..=10)
        .map(|i| format!("{i:02}-s{i}/000001.json"))
        .collect();
    assert_eq!(dirs, want);
    assert_eq!(p.outputs("f", "s10"), [json!(10)]);
}

#[test]
fn step_folders_widen_with_the_step_count() {
    let p = Project::new();
    p.flow("f", &counting_flow(100));
    p.cmd(&["run", "f"]).run().ok();
    let id = p.last_run("f");
    let dirs: Vec<String> = p.tree(&format!("runs/f/{id}/steps")).into_keys().collect();
    assert_eq!(dirs.len(), 100);
    assert_eq!(dirs[0], "001-s1/000001.json");
    assert_eq!(dirs[9], "010-s10/000001.json");
    assert_eq!(dirs[99], "100-s100/000001.json");
    let m = p.manifest("f", &id);
    assert_eq!(
        m["steps"][99]["payloads"][0]["file"],
        "steps/100-s100/000001.json"
    );
}

#[test]
fn payload_files_are_pretty_json_in_key_order() {
    let p = Project::new();
    p.flow("f", "[[steps]]\nid = \"m\"\nkind = \"map\"\njq = '.'\n")
        .file(
            "in.json",
            r#"{"zeta":1,"alpha":{"y":[],"x":{},"w":[1.5,-2,"é\"\n"]},"mid":null,"b":true}"#,
        );
    p.cmd(&["run", "f", "--input", "in.json"]).run().ok();
    let id = p.last_run("f");
    let want = "{\n  \"zeta\": 1,\n  \"alpha\": {\n    \"y\": [],\n    \"x\": {},\n    \"w\": [\n      1.5,\n      -2,\n      \"é\\\"\\n\"\n    ]\n  },\n  \"mid\": null,\n  \"b\": true\n}\n";
    assert_eq!(p.read(&format!("runs/f/{id}/input/000001.json")), want);
    assert_eq!(p.read(&format!("runs/f/{id}/steps/01-m/000001.json")), want);
}

#[test]
fn manifest_has_every_field_of_the_spec() {
    let p = Project::new();
    p.flow(
        "orders",
        "[[steps]]\nid = \"load\"\nkind = \"read\"\npath = \"data/*.json\"\n\n\
         [[steps]]\nid = \"batch\"\nkind = \"split\"\nsize = 1\n\n\
         [[steps]]\nid = \"join\"\nkind = \"merge\"\n",
    )
    .file("data/x.json", "[1, 2]");
    p.cmd(&["run", "orders"]).run().ok();
    let id = p.last_run("orders");
    assert!(is_run_id(&id), "{id}");
    let dir = format!("runs/orders/{id}");
    let text = p.read(&format!("{dir}/manifest.json"));
    assert!(text.starts_with("{\n  \"format\": "), "not pretty:\n{text}");
    assert!(text.ends_with("}\n"));
    let m: Value = serde_json::from_str(&text).unwrap();

    assert_eq!(m["format"], "flowrun.run/1");
    assert_eq!(m["run_id"], id.as_str());
    assert_eq!(m["flow"], "orders");
    assert_eq!(
        m["flow_blake3"],
        blake3_hex(&p.bytes(&format!("{dir}/flow.toml"))).as_str()
    );
    assert_eq!(m["trigger"], "manual");
    assert_eq!(m["replay_of"], Value::Null);
    assert!(m.as_object().unwrap().contains_key("replay_of"));
    assert_eq!(m["status"], "success");
    let started = m["started_at"].as_str().unwrap();
    let finished = m["finished_at"].as_str().unwrap();
    assert_timestamp(started);
    assert_timestamp(finished);
    assert!(started <= finished);
    // The run id is the start time to the millisecond.
    let compact: String = started
        .chars()
        .filter(|c| !matches!(c, '-' | ':'))
        .collect();
    assert_eq!(&id[..20], compact);
    assert_eq!(m["input"], json!([]));
    assert_eq!(m["error"], Value::Null);
    assert!(m.as_object().unwrap().contains_key("error"));

    let steps = m["steps"].as_array().unwrap();
    let ids: Vec<(&Value, &Value, &Value)> = steps
        .iter()
        .map(|s| (&s["index"], &s["id"], &s["kind"]))
        .collect();
    assert_eq!(
        ids,
        [
            (&json!(1), &json!("load"), &json!("read")),
            (&json!(2), &json!("batch"), &json!("split")),
            (&json!(3), &json!("join"), &json!("merge")),
        ]
    );
    for s in steps {
        assert_eq!(s["status"], "success");
        assert_timestamp(s["started_at"].as_str().unwrap());
        assert_timestamp(s["finished_at"].as_str().unwrap());
        assert!(s.as_object().unwrap().contains_key("error"));
        assert_eq!(s["error"], Value::Null);
        for r in s["payloads"].as_array().unwrap() {
            let file = r["file"].as_str().unwrap();
            let bytes = p.bytes(&format!("{dir}/{file}"));
            assert_eq!(r["bytes"], bytes.len(), "{file}");
            assert_eq!(r["blake3"], blake3_hex(&bytes).as_str(), "{file}");
            assert_eq!(r["trimmed"], false, "{file}");
            assert_eq!(r["full_bytes"], r["bytes"], "{file}");
            assert_eq!(r["full_blake3"], r["blake3"], "{file}");
            assert!(r.as_object().unwrap().contains_key("source"), "{file}");
        }
    }
    // Sources: the implicit start payload and merge's output have none; the rest name
    // the input payload file they came from.
    let sources = |i: usize| -> Vec<Value> {
        steps[i]["payloads"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["source"].clone())
            .collect()
    };
    assert_eq!(sources(0), [Value::Null]);
    assert_eq!(
        sources(1),
        [
            json!("steps/01-load/000001.json"),
            json!("steps/01-load/000001.json")
        ]
    );
    assert_eq!(sources(2), [Value::Null]);
}

#[track_caller]
fn assert_timestamp(t: &str) {
    // 2026-11-28T09:30:00.123Z
    let b = t.as_bytes();
    let shape = b.len() == 24
        && b.iter().enumerate().all(|(i, c)| match i {
            4 | 7 => *c == b'-',
            10 => *c == b'T',
            13 | 16 => *c == b':',
            19 => *c == b'.',
            23 => *c == b'Z',
            _ => c.is_ascii_digit(),
        });
    assert!(shape, "not a UTC timestamp with milliseconds: {t}");
}

#[test]
fn failure_is_recorded_in_the_manifest() {
    let p = Project::new();
    p.flow(
        "f",
        "[[steps]]\nid = \"b\"\nkind = \"split\"\nsize = 1\n\n\
         [[steps]]\nid = \"pos\"\nkind = \"assert\"\njq = '. > 0'\n\n\
         [[steps]]\nid = \"never\"\nkind = \"map\"\njq = '.'\n",
    )
    .file("in.json", "[3, 2, 0, 1]");
    p.cmd(&["run", "f", "--input", "in.json"]).run().code(1);
    let id = p.last_run("f");
    let m = p.manifest("f", &id);
    assert_eq!(m["status"], "failure");
    assert_timestamp(m["finished_at"].as_str().unwrap());
    assert_eq!(m["error"]["step"], "pos");
    assert_eq!(m["error"]["failed_input"], "steps/01-b/000003.json");
    assert!(m["error"]["message"].as_str().unwrap().contains(". > 0"));
    let s = &m["steps"];
    assert_eq!(s[0]["status"], "success");
    assert_eq!(s[1]["status"], "failure");
    assert_eq!(s[1]["error"], m["error"]["message"]);
    assert_eq!(s[1]["payloads"].as_array().unwrap().len(), 2);
    assert_eq!(s[2]["status"], "pending");
    assert_eq!(s[2]["payloads"], json!([]));
    assert!(!p.exists(&format!("runs/f/{id}/steps/03-never")));
}

#[test]
fn large_payloads_are_trimmed_and_the_run_carries_on() {
    // Pretty: `[\n  "é…` — byte 12 falls inside the fourth `é`.
    let value = r#"["éééééééé", "t"]"#;
    let full = "[\n  \"éééééééé\",\n  \"t\"\n]\n";
    let limit = 12;
    assert!(!full.is_char_boundary(limit));
    let p = Project::new();
    p.flow(
        "f",
        &format!(
            "[settings]\nmax_payload_bytes = {limit}\n\n\
             [[steps]]\nid = \"keep\"\nkind = \"map\"\njq = '.'\n\n\
             [[steps]]\nid = \"save\"\nkind = \"write\"\npath = \"out/x.json\"\n\n\
             [[steps]]\nid = \"last\"\nkind = \"map\"\njq = '.[1]'\n"
        ),
    )
    .file("in.json", value);
    p.cmd(&["run", "f", "--input", "in.json"])
        .run()
        .ok()
        .stdout_has("trimmed");
    let id = p.last_run("f");
    let cut = (0..=limit)
        .rev()
        .find(|&k| full.is_char_boundary(k))
        .unwrap();
    let stored = format!("{}\n[trimmed]\n", &full[..cut]);
    let m = p.manifest("f", &id);
    for (file, rec) in [
        ("input/000001.json", &m["input"][0]),
        ("steps/01-keep/000001.json", &m["steps"][0]["payloads"][0]),
        ("steps/02-save/000001.json", &m["steps"][1]["payloads"][0]),
    ] {
        assert_eq!(rec["file"], file);
        assert_eq!(p.read(&format!("runs/f/{id}/{file}")), stored, "{file}");
        assert_eq!(rec["trimmed"], true, "{file}");
        assert_eq!(rec["bytes"], stored.len(), "{file}");
        assert_eq!(
            rec["blake3"],
            blake3_hex(stored.as_bytes()).as_str(),
            "{file}"
        );
        assert_eq!(rec["full_bytes"], full.len(), "{file}");
        assert_eq!(
            rec["full_blake3"],
            blake3_hex(full.as_bytes()).as_str(),
            "{file}"
        );
    }
    // The steps saw the full payload.
    assert_eq!(p.read("out/x.json"), full);
    let last = &m["steps"][2]["payloads"][0];
    assert_eq!(last["trimmed"], false);
    assert_eq!(
        p.json(&format!("runs/f/{id}/steps/03-last/000001.json")),
        "t"
    );
    // `show` counts the trimmed payloads of each step.
    let out = p.cmd(&["show", &id]).run().ok();
    let row = |step: &str| {
        out.stdout
            .lines()
            .find(|l| l.split_whitespace().nth(1) == Some(step))
            .unwrap_or_else(|| panic!("no row for {step}:\n{}", out.stdout))
            .split_whitespace()
            .last()
            .unwrap_or_default()
            .to_owned()
    };
    assert_eq!(row("keep"), "1");
    assert_eq!(row("last"), "-");
    // A trimmed record is still a verified part of the trail.
    p.cmd(&["verify", &id]).run().ok();
}

#[test]
fn max_payload_bytes_zero_never_trims() {
    let p = Project::new();
    p.flow(
        "f",
        "[settings]\nmax_payload_bytes = 0\n[[steps]]\nid = \"m\"\nkind = \"map\"\njq = '.'\n",
    )
    .file("in.json", &format!("[\"{}\"]", "x".repeat(5000)));
    p.cmd(&["run", "f", "--input", "in.json"]).run().ok();
    let id = p.last_run("f");
    let rec = p.step_record("f", &id, "m")["payloads"][0].clone();
    assert_eq!(rec["trimmed"], false);
    assert_eq!(rec["bytes"], 5 + 5000 + 4);
}

#[test]
fn two_runs_of_the_same_flow_store_the_same_bytes() {
    let p = Project::new();
    p.flow(
        "f",
        "[[steps]]\nid = \"load\"\nkind = \"read\"\npath = \"data/*.csv\"\nformat = \"csv\"\n\n\
         [[steps]]\nid = \"batch\"\nkind = \"split\"\nsize = 2\n\n\
         [[steps]]\nid = \"shape\"\nkind = \"map\"\njq = 'map({name, n: (.n | tonumber)})'\n\n\
         [[steps]]\nid = \"big\"\nkind = \"filter\"\njq = '.n > 1'\n\n\
         [[steps]]\nid = \"ext\"\nkind = \"command\"\nrun = [\"python3\", \"-c\", \"import json,sys; print(json.dumps(sorted(json.load(sys.stdin), key=lambda r: -r['n'])))\"]\n\n\
         [[steps]]\nid = \"all\"\nkind = \"merge\"\n",
    )
    .file("data/a.csv", "name,n\nx,1\ny,2\nz,3\n")
    .file("data/b.csv", "name,n\nü,5\nv,4\nw,0\n");
    p.cmd(&["run", "f"]).run().ok();
    p.cmd(&["run", "f"]).run().ok();
    let ids = p.run_ids("f");
    assert_eq!(ids.len(), 2);
    assert_ne!(ids[0], ids[1]);
    let a = p.tree(&format!("runs/f/{}/steps", ids[0]));
    let b = p.tree(&format!("runs/f/{}/steps", ids[1]));
    assert_eq!(a.len(), 17, "{:?}", a.keys());
    assert!(a == b, "steps/ differ between runs");
    assert_eq!(
        p.outputs("f", "all"),
        [
            json!([{"name": "y", "n": 2}, {"name": "z", "n": 3}, {"name": "ü", "n": 5}, {"name": "v", "n": 4}])
        ]
    );
}

#[test]
fn skipped_steps_pass_payloads_on_and_store_nothing() {
    let p = Project::new();
    p.flow(
        "f",
        "[[steps]]\nid = \"b\"\nkind = \"split\"\nsize = 1\n\n\
         [[steps]]\nid = \"double\"\nkind = \"map\"\njq = 'map(. * 2)'\nskip = true\n\n\
         [[steps]]\nid = \"send\"\nkind = \"write\"\npath = \"out/x.json\"\nskip = true\n\n\
         [[steps]]\nid = \"last\"\nkind = \"map\"\njq = '.[0] + 100'\n",
    )
    .file("in.json", "[1, 2]");
    p.cmd(&["run", "f", "--input", "in.json"])
        .run()
        .ok()
        .stdout_has("skipping steps (skip = true in flows/f.toml): double, send")
        .stdout_has("02 double")
        .stdout_has("03 send");
    let id = p.last_run("f");
    let m = p.manifest("f", &id);
    for i in [1, 2] {
        assert_eq!(m["steps"][i]["status"], "skipped");
        assert_eq!(m["steps"][i]["payloads"], json!([]));
    }
    assert!(!p.exists("out"));
    let steps: Vec<String> = p.tree(&format!("runs/f/{id}/steps")).into_keys().collect();
    assert_eq!(
        steps,
        [
            "01-b/000001.json",
            "01-b/000002.json",
            "04-last/000001.json",
            "04-last/000002.json"
        ]
    );
    assert_eq!(p.outputs("f", "last"), [json!(101), json!(102)]);
    assert_eq!(
        m["steps"][3]["payloads"][1]["source"],
        "steps/01-b/000002.json"
    );
}

#[test]
fn a_skipped_step_is_announced_by_name() {
    let p = Project::new();
    p.flow(
        "f",
        "[[steps]]\nid = \"a\"\nkind = \"merge\"\nskip = true\n[[steps]]\nid = \"b\"\nkind = \"merge\"\n",
    );
    // Without --input, a skipped first step needs --force (see hints.rs).
    let out = p
        .cmd(&["run", "f", "--force"])
        .run()
        .ok()
        .stdout_has("skipping 1 step");
    let line = out
        .stdout
        .lines()
        .find(|l| l.contains("01 a"))
        .unwrap_or_else(|| panic!("no line for step a:\n{}", out.stdout));
    assert!(line.contains("skipped"), "{line}");
}

#[test]
fn the_whole_run_timeout_fails_the_run() {
    let p = Project::new();
    p.flow(
        "f",
        "[settings]\ntimeout = \"300ms\"\n\n\
         [[steps]]\nid = \"slow\"\nkind = \"command\"\nrun = [\"sh\", \"-c\", \"exec sleep 30\"]\n\n\
         [[steps]]\nid = \"after\"\nkind = \"map\"\njq = '.'\n",
    );
    p.cmd(&["run", "f"]).run().code(1).stderr_has("timeout");
    let id = p.last_run("f");
    let m = p.manifest("f", &id);
    assert_eq!(m["status"], "failure");
    assert_eq!(m["error"]["step"], "slow");
    assert_eq!(m["steps"][1]["status"], "pending");
}

#[test]
fn the_whole_run_timeout_stops_between_payloads() {
    let p = Project::new();
    p.flow(
        "f",
        "[settings]\ntimeout = \"300ms\"\n\n\
         [[steps]]\nid = \"b\"\nkind = \"split\"\nsize = 1\n\n\
         [[steps]]\nid = \"slow\"\nkind = \"command\"\nrun = [\"sh\", \"-c\", \"sleep 0.2; cat\"]\n",
    )
    .file("in.json", "[1, 2, 3, 4, 5, 6, 7, 8, 9, 10]");
    p.cmd(&["run", "f", "--input", "in.json"])
        .run()
        .code(1)
        .stderr_has("timeout");
    let id = p.last_run("f");
    let m = p.manifest("f", &id);
    assert_eq!(m["error"]["step"], "slow");
    let done = m["steps"][1]["payloads"].as_array().unwrap().len();
    assert!(done < 10, "{done} payloads done");
    assert_eq!(
        m["error"]["failed_input"],
        format!("steps/01-b/{:06}.json", done + 1).as_str()
    );
}

#[test]
fn a_run_does_the_same_from_any_working_directory() {
    let p = Project::new();
    p.flow(
        "f",
        "[[steps]]\nid = \"load\"\nkind = \"read\"\npath = \"data/*.json\"\n\n\
         [[steps]]\nid = \"save\"\nkind = \"write\"\npath = \"out/{n}.json\"\n",
    )
    .file("data/a.json", "[1]");
    let elsewhere = tempfile::tempdir().unwrap();
    let root = p.root().to_str().unwrap().to_owned();
    p.cmd(&["run", "f", "--root", &root])
        .cwd(elsewhere.path())
        .run()
        .ok();
    p.cmd(&["run", "f"])
        .cwd(elsewhere.path())
        .env("FLOWRUN_ROOT", &root)
        .run()
        .ok();
    let ids = p.run_ids("f");
    assert_eq!(ids.len(), 2);
    assert_eq!(p.json("out/1.json"), json!([1]));
    assert!(
        std::fs::read_dir(elsewhere.path())
            .unwrap()
            .next()
            .is_none()
    );
    assert!(
        p.tree(&format!("runs/f/{}/steps", ids[0])) == p.tree(&format!("runs/f/{}/steps", ids[1]))
    );
}

#[test]
fn payload_files_are_numbered_densely_in_output_order() {
    let items: Vec<String> = (1..=60).map(|i| i.to_string()).collect();
    let p = Project::new();
    p.flow(
        "f",
        "[[steps]]\nid = \"b\"\nkind = \"split\"\nsize = 1\n\n\
         [[steps]]\nid = \"even\"\nkind = \"filter\"\njq = '. % 2 == 0'\n",
    )
    .file("in.json", &format!("[{}]", items.join(", ")));
    p.cmd(&["run", "f", "--input", "in.json"]).run().ok();
    let id = p.last_run("f");
    let rec = p.step_record("f", &id, "even");
    let payloads = rec["payloads"].as_array().unwrap();
    assert_eq!(payloads.len(), 30);
    for (k, r) in payloads.iter().enumerate() {
        assert_eq!(
            r["file"],
            format!("steps/02-even/{:06}.json", k + 1).as_str()
        );
        assert_eq!(
            r["source"],
            format!("steps/01-b/{:06}.json", 2 * k + 2).as_str()
        );
    }
    let values: Vec<Value> = p.outputs("f", "even");
    let want: Vec<Value> = (1..=30).map(|k| json!([2 * k])).collect();
    assert_eq!(values, want);
    assert_eq!(p.tree(&format!("runs/f/{id}/steps/02-even")).len(), 30);
}

#[test]
fn a_step_failing_on_payload_k_keeps_the_outputs_before_it() {
    let items: Vec<String> = (1..=60).map(|i| i.to_string()).collect();
    let p = Project::new();
    p.flow(
        "f",
        "[[steps]]\nid = \"b\"\nkind = \"split\"\nsize = 1\n\n\
         [[steps]]\nid = \"m\"\nkind = \"map\"\njq = 'if .[0] % 20 == 0 then error(\"bad \\(.[0])\") else .[0] end'\n\n\
         [[steps]]\nid = \"never\"\nkind = \"merge\"\n",
    )
    .file("in.json", &format!("[{}]", items.join(", ")));
    p.cmd(&["run", "f", "--input", "in.json"])
        .run()
        .code(1)
        .stderr_has("bad 20")
        .stderr_lacks("bad 40");
    let id = p.last_run("f");
    let m = p.manifest("f", &id);
    assert_eq!(m["error"]["failed_input"], "steps/01-b/000020.json");
    let recorded = m["steps"][1]["payloads"].as_array().unwrap();
    assert_eq!(recorded.len(), 19);
    assert_eq!(recorded[18]["source"], "steps/01-b/000019.json");
    assert_eq!(p.tree(&format!("runs/f/{id}/steps/02-m")).len(), 19);
    assert!(!p.exists(&format!("runs/f/{id}/steps/03-never")));
    p.cmd(&["verify", &id]).run().ok();
}
