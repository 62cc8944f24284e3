//! Re-sync: `replay` with every guard and its override, `resume`, `retry`, `skip`/`unskip`.

use crate::support::{ORDERS_BAD, ORDERS_FLOW, ORDERS_GOOD, Project};
use serde_json::json;

/// A failed run of `ORDERS_FLOW` (fails at `valid` on batch 2 of 3); returns its id.
fn failed(p: &Project) -> String {
    p.flow("orders", ORDERS_FLOW)
        .file("data/orders.json", ORDERS_BAD);
    p.cmd(&["run", "orders"]).run().code(1);
    p.last_run("orders")
}

fn fix_map(p: &Project) {
    let fixed = ORDERS_FLOW.replace(
        "(.email | ascii_downcase)",
        "(.email | ascii_downcase | sub(\"[.]x[.]\"; \"@x.\"))",
    );
    p.flow("orders", &fixed);
}

#[test]
fn replay_needs_the_earlier_steps_skipped() {
    let p = Project::new();
    let id = failed(&p);
    let payload = format!("runs/orders/{id}/steps/03-to-erp/000002.json");
    p.cmd(&["replay", &payload])
        .run()
        .code(2)
        .stderr_has("these steps would run again: load, batch, to-erp")
        .stderr_has("flowrun skip orders --through to-erp")
        .stderr_has("--auto-skip");
    assert_eq!(p.run_ids("orders").len(), 1, "nothing ran");
}

#[test]
fn replay_with_auto_skip_records_where_payloads_came_from() {
    let p = Project::new();
    let id = failed(&p);
    // Fix the data inside the failed payload's step: replay the batch folder after fixing the map.
    fix_map(&p);
    let folder = format!("runs/orders/{id}/steps/02-batch");
    p.cmd(&["replay", &folder, "--auto-skip"])
        .run()
        .ok()
        .stdout_has("skipping for this run only (--auto-skip): load, batch");
    let new = p.last_run("orders");
    let m = p.manifest("orders", &new);
    assert_eq!(m["trigger"], "replay");
    assert_eq!(m["status"], "success");
    assert_eq!(m["replay_of"]["run_id"], id.as_str());
    assert_eq!(m["replay_of"]["step"], "batch");
    assert_eq!(m["replay_of"]["edited"], false);
    let replayed = m["replay_of"]["payloads"].as_array().unwrap();
    assert_eq!(replayed.len(), 3);
    let src = p.manifest("orders", &id);
    for (i, r) in replayed.iter().enumerate() {
        assert_eq!(r["file"], format!("steps/02-batch/{:06}.json", i + 1));
        assert_eq!(r["blake3"], src["steps"][1]["payloads"][i]["blake3"]);
        // input/ holds byte-identical copies.
        assert_eq!(
            p.read(&format!("runs/orders/{new}/input/{:06}.json", i + 1)),
            p.read(&format!(
                "runs/orders/{id}/steps/02-batch/{:06}.json",
                i + 1
            ))
        );
        assert_eq!(m["input"][i]["blake3"], r["blake3"]);
    }
    assert_eq!(m["steps"][0]["status"], "skipped");
    assert_eq!(m["steps"][1]["status"], "skipped");
    assert_eq!(m["steps"][2]["status"], "success");
    assert_eq!(m["steps"][2]["payloads"][0]["source"], "input/000001.json");
    assert_eq!(
        p.json("out/batch-2.json"),
        json!([{"id": 3, "email": "c@x.com"}, {"id": 4, "email": "d@x.com"}])
    );
}

