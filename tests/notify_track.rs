//! `track` + `flowrun find` (the per-flow index of tracked values), and `[notify]`.

use crate::support::{Project, Tamper};
use serde_json::{Value, json};

const TRACKED: &str = r#"
[[steps]]
id = "orders"
kind = "map"
jq = '.orders'
track = { order = '.id', email = '.email' }

[[steps]]
id = "total"
kind = "map"
jq = '{count: length, first: .[0].id}'
track = { order = '.first' }
"#;

/// Runs flow `f` once per input, each `{"orders": [...]}` with the given order ids.
fn run_orders(p: &Project, flow: &str, runs: &[Vec<String>]) {
    for (k, ids) in runs.iter().enumerate() {
        let orders: Vec<Value> = ids
            .iter()
            .map(|id| json!({"id": id, "email": format!("{id}@example.com")}))
            .collect();
        let file = format!("in/{flow}-{k}.json");
        p.file(&file, &json!({ "orders": orders }).to_string());
        p.cmd(&["run", flow, "--input", &file]).run().ok();
    }
}

fn ids(n: usize) -> Vec<Vec<String>> {
    (0..n)
        .map(|k| {
            let mut v = vec![format!("ORD-{k}"), format!("ORD-{k}-b")];
            if k == 10 || k == 40 {
                v.push("ORD-COMMON".to_owned());
            }
            v
        })
        .collect()
}

#[test]
fn find_lists_runs_steps_files_and_elements_across_many_runs() {
    let p = Project::new();
    p.flow("f", TRACKED);
    run_orders(&p, "f", &ids(50));
    let runs = p.run_ids("f");
    assert_eq!(runs.len(), 50);

    let out = p.cmd(&["find", "order=ORD-COMMON"]).run().ok();
    let first = out.stdout.find(&runs[40]).expect("newest run listed");
    let second = out.stdout.find(&runs[10]).expect("older run listed");
    assert!(first < second, "newest first:\n{}", out.stdout);
    assert!(out.stdout.contains("2 places in 2 runs"), "{}", out.stdout);
    assert!(
        out.stdout
            .contains(&format!("flowrun show {} --step orders", runs[40]))
    );
    assert!(out.stdout.contains(&format!(
        "flowrun replay runs/f/{}/steps/01-orders/000001.json",
        runs[40]
    )));

    // Element indexes, and both steps of a run.
    let rows = p.cmd(&["--json", "find", "order=ORD-7"]).run().ok().json();
    assert_eq!(
        rows,
        json!([
            {"flow": "f", "run_id": runs[7], "step": "orders",
             "file": format!("runs/f/{}/steps/01-orders/000001.json", runs[7]), "element": 0,
             "show": format!("flowrun show {} --step orders", runs[7]),
             "replay": format!("flowrun replay runs/f/{}/steps/01-orders/000001.json", runs[7])},
            {"flow": "f", "run_id": runs[7], "step": "total",
             "file": format!("runs/f/{}/steps/02-total/000001.json", runs[7]), "element": null,
             "show": format!("flowrun show {} --step total", runs[7]),
             "replay": format!("flowrun replay runs/f/{}/steps/02-total/000001.json", runs[7])},
        ])
    );
    let rows = p
        .cmd(&["--json", "find", "email=ORD-7-b@example.com"])
        .run()
        .ok()
        .json();
    assert_eq!(rows.as_array().unwrap().len(), 1);
    assert_eq!(rows[0]["element"], 1);

    // Only hashes are stored: no value is in the index in plain text.
    for (name, bytes) in p.tree("runs/f/.track") {
        let text = String::from_utf8_lossy(&bytes);
        assert!(!text.contains("ORD-"), "{name} holds a value: {text}");
    }
    assert_eq!(crate::track_index::indexed_runs(&p, "f"), runs);
}

#[test]
fn a_missing_or_stale_index_is_rebuilt_from_the_runs() {
    let p = Project::new();
    p.flow("f", TRACKED);
    run_orders(&p, "f", &ids(5));
    let runs = p.run_ids("f");
    let before = crate::track_index::index_lines(&p, "f");
    p.tamper("runs/f/.track", Tamper::Remove);
    let rows = p.cmd(&["--json", "find", "order=ORD-3"]).run().ok().json();
    assert_eq!(rows[0]["run_id"], json!(runs[3]));
    // Built run by run it was segments; rebuilt it is the base: the same places.
    assert_eq!(
        crate::track_index::index_lines(&p, "f"),
        before,
        "rebuilt exactly as built"
    );

    // A run folder deleted by hand is not listed, and the index forgets it.
    p.tamper(&format!("runs/f/{}", runs[3]), Tamper::Remove);
    p.cmd(&["find", "order=ORD-3"])
        .run()
        .code(1)
        .stderr_has("no run carried order=ORD-3");
    assert_eq!(p.read("runs/f/.track/runs").lines().count(), 4);
}

