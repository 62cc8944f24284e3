//! The commands of SPEC §4 besides `run` and `check`: `runs`, `show`, `verify`, exit codes.

use crate::support::{Project, Tamper, is_run_id};
use serde_json::{Value, json};

const GOOD: &str = "[[steps]]\nid = \"load\"\nkind = \"read\"\npath = \"data/*.json\"\n\n\
                    [[steps]]\nid = \"batch\"\nkind = \"split\"\nsize = 2\n";

const FAILING: &str = "[[steps]]\nid = \"b\"\nkind = \"split\"\nsize = 1\n\n\
                       [[steps]]\nid = \"check\"\nkind = \"assert\"\njq = '. > 1'\n";

/// A project with flows `good` (reads data/*.json) and `bad` (fails on its input).
fn project() -> Project {
    let p = Project::new();
    p.flow("good", GOOD)
        .flow("bad", FAILING)
        .file("data/x.json", "[1, 2, 3]")
        .file("in.json", "[2, 1]");
    p
}

/// Runs good, bad, good; returns the three run ids in start order.
fn three_runs(p: &Project) -> [String; 3] {
    p.cmd(&["run", "good"]).run().ok();
    let a = p.last_run("good");
    p.cmd(&["run", "bad", "--input", "in.json"]).run().code(1);
    let b = p.last_run("bad");
    p.cmd(&["run", "good"]).run().ok();
    let c = p.last_run("good");
    assert!(a < b && b < c, "run ids sort by start time: {a} {b} {c}");
    [a, b, c]
}

fn ids(rows: &Value) -> Vec<&str> {
    rows.as_array()
        .expect("an array")
        .iter()
        .map(|r| r["run_id"].as_str().expect("run_id"))
        .collect()
}

// ---- runs ----

#[test]
fn runs_json_lists_newest_first_with_every_field() {
    let p = project();
    let [first, failed, last] = three_runs(&p);
    let rows = p.cmd(&["runs", "--json"]).run().ok().json();
    assert_eq!(ids(&rows), [last.as_str(), &failed, &first]);
    assert_eq!(p.cmd(&["--json", "runs"]).run().ok().json(), rows);
    let bad = &rows[1];
    let keys: Vec<&String> = bad.as_object().unwrap().keys().collect();
    for k in [
        "run_id",
        "flow",
        "status",
        "trigger",
        "started_at",
        "finished_at",
        "failed_step",
    ] {
        assert!(bad.get(k).is_some(), "no {k} in {keys:?}");
    }
    let m = p.manifest("bad", &failed);
    assert_eq!(bad["flow"], "bad");
    assert_eq!(bad["status"], "failure");
    assert_eq!(bad["trigger"], "manual");
    assert_eq!(bad["started_at"], m["started_at"]);
    assert_eq!(bad["finished_at"], m["finished_at"]);
    assert_eq!(bad["failed_step"], "check");
    assert_eq!(rows[0]["status"], "success");
    assert_eq!(rows[0]["failed_step"], Value::Null);
    assert!(rows[0]["finished_at"].is_string());
}

#[test]
fn runs_filters_by_flow_status_and_limit() {
    let p = project();
    let [first, failed, last] = three_runs(&p);
    let json = |args: &[&str]| {
        let mut all = vec!["runs", "--json"];
        all.extend_from_slice(args);
        p.cmd(&all).run().ok().json()
    };
    assert_eq!(ids(&json(&["--flow", "good"])), [last.as_str(), &first]);
    assert_eq!(ids(&json(&["--status", "failure"])), [failed.as_str()]);
    assert_eq!(
        ids(&json(&["--status", "success"])),
        [last.as_str(), &first]
    );
    assert_eq!(ids(&json(&["--limit", "2"])), [last.as_str(), &failed]);
    assert_eq!(
        ids(&json(&["--flow", "good", "--limit", "1"])),
        [last.as_str()]
    );
    assert_eq!(ids(&json(&["--status", "running"])), Vec::<&str>::new());
    // A flow with a file but no runs lists none (one with neither is an error: hints.rs).
    p.flow("other", "[[steps]]\nid = \"m\"\nkind = \"merge\"\n");
    assert_eq!(ids(&json(&["--flow", "other"])), Vec::<&str>::new());
}

#[test]
fn runs_lists_twenty_by_default() {
    let p = Project::new();
    p.flow("f", "[[steps]]\nid = \"a\"\nkind = \"merge\"\n");
    for _ in 0..21 {
        p.cmd(&["run", "f", "-q"]).run().ok();
    }
    let all = p.run_ids("f");
    let rows = p.cmd(&["runs", "--json"]).run().ok().json();
    let want: Vec<&str> = all.iter().rev().take(20).map(String::as_str).collect();
    assert_eq!(ids(&rows), want);
}

#[test]
fn runs_prints_a_table_newest_first() {
    let p = project();
    let [first, failed, last] = three_runs(&p);
    let out = p.cmd(&["runs"]).run().ok();
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(lines.len(), 4, "{}", out.stdout);
    assert!(lines[0].starts_with("RUN"), "{}", lines[0]);
    assert!(lines[1].starts_with(&last) && lines[1].contains("success"));
    assert!(lines[2].starts_with(&failed) && lines[2].contains("failure"));
    assert!(lines[2].trim_end().ends_with("check"), "{}", lines[2]);
    assert!(lines[3].starts_with(&first));
}

