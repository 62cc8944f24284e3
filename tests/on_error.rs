//! `on_error` on a step: payloads that fail are recorded under `failed/`, the step goes
//! on, the run ends `partial`; `replay` of the `failed/` files and `resume` re-sync
//! exactly those payloads (against a real local HTTP server).

use crate::server::{Reply, Server};
use crate::support::{Project, blake3_hex};
use serde_json::{Value, json};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

/// Ten orders; 3 and 7 have no customer.
fn orders() -> String {
    let all: Vec<Value> = (1..=10)
        .map(|i| {
            if i == 3 || i == 7 {
                json!({"id": i, "customer": null})
            } else {
                json!({"id": i, "customer": format!("c{i}")})
            }
        })
        .collect();
    serde_json::to_string_pretty(&all).expect("JSON")
}

/// An ERP that refuses orders without a customer (422) until `fixed` is set.
fn erp(fixed: &Arc<AtomicBool>) -> Server {
    let fixed = Arc::clone(fixed);
    Server::start(move |req, _| {
        let order = &req.json()[0];
        if order["customer"].is_null() && !fixed.load(Ordering::SeqCst) {
            Reply::json(422, &json!({"error": "customer missing"}))
        } else {
            Reply::json(200, &json!({"accepted": order["id"]}))
        }
    })
}

/// The ids of the orders the server accepted, in the order it got them.
fn accepted(s: &Server) -> Vec<i64> {
    s.requests()
        .iter()
        .map(|r| r.json()[0]["id"].as_i64().expect("id"))
        .collect()
}

/// read → split into single orders → POST each (`on_error = "continue"`) → write each answer.
fn flow(url: &str) -> String {
    format!(
        r#"[[steps]]
id = "load"
kind = "read"
path = "data/orders.json"

[[steps]]
id = "one"
kind = "split"
size = 1

[[steps]]
id = "send"
kind = "http"
method = "POST"
url = "{url}"
on_error = "continue"

[[steps]]
id = "save"
kind = "write"
path = "out/{{hash}}.json"
"#
    )
}

/// A project with the flow and the orders, run once: partial with 3 and 7 failed.
fn partial(s: &Server) -> (Project, String) {
    let p = Project::new();
    p.flow("orders", &flow(&s.url("/erp")))
        .file("data/orders.json", &orders());
    p.cmd(&["run", "orders"]).run().code(1);
    let id = p.last_run("orders");
    (p, id)
}

fn files_in(p: &Project, rel: &str) -> usize {
    std::fs::read_dir(p.path(rel)).map_or(0, Iterator::count)
}