#[test]
fn prune_keeps_the_index_consistent() {
    let p = Project::new();
    p.flow("f", TRACKED);
    run_orders(&p, "f", &ids(6));
    let runs = p.run_ids("f");
    p.cmd(&["prune", "--keep", "2"]).run().ok();
    let listed: Vec<String> = p
        .read("runs/f/.track/runs")
        .lines()
        .map(str::to_owned)
        .collect();
    assert_eq!(listed, runs[4..].to_vec());
    for (name, bytes) in p.tree("runs/f/.track") {
        let text = String::from_utf8_lossy(&bytes);
        for gone in &runs[..4] {
            assert!(!text.contains(gone.as_str()), "{name} still names {gone}");
        }
    }
    p.cmd(&["find", "order=ORD-1"]).run().code(1);
    p.cmd(&["find", "order=ORD-5"])
        .run()
        .ok()
        .stdout_has(&runs[5]);
}

#[test]
fn find_filters_by_flow_and_refuses_unknown_names() {
    let p = Project::new();
    p.flow("a", TRACKED).flow("b", TRACKED);
    run_orders(&p, "a", &[vec!["X-1".to_owned()]]);
    run_orders(&p, "b", &[vec!["X-1".to_owned()]]);
    let both = p.cmd(&["--json", "find", "order=X-1"]).run().ok().json();
    let flows: Vec<&str> = both
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["flow"].as_str().unwrap())
        .collect();
    assert_eq!(flows, ["b", "b", "a", "a"], "newest run first");
    let only_a = p
        .cmd(&["--json", "find", "order=X-1", "--flow", "a"])
        .run()
        .ok()
        .json();
    assert!(only_a.as_array().unwrap().iter().all(|r| r["flow"] == "a"));
    assert_eq!(only_a.as_array().unwrap().len(), 2);

    p.cmd(&["find", "nosuch=1"])
        .run()
        .code(2)
        .stderr_has("error: no flow tracks `nosuch` (tracked names: email, order)");
    p.cmd(&["find", "order"])
        .run()
        .code(2)
        .stderr_has("NAME=VALUE");
    p.cmd(&["find", "order=X-1", "--flow", "zzz"]).run().code(2);
    let none = p.cmd(&["--json", "find", "order=X-2"]).run().code(1).json();
    assert_eq!(none, json!([]));
}

#[test]
fn check_reports_bad_track_filters_with_line_and_column() {
    let p = Project::new();
    p.flow(
        "f",
        "[[steps]]\nid = \"m\"\nkind = \"map\"\njq = '.'\ntrack = { order = '.id | nosuch' }\n",
    );
    p.cmd(&["check"])
        .run()
        .code(2)
        .stderr_has("flows/f.toml:5:");
    p.flow(
        "f",
        "[[steps]]\nid = \"m\"\nkind = \"map\"\njq = '.'\ntrack = { order = '.${env:X}' }\n",
    );
    p.cmd(&["check"])
        .run()
        .code(2)
        .stderr_has("are not allowed here");
    p.flow(
        "f",
        "[[steps]]\nid = \"m\"\nkind = \"map\"\njq = '.'\ntrack = \"x\"\n",
    );
    p.cmd(&["check"])
        .run()
        .code(2)
        .stderr_has("flows/f.toml:5:9: `track` must be a table");
}

// ---- [notify] ----

use crate::server::{Reply, Server};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

const SECRET: &str = "hook-s3cr3t-value";

/// A flow whose `check` step fails (`ok` = false) or passes, with `notify` appended.
fn notified_flow(ok: bool, notify: &str) -> String {
    format!(
        "[[steps]]\nid = \"load\"\nkind = \"map\"\njq = '[1, 2]'\n\n[[steps]]\nid = \"check\"\nkind = \"assert\"\njq = '{ok}'\nmessage = \"not ok\"\n\n[notify]\n{notify}\n"
    )
}

fn assert_no_secret_under_runs(p: &Project) {
    for (name, bytes) in p.tree("runs") {
        let text = String::from_utf8_lossy(&bytes);
        assert!(!text.contains(SECRET), "{name} holds the secret");
    }
}

