//! Stopping: SIGINT/SIGTERM to a run, the runner's grace running out, and a command's
//! timeout end the command's whole process group before the run is recorded; a command's
//! output is bounded and taken when the command itself exits.

use crate::support::Project;
use std::time::{Duration, Instant};

/// The processes (pid and state) whose process group is `pgid`, zombies included.
pub fn group_members(pgid: &str) -> Vec<String> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir("/proc").expect("read /proc").flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if !name.bytes().all(|b| b.is_ascii_digit()) {
            continue;
        }
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
            continue;
        };
        // pid (comm) state ppid pgrp …; comm may hold spaces, so split after its `)`.
        let Some((_, rest)) = stat.rsplit_once(')') else {
            continue;
        };
        let fields: Vec<&str> = rest.split_whitespace().collect();
        if fields.get(2) == Some(&pgid) {
            out.push(format!("{name} ({})", fields.first().unwrap_or(&"?")));
        }
    }
    out
}

/// Sends `signal` (`INT`, `TERM`) to `pid` with kill(1).
pub fn send(signal: &str, pid: u32) {
    let status = std::process::Command::new("kill")
        .args([&format!("-{signal}"), &pid.to_string()])
        .status()
        .expect("run kill");
    assert!(status.success(), "kill -{signal} {pid} failed");
}

/// A command that records its process group, starts a grandchild (in its group) that
/// leaves a side effect (`late`) after a while, and — while `slow` exists — takes a
/// while before it logs the payload it was given to `call.log` and prints it.
const SLOW_CALL: &str = r#"
[[steps]]
id = "call"
kind = "command"
run = ["sh", "-c", "read -r x; echo $$ > pgid; if [ -e slow ]; then (sleep 2; touch late) & sleep 3; fi; echo \"$x\" >> call.log; echo \"$x\""]
"#;