#[test]
fn continue_records_the_failed_payloads_and_the_run_is_partial() {
    let fixed = Arc::new(AtomicBool::new(false));
    let s = erp(&fixed);
    let p = Project::new();
    p.flow("orders", &flow(&s.url("/erp")))
        .file("data/orders.json", &orders());
    let out = p
        .cmd(&["run", "orders"])
        .run()
        .code(1)
        .stdout_has("(2 failed)")
        .stdout_has("partial: run ")
        .stdout_has("2 payloads failed in step `send`")
        .stdout_has("steps/03-send/failed/000001.json")
        .stdout_has("steps/03-send/failed/000002.json")
        .stderr_has("step `send` failed on payload");
    let id = p.last_run("orders");
    // Both ways on: resume, and a replay of the failed/ folder.
    let out = out
        .stdout_has(&format!("flowrun resume {id}"))
        .stdout_has(&format!(
            "flowrun replay runs/orders/{id}/steps/03-send/failed --auto-skip"
        ));
    drop(out);
    assert_eq!(accepted(&s), (1..=10).collect::<Vec<_>>(), "each sent once");

    let m = p.manifest("orders", &id);
    assert_eq!(m["status"], "partial");
    assert_eq!(m["error"], Value::Null);
    let send = &m["steps"][2];
    assert_eq!(send["status"], "success");
    assert_eq!(send["inputs_done"], 10);
    assert_eq!(send["payloads"].as_array().map(Vec::len), Some(8));
    let failed = send["failed"].as_array().expect("failed list");
    assert_eq!(failed.len(), 2);
    for (k, (f, n)) in failed.iter().zip([3, 7]).enumerate() {
        let file = format!("steps/03-send/failed/{:06}.json", k + 1);
        assert_eq!(f["file"], file.as_str());
        assert_eq!(f["source"], format!("steps/02-one/{n:06}.json").as_str());
        let err = f["error"].as_str().expect("error");
        assert!(err.contains("422"), "{err}");
        // The input as it reached the step: byte for byte the split's output.
        let bytes = p.bytes(&format!("runs/orders/{id}/{file}"));
        assert_eq!(
            bytes,
            p.bytes(&format!("runs/orders/{id}/steps/02-one/{n:06}.json"))
        );
        assert_eq!(f["blake3"], blake3_hex(&bytes).as_str());
        assert_eq!(f["bytes"], bytes.len());
        assert_eq!(f["trimmed"], false);
    }
    // The eight good orders went on to the later step.
    let saved = &m["steps"][3];
    assert_eq!(saved["payloads"].as_array().map(Vec::len), Some(8));
    assert_eq!(files_in(&p, "out"), 8);

    // Listing and showing.
    let listed = p
        .cmd(&["runs", "--status", "partial", "-q"])
        .run()
        .ok()
        .stdout;
    assert_eq!(listed.trim(), id);
    p.cmd(&["runs", "--status", "failure", "-q"])
        .run()
        .ok()
        .stdout_lacks(&id);
    let rows = p.cmd(&["runs", "--json"]).run().ok().json();
    assert_eq!(rows[0]["status"], "partial");
    assert_eq!(rows[0]["failed_step"], "send");
    p.cmd(&["runs"])
        .run()
        .ok()
        .stdout_has("partial")
        .stdout_has("send");
    p.cmd(&["show", &id])
        .run()
        .ok()
        .stdout_has("status   partial")
        .stdout_has("failed payloads (2")
        .stdout_has("steps/03-send/failed/000002.json");
    p.cmd(&["show", &id, "--step", "send"])
        .run()
        .ok()
        .stdout_has("steps/03-send/failed/000001.json")
        .stdout_has("from steps/02-one/000003.json  failed: ");
    let shown = p.cmd(&["show", &id, "--json"]).run().ok().json();
    assert_eq!(
        shown["steps"][2]["failed"].as_array().map(Vec::len),
        Some(2)
    );
    p.cmd(&["verify", &id]).run().ok();
}

#[test]
fn run_json_carries_the_failed_payloads() {
    let fixed = Arc::new(AtomicBool::new(false));
    let s = erp(&fixed);
    let p = Project::new();
    p.flow("orders", &flow(&s.url("/erp")))
        .file("data/orders.json", &orders());
    let out = p.cmd(&["run", "orders", "--json"]).run().code(1);
    let v = out.json();
    assert_eq!(v["status"], "partial");
    assert_eq!(v["failed_step"], "send");
    let failed = v["failed_payloads"].as_array().expect("failed_payloads");
    assert_eq!(failed.len(), 2);
    assert!(
        failed[0]
            .as_str()
            .is_some_and(|f| f.ends_with("steps/03-send/failed/000001.json")),
        "{v}"
    );
    assert!(
        v["hints"][1]
            .as_str()
            .is_some_and(|h| h.contains("replay") && h.contains("failed")),
        "{v}"
    );
}