#[test]
fn runs_with_no_runs() {
    let p = project();
    p.cmd(&["runs"]).run().ok().stderr_has("no runs");
    assert_eq!(p.cmd(&["runs", "--json"]).run().ok().json(), json!([]));
}

#[test]
fn runs_rejects_a_bad_status() {
    let p = project();
    p.cmd(&["runs", "--status", "done"])
        .run()
        .code(2)
        .only_errors()
        .stderr_has("--status");
}

// ---- show ----

#[test]
fn show_finds_a_run_by_id_prefix_folder_and_last() {
    let p = project();
    let [first, failed, last] = three_runs(&p);
    let abs = p.path(&format!("runs/good/{first}"));
    for reference in [
        first.clone(),
        first[..first.len() - 1].to_owned(),
        format!("runs/good/{first}"),
        format!("runs/good/{first}/"),
        abs.to_str().unwrap().to_owned(),
    ] {
        p.cmd(&["show", &reference])
            .run()
            .ok()
            .stdout_has(&format!("run      {first}"));
    }
    p.cmd(&["show", "last"])
        .run()
        .ok()
        .stdout_has(&format!("run      {last}"));
    p.cmd(&["show", &failed])
        .run()
        .ok()
        .stdout_has("flow     bad")
        .stdout_has("status   failure")
        .stdout_has(&format!("folder   runs/bad/{failed}"))
        .stdout_has("error in step check")
        .stdout_has(&format!(
            "failed payload: runs/bad/{failed}/steps/01-b/000002.json"
        ));
}

#[test]
fn show_last_is_the_newest_of_all_flows() {
    let p = project();
    p.cmd(&["run", "good"]).run().ok();
    p.cmd(&["run", "bad", "--input", "in.json"]).run().code(1);
    let b = p.last_run("bad");
    let m = p.cmd(&["show", "last", "--json"]).run().ok().json();
    assert_eq!(m["run_id"], b.as_str());
}

#[test]
fn show_refuses_unknown_and_ambiguous_runs() {
    let p = project();
    p.cmd(&["show", "last"])
        .run()
        .code(2)
        .only_errors()
        .stderr_has("no run matches `last`");
    three_runs(&p);
    p.cmd(&["show", "2"])
        .run()
        .code(2)
        .only_errors()
        .stderr_has("`2` matches 3 runs");
    p.cmd(&["show", "19990101T000000.000Z-0000"])
        .run()
        .code(2)
        .only_errors()
        .stderr_has("no run matches");
    p.cmd(&["show", "data"]).run().code(2).only_errors();
}

#[test]
fn show_step_lists_its_payload_files() {
    let p = project();
    p.cmd(&["run", "good"]).run().ok();
    let id = p.last_run("good");
    let out = p.cmd(&["show", &id, "--step", "batch"]).run().ok();
    let files: Vec<&str> = out
        .stdout
        .lines()
        .map(|l| l.split_whitespace().next().unwrap_or_default())
        .collect();
    assert_eq!(
        files,
        [
            format!("runs/good/{id}/steps/02-batch/000001.json"),
            format!("runs/good/{id}/steps/02-batch/000002.json"),
        ]
    );
    assert!(out.stdout.contains("from steps/01-load/000001.json"));
    let rec = p
        .cmd(&["show", &id, "--step", "batch", "--json"])
        .run()
        .ok()
        .json();
    assert_eq!(rec, p.step_record("good", &id, "batch"));
    p.cmd(&["show", &id, "--step", "nope"])
        .run()
        .code(2)
        .only_errors()
        .stderr_has("no step `nope`");
}

#[test]
fn show_step_input_lists_input_files() {
    let p = project();
    p.cmd(&["run", "bad", "--input", "in.json"]).run().code(1);
    let id = p.last_run("bad");
    p.cmd(&["show", &id, "--step", "input"])
        .run()
        .ok()
        .stdout_has(&format!("runs/bad/{id}/input/000001.json"));
}

#[test]
fn show_json_prints_the_manifest() {
    let p = project();
    let [a, b, _] = three_runs(&p);
    for (flow, id) in [("good", &a), ("bad", &b)] {
        let shown = p.cmd(&["show", id, "--json"]).run().ok().json();
        assert_eq!(shown, p.manifest(flow, id));
    }
}

// ---- verify ----

/// A project with one finished run of `good`; returns it and the run folder.
fn verified_run() -> (Project, String, String) {
    let p = project();
    p.cmd(&["run", "good"]).run().ok();
    let id = p.last_run("good");
    p.cmd(&["verify", &id])
        .run()
        .ok()
        .stdout_has(&format!("ok: good {id}"));
    let dir = format!("runs/good/{id}");
    (p, id, dir)
}

