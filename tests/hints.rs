//! Hints an operator can paste: printed commands carry the root and work when followed;
//! `--flow` on show/resume/retry; `--json` on the commands that run; unknown flow names;
//! runs without input while skipped; error places; `assert` on the whole payload.

use crate::support::s3::TestStore;
use crate::support::{Project, is_run_id};
use serde_json::Value;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// A demo-like flow: read → split → map → filter → assert → write. The map keeps an
/// email typed as `x(at)y` as it is, so the assert fails on batch 3 of 4; the fix
/// belongs in the map, upstream of the failure.
const ORDERS: &str = r#"[[steps]]
id = "load"
kind = "read"
path = "data/orders.json"

[[steps]]
id = "batch"
kind = "split"
size = 2

[[steps]]
id = "to-erp"
kind = "map"
jq = 'map({id, email: (.email | ascii_downcase)})'

[[steps]]
id = "paid"
kind = "filter"
jq = ".id > 0"

[[steps]]
id = "valid"
kind = "assert"
jq = '.email | contains("@")'

[[steps]]
id = "save"
kind = "write"
path = "out/batch-{n}.json"
"#;

/// The fix, in the map.
fn fixed() -> String {
    ORDERS.replace(
        "ascii_downcase)",
        r#"ascii_downcase | sub("[(]at[)]"; "@"))"#,
    )
}

fn orders_project(p: &Project) {
    let orders: Vec<Value> = (1..=8)
        .map(|i| {
            let email = if i == 5 {
                "Lena(at)Example.com".to_owned()
            } else {
                format!("u{i}@example.com")
            };
            serde_json::json!({"id": i, "email": email})
        })
        .collect();
    p.flow("orders", ORDERS).file(
        "data/orders.json",
        &serde_json::to_string(&orders).expect("JSON"),
    );
}

/// The commands a run printed for the user, in order.
fn printed_commands(stdout: &str) -> Vec<String> {
    stdout
        .lines()
        .filter_map(|l| l.strip_prefix("  flowrun "))
        .map(|rest| format!("flowrun {rest}"))
        .collect()
}

/// Runs `line` as pasted into a POSIX shell in `cwd`, with `flowrun` on the PATH and no
/// `FLOWRUN_ROOT`, in the user's environment (the store's variables of `p`).
#[track_caller]
fn paste(p: &Project, line: &str, cwd: &Path) -> (i32, String, String) {
    paste_with(line, cwd, &p.store_env())
}