#[test]
fn replay_of_the_failed_files_sends_each_once() {
    let fixed = Arc::new(AtomicBool::new(false));
    let s = erp(&fixed);
    let (p, id) = partial(&s);
    let folder = format!("runs/orders/{id}/steps/03-send/failed");
    // The steps before the failed payloads' step must be skipped.
    p.cmd(&["replay", &folder])
        .run()
        .code(2)
        .stderr_has("these steps would run again: load, one")
        .stderr_has("starts at their step `send`")
        .stderr_has("flowrun skip orders --through one");
    fixed.store(true, Ordering::SeqCst);
    p.cmd(&["replay", &folder, "--auto-skip"])
        .run()
        .ok()
        .stdout_has("03 send");
    let replay = p.last_run("orders");
    let m = p.manifest("orders", &replay);
    assert_eq!(m["status"], "success");
    assert_eq!(m["trigger"], "replay");
    assert_eq!(m["replay_of"]["step"], "send");
    assert_eq!(
        m["replay_of"]["payloads"][1]["file"],
        "steps/03-send/failed/000002.json"
    );
    assert_eq!(m["steps"][0]["status"], "skipped");
    assert_eq!(m["steps"][1]["status"], "skipped");
    assert_eq!(m["steps"][3]["payloads"].as_array().map(Vec::len), Some(2));
    let sent = accepted(&s);
    assert_eq!(&sent[10..], &[3, 7], "the two failed orders, once each");
    assert_eq!(files_in(&p, "out"), 10);

    // Done once: a second replay, of the folder or of one file, and a resume, are refused.
    p.cmd(&["replay", &folder, "--auto-skip"])
        .run()
        .code(2)
        .stderr_has(&format!("already replayed by successful run {replay}"));
    p.cmd(&["replay", &format!("{folder}/000001.json"), "--auto-skip"])
        .run()
        .code(2)
        .stderr_has("already replayed");
    p.cmd(&["resume", &id])
        .run()
        .code(2)
        .stderr_has("already replayed");
    assert_eq!(s.requests().len(), 12);
    // --force replays anyway.
    p.cmd(&["replay", &folder, "--auto-skip", "--force"])
        .run()
        .ok();
    assert_eq!(&accepted(&s)[12..], &[3, 7]);
}

#[test]
fn replay_guards_apply_to_failed_files() {
    let fixed = Arc::new(AtomicBool::new(false));
    let s = erp(&fixed);
    let (p, id) = partial(&s);
    fixed.store(true, Ordering::SeqCst);
    let file = format!("runs/orders/{id}/steps/03-send/failed/000001.json");
    // An edited failed file is refused unless --edited, which records the edit.
    p.file(&file, &p.read(&file).replace("null", "\"c3-fixed\""));
    p.cmd(&["replay", &file, "--auto-skip"])
        .run()
        .code(2)
        .only_errors()
        .stderr_has("changed after it was recorded")
        .stderr_has("--edited");
    p.cmd(&["verify", &id])
        .run()
        .code(1)
        .stderr_has("changed: steps/03-send/failed/000001.json");
    p.cmd(&["replay", &file, "--auto-skip", "--edited"])
        .run()
        .ok();
    let m = p.manifest("orders", &p.last_run("orders"));
    assert_eq!(m["replay_of"]["edited"], true);
    assert_eq!(
        s.requests().last().map(|r| r.json()[0]["customer"].clone()),
        Some(json!("c3-fixed"))
    );
    // A file that is not in the manifest's failed list is refused.
    p.file(
        &format!("runs/orders/{id}/steps/03-send/failed/000009.json"),
        "[]\n",
    );
    p.cmd(&[
        "replay",
        &format!("runs/orders/{id}/steps/03-send/failed/000009.json"),
        "--auto-skip",
    ])
    .run()
    .code(2)
    .stderr_has("not listed in the run's manifest");
}

#[test]
fn a_trimmed_failed_payload_cannot_be_replayed() {
    let fixed = Arc::new(AtomicBool::new(false));
    let s = erp(&fixed);
    let p = Project::new();
    p.flow(
        "orders",
        &format!(
            "[settings]\nmax_payload_bytes = 20\n\n{}",
            flow(&s.url("/erp"))
        ),
    )
    .file("data/orders.json", &orders());
    p.cmd(&["run", "orders"]).run().code(1);
    let id = p.last_run("orders");
    let m = p.manifest("orders", &id);
    assert_eq!(m["steps"][2]["failed"][0]["trimmed"], true);
    let failed = p.read(&format!(
        "runs/orders/{id}/steps/03-send/failed/000001.json"
    ));
    assert!(failed.ends_with("\n[trimmed]\n"), "{failed}");
    p.cmd(&[
        "replay",
        &format!("runs/orders/{id}/steps/03-send/failed"),
        "--auto-skip",
    ])
    .run()
    .code(2)
    .stderr_has("trimmed");
    // The run went on with the whole payloads: 8 answers saved.
    assert_eq!(files_in(&p, "out"), 8);
}