#[test]
fn every_refusal_has_its_override() {
    let p = Project::new();
    let id = failed(&p);
    fix_map(&p);
    let payload = format!("runs/orders/{id}/steps/02-batch/000002.json");

    // An edited payload needs --edited, which is recorded.
    let original = p.read(&payload);
    p.file(&payload, &original.replace("d.x.com", "d@x.com"));
    p.cmd(&["replay", &payload, "--auto-skip"])
        .run()
        .code(2)
        .stderr_has("--edited");
    p.cmd(&["replay", &payload, "--auto-skip", "--edited"])
        .run()
        .ok();
    let m = p.manifest("orders", &p.last_run("orders"));
    assert_eq!(m["replay_of"]["edited"], true);
    assert_ne!(
        m["replay_of"]["payloads"][0]["blake3"],
        p.manifest("orders", &id)["steps"][1]["payloads"][1]["blake3"]
    );

    // Already replayed by a successful run: --force.
    p.cmd(&["replay", &payload, "--auto-skip", "--edited"])
        .run()
        .code(2)
        .stderr_has("already replayed by successful run");
    p.cmd(&["replay", &payload, "--auto-skip", "--edited", "--force"])
        .run()
        .ok();

    // A payload of a run that did not fail: --force.
    let ok_run = p.last_run("orders");
    let ok_payload = format!("runs/orders/{ok_run}/input/000001.json");
    p.cmd(&["replay", &ok_payload])
        .run()
        .code(2)
        .stderr_has("did not fail");
    p.cmd(&["replay", &ok_payload, "--force"]).run().ok();
}

#[test]
fn trimmed_payloads_and_vanished_steps_are_refused() {
    let p = Project::new();
    let flow = format!("[settings]\nmax_payload_bytes = 20\n{ORDERS_FLOW}");
    p.flow("orders", &flow).file("data/orders.json", ORDERS_BAD);
    p.cmd(&["run", "orders"]).run().code(1);
    let id = p.last_run("orders");
    p.cmd(&[
        "replay",
        &format!("runs/orders/{id}/steps/02-batch/000001.json"),
        "--auto-skip",
    ])
    .run()
    .code(2)
    .stderr_has("trimmed");

    let p = Project::new();
    let id = failed(&p);
    p.flow(
        "orders",
        &ORDERS_FLOW.replace("id = \"to-erp\"", "id = \"to-erp-v2\""),
    );
    p.cmd(&[
        "replay",
        &format!("runs/orders/{id}/steps/03-to-erp/000002.json"),
        "--auto-skip",
    ])
    .run()
    .code(2)
    .stderr_has("step `to-erp` is no longer in flows/orders.toml");
}

#[test]
fn dry_run_prints_and_runs_nothing() {
    let p = Project::new();
    let id = failed(&p);
    p.cmd(&[
        "replay",
        &format!("runs/orders/{id}/steps/02-batch/000002.json"),
        "--auto-skip",
        "--dry-run",
    ])
    .run()
    .ok()
    .stdout_has("dry run: would replay 1 payload of step `batch`")
    .stdout_has("skip: load, batch")
    .stdout_has("run:  to-erp, valid, save");
    assert_eq!(p.run_ids("orders").len(), 1);
}

#[test]
fn replaying_part_of_a_step_warns_about_what_is_left_out() {
    let p = Project::new();
    let id = failed(&p);
    fix_map(&p);
    p.cmd(&[
        "replay",
        &format!("runs/orders/{id}/steps/02-batch/000002.json"),
        "--auto-skip",
    ])
    .run()
    .ok()
    .stderr_has("warning: 2 payloads of step `batch` did not go all the way through")
    .stderr_has(&format!("runs/orders/{id}/steps/02-batch/000001.json"))
    .stderr_has(&format!("runs/orders/{id}/steps/02-batch/000003.json"));
}

#[test]
fn the_replay_index_is_rebuilt_when_deleted() {
    let p = Project::new();
    let id = failed(&p);
    fix_map(&p);
    let payload = format!("runs/orders/{id}/steps/02-batch/000002.json");
    p.cmd(&["replay", &payload, "--auto-skip"]).run().ok();
    let index = p.path("runs/orders/.replays.json");
    assert!(index.exists());
    std::fs::remove_file(&index).unwrap();
    p.cmd(&["replay", &payload, "--auto-skip"])
        .run()
        .code(2)
        .stderr_has("already replayed");
    assert!(index.exists(), "rebuilt from the manifests");
    let rebuilt = p.json("runs/orders/.replays.json");
    assert_eq!(rebuilt["entries"][0]["of_run"], id.as_str());
}