#[test]
fn verify_a_clean_run() {
    let (p, id, _) = verified_run();
    p.cmd(&["verify"])
        .run()
        .ok()
        .stdout_has(&format!("ok: good {id} (4 files)"));
    p.cmd(&["verify", "--all"]).run().ok();
    let rows = p.cmd(&["verify", "--json"]).run().ok().json();
    assert_eq!(rows[0]["ok"], true);
    assert_eq!(rows[0]["run_id"], id.as_str());
}

#[test]
fn verify_finds_a_changed_payload() {
    let (p, id, dir) = verified_run();
    let file = format!("{dir}/steps/02-batch/000002.json");
    p.file(&file, "[\n  4\n]\n");
    p.cmd(&["verify", &id])
        .run()
        .code(1)
        .stderr_has(&format!("error: good {id}"))
        .stderr_has("changed: steps/02-batch/000002.json");
    let rows = p.cmd(&["verify", &id, "--json"]).run().code(1).json();
    assert_eq!(rows[0]["ok"], false);
}

#[test]
fn verify_finds_a_change_that_keeps_the_size() {
    let (p, id, dir) = verified_run();
    let file = format!("{dir}/steps/02-batch/000002.json");
    let before = p.read(&file);
    p.file(&file, &before.replace('3', "7"));
    p.cmd(&["verify", &id])
        .run()
        .code(1)
        .stderr_has("changed: steps/02-batch/000002.json");
}

#[test]
fn verify_finds_a_changed_flow_copy() {
    let (p, id, dir) = verified_run();
    p.file(&format!("{dir}/flow.toml"), "# edited\n");
    p.cmd(&["verify", &id])
        .run()
        .code(1)
        .stderr_has("changed: flow.toml");
}

#[test]
fn verify_finds_a_missing_file() {
    let (p, id, dir) = verified_run();
    p.tamper(&format!("{dir}/steps/01-load/000001.json"), Tamper::Remove);
    p.cmd(&["verify", &id])
        .run()
        .code(1)
        .stderr_has("missing: steps/01-load/000001.json");
}

#[test]
fn verify_finds_an_unlisted_file() {
    let (p, id, dir) = verified_run();
    p.file(&format!("{dir}/steps/02-batch/000003.json"), "[]\n");
    p.file(&format!("{dir}/notes.txt"), "hello\n");
    p.cmd(&["verify", &id])
        .run()
        .code(1)
        .stderr_has("unlisted: steps/02-batch/000003.json")
        .stderr_has("unlisted: notes.txt");
}

#[test]
fn verify_all_reports_each_run() {
    let (p, tampered, dir) = verified_run();
    p.cmd(&["run", "good"]).run().ok();
    let intact = p.last_run("good");
    p.file(&format!("{dir}/steps/02-batch/000001.json"), "0\n");
    p.cmd(&["verify"])
        .run()
        .code(1)
        .stdout_has(&format!("ok: good {intact}"))
        .stderr_has(&format!("error: good {tampered}"));
}

#[test]
fn verify_a_failed_run() {
    let p = project();
    p.cmd(&["run", "bad", "--input", "in.json"]).run().code(1);
    let id = p.last_run("bad");
    p.cmd(&["verify", &id]).run().ok();
}

// ---- exit codes and messages ----

#[test]
fn usage_errors_exit_2() {
    let p = project();
    p.cmd(&["frobnicate"]).run().code(2).stderr_has("error: ");
    p.cmd(&["run"]).run().code(2).stderr_has("error: ");
    p.cmd(&["runs", "--limit", "many"])
        .run()
        .code(2)
        .stderr_has("error: ");
    p.cmd(&["run", "nope"])
        .run()
        .code(2)
        .only_errors()
        .stderr_has("flows/nope.toml: no such flow file")
        .stderr_has("bad, good");
    p.cmd(&["--root", "/nonexistent/flowrun", "runs"])
        .run()
        .code(2)
        .only_errors();
}

#[test]
fn a_failed_run_exits_1_with_an_error_line() {
    let p = project();
    let out = p.cmd(&["run", "bad", "--input", "in.json"]).run().code(1);
    let id = p.last_run("bad");
    out.only_errors().stderr_has(&format!(
        "error: step `check` failed on payload runs/bad/{id}/steps/01-b/000002.json"
    ));
}

#[test]
fn run_prints_the_run_id_and_a_line_per_step() {
    let p = project();
    let out = p.cmd(&["run", "good"]).run().ok();
    let id = p.last_run("good");
    assert!(is_run_id(&id));
    let out = out
        .stdout_has(&format!("run {id} of flow good (runs/good/{id})"))
        .stdout_has("success: run");
    let steps: Vec<&str> = out
        .stdout
        .lines()
        .filter(|l| l.starts_with("  0"))
        .collect();
    assert_eq!(steps.len(), 2, "{}", out.stdout);
    assert!(steps[0].contains("load") && steps[0].contains("1 → 1 payload"));
    assert!(steps[1].contains("batch") && steps[1].contains("1 → 2 payloads"));
}

#[test]
fn quiet_run_prints_only_the_run_id() {
    let p = project();
    let out = p.cmd(&["run", "good", "-q"]).run().ok();
    assert_eq!(out.stdout, format!("{}\n", p.last_run("good")));
    assert_eq!(out.stderr, "");
}