#[test]
fn resume_of_a_partial_run_redoes_only_the_failed_payloads() {
    let fixed = Arc::new(AtomicBool::new(false));
    let s = erp(&fixed);
    let (p, id) = partial(&s);
    fixed.store(true, Ordering::SeqCst);
    p.cmd(&["resume", &id])
        .run()
        .ok()
        .stdout_has("2 payloads that failed (first in step `send`) run again")
        .stdout_has("(reused for 8 inputs)");
    let sent = accepted(&s);
    assert_eq!(&sent[10..], &[3, 7], "only the failed orders, once each");
    let new = p.last_run("orders");
    let m = p.manifest("orders", &new);
    assert_eq!(m["status"], "success");
    assert_eq!(m["resume_of"], id.as_str());
    assert_eq!(m["steps"][0]["status"], "skipped");
    assert_eq!(m["steps"][1]["status"], "skipped");
    // Self-contained: every step folder holds all ten, in the original order.
    let send = &m["steps"][2];
    assert_eq!(send["payloads"].as_array().map(Vec::len), Some(10));
    assert_eq!(send["reused"], 8);
    assert_eq!(send.get("failed"), None);
    for (k, p_) in send["payloads"]
        .as_array()
        .expect("payloads")
        .iter()
        .enumerate()
    {
        assert_eq!(p_["source"], format!("input/{:06}.json", k + 1).as_str());
    }
    assert_eq!(m["steps"][3]["payloads"].as_array().map(Vec::len), Some(10));
    assert_eq!(m["steps"][3]["reused"], 8);
    assert_eq!(files_in(&p, "out"), 10);
    // Once: the partial run was resumed.
    p.cmd(&["resume", &id])
        .run()
        .code(2)
        .stderr_has("already resumed");
    p.cmd(&[
        "replay",
        &format!("runs/orders/{id}/steps/03-send/failed"),
        "--auto-skip",
    ])
    .run()
    .code(2)
    .stderr_has("already resumed");
    assert_eq!(s.requests().len(), 12);
}

#[test]
fn resume_goes_on_from_each_step_a_payload_failed_in() {
    // Order 2 fails in the map (no total), order 3 at the ERP (no customer).
    let fixed = Arc::new(AtomicBool::new(false));
    let s = erp(&fixed);
    let p = Project::new();
    let with = |total: &str| {
        flow(&s.url("/erp")).replace(
            "[[steps]]\nid = \"send\"",
            &format!(
                "[[steps]]\nid = \"price\"\nkind = \"map\"\non_error = \"continue\"\njq = 'map(. + {{total: {total}}})'\n\n[[steps]]\nid = \"send\""
            ),
        )
    };
    let flow = with("(.total // error(\"no total\"))");
    p.flow("orders", &flow).file(
        "data/orders.json",
        r#"[{"id": 1, "customer": "a", "total": 1},
            {"id": 2, "customer": "b"},
            {"id": 3, "customer": null, "total": 3},
            {"id": 4, "customer": "d", "total": 4}]"#,
    );
    p.cmd(&["run", "orders"])
        .run()
        .code(1)
        .stdout_has("2 payloads failed in steps `price`, `send`");
    let id = p.last_run("orders");
    assert_eq!(accepted(&s), [1, 3, 4]);
    // Fix both causes.
    p.flow("orders", &with("(.total // 0)"));
    fixed.store(true, Ordering::SeqCst);
    p.cmd(&["resume", &id]).run().ok();
    // Order 2 went on from the map, order 3 from the ERP step: each sent once more.
    assert_eq!(accepted(&s), [1, 3, 4, 2, 3]);
    let m = p.manifest("orders", &p.last_run("orders"));
    assert_eq!(m["steps"][2]["reused"], 3);
    assert_eq!(m["steps"][3]["reused"], 2);
    assert_eq!(m["steps"][4]["payloads"].as_array().map(Vec::len), Some(4));
}

