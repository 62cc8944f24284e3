//! `flowrun ui` and `flowrun find` on a shared S3 store (issue 18): a second project root
//! with an empty `runs/` sees, shows, serves and finds what the first recorded. Against
//! the local S3 server (moto) at `FLOWRUN_TEST_S3_ENDPOINT`; skipped when none is set.

use crate::s3::{on, shared};
use crate::support::s3::TestStore;
use crate::support::{Project, wait_for};
use crate::track_index::FLOW as TRACKED;
use crate::ui::{Viewer, post_form, rows};
use serde_json::json;

/// Runs `f` on root `p` with orders `ids` (its index compacted at once); returns the new
/// run's id (the store's newest).
fn run_orders(p: &Project, store: &TestStore, ids: &[&str]) -> String {
    let orders: Vec<_> = ids.iter().map(|id| json!({ "id": id })).collect();
    p.file("in/o.json", &json!({ "orders": orders }).to_string());
    on(p.cmd(&["run", "f", "--input", "in/o.json"]), store)
        .env("FLOWRUN_TRACK_SEGMENTS", "0")
        .run()
        .ok();
    let rows = on(p.cmd(&["--json", "runs", "--limit", "1"]), store)
        .run()
        .ok()
        .json();
    rows[0]["run_id"].as_str().expect("a run id").to_owned()
}

#[test]
fn ui_on_a_second_root_lists_shows_and_serves_the_runs_of_the_first() {
    let Some(store) = shared() else { return };
    let a = Project::new();
    let b = Project::new();
    a.flow("f", TRACKED);
    let first = run_orders(&a, &store, &["ORD-1"]);
    let second = run_orders(&a, &store, &["ORD-2", "ORD-3"]);
    assert!(
        !b.path("runs").exists(),
        "the second root starts with no runs/"
    );

    let v = Viewer::spawn(
        &on(b.cmd(&["ui", "--listen", "127.0.0.1:0"]), &store),
        false,
    );
    let home = v.page("/");
    assert_eq!(rows(&home), [second.clone(), first.clone()]);
    let run = v.page(&format!("/runs/{first}"));
    assert!(run.contains("orders") && run.contains("success"), "{run}");
    let payload = v.page(&format!("/runs/{second}/steps/orders/1"));
    assert!(
        payload.contains("ORD-2") && payload.contains("ORD-3"),
        "{payload}"
    );
    let api = v.page(&format!("/api/runs/{first}"));
    assert!(api.contains(&first), "{api}");
    for file in [
        "manifest.json",
        "flow.toml",
        "input/000001.json",
        "steps/01-orders/000001.json",
    ] {
        let r = v.get(&format!("/runs/{first}/files/{file}"));
        assert_eq!(r.status, 200, "{file}: {}", r.text());
        assert_eq!(
            r.body,
            store.get(&format!("runs/f/{first}/{file}")),
            "{file} differs from the stored object"
        );
    }
    let r = v.get(&format!("/runs/{first}/files/steps/01-orders/000002.json"));
    assert_eq!(r.status, 404, "{}", r.text());
    let diff = v.page(&format!("/diff?a={first}&b={second}&step=orders&n=1"));
    assert!(diff.contains("ORD-1") && diff.contains("ORD-3"), "{diff}");

    // A run recorded on the first root while the viewer runs shows up at once.
    let third = run_orders(&a, &store, &["ORD-4"]);
    assert_eq!(rows(&v.page("/")), [third.clone(), second, first]);
    let payload = v.page(&format!("/runs/{third}/steps/orders/1"));
    assert!(payload.contains("ORD-4"), "{payload}");
}

#[test]
fn find_on_a_second_root_finds_values_tracked_on_the_first() {
    let Some(store) = shared() else { return };
    let a = Project::new();
    let b = Project::new();
    a.flow("f", TRACKED);
    let first = run_orders(&a, &store, &["ORD-1"]);
    let second = run_orders(&a, &store, &["ORD-2", "ORD-ALL"]);
    let third = run_orders(&a, &store, &["ORD-3", "ORD-ALL"]);
    let lock = store.get("runs/f/.lock");
    let found = on(b.cmd(&["--json", "find", "order=ORD-1"]), &store)
        .run()
        .ok()
        .json();
    assert_eq!(found[0]["run_id"], json!(first));
    assert_eq!(
        found_runs(&b, &store, "ORD-ALL"),
        [third.as_str(), second.as_str()]
    );
    // The index the runs kept is up to date: the second root only read it.
    assert_eq!(store.get("runs/f/.lock"), lock, "find took the flow's lock");

    // The first root prunes a run and records another: the index has as many runs as
    // the second root's copy of it, which is not trusted over the store's.
    on(a.cmd(&["prune", "--keep", "2"]), &store).run().ok();
    let fourth = run_orders(&a, &store, &["ORD-4", "ORD-ALL"]);
    let lock = store.get("runs/f/.lock");
    assert_eq!(
        found_runs(&b, &store, "ORD-ALL"),
        [fourth.as_str(), third.as_str(), second.as_str()]
    );
    on(b.cmd(&["find", "order=ORD-1"]), &store)
        .run()
        .code(1)
        .stderr_has("no run carried order=ORD-1");
    assert_eq!(store.get("runs/f/.lock"), lock, "find took the flow's lock");
}