/// A flow whose `send` step (a command) fails on one payload until a marker file exists,
/// followed by a write step; the command logs every payload it handles.
const RESUME_FLOW: &str = r#"
[[steps]]
id = "load"
kind = "read"
path = "data/items.json"

[[steps]]
id = "one"
kind = "split"
size = 1

[[steps]]
id = "send"
kind = "command"
run = ["sh", "send.sh"]

[[steps]]
id = "save"
kind = "write"
path = "out/item-{n}.json"
"#;

const SEND: &str = r#"payload=$(cat)
case "$payload" in *'"id":4'*) [ -f fixed ] || { echo "item 4 rejected" >&2; exit 3; } ;; esac
echo "$payload" >> sent.log
echo "$payload"
"#;

#[test]
fn resume_does_each_payload_exactly_once() {
    let p = Project::new();
    let items: Vec<_> = (1..=6).map(|i| json!({"id": i})).collect();
    p.flow("items", RESUME_FLOW)
        .file("data/items.json", &serde_json::to_string(&items).unwrap())
        .file("send.sh", SEND);
    p.cmd(&["run", "items"])
        .run()
        .code(1)
        .stderr_has("item 4 rejected");
    let id = p.last_run("items");
    assert_eq!(
        p.read("sent.log").lines().count(),
        3,
        "payloads 1-3 were sent"
    );

    p.file("fixed", "");
    p.cmd(&["resume", &id]).run().ok();
    let new = p.last_run("items");
    // Each payload was sent exactly once, none is missing.
    let sent: Vec<serde_json::Value> = p
        .read("sent.log")
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(sent, items.iter().map(|i| json!([i])).collect::<Vec<_>>());
    for n in 1..=6 {
        assert_eq!(p.json(&format!("out/item-{n}.json")), json!([{"id": n}]));
    }
    assert!(!p.path("out/item-7.json").exists());

    let m = p.manifest("items", &new);
    assert_eq!(m["trigger"], "resume");
    assert_eq!(m["resume_of"], id.as_str());
    assert_eq!(m["steps"][0]["status"], "skipped");
    assert_eq!(m["steps"][1]["status"], "skipped");
    let send = &m["steps"][2];
    assert_eq!(send["status"], "success");
    assert_eq!(send["reused"], 3);
    let payloads = send["payloads"].as_array().unwrap();
    assert_eq!(
        payloads.len(),
        6,
        "the new run's step folder holds all outputs"
    );
    for (i, r) in payloads.iter().enumerate() {
        assert_eq!(r["source"], format!("input/{:06}.json", i + 1));
    }
    assert_eq!(m["input"].as_array().unwrap().len(), 6);
    // Resuming again is refused.
    p.cmd(&["resume", &id])
        .run()
        .code(2)
        .stderr_has("already resumed");
    p.cmd(&["verify"]).run().ok();
}