#[test]
fn resume_of_a_run_that_failed_in_a_continue_step_redoes_its_failed_payloads_too() {
    // The run's timeout ends the run while the step is on order 5; order 3 had failed.
    let p = Project::new();
    p.script(
        "bin/send",
        "#!/bin/sh\nin=$(cat)\necho \"$in\" >> sent.log\ncase \"$in\" in\n  *'\"id\":3,'*|*'\"id\": 3,'*) [ -e fixed ] || exit 3;;\n  *'\"id\":5,'*|*'\"id\": 5,'*) [ -e fixed ] || sleep 30;;\nesac\necho '{\"ok\": true}'\n",
    );
    p.flow(
        "orders",
        "[settings]\ntimeout = \"3s\"\n\n[[steps]]\nid = \"load\"\nkind = \"read\"\npath = \"data/orders.json\"\n\n[[steps]]\nid = \"one\"\nkind = \"split\"\nsize = 1\n\n[[steps]]\nid = \"send\"\nkind = \"command\"\nrun = [\"bin/send\"]\non_error = \"continue\"\n",
    )
    .file("data/orders.json", &orders());
    p.cmd(&["run", "orders"]).run().code(1);
    let id = p.last_run("orders");
    let m = p.manifest("orders", &id);
    assert_eq!(m["status"], "failure", "{m}");
    let send = &m["steps"][2];
    assert_eq!(send["failed"][0]["source"], "steps/02-one/000003.json");
    // The order the timeout cut off is where the run failed, not a failed payload.
    assert_eq!(send["failed"].as_array().map(Vec::len), Some(1));
    assert_eq!(m["error"]["failed_input"], "steps/02-one/000005.json");
    let sent_before = p.read("sent.log").lines().count();
    p.file("fixed", "");
    p.cmd(&["resume", &id]).run().ok();
    let log = p.read("sent.log");
    let again: Vec<&str> = log.lines().skip(sent_before).collect();
    // Order 3 (failed) and everything from the one the timeout cut off, nothing else.
    let ids: Vec<i64> = again
        .iter()
        .map(|l| {
            serde_json::from_str::<Value>(l).expect("JSON")[0]["id"]
                .as_i64()
                .expect("id")
        })
        .collect();
    // Orders 1..=sent_before were sent; the last of them is the one the timeout cut off.
    let first_undone = i64::try_from(sent_before).expect("small");
    assert!(ids.starts_with(&[3]), "{ids:?}");
    assert_eq!(
        ids[1..].to_vec(),
        (first_undone..=10).collect::<Vec<_>>(),
        "{ids:?}"
    );
    let m = p.manifest("orders", &p.last_run("orders"));
    assert_eq!(m["status"], "success");
    assert_eq!(m["steps"][2]["payloads"].as_array().map(Vec::len), Some(10));
}

#[test]
fn on_error_values_are_checked_with_line_and_column() {
    let p = Project::new();
    let step = "[[steps]]\nid = \"m\"\nkind = \"map\"\njq = '.'\n";
    p.flow("a", &format!("{step}on_error = \"skip\"\n"))
        .flow("b", &format!("{step}on_error = 1\n"))
        .flow("c", &format!("{step}on_error = {{ flw = \"x\" }}\n"))
        .flow("d", &format!("{step}on_error = {{ flow = \"nope\" }}\n"))
        .flow(
            "e",
            &format!("{step}on_error = {{ flow = \"Bad Name\" }}\n"),
        )
        .flow("f", &format!("{step}on_error = {{}}\n"))
        .flow("ok", &format!("{step}on_error = \"continue\"\n"))
        .flow("ok2", &format!("{step}on_error = {{ flow = \"ok\" }}\n"))
        .flow("ok3", &format!("{step}on_error = \"fail\"\n"));
    p.cmd(&["check"])
        .run()
        .code(2)
        .stderr_has(
            "flows/a.toml:5:12: `on_error` must be \"fail\", \"continue\" or { flow = \"NAME\" }, not `skip`",
        )
        .stderr_has("flows/b.toml:5:12: `on_error` must be \"fail\", \"continue\" or { flow = \"NAME\" }, not integer")
        .stderr_has("flows/c.toml:5:14: unknown key `flw` in `on_error`; expected: flow")
        .stderr_has("flows/d.toml:5:21: step `m`: `on_error` names flow `nope`, but there is no flows/nope.toml")
        .stderr_has("flows/e.toml:5:21: `on_error.flow`: `Bad Name` is not a valid flow name")
        .stderr_has("flows/f.toml:5:12: `on_error` must be")
        .stdout_has("ok: flows/ok.toml")
        .stdout_has("ok: flows/ok2.toml")
        .stdout_has("ok: flows/ok3.toml");
    // `run` refuses the same way, before anything runs.
    p.cmd(&["run", "d"])
        .run()
        .code(2)
        .stderr_has("flows/d.toml:5:21:");
    assert!(!p.exists("runs/d"));
}