/// The runs `find order=ORD` on root `p` lists, newest first.
fn found_runs(p: &Project, store: &TestStore, order: &str) -> Vec<String> {
    let found = on(p.cmd(&["--json", "find", &format!("order={order}")]), store)
        .run()
        .ok()
        .json();
    found
        .as_array()
        .expect("rows")
        .iter()
        .map(|r| r["run_id"].as_str().expect("id").to_owned())
        .collect()
}

const CHECKED: &str = r#"
[[steps]]
id = "check"
kind = "assert"
jq = '.n > 0'
message = "n must be positive"
"#;

#[test]
fn ui_actions_on_a_second_root_run_against_the_store_it_was_given() {
    let Some(store) = shared() else { return };
    let a = Project::new();
    let b = Project::new();
    a.flow("g", CHECKED).file("in/n.json", r#"{"n": 0}"#);
    on(a.cmd(&["run", "g", "--input", "in/n.json"]), &store)
        .run()
        .code(1);
    let rows = on(a.cmd(&["--json", "runs"]), &store).run().ok().json();
    let failed = rows[0]["run_id"].as_str().expect("id").to_owned();
    // Fixed on the second root, whose viewer is given the store by `--store` alone.
    b.flow("g", &CHECKED.replace(".n > 0", ".n >= 0"));
    let url = store.url();
    let cmd = on(
        b.cmd(&[
            "ui",
            "--listen",
            "127.0.0.1:0",
            "--actions",
            "--store",
            &url,
        ]),
        &store,
    )
    .env("FLOWRUN_STORE", "");
    let v = Viewer::spawn(&cmd, true);
    let token = v.token.clone().expect("token");
    let resumed = post_form(
        &v,
        "/actions/resume",
        &[("token", &token), ("run", &failed)],
        None,
    );
    assert_eq!(resumed.status, 303, "{}", resumed.text());
    let rows = on(a.cmd(&["--json", "runs"]), &store).run().ok().json();
    let new = rows[0]["run_id"].as_str().expect("id");
    assert_ne!(new, failed);
    assert_eq!(
        resumed.header("Location"),
        Some(format!("/runs/{new}").as_str())
    );
    assert_eq!(rows[0]["status"], "success");
    let manifest: serde_json::Value =
        serde_json::from_slice(&store.get(&format!("runs/g/{new}/manifest.json")))
            .expect("a stored manifest is JSON");
    assert_eq!(manifest["resume_of"], failed.as_str());
}

const DROPPED: &str = r#"
[trigger]
watch = "inbox/*.json"

[[steps]]
id = "orders"
kind = "map"
jq = '.orders'
track = { order = '.id' }
"#;

#[test]
fn a_watcher_s_runs_are_listed_and_found_from_a_second_root() {
    let Some(store) = shared() else { return };
    let a = Project::new();
    let b = Project::new();
    a.flow("w", DROPPED);
    let watcher = on(a.cmd(&["watch"]), &store).spawn();
    a.file("inbox/a.json", r#"{"orders": [{"id": "ORD-W"}]}"#);
    wait_for("the dropped file's run", || {
        a.path("inbox/done/a.json").exists()
    });
    let stopped = std::process::Command::new("kill")
        .args(["-TERM", &watcher.pid().to_string()])
        .status()
        .expect("run kill");
    assert!(stopped.success());
    watcher.wait().ok();

    let rows = on(b.cmd(&["--json", "runs"]), &store).run().ok().json();
    assert_eq!(rows.as_array().map(Vec::len), Some(1), "{rows}");
    assert_eq!(rows[0]["trigger"], "watch");
    assert_eq!(rows[0]["status"], "success");
    let id = rows[0]["run_id"].as_str().expect("id");
    on(b.cmd(&["find", "order=ORD-W"]), &store)
        .run()
        .ok()
        .stdout_has(id);
}