#[test]
fn sigint_and_sigterm_stop_the_whole_group_and_resume_sends_the_payload_once() {
    for signal in ["INT", "TERM"] {
        let p = Project::new();
        p.flow("s", SLOW_CALL)
            .file("slow", "")
            .file("in.json", r#"{"order": 7}"#);
        let running = p.cmd(&["run", "s", "--input", "in.json"]).spawn();
        crate::support::wait_for("the command to start", || p.exists("pgid"));
        let pgid = p.read("pgid").trim().to_owned();
        send(signal, running.pid());
        let out = running.wait().code(1);
        // Once flowrun has exited, nothing of the command's group is left…
        let left = group_members(&pgid);
        assert!(
            left.is_empty(),
            "SIG{signal}: still alive in group {pgid}: {left:?}"
        );
        let id = p.last_run("s");
        let want = format!(
            "interrupted: run {id} of flow s stopped by SIG{signal} in step call; resume with flowrun resume {id}"
        );
        assert!(out.stderr.contains(&want), "{}", out.stderr);
        assert_eq!(p.manifest("s", &id)["status"], "interrupted");
        // …and nothing of it acts later.
        std::thread::sleep(Duration::from_millis(3500));
        assert!(
            !p.exists("late"),
            "SIG{signal}: the grandchild acted after the stop"
        );
        assert!(
            !p.exists("call.log"),
            "SIG{signal}: the command went on after the stop"
        );
        // The lock was released; resume sends the payload exactly once.
        std::fs::remove_file(p.path("slow")).expect("remove slow");
        p.cmd(&["resume", &id]).run().ok();
        assert_eq!(p.read("call.log"), "{\"order\":7}\n", "SIG{signal}");
    }
}

#[test]
fn a_second_signal_kills_a_command_that_ignores_sigterm_at_once() {
    let p = Project::new();
    p.flow(
        "s",
        r#"
[[steps]]
id = "stubborn"
kind = "command"
run = ["sh", "-c", "trap '' TERM; echo $$ > pgid; sleep 30 & wait; sleep 30"]
"#,
    );
    let running = p.cmd(&["run", "s"]).spawn();
    crate::support::wait_for("the command to start", || p.exists("pgid"));
    let pgid = p.read("pgid").trim().to_owned();
    send("INT", running.pid());
    std::thread::sleep(Duration::from_millis(300));
    send("INT", running.pid());
    let out = running.wait().code(1);
    assert!(out.stderr.contains("interrupted: run"), "{}", out.stderr);
    let left = group_members(&pgid);
    assert!(left.is_empty(), "still alive in group {pgid}: {left:?}");
}

#[test]
fn a_command_timeout_ends_its_grandchildren_too() {
    let p = Project::new();
    p.flow(
        "t",
        r#"
[[steps]]
id = "slow"
kind = "command"
timeout = "1s"
run = ["sh", "-c", "echo $$ > pgid; (sleep 2; touch late) & sleep 10"]
"#,
    );
    p.cmd(&["run", "t"])
        .run()
        .code(1)
        .stderr_has("did not finish within its timeout of 1s");
    let pgid = p.read("pgid").trim().to_owned();
    let left = group_members(&pgid);
    assert!(left.is_empty(), "still alive in group {pgid}: {left:?}");
    std::thread::sleep(Duration::from_secs(2));
    assert!(!p.exists("late"), "a grandchild outlived the timeout");
}

#[test]
fn stdout_over_the_limit_is_a_clear_error() {
    let p = Project::new();
    p.flow(
        "big",
        r#"
[[steps]]
id = "flood"
kind = "command"
run = ["sh", "-c", "head -c 300000000 /dev/zero"]
"#,
    );
    p.cmd(&["run", "big"]).run().code(1).stderr_has(
        "step `flood` failed: `sh` printed more than 256 MiB on stdout, the limit for the output of a command",
    );
}

#[test]
fn a_background_child_holding_stdout_does_not_cost_the_output() {
    let p = Project::new();
    p.flow(
        "bg",
        r#"
[[steps]]
id = "spawner"
kind = "command"
run = ["sh", "-c", "echo $$ > pgid; sleep 30 & echo '{\"ok\": true}'"]
"#,
    );
    let start = Instant::now();
    p.cmd(&["run", "bg"]).run().ok();
    assert_eq!(
        p.outputs("bg", "spawner"),
        vec![serde_json::json!({"ok": true})]
    );
    // Ended with the command, not waited for.
    assert!(start.elapsed() < Duration::from_secs(25));
    let pgid = p.read("pgid").trim().to_owned();
    let left = group_members(&pgid);
    assert!(left.is_empty(), "still alive in group {pgid}: {left:?}");
}

/// split → assert (fails on the second item until fixed) → write each item to `out/`.
const WRITE_AFTER_ASSERT: &str = r#"
[[steps]]
id = "one"
kind = "split"
size = 1

[[steps]]
id = "check"
kind = "assert"
jq = '.[0] != 2'
message = "two is not allowed"

[[steps]]
id = "save"
kind = "write"
path = "out/{n}.json"
"#;

#[test]
fn resume_removes_the_write_steps_own_leftovers_and_nothing_else() {
    let p = Project::new();
    p.flow("w", WRITE_AFTER_ASSERT).file("in.json", "[1, 2, 3]");
    p.cmd(&["run", "w", "--input", "in.json"]).run().code(1);
    let id = p.last_run("w");
    // What a kill in the middle of a write leaves, and things that are not the step's.
    let leftover = format!("out/.flowrun-tmp.w.save.{id}.a1B2c3");
    p.file(&leftover, "[1")
        .file("out/.tmp-not-ours", "x")
        .file("out/.flowrun-tmp.other.save.x", "x")
        .file("out/.flowrun-tmp.w.saver.x", "x")
        .file("out/.flowrun-tmp.w.save.dir/keep", "x")
        .file("out/notes.txt", "x");
    p.flow("w", &WRITE_AFTER_ASSERT.replace(".[0] != 2", "true"));
    p.cmd(&["resume", &id]).run().ok();
    assert!(!p.exists(&leftover), "the leftover stayed");
    let mut left: Vec<String> = p.tree("out").into_keys().collect();
    left.sort();
    assert_eq!(
        left,
        [
            ".flowrun-tmp.other.save.x",
            ".flowrun-tmp.w.save.dir/keep",
            ".flowrun-tmp.w.saver.x",
            ".tmp-not-ours",
            "1.json",
            "2.json",
            "3.json",
            "notes.txt"
        ]
    );
}

#[test]
fn written_files_honour_the_umask() {
    use std::os::unix::fs::PermissionsExt as _;
    for (umask, want) in [("022", 0o644), ("002", 0o664)] {
        let p = Project::new();
        p.flow(
            "w",
            "[[steps]]\nid = \"save\"\nkind = \"write\"\npath = \"out/x.json\"\n",
        );
        let status = std::process::Command::new("sh")
            .args([
                "-c",
                &format!("umask {umask} && exec \"$0\" run w -q"),
                env!("CARGO_BIN_EXE_flowrun"),
            ])
            .current_dir(p.root())
            .env_remove("FLOWRUN_ROOT")
            .stdout(std::process::Stdio::null())
            .status()
            .expect("run flowrun");
        assert!(status.success());
        let mode = std::fs::metadata(p.path("out/x.json"))
            .expect("written")
            .permissions()
            .mode()
            & 0o777;
        assert_eq!(mode, want, "umask {umask}: mode {mode:o}");
    }
}