#[test]
fn on_error_flow_records_the_payload_and_starts_the_child_run() {
    let p = Project::new();
    p.flow(
        "alert",
        "[[steps]]\nid = \"w\"\nkind = \"write\"\npath = \"alerts/{n}.json\"\n",
    )
    .flow(
        "f",
        "[[steps]]\nid = \"m\"\nkind = \"map\"\non_error = { flow = \"alert\" }\njq = 'error(\"bad\")'\n",
    );
    p.cmd(&["check", "f"]).run().ok();
    p.cmd(&["run", "f"]).run().code(1);
    let id = p.last_run("f");
    let m = p.manifest("f", &id);
    assert_eq!(m["status"], "partial");
    let alert = p.last_run("alert");
    assert_eq!(m["steps"][0]["failed"][0]["child_run"], alert.as_str());
    assert_eq!(p.manifest("alert", &alert)["status"], "success");
    assert!(p.exists("alerts/1.json"));
    assert_eq!(
        m["steps"][0]["failed"][0]["file"],
        "steps/01-m/failed/000001.json"
    );
    assert_eq!(m["steps"][0]["failed"][0]["source"], Value::Null);
    assert_eq!(
        p.read(&format!("runs/f/{id}/steps/01-m/failed/000001.json")),
        "null\n"
    );
    p.cmd(&["verify", &id]).run().ok();
}

#[test]
fn the_default_stops_the_run_as_before() {
    let fixed = Arc::new(AtomicBool::new(false));
    let s = erp(&fixed);
    let p = Project::new();
    p.flow(
        "orders",
        &flow(&s.url("/erp")).replace("on_error = \"continue\"\n", ""),
    )
    .file("data/orders.json", &orders());
    p.cmd(&["run", "orders"])
        .run()
        .code(1)
        .stderr_has("failed on payload")
        .stdout_lacks("partial");
    let m = p.manifest("orders", &p.last_run("orders"));
    assert_eq!(m["status"], "failure");
    assert_eq!(m["error"]["failed_input"], "steps/02-one/000003.json");
    assert_eq!(m["steps"][2].get("failed"), None);
    assert_eq!(accepted(&s), [1, 2, 3]);
}

#[test]
fn prune_deletes_partial_runs_like_any_other() {
    let fixed = Arc::new(AtomicBool::new(false));
    let s = erp(&fixed);
    let (p, id) = partial(&s);
    p.cmd(&["prune", "--keep", "0"])
        .run()
        .ok()
        .stdout_has(&format!("deleted orders {id} (partial)"));
    assert!(p.run_ids("orders").is_empty());
}

#[test]
fn dry_runs_and_flow_tests_go_on_past_failed_payloads() {
    let p = Project::new();
    p.flow(
        "f",
        "[[steps]]\nid = \"one\"\nkind = \"split\"\nsize = 1\n\n[[steps]]\nid = \"m\"\nkind = \"map\"\non_error = \"continue\"\njq = '.[0] | if . == 2 then error(\"two\") else . * 10 end'\n",
    )
    .file("in.json", "[1, 2, 3]")
    .file(
        "flows/f.test.toml",
        "[[tests]]\nname = \"skips the bad one\"\ninputs = [[1, 2, 3]]\n\n[[tests.expect]]\nstep = \"m\"\npayloads = [10, 30]\n",
    );
    p.cmd(&["test", "f"]).run().ok();
    p.cmd(&["run", "f", "--input", "in.json", "--dry-run"])
        .run()
        .ok()
        .stdout_has("would run");
}

/// split → map that fails on the element 2 (`on_error = "continue"`).
const TWO_FAILS: &str = "[[steps]]\nid = \"one\"\nkind = \"split\"\nsize = 1\n\n[[steps]]\nid = \"m\"\nkind = \"map\"\non_error = \"continue\"\njq = '.[0] | if . == 2 then error(\"two\") else . end'\n";