#[test]
fn a_webhook_gets_the_run_s_end_and_is_retried_after_500s() {
    let calls = Arc::new(AtomicUsize::new(0));
    let seen = Arc::clone(&calls);
    let s = Server::start(move |_, _| {
        if seen.fetch_add(1, Ordering::SeqCst) < 2 {
            Reply::text(500, "try again")
        } else {
            Reply::text(200, "ok")
        }
    });
    let p = Project::new();
    p.flow(
        "f",
        &notified_flow(
            false,
            &format!(
                "url = \"{}\"\nheaders = {{ Authorization = \"Bearer ${{secret:HOOK_TOKEN}}\" }}\nretries = 3",
                s.url("/hook")
            ),
        ),
    );
    let out = p
        .cmd(&["run", "f"])
        .env("HOOK_TOKEN", SECRET)
        .run()
        .code(1)
        .stderr_has(&format!("notified {}", s.url("/hook")));
    let id = p.last_run("f");
    let reqs = s.requests();
    assert_eq!(reqs.len(), 3, "{}", out.stderr);
    let last = &reqs[2];
    assert_eq!(last.method, "POST");
    assert_eq!(
        last.header("authorization"),
        Some(&*format!("Bearer {SECRET}"))
    );
    let body = last.json();
    let failed = format!("runs/f/{id}/steps/01-load/000001.json");
    assert_eq!(body["flow"], "f");
    assert_eq!(body["run_id"], json!(id));
    assert_eq!(body["status"], "failure");
    assert_eq!(body["failed_step"], "check");
    assert!(body["error"].as_str().unwrap().contains("not ok"), "{body}");
    assert!(
        body["failed_payload"].as_str().unwrap().ends_with(&failed),
        "{body}"
    );
    assert_eq!(body["resume_hint"], json!(format!("flowrun resume {id}")));
    let keys: Vec<&String> = body.as_object().unwrap().keys().collect();
    assert_eq!(
        keys,
        [
            "flow",
            "run_id",
            "status",
            "failed_step",
            "error",
            "failed_payload",
            "resume_hint"
        ]
    );
    let m = p.manifest("f", &id);
    assert_eq!(m["status"], "failure");
    assert_eq!(
        m["notifications"],
        json!([{"target": s.url("/hook"), "status": "sent", "attempts": 3}])
    );
    assert_no_secret_under_runs(&p);
}

#[test]
fn a_failing_webhook_leaves_the_run_alone_and_is_recorded_masked() {
    let s = Server::start(|_, _| Reply::text(500, &format!("bad token {SECRET}")));
    let p = Project::new();
    p.flow(
        "f",
        &notified_flow(
            true,
            &format!(
                "on = [\"success\"]\nurl = \"{}\"\nheaders = {{ X-Token = \"${{secret:HOOK_TOKEN}}\" }}\nretries = 1",
                s.url("/hook")
            ),
        ),
    );
    let out = p
        .cmd(&["run", "f"])
        .env("HOOK_TOKEN", SECRET)
        .run()
        .ok()
        .stderr_has("warning: notification to")
        .stderr_has("failed after 2 attempts");
    assert!(!out.stderr.contains(SECRET), "{}", out.stderr);
    assert_eq!(s.requests().len(), 2);
    let id = p.last_run("f");
    let m = p.manifest("f", &id);
    assert_eq!(m["status"], "success");
    let n = &m["notifications"][0];
    assert_eq!(n["status"], "failed");
    assert_eq!(n["attempts"], 2);
    let error = n["error"].as_str().unwrap();
    assert!(
        error.contains("returned status 500: bad token ***"),
        "{error}"
    );
    assert_no_secret_under_runs(&p);
}