#[test]
fn retry_runs_from_the_start_with_the_original_input() {
    let p = Project::new();
    p.flow("orders", ORDERS_FLOW)
        .file("data/orders.json", ORDERS_GOOD);
    p.file("in.json", r#"[{"id": 9, "email": "Z@Z.Z"}]"#);
    let flow = ORDERS_FLOW
        .replace("path = \"data/orders.json\"", "path = \"data/none-*.json\"")
        .replace(
            "[[steps]]\nid = \"load\"\nkind = \"read\"\npath = \"data/none-*.json\"\n",
            "",
        );
    p.flow("direct", &flow);
    p.cmd(&["run", "direct", "--input", "in.json"]).run().ok();
    let id = p.last_run("direct");
    p.cmd(&["retry", &id]).run().ok();
    let m = p.manifest("direct", &p.last_run("direct"));
    assert_eq!(m["trigger"], "retry");
    assert_eq!(m["retry_of"], id.as_str());
    assert_eq!(
        m["input"][0]["blake3"],
        p.manifest("direct", &id)["input"][0]["blake3"]
    );
}

#[test]
fn flow_version_original_runs_the_stored_flow() {
    let p = Project::new();
    let id = failed(&p);
    fix_map(&p);
    let payload = format!("runs/orders/{id}/steps/02-batch/000002.json");
    // The stored flow still has the bug: the replay fails again.
    p.cmd(&[
        "replay",
        &payload,
        "--auto-skip",
        "--flow-version",
        "original",
    ])
    .run()
    .code(1);
    let orig = p.last_run("orders");
    assert_eq!(
        p.read(&format!("runs/orders/{orig}/flow.toml")),
        p.read(&format!("runs/orders/{id}/flow.toml"))
    );
    // The current flow has the fix.
    p.cmd(&[
        "replay",
        &payload,
        "--auto-skip",
        "--flow-version",
        "current",
    ])
    .run()
    .ok();
    let cur = p.last_run("orders");
    assert_eq!(
        p.read(&format!("runs/orders/{cur}/flow.toml")),
        p.read("flows/orders.toml")
    );
    assert_ne!(
        p.read(&format!("runs/orders/{cur}/flow.toml")),
        p.read(&format!("runs/orders/{id}/flow.toml"))
    );
}

const COMMENTED: &str = r#"# Orders flow — reviewed in git.
description = "demo"   # trailing comment

[[steps]]
id = "load"        # the source
kind = "read"
path = "data/orders.json"

# batching
[[steps]]
id = "batch"
kind = "split"
size = 2
skip = false   # toggled by hand

[[steps]]
id = "to-erp"
kind = "map"
jq = '.'
"#;

#[test]
fn skip_and_unskip_touch_only_the_skip_lines() {
    let p = Project::new();
    p.flow("f", COMMENTED);
    p.cmd(&["skip", "f", "--through", "batch"])
        .run()
        .ok()
        .stdout_has("skipped: load, batch");
    let skipped = p.read("flows/f.toml");
    // Exactly two lines differ: one added under `load`, one flipped under `batch`.
    let undone = skipped
        .replace("skip = true # set by flowrun skip\n", "")
        .replace(
            "skip = true   # toggled by hand",
            "skip = false   # toggled by hand",
        );
    assert_eq!(undone, COMMENTED);
    assert!(
        skipped.contains("skip = true   # toggled by hand"),
        "{skipped}"
    );
    assert!(
        skipped.contains(
            "path = \"data/orders.json\"\nskip = true # set by flowrun skip\n\n# batching"
        ),
        "{skipped}"
    );
    assert_eq!(skipped.lines().count(), COMMENTED.lines().count() + 1);
    p.cmd(&["unskip", "f"])
        .run()
        .ok()
        .stdout_has("no steps skipped");
    let back = p.read("flows/f.toml");
    assert_eq!(back, COMMENTED);
    // Single steps, and unknown ones.
    p.cmd(&["skip", "f", "to-erp"])
        .run()
        .ok()
        .stdout_has("skipped: to-erp");
    p.cmd(&["unskip", "f", "to-erp"]).run().ok();
    assert_eq!(p.read("flows/f.toml"), COMMENTED);
    p.cmd(&["skip", "f", "nope"])
        .run()
        .code(2)
        .stderr_has("no step `nope` in this flow; its steps are: load, batch, to-erp");
}

#[test]
fn a_skipped_step_in_the_flow_file_satisfies_replay() {
    let p = Project::new();
    let id = failed(&p);
    fix_map(&p);
    p.cmd(&["skip", "orders", "--through", "batch"]).run().ok();
    p.cmd(&["replay", &format!("runs/orders/{id}/steps/02-batch")])
        .run()
        .ok();
    p.cmd(&["unskip", "orders"]).run().ok();
    assert!(!p.read("flows/orders.toml").contains("skip"));
}