#[test]
fn replaying_what_went_through_a_partial_run_warns_of_duplicates() {
    let p = Project::new();
    p.flow("f", TWO_FAILS).file("in.json", "[1, 2, 3]");
    p.cmd(&["run", "f", "--input", "in.json"]).run().code(1);
    let id = p.last_run("f");
    p.cmd(&[
        "replay",
        &format!("runs/f/{id}/steps/01-one"),
        "--auto-skip",
    ])
    .run()
    .code(1)
    .stderr_has(&format!("warning: run {id} is partial"))
    .stderr_has("replay the `failed/` folder");
    p.cmd(&[
        "replay",
        &format!("runs/f/{id}/steps/02-m/failed"),
        "--auto-skip",
    ])
    .run()
    .code(1)
    .stderr_lacks("is partial");
}

#[test]
fn the_runner_logs_a_partial_run_and_moves_its_file_to_done() {
    let p = Project::new();
    p.flow(
        "drop",
        &format!("[trigger]\nwatch = \"inbox/*.json\"\n\n{TWO_FAILS}"),
    )
    .file("inbox/a.json", "[1, 2, 3]");
    let w = p.cmd(&["watch"]).spawn();
    crate::support::wait_for("a.json settled", || {
        p.exists("inbox/done/a.json") || p.exists("inbox/failed/a.json")
    });
    let pid = w.pid().to_string();
    let killed = std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .expect("kill");
    assert!(killed.success());
    let out = w.wait();
    assert!(p.exists("inbox/done/a.json"), "{}", out.stderr);
    let id = p.last_run("drop");
    assert_eq!(p.manifest("drop", &id)["status"], "partial");
    assert!(
        out.stderr.contains(&format!("run {id} ended partial")),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains("steps/02-m/failed/000001.json"),
        "{}",
        out.stderr
    );
}

#[test]
fn resume_of_a_run_interrupted_in_a_continue_step_redoes_its_failed_payloads_too() {
    let p = Project::new();
    p.script(
        "bin/send",
        "#!/bin/sh\nin=$(cat)\ncase \"$in\" in\n  *'\"id\":3,'*|*'\"id\": 3,'*) [ -e fixed ] || exit 3;;\n  *'\"id\":5,'*|*'\"id\": 5,'*) [ -e fixed ] || { touch started; sleep 30; };;\nesac\necho \"$in\" >> sent.log\necho '{\"ok\": true}'\n",
    );
    p.flow(
        "orders",
        "[[steps]]\nid = \"load\"\nkind = \"read\"\npath = \"data/orders.json\"\n\n[[steps]]\nid = \"one\"\nkind = \"split\"\nsize = 1\n\n[[steps]]\nid = \"send\"\nkind = \"command\"\nrun = [\"bin/send\"]\non_error = \"continue\"\n",
    )
    .file("data/orders.json", &orders());
    let running = p.cmd(&["run", "orders"]).spawn();
    crate::support::wait_for("order 5 in the command", || p.exists("started"));
    let killed = std::process::Command::new("kill")
        .args(["-TERM", &running.pid().to_string()])
        .status()
        .expect("kill");
    assert!(killed.success());
    let out = running.wait();
    assert_eq!(out.code, 1, "{}", out.stderr);
    let id = p.last_run("orders");
    let m = p.manifest("orders", &id);
    assert_eq!(m["status"], "interrupted", "{m}");
    let send = &m["steps"][2];
    assert_eq!(send["failed"].as_array().map(Vec::len), Some(1), "{m}");
    assert_eq!(send["failed"][0]["source"], "steps/02-one/000003.json");
    p.file("fixed", "");
    p.cmd(&["resume", &id]).run().ok();
    let ids: Vec<i64> = p
        .read("sent.log")
        .lines()
        .map(|l| {
            serde_json::from_str::<Value>(l).expect("JSON")[0]["id"]
                .as_i64()
                .expect("id")
        })
        .collect();
    // 1, 2, 4 before the stop; then 3 (failed) and 5..10 (never finished), once each.
    assert_eq!(ids, [1, 2, 4, 3, 5, 6, 7, 8, 9, 10]);
    let m = p.manifest("orders", &p.last_run("orders"));
    assert_eq!(m["status"], "success");
    assert_eq!(m["steps"][2]["reused"], 3);
}