/// [`paste`] with these variables set.
#[track_caller]
fn paste_with(line: &str, cwd: &Path, env: &[(String, String)]) -> (i32, String, String) {
    let bin = Path::new(env!("CARGO_BIN_EXE_flowrun"))
        .parent()
        .expect("binary folder");
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let out = Command::new("sh")
        .args(["-c", line])
        .current_dir(cwd)
        .env("PATH", path)
        .env_remove("FLOWRUN_ROOT")
        .envs(env.iter().cloned())
        .stdin(Stdio::null())
        .output()
        .expect("run sh");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[track_caller]
fn paste_ok(p: &Project, line: &str, cwd: &Path) -> String {
    let (code, stdout, stderr) = paste(p, line, cwd);
    assert_eq!(
        code,
        0,
        "pasted `{line}` in {} exited {code}\n--- stdout\n{stdout}\n--- stderr\n{stderr}",
        cwd.display()
    );
    stdout
}

/// The four batches the write step should hold once the run is complete.
#[track_caller]
fn assert_all_batches_written(p: &Project) {
    for n in 1..=4 {
        let batch = p.json(&format!("out/batch-{n}.json"));
        assert_eq!(
            batch.as_array().map(Vec::len),
            Some(2),
            "batch {n}: {batch}"
        );
    }
    assert_eq!(p.json("out/batch-3.json")[0]["email"], "lena@example.com");
}

/// A project in a folder with a space in its name, run from another folder.
fn run_from_elsewhere(use_env: bool) {
    let p = Project::in_folder(Some("my project"));
    orders_project(&p);
    let elsewhere = tempfile::tempdir().expect("temp dir");
    let root = p.root().to_str().expect("UTF-8 root").to_owned();
    let cmd = if use_env {
        p.cmd(&["run", "orders"]).env("FLOWRUN_ROOT", &root)
    } else {
        p.cmd(&["--root", &root, "run", "orders"])
    };
    let out = cmd.cwd(elsewhere.path()).run().code(1);
    let hints = printed_commands(&out.stdout);
    assert_eq!(hints.len(), 2, "{}", out.stdout);
    p.flow("orders", &fixed());

    // Each hint, pasted in that other folder without FLOWRUN_ROOT, does what it says.
    let resumed = paste_ok(&p, &hints[0], elsewhere.path());
    assert!(resumed.contains("success: run"), "{resumed}");
    assert_all_batches_written(&p);
    let id = p.last_run("orders");
    assert_eq!(p.manifest("orders", &id)["trigger"], "resume");
    // The replay hint of a second failure (of the flow as it was) works pasted too.
    std::fs::remove_dir_all(p.path("out")).expect("clear out/");
    p.flow("orders", ORDERS);
    let out = p
        .cmd(&["--root", &root, "run", "orders"])
        .cwd(elsewhere.path())
        .run()
        .code(1);
    let hints = printed_commands(&out.stdout);
    p.flow("orders", &fixed());
    let replayed = paste_ok(&p, &hints[1], elsewhere.path());
    assert!(replayed.contains("success: run"), "{replayed}");
    assert_all_batches_written(&p);
    let id = p.last_run("orders");
    assert_eq!(p.manifest("orders", &id)["trigger"], "replay");
}

#[test]
fn hints_of_a_run_with_root_work_pasted_in_another_folder() {
    run_from_elsewhere(false);
}

#[test]
fn hints_of_a_run_with_flowrun_root_work_pasted_without_it() {
    run_from_elsewhere(true);
}

/// A store given with `--store` (the environment has the `AWS_*` variables but no
/// `FLOWRUN_STORE`): the printed commands name it, so pasted they reach that store.
#[test]
fn hints_of_a_run_with_store_given_name_the_store() {
    if std::env::var_os("FLOWRUN_TEST_S3_ENDPOINT").is_none() && std::env::var_os("CI").is_none() {
        eprintln!("skipped: no FLOWRUN_TEST_S3_ENDPOINT (see .ci/run)");
        return;
    }
    let p = Project::new();
    orders_project(&p);
    let store = TestStore::fresh();
    let url = store.url();
    let env: Vec<(String, String)> = store
        .env()
        .into_iter()
        .map(|(k, v)| {
            if k == "FLOWRUN_STORE" {
                (k, String::new())
            } else {
                (k, v)
            }
        })
        .collect();
    let mut cmd = p.cmd(&["--store", &url, "run", "orders"]);
    for (k, v) in &env {
        cmd = cmd.env(k, v);
    }
    let out = cmd.run().code(1);
    let hints = printed_commands(&out.stdout);
    assert_eq!(hints.len(), 2, "{}", out.stdout);
    for hint in &hints {
        assert!(
            hint.starts_with(&format!("flowrun --store {url} ")),
            "{hint}"
        );
    }
    p.flow("orders", &fixed());
    let (code, stdout, stderr) = paste_with(&hints[0], p.root(), &env);
    assert_eq!(code, 0, "pasted `{}`:\n{stdout}\n{stderr}", hints[0]);
    assert!(stdout.contains("success: run"), "{stdout}");
    let runs = store
        .keys()
        .into_iter()
        .filter(|k| k.ends_with("/manifest.json"))
        .count();
    assert_eq!(runs, 2, "the run and its resume, in the store given");
}

#[test]
fn refusals_print_commands_with_the_root_too() {
    let p = Project::new();
    orders_project(&p);
    p.cmd(&["run", "orders"]).run().code(1);
    let elsewhere = tempfile::tempdir().expect("temp dir");
    let root = p.root().to_str().expect("UTF-8 root").to_owned();
    let id = p.last_run("orders");
    let folder = p.path(&format!("runs/orders/{id}/steps/04-paid"));
    let out = p
        .cmd(&["--root", &root, "replay", folder.to_str().expect("UTF-8")])
        .cwd(elsewhere.path())
        .run()
        .code(2);
    let skip = out
        .stderr
        .lines()
        .find_map(|l| l.trim().strip_prefix("flowrun "))
        .map_or_else(
            || panic!("no skip command in:\n{}", out.stderr),
            |rest| format!("flowrun {rest}"),
        );
    assert!(skip.contains("--root"), "{skip}");
    paste_ok(&p, &skip, elsewhere.path());
    assert!(p.read("flows/orders.toml").contains("skip = true"));
}

#[test]
fn after_an_upstream_fix_the_recommended_re_syncs_both_work() {
    // The run recommends resume first and a replay of the folder that covers the fix;
    // the failed payload alone (which misses the other batches and still fails) is not
    // offered.
    for follow in [0, 1] {
        let p = Project::new();
        orders_project(&p);
        let out = p.cmd(&["run", "orders"]).run().code(1);
        let id = p.last_run("orders");
        let hints = printed_commands(&out.stdout);
        assert_eq!(
            hints,
            [
                format!("flowrun resume {id}"),
                format!("flowrun replay runs/orders/{id}/steps/01-load --auto-skip"),
            ],
            "{}",
            out.stdout
        );
        assert!(!out.stdout.contains("000003.json --auto-skip"));
        p.flow("orders", &fixed());
        let done = paste_ok(&p, &hints[follow], p.root());
        assert!(done.contains("success: run"), "{done}");
        assert_all_batches_written(&p);
    }
}

#[test]
fn no_replay_is_recommended_when_it_would_repeat_a_side_effect() {
    // The failing step itself acts outside (a command) and already did so for its first
    // input: a replay would do that again, so only resume is offered.
    let p = Project::new();
    p.script(
        "bin/send",
        "#!/bin/sh\nread line\ncase \"$line\" in *bad*) echo no >&2; exit 1;; esac\necho \"$line\" >> sent.txt\necho '{}'\n",
    )
    .flow(
        "f",
        "[[steps]]\nid = \"load\"\nkind = \"read\"\npath = \"data/in.json\"\n\n[[steps]]\nid = \"one\"\nkind = \"split\"\nsize = 1\n\n[[steps]]\nid = \"send\"\nkind = \"command\"\nrun = [\"bin/send\"]\n",
    )
    .file("data/in.json", r#"["ok", "bad"]"#);
    let out = p.cmd(&["run", "f"]).run().code(1);
    let id = p.last_run("f");
    assert_eq!(
        printed_commands(&out.stdout),
        [format!("flowrun resume {id}")]
    );
}

/// Two flows: `a` fails, then `b` succeeds (so `last` of all flows is b's run).
fn two_flows() -> (Project, String, String) {
    let p = Project::new();
    p.flow(
        "a",
        "[[steps]]\nid = \"m\"\nkind = \"map\"\njq = '.x'\n\n[[steps]]\nid = \"check\"\nkind = \"assert\"\njq = '. == 1'\n",
    )
    .flow("b", "[[steps]]\nid = \"m\"\nkind = \"map\"\njq = '1'\n")
    .file("in.json", r#"{"x": 2}"#);
    p.cmd(&["run", "a", "--input", "in.json"]).run().code(1);
    p.cmd(&["run", "b"]).run().ok();
    let (a, b) = (p.last_run("a"), p.last_run("b"));
    (p, a, b)
}

#[test]
fn show_resume_and_retry_take_flow_and_last_is_then_that_flow_s() {
    let (p, a, b) = two_flows();
    let shown = p.cmd(&["show", "last", "--json"]).run().ok().json();
    assert_eq!(shown["run_id"], b.as_str());
    let shown = p
        .cmd(&["show", "--flow", "a", "last", "--json"])
        .run()
        .ok()
        .json();
    assert_eq!(shown["run_id"], a.as_str());
    p.cmd(&["show", "--flow", "a", &a[..17]]).run().ok();

    p.flow(
        "a",
        "[[steps]]\nid = \"m\"\nkind = \"map\"\njq = '.x - 1'\n\n[[steps]]\nid = \"check\"\nkind = \"assert\"\njq = '. == 1'\n",
    );
    p.cmd(&["resume", "--flow", "a", "last"]).run().ok();
    let resumed = p.last_run("a");
    assert_eq!(p.manifest("a", &resumed)["resume_of"], a.as_str());

    p.cmd(&["retry", "last", "--flow", "a"]).run().ok();
    let retried = p.last_run("a");
    assert_eq!(p.manifest("a", &retried)["retry_of"], resumed.as_str());
    assert_eq!(p.run_ids("b"), [b]);
}

#[test]
fn a_run_of_another_flow_with_flow_is_refused() {
    let (p, a, b) = two_flows();
    for cmd in ["show", "resume", "retry"] {
        p.cmd(&[cmd, "--flow", "b", &a])
            .run()
            .code(2)
            .stderr_has(&format!("error: run {a} is a run of flow `a`, not of `b`"));
    }
    p.cmd(&["show", "--flow", "nosuch", "last"])
        .run()
        .code(2)
        .stderr_has("no flow `nosuch`");
    assert_eq!(p.run_ids("b"), [b]);
}

#[test]
fn runs_and_prune_refuse_a_flow_that_does_not_exist() {
    let (p, _, _) = two_flows();
    p.cmd(&["runs", "--flow", "nosuch"])
        .run()
        .code(2)
        .stderr_has("error: no flow `nosuch`: there is no flows/nosuch.toml and no run of it");
    p.cmd(&["prune", "--keep", "0", "--flow", "nosuch"])
        .run()
        .code(2)
        .stderr_has("error: no flow `nosuch`");
    // A flow with a file but no runs yet, and one whose file is gone but whose runs are
    // kept, are both known.
    p.flow("fresh", "[[steps]]\nid = \"m\"\nkind = \"map\"\njq = '1'\n");
    p.cmd(&["runs", "--flow", "fresh"]).run().ok();
    std::fs::remove_file(p.path("flows/b.toml")).expect("remove b");
    p.cmd(&["runs", "--flow", "b", "-q"])
        .run()
        .ok()
        .stdout_has(&p.last_run("b"));
    p.cmd(&["prune", "--keep", "5", "--flow", "b"]).run().ok();
}

#[test]
fn a_run_without_input_while_the_first_steps_are_skipped_is_refused_unless_forced() {
    let p = Project::new();
    orders_project(&p);
    p.cmd(&["skip", "orders", "--through", "batch"]).run().ok();
    p.cmd(&["run", "orders"])
        .run()
        .code(2)
        .stderr_has("skips load, batch")
        .stderr_has("`to-erp`, would get the payload null")
        .stderr_has("--force");
    assert!(p.run_ids("orders").is_empty());
    // With input it runs as before; --force runs without (the map then fails on null).
    p.file("batch.json", r#"[{"id": 1, "email": "a@b.c"}]"#);
    p.cmd(&["run", "orders", "--input", "batch.json"])
        .run()
        .ok();
    p.cmd(&["run", "orders", "--force"]).run().code(1);
    assert_eq!(p.run_ids("orders").len(), 2);
}

/// Parses stdout as exactly one JSON object.
#[track_caller]
fn one_object(stdout: &str) -> Value {
    let v: Value = serde_json::from_str(stdout)
        .unwrap_or_else(|e| panic!("stdout is not one JSON value ({e}):\n{stdout}"));
    assert!(v.is_object(), "{v}");
    v
}

#[test]
fn json_on_run_replay_resume_and_retry_prints_one_object() {
    let p = Project::new();
    orders_project(&p);
    let out = p.cmd(&["run", "orders", "--json"]).run().code(1);
    let failed = one_object(&out.stdout);
    let id = p.last_run("orders");
    assert_eq!(failed["run_id"], id.as_str());
    assert_eq!(failed["flow"], "orders");
    assert_eq!(failed["status"], "failure");
    assert_eq!(failed["trigger"], "manual");
    assert_eq!(failed["failed_step"], "valid");
    let folder = p.root().join(format!("runs/orders/{id}"));
    assert_eq!(failed["folder"], folder.to_str().expect("UTF-8"));
    assert_eq!(
        failed["failed_payload"],
        folder
            .join("steps/04-paid/000003.json")
            .to_str()
            .expect("UTF-8")
    );
    assert!(
        failed["error"]
            .as_str()
            .is_some_and(|e| e.contains("does not satisfy")),
        "{failed}"
    );
    assert_eq!(
        failed["hints"],
        serde_json::json!([
            format!("flowrun resume {id}"),
            format!("flowrun replay runs/orders/{id}/steps/01-load --auto-skip"),
        ])
    );
    assert!(out.stderr.contains("error: step `valid` failed"));

    p.flow("orders", &fixed());
    let resumed = one_object(&p.cmd(&["resume", &id, "--json"]).run().ok().stdout);
    assert_eq!(resumed["status"], "success");
    assert_eq!(resumed["trigger"], "resume");
    assert_eq!(resumed["failed_step"], Value::Null);
    assert_eq!(resumed["hints"], serde_json::json!([]));
    assert!(is_run_id(resumed["run_id"].as_str().expect("id")));

    let retried = one_object(&p.cmd(&["--json", "retry", &id]).run().ok().stdout);
    assert_eq!(retried["trigger"], "retry");
    assert!(retried["payloads_stored"].as_u64().is_some_and(|n| n > 0));

    p.flow("orders", ORDERS);
    p.cmd(&["run", "orders"]).run().code(1);
    let second = p.last_run("orders");
    p.flow("orders", &fixed());
    let folder = format!("runs/orders/{second}/steps/01-load");
    let dry = one_object(
        &p.cmd(&["replay", &folder, "--auto-skip", "--dry-run", "--json"])
            .run()
            .ok()
            .stdout,
    );
    assert_eq!(dry["dry_run"], true);
    assert_eq!(dry["skip"], serde_json::json!(["load"]));
    let replayed = one_object(
        &p.cmd(&["replay", &folder, "--auto-skip", "--json"])
            .run()
            .ok()
            .stdout,
    );
    assert_eq!(replayed["trigger"], "replay");
    assert_eq!(replayed["status"], "success");
}

#[test]
fn watch_json_lines_go_to_stdout() {
    let p = Project::new();
    p.flow(
        "tick",
        "[trigger]\nevery = \"1s\"\n\n[[steps]]\nid = \"m\"\nkind = \"map\"\njq = '1'\n",
    );
    let logs = tempfile::tempdir().expect("log dir");
    let (out_log, err_log) = (logs.path().join("out"), logs.path().join("err"));
    let root = p.root().to_str().expect("UTF-8 root").to_owned();
    let mut child = p
        .cmd(&["--root", &root, "watch", "--json"])
        .cwd(logs.path())
        .command()
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&out_log).expect("out"))
        .stderr(std::fs::File::create(&err_log).expect("err"))
        .spawn()
        .expect("spawn watch");
    // A flow that fails, once the runner is up: its log line carries the resume hint.
    p.flow(
        "bad",
        "[trigger]\nevery = \"1s\"\n\n[[steps]]\nid = \"m\"\nkind = \"map\"\njq = 'error(\"no\")'\n",
    );
    let start = Instant::now();
    while !std::fs::read_to_string(&out_log)
        .unwrap_or_default()
        .contains("\"run_failed\"")
    {
        if start.elapsed() > Duration::from_secs(60) {
            let _ = child.kill();
            panic!(
                "no run_finished line on stdout; stderr:\n{}",
                std::fs::read_to_string(&err_log).unwrap_or_default()
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("kill");
    assert!(status.success());
    assert_eq!(child.wait().expect("wait").code(), Some(0));
    let stdout = std::fs::read_to_string(&out_log).expect("stdout");
    let lines: Vec<Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    assert!(lines.iter().all(|l| l["event"].is_string()), "{stdout}");
    let failed = lines
        .iter()
        .find(|l| l["event"] == "run_failed")
        .expect("a run_failed line");
    let id = failed["run_id"].as_str().expect("run id");
    assert_eq!(
        failed["hints"][0],
        format!("flowrun --root {root} resume {id}")
    );
    assert!(stdout.contains("\"watch_stopped\""), "{stdout}");
    let stderr = std::fs::read_to_string(&err_log).expect("stderr");
    assert!(!stderr.contains("\"event\""), "{stderr}");
}

#[test]
fn a_duplicate_id_is_reported_at_both_id_values() {
    let p = Project::new();
    p.flow(
        "f",
        "[[steps]]\nid = \"a\"\nkind = \"merge\"\n\n[[steps]]\n  id   = \"a\"\nkind = \"merge\"\n",
    );
    p.cmd(&["check", "f"]).run().code(2).stderr_has(
        "error: flows/f.toml:6:10: duplicate step id `a`: first used at 2:6, again at 6:10",
    );
}

#[test]
fn the_flow_file_limit_is_named_with_the_file() {
    let p = Project::new();
    let big = format!(
        "description = \"{}\"\n[[steps]]\nid = \"m\"\nkind = \"merge\"\n",
        "x".repeat(4 * 1024 * 1024)
    );
    p.flow("big", &big);
    p.cmd(&["check", "big"]).run().code(2).stderr_has(&format!(
        "error: flows/big.toml: the flow file is {} bytes; flow files are limited to 4 MiB (4194304 bytes)",
        big.len()
    ));
}

#[test]
fn assert_each_false_checks_the_whole_payload() {
    let p = Project::new();
    let flow = |each: &str, jq: &str| {
        format!(
            "[[steps]]\nid = \"m\"\nkind = \"map\"\njq = '[1, 2]'\n\n[[steps]]\nid = \"n\"\nkind = \"assert\"\njq = '{jq}'\n{each}"
        )
    };
    // Per element (the default), `length == 2` is false for the number 1.
    p.flow("f", &flow("", "length == 2"));
    p.cmd(&["run", "f"])
        .run()
        .code(1)
        .stderr_has("element 0 does not satisfy `length == 2`");
    p.flow("f", &flow("each = false\n", "length == 2"));
    p.cmd(&["run", "f"]).run().ok();
    p.flow("f", &flow("each = false\n", "length == 3"));
    let out = p.cmd(&["run", "f"]).run().code(1);
    assert!(
        out.stderr
            .contains("assertion failed: does not satisfy `length == 3`: [1,2]"),
        "{}",
        out.stderr
    );
    p.flow("f", &flow("each = \"no\"\n", "true"));
    p.cmd(&["check", "f"])
        .run()
        .code(2)
        .stderr_has("flows/f.toml:10:8: `each` must be true or false");
}

#[test]
fn a_recommended_replay_starts_after_the_last_side_effect() {
    // read → split → command (sends) → map → assert: the assert fails on batch 2 of 3.
    // Every batch was already sent, so the replay offered starts from the command's
    // outputs, and following it (after fixing the map) sends nothing twice.
    let p = Project::new();
    p.script(
        "bin/send",
        "#!/bin/sh\nread line\necho \"$line\" >> sent.txt\necho \"$line\"\n",
    )
    .flow(
        "f",
        &[
            "[[steps]]\nid = \"load\"\nkind = \"read\"\npath = \"data/in.json\"\n",
            "[[steps]]\nid = \"one\"\nkind = \"split\"\nsize = 1\n",
            "[[steps]]\nid = \"send\"\nkind = \"command\"\nrun = [\"bin/send\"]\n",
            "[[steps]]\nid = \"shape\"\nkind = \"map\"\njq = '.[0]'\n",
            "[[steps]]\nid = \"check\"\nkind = \"assert\"\njq = '. != 2'\n",
        ]
        .join("\n"),
    )
    .file("data/in.json", "[1, 2, 3]");
    let out = p.cmd(&["run", "f"]).run().code(1);
    let id = p.last_run("f");
    let hints = printed_commands(&out.stdout);
    assert_eq!(
        hints,
        [
            format!("flowrun resume {id}"),
            format!("flowrun replay runs/f/{id}/steps/03-send --auto-skip"),
        ],
        "{}",
        out.stdout
    );
    assert_eq!(p.read("sent.txt").lines().count(), 3);
    p.flow(
        "f",
        &p.read("flows/f.toml")
            .replace("jq = '.[0]'", "jq = '.[0] * 10'"),
    );
    let done = paste_ok(&p, &hints[1], p.root());
    assert!(done.contains("success: run"), "{done}");
    assert_eq!(
        p.read("sent.txt").lines().count(),
        3,
        "a batch was sent twice"
    );
    assert_eq!(
        p.outputs("f", "check"),
        [
            serde_json::json!(10),
            serde_json::json!(20),
            serde_json::json!(30)
        ]
    );
}