#[test]
fn on_picks_the_statuses_that_notify() {
    let s = Server::start(|_, _| Reply::text(200, "ok"));
    let p = Project::new();
    let hook = format!("url = \"{}\"", s.url("/hook"));
    // The default, failure and partial: a success does not notify.
    p.flow("ok", &notified_flow(true, &hook));
    p.cmd(&["run", "ok"]).run().ok();
    assert_eq!(s.requests().len(), 0);
    let m = p.manifest("ok", &p.last_run("ok"));
    assert!(m.get("notifications").is_none(), "{m}");
    // `on = ["success"]`: a failure does not notify, a success does.
    p.flow(
        "bad",
        &notified_flow(false, &format!("on = [\"success\"]\n{hook}")),
    );
    p.cmd(&["run", "bad"]).run().code(1);
    assert_eq!(s.requests().len(), 0);
    p.flow(
        "ok",
        &notified_flow(true, &format!("on = [\"success\"]\n{hook}")),
    );
    p.cmd(&["run", "ok"]).run().ok();
    let reqs = s.requests();
    assert_eq!(reqs.len(), 1);
    assert_eq!(reqs[0].json()["status"], "success");
    assert_eq!(reqs[0].json()["resume_hint"], Value::Null);
    // A resume of a failed run notifies too (any run of the flow does).
    p.flow("bad", &notified_flow(false, &hook));
    p.cmd(&["run", "bad"]).run().code(1);
    let first = p.last_run("bad");
    p.cmd(&["resume", &first]).run().code(1);
    let reqs = s.requests();
    assert_eq!(reqs.len(), 3);
    assert_eq!(reqs[2].json()["run_id"], json!(p.last_run("bad")));
    // Bad tables are refused with their place.
    p.flow(
        "bad",
        &notified_flow(false, "on = [\"sometimes\"]\nurl = \"http://x\""),
    );
    p.cmd(&["check", "bad"])
        .run()
        .code(2)
        .stderr_has("`on`: `sometimes` is not a run status");
    p.flow("bad", &notified_flow(false, "retries = 2"));
    p.cmd(&["check", "bad"])
        .run()
        .code(2)
        .stderr_has("[notify] needs `url` and/or `run`");
}

#[test]
fn a_command_target_gets_the_json_on_stdin_and_its_failure_is_recorded() {
    let p = Project::new();
    p.script("notify.sh", "#!/bin/sh\ncat > notified.json\n");
    p.flow("f", &notified_flow(false, "run = [\"./notify.sh\"]"));
    p.cmd(&["run", "f"]).run().code(1);
    let id = p.last_run("f");
    let got = p.json("notified.json");
    assert_eq!(got["run_id"], json!(id));
    assert_eq!(got["status"], "failure");
    assert_eq!(got["failed_step"], "check");
    assert_eq!(p.manifest("f", &id)["notifications"][0]["status"], "sent");

    p.script(
        "fail.sh",
        &format!("#!/bin/sh\necho \"no route, token {SECRET}\" >&2\nexit 3\n"),
    );
    p.flow(
        "f",
        &notified_flow(
            false,
            "run = [\"./fail.sh\", \"${secret:HOOK_TOKEN}\"]\nretries = 1",
        ),
    );
    let out = p
        .cmd(&["run", "f"])
        .env("HOOK_TOKEN", SECRET)
        .run()
        .code(1)
        .stderr_has("failed after 2 attempts");
    assert!(!out.stderr.contains(SECRET), "{}", out.stderr);
    let n = &p.manifest("f", &p.last_run("f"))["notifications"][0];
    assert_eq!(n["status"], "failed");
    assert_eq!(n["attempts"], 2);
    assert_eq!(n["target"], "./fail.sh ${secret:HOOK_TOKEN}");
    let error = n["error"].as_str().unwrap();
    assert!(
        error.contains("exited with exit status: 3: no route, token ***"),
        "{error}"
    );
    assert_no_secret_under_runs(&p);
}

#[test]
fn a_run_started_by_watch_notifies() {
    let p = Project::new();
    p.script("notify.sh", "#!/bin/sh\ncat > notified.json\n");
    p.flow(
        "drop",
        &format!(
            "[trigger]\nwatch = \"inbox/*.json\"\n\n{}",
            notified_flow(false, "run = [\"./notify.sh\"]")
        ),
    );
    p.file("inbox/a.json", "{}");
    let log = p.path("watch.log");
    let file = std::fs::File::create(&log).unwrap();
    let mut child = p
        .cmd(&["watch"])
        .command()
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::from(file.try_clone().unwrap()))
        .stderr(std::process::Stdio::from(file))
        .spawn()
        .unwrap();
    let start = Instant::now();
    while !(p.exists("notified.json")
        && std::fs::read_to_string(&log)
            .unwrap_or_default()
            .contains("notified"))
    {
        if start.elapsed() > Duration::from_secs(20) {
            let _ = child.kill();
            panic!(
                "no notification; log:\n{}",
                std::fs::read_to_string(&log).unwrap_or_default()
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let status = child.wait().unwrap();
    assert!(status.success());
    let got = p.json("notified.json");
    assert_eq!(got["status"], "failure");
    let id = got["run_id"].as_str().unwrap();
    assert_eq!(p.manifest("drop", id)["trigger"], "watch");
    assert!(
        std::fs::read_to_string(&log)
            .unwrap()
            .contains(&format!("run {id}: notified ./notify.sh"))
    );
}