#[test]
fn the_editor_schema_knows_on_error() {
    let p = Project::new();
    let schema = p.cmd(&["schema"]).run().ok().json();
    let step = &schema["properties"]["steps"]["items"]["allOf"][0]["then"]["properties"];
    let on_error = &step["on_error"];
    assert_eq!(on_error["oneOf"][0]["enum"], json!(["fail", "continue"]));
    assert_eq!(on_error["oneOf"][1]["required"], json!(["flow"]));
}

#[test]
fn resume_after_a_later_step_failed_keeps_its_finished_work_and_redoes_the_set_aside_ones() {
    // Order 2 is set aside in the map; the ERP step (on_error = fail) then stops the run
    // at order 3.
    let fixed = Arc::new(AtomicBool::new(false));
    let s = erp(&fixed);
    let p = Project::new();
    let with = |total: &str, send_extra: &str| {
        flow(&s.url("/erp"))
            .replace("on_error = \"continue\"\n", send_extra)
            .replace(
                "[[steps]]\nid = \"send\"",
                &format!(
                    "[[steps]]\nid = \"price\"\nkind = \"map\"\non_error = \"continue\"\njq = 'map(. + {{total: {total}}})'\n\n[[steps]]\nid = \"send\""
                ),
            )
    };
    p.flow("orders", &with("(.total // error(\"no total\"))", ""))
        .file(
            "data/orders.json",
            r#"[{"id": 1, "customer": "a", "total": 1},
                {"id": 2, "customer": "b"},
                {"id": 3, "customer": null, "total": 3},
                {"id": 4, "customer": "d", "total": 4}]"#,
        );
    p.cmd(&["run", "orders"]).run().code(1);
    let id = p.last_run("orders");
    let m = p.manifest("orders", &id);
    assert_eq!(m["status"], "failure");
    assert_eq!(
        m["steps"][2]["failed"][0]["source"],
        "steps/02-one/000002.json"
    );
    assert_eq!(accepted(&s), [1, 3]);
    // Fix both, changing the ERP step too: what it finished (order 1) stays done.
    p.flow("orders", &with("(.total // 0)", "retries = 1\n"));
    fixed.store(true, Ordering::SeqCst);
    p.cmd(&["resume", &id]).run().ok();
    assert_eq!(accepted(&s), [1, 3, 2, 3, 4]);
    let m = p.manifest("orders", &p.last_run("orders"));
    assert_eq!(m["steps"][3]["reused"], 1);
    assert_eq!(m["steps"][4]["payloads"].as_array().map(Vec::len), Some(4));
}

#[test]
fn a_partial_run_marks_dedupe_keys_and_its_failed_payloads_are_re_synced_by_replay() {
    let p = Project::new();
    let flow = |jq: &str| {
        format!(
            "[[steps]]\nid = \"load\"\nkind = \"read\"\npath = \"data/in.json\"\n\n[[steps]]\nid = \"new\"\nkind = \"dedupe\"\nkey = '.'\n\n[[steps]]\nid = \"one\"\nkind = \"split\"\nsize = 1\n\n[[steps]]\nid = \"m\"\nkind = \"map\"\non_error = \"continue\"\njq = '{jq}'\n\n[[steps]]\nid = \"save\"\nkind = \"write\"\npath = \"out/{{hash}}.json\"\n"
        )
    };
    p.flow(
        "f",
        &flow(r#".[0] | if . == 2 then error("two") else . end"#),
    )
    .file("data/in.json", "[1, 2, 3]");
    p.cmd(&["run", "f"]).run().code(1);
    let id = p.last_run("f");
    assert_eq!(files_in(&p, "out"), 2);
    // The next run sends nothing again: what went through is not duplicated.
    p.cmd(&["run", "f"]).run().ok();
    let m = p.manifest("f", &p.last_run("f"));
    assert_eq!(m["steps"][1]["payloads"].as_array().map(Vec::len), Some(0));
    assert_eq!(files_in(&p, "out"), 2);
    // The failed one is re-synced from the partial run.
    p.flow("f", &flow(".[0]"));
    p.cmd(&[
        "replay",
        &format!("runs/f/{id}/steps/04-m/failed"),
        "--auto-skip",
    ])
    .run()
    .ok();
    assert_eq!(files_in(&p, "out"), 3);
}
