//! `track` + `flowrun find` (the per-flow index of tracked values), and `[notify]`.

use crate::support::Project;
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
    let listed = p.read("runs/f/.track/runs");
    assert_eq!(listed.lines().count(), 50);
}

#[test]
fn a_missing_or_stale_index_is_rebuilt_from_the_runs() {
    let p = Project::new();
    p.flow("f", TRACKED);
    run_orders(&p, "f", &ids(5));
    let runs = p.run_ids("f");
    let before = p.tree("runs/f/.track");
    std::fs::remove_dir_all(p.path("runs/f/.track")).unwrap();
    let rows = p.cmd(&["--json", "find", "order=ORD-3"]).run().ok().json();
    assert_eq!(rows[0]["run_id"], json!(runs[3]));
    assert_eq!(p.tree("runs/f/.track"), before, "rebuilt exactly as built");

    // A run folder deleted by hand is not listed, and the index forgets it.
    std::fs::remove_dir_all(p.path(&format!("runs/f/{}", runs[3]))).unwrap();
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
