//! `flowrun watch`: a real runner process, its triggers, reloads, file drops and signals.

use crate::support::Project;
use serde_json::{Value, json};
use std::path::PathBuf;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

/// How long to wait for something the runner should do soon. A safety net, not a
/// timing assertion: on a quiet machine everything happens within a second or two.
const PATIENCE: Duration = Duration::from_secs(30);

/// A `flowrun watch` process whose stderr goes to a file we can read while it runs.
struct Watcher {
    child: Option<Child>,
    log: PathBuf,
    _logs: tempfile::TempDir,
}

impl Watcher {
    /// Starts `flowrun watch` (with `args` after it) and waits for its start line.
    #[track_caller]
    fn start(p: &Project, args: &[&str]) -> Watcher {
        let logs = tempfile::tempdir().expect("log dir");
        let log = logs.path().join("stderr.log");
        let file = std::fs::File::create(&log).expect("log file");
        let mut all = vec!["watch"];
        all.extend_from_slice(args);
        let child = p
            .cmd(&all)
            .command()
            .stdin(Stdio::null())
            // The log: human lines on stderr, `--json` lines on stdout.
            .stdout(Stdio::from(file.try_clone().expect("log file")))
            .stderr(Stdio::from(file))
            .spawn()
            .expect("spawn flowrun watch");
        let w = Watcher {
            child: Some(child),
            log,
            _logs: logs,
        };
        w.wait_log("stop with SIGINT or SIGTERM");
        w
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// How many lines of the log contain `needle`.
    fn count(&self, needle: &str) -> usize {
        self.log().lines().filter(|l| l.contains(needle)).count()
    }

    /// Waits until `cond` holds, showing the log if it never does.
    #[track_caller]
    fn wait(&self, what: &str, mut cond: impl FnMut() -> bool) {
        let start = Instant::now();
        while !cond() {
            assert!(
                start.elapsed() < PATIENCE,
                "gave up waiting for {what}; runner log:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Waits until a log line contains `needle`.
    #[track_caller]
    fn wait_log(&self, needle: &str) {
        self.wait(&format!("a log line with {needle:?}"), || {
            self.log().contains(needle)
        });
    }

    fn pid(&self) -> u32 {
        self.child.as_ref().expect("running").id()
    }

    /// Sends SIGTERM and waits for the exit code.
    #[track_caller]
    fn stop(mut self) -> (i32, String) {
        let status = std::process::Command::new("kill")
            .args(["-TERM", &self.pid().to_string()])
            .status()
            .expect("run kill");
        assert!(status.success(), "kill -TERM failed");
        let mut child = self.child.take().expect("running");
        let start = Instant::now();
        let code = loop {
            if let Some(status) = child.try_wait().expect("poll runner") {
                break status.code().unwrap_or(-1);
            }
            if start.elapsed() > PATIENCE * 2 {
                let _ = child.kill();
                let _ = child.wait();
                panic!("the runner did not stop on SIGTERM; log:\n{}", self.log());
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        let log = self.log();
        assert!(!log.contains("panicked"), "the runner panicked:\n{log}");
        (code, log)
    }
}

impl Drop for Watcher {
    fn drop(&mut self) {
        // A failed test must not leave a runner behind.
        if let Some(child) = &mut self.child {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// The manifests of `flow`'s runs that can be read now, oldest first.
fn manifests(p: &Project, flow: &str) -> Vec<Value> {
    p.run_ids(flow)
        .iter()
        .filter_map(|id| {
            let text =
                std::fs::read_to_string(p.path(&format!("runs/{flow}/{id}/manifest.json"))).ok()?;
            serde_json::from_str(&text).ok()
        })
        .collect()
}

fn finished(p: &Project, flow: &str) -> Vec<Value> {
    manifests(p, flow)
        .into_iter()
        .filter(|m| m["status"] != "running")
        .collect()
}

fn running(p: &Project, flow: &str) -> bool {
    manifests(p, flow).iter().any(|m| m["status"] == "running")
}

/// The first output payload of `step` in a run's manifest.
fn output(p: &Project, m: &Value, step: &str) -> Value {
    let rec = m["steps"]
        .as_array()
        .expect("steps")
        .iter()
        .find(|s| s["id"] == step)
        .expect("the step is in the manifest");
    let file = rec["payloads"][0]["file"].as_str().expect("a payload");
    p.json(&format!(
        "runs/{}/{}/{file}",
        m["flow"].as_str().expect("flow"),
        m["run_id"].as_str().expect("id")
    ))
}

/// The output of `step` in the newest successful run of `flow`.
fn latest_output(p: &Project, flow: &str, step: &str) -> Option<Value> {
    let m = finished(p, flow)
        .into_iter()
        .rev()
        .find(|m| m["status"] == "success")?;
    Some(output(p, &m, step))
}

/// After a flow stopped or paused: lets a run its last tick started get going, then
/// waits for it to end, so that the runs counted next are all there will be.
fn settle(w: &Watcher, p: &Project) {
    std::thread::sleep(Duration::from_millis(500));
    w.wait("the last run to end", || !running(p, "tick"));
}

fn ticking(v: u32) -> String {
    format!(
        "[trigger]\nevery = \"1s\"\n\n[[steps]]\nid = \"m\"\nkind = \"map\"\njq = '{{v: {v}}}'\n"
    )
}

/// Saves a flow the way many editors do: a temporary file, then a rename over the old one.
fn rename_save(p: &Project, name: &str, text: &str) {
    let tmp = p.path(&format!("flows/.{name}.toml.tmp"));
    std::fs::write(&tmp, text).expect("write temp");
    std::fs::rename(&tmp, p.path(&format!("flows/{name}.toml"))).expect("rename");
}

#[test]
fn an_every_trigger_fires_and_json_lines_describe_it() {
    let p = Project::new();
    p.flow("tick", &ticking(1));
    let w = Watcher::start(&p, &["--json"]);
    w.wait("a finished run", || !finished(&p, "tick").is_empty());
    let m = &finished(&p, "tick")[0];
    assert_eq!(m["trigger"], "schedule");
    assert_eq!(m["status"], "success");
    assert_eq!(output(&p, m, "m"), json!({"v": 1}));
    let id = m["run_id"].as_str().unwrap().to_owned();
    w.wait_log(&format!("\"run_id\":\"{id}\",\"status\":\"success\""));
    let (code, log) = w.stop();
    assert_eq!(code, 0, "{log}");
    let lines: Vec<Value> = log
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();
    let finished = lines
        .iter()
        .find(|l| l["event"] == "run_finished" && l["run_id"] == id.as_str())
        .expect("a run_finished line");
    assert_eq!(finished["flow"], "tick");
    assert_eq!(finished["status"], "success");
    assert!(finished["ts"].as_str().unwrap().ends_with('Z'));
    let started = lines
        .iter()
        .find(|l| l["event"] == "run_started" && l["run_id"] == id.as_str())
        .expect("a run_started line");
    assert_eq!(started["trigger"], "schedule");
    assert!(lines.iter().any(|l| l["event"] == "stopping"));
}

#[test]
fn edits_and_rename_saves_are_picked_up() {
    let p = Project::new();
    p.flow("tick", &ticking(1));
    let w = Watcher::start(&p, &[]);
    w.wait("a run with v = 1", || {
        latest_output(&p, "tick", "m") == Some(json!({"v": 1}))
    });

    p.flow("tick", &ticking(2));
    w.wait("a run with v = 2 after a plain save", || {
        latest_output(&p, "tick", "m") == Some(json!({"v": 2}))
    });

    rename_save(&p, "tick", &ticking(3));
    w.wait("a run with v = 3 after a save by rename", || {
        latest_output(&p, "tick", "m") == Some(json!({"v": 3}))
    });
    assert!(
        w.count("tick: reloaded flows/tick.toml") >= 2,
        "{}",
        w.log()
    );
    assert_eq!(w.stop().0, 0);
}

#[test]
fn an_invalid_edit_is_reported_and_the_last_valid_flow_keeps_running() {
    let p = Project::new();
    p.flow("tick", &ticking(1));
    let w = Watcher::start(&p, &[]);
    w.wait("a first run", || !finished(&p, "tick").is_empty());

    // Line 8 holds a key a map step does not take.
    rename_save(&p, "tick", &format!("{}bogus = 1\n", ticking(2)));
    w.wait_log("flows/tick.toml:8:1: unknown key `bogus`");
    assert!(w.log().contains("the last valid version stays in force"));
    let before = finished(&p, "tick").len();
    w.wait("two more runs", || finished(&p, "tick").len() >= before + 2);
    assert_eq!(latest_output(&p, "tick", "m"), Some(json!({"v": 1})));

    // A deleted flow stops.
    std::fs::remove_file(p.path("flows/tick.toml")).unwrap();
    w.wait_log("flows/tick.toml was deleted: the flow stopped");
    settle(&w, &p);
    let count = p.run_ids("tick").len();
    std::thread::sleep(Duration::from_millis(2500));
    assert_eq!(p.run_ids("tick").len(), count, "{}", w.log());
    assert_eq!(w.stop().0, 0);
}

const INBOX_FLOW: &str = r#"
[trigger]
watch = "inbox/*.json"

[[steps]]
id = "check"
kind = "assert"
jq = '.n > 0'
message = "n must be positive"

[[steps]]
id = "m"
kind = "map"
jq = '{got: .n}'
"#;

#[test]
fn dropped_files_run_once_and_move_to_done_or_failed_even_across_restarts() {
    let p = Project::new();
    p.flow("drop", INBOX_FLOW)
        .file("inbox/a.json", r#"{"n": 1}"#)
        .file("inbox/bad.json", "{oops")
        .file("inbox/.processing/cut.json", r#"{"n": 9}"#)
        .file("inbox/notes.txt", "not matched");
    let w = Watcher::start(&p, &[]);

    // Files there at start count as new; a cut-off one is never re-run.
    w.wait("a.json done", || p.exists("inbox/done/a.json"));
    w.wait("bad.json failed", || p.exists("inbox/failed/bad.json"));
    w.wait("cut.json failed", || p.exists("inbox/failed/cut.json"));
    w.wait_log("inbox/bad.json:1:2: not valid JSON");
    w.wait_log("inbox/.processing/cut.json was being run when the runner stopped");
    assert!(!p.exists("inbox/a.json") && !p.exists("inbox/bad.json"));
    let runs = finished(&p, "drop");
    assert_eq!(runs.len(), 1, "{}", w.log());
    assert_eq!(runs[0]["trigger"], "watch");
    assert_eq!(runs[0]["status"], "success");
    let id = runs[0]["run_id"].as_str().unwrap();
    assert_eq!(
        p.json(&format!("runs/drop/{id}/input/000001.json")),
        json!({"n": 1})
    );
    assert_eq!(output(&p, &runs[0], "m"), json!({"got": 1}));

    // Dropped while running; a failing run sends its file to failed/; a name taken in
    // done/ gets a suffix.
    p.file("inbox/b.json", r#"{"n": 2}"#);
    w.wait("b.json done", || p.exists("inbox/done/b.json"));
    p.file("inbox/neg.json", r#"{"n": -1}"#);
    w.wait("neg.json failed", || p.exists("inbox/failed/neg.json"));
    w.wait_log("n must be positive");
    p.file("inbox/a.json", r#"{"n": 3}"#);
    w.wait("the second a.json done", || p.exists("inbox/done/a.1.json"));
    assert_eq!(p.json("inbox/done/a.1.json"), json!({"n": 3}));
    assert!(p.exists("inbox/notes.txt"));
    let (code, log) = w.stop();
    assert_eq!(code, 0, "{log}");
    assert_eq!(finished(&p, "drop").len(), 4, "{log}");

    // A restart processes only what is new: the runs are exactly one more.
    let w = Watcher::start(&p, &[]);
    p.file("inbox/c.json", r#"{"n": 4}"#);
    w.wait("c.json done", || p.exists("inbox/done/c.json"));
    let runs = finished(&p, "drop");
    assert_eq!(runs.len(), 5, "{}", w.log());
    assert_eq!(output(&p, &runs[4], "m"), json!({"got": 4}));
    assert_eq!(w.stop().0, 0);
}

#[test]
fn skip_flags_pause_the_trigger_until_cleared() {
    let p = Project::new();
    p.flow("tick", &ticking(1));
    let w = Watcher::start(&p, &[]);
    w.wait("a first run", || !finished(&p, "tick").is_empty());

    p.cmd(&["skip", "tick", "m"]).run().ok();
    w.wait_log("tick: paused:");
    settle(&w, &p);
    let count = p.run_ids("tick").len();
    std::thread::sleep(Duration::from_millis(2500));
    assert_eq!(p.run_ids("tick").len(), count, "{}", w.log());
    assert_eq!(w.count("paused:"), 1, "{}", w.log());

    p.cmd(&["unskip", "tick"]).run().ok();
    w.wait_log("tick: resumed:");
    w.wait("a run after resuming", || {
        finished(&p, "tick").len() > count
    });
    assert_eq!(w.count("paused:"), 1, "{}", w.log());
    assert_eq!(w.stop().0, 0);
}

const SLOW_FLOW: &str = r#"
[trigger]
every = "1s"

[[steps]]
id = "slow"
kind = "command"
run = ["sh", "-c", "sleep 2; cat"]
"#;

#[test]
fn one_run_per_flow_ticks_are_dropped_and_a_manual_run_is_busy() {
    let p = Project::new();
    p.flow("slow", SLOW_FLOW);
    // A manual run holds the lock when the first tick comes.
    let manual = p.cmd(&["run", "slow"]).spawn();
    let start = Instant::now();
    while !running(&p, "slow") {
        assert!(start.elapsed() < PATIENCE, "the manual run did not start");
        std::thread::sleep(Duration::from_millis(20));
    }
    let w = Watcher::start(&p, &[]);
    w.wait_log("tick dropped: a run of it in another process is still running (run 2");
    manual.wait().ok();

    // Then the runner runs it; a manual run meanwhile is refused with exit 3.
    w.wait("a run by the runner", || {
        manifests(&p, "slow")
            .iter()
            .any(|m| m["trigger"] == "schedule" && m["status"] == "running")
    });
    p.cmd(&["run", "slow"]).run().code(3).stderr_has("busy");
    w.wait_log("tick dropped: a run of it in this runner is still running (run 2");
    let (code, log) = w.stop();
    assert_eq!(code, 0, "{log}");
    assert!(
        manifests(&p, "slow")
            .iter()
            .all(|m| m["status"] == "success"),
        "{log}"
    );
}

#[test]
fn flows_run_in_parallel_and_sigterm_lets_running_runs_finish() {
    let p = Project::new();
    let watching = |glob: &str| SLOW_FLOW.replace("every = \"1s\"", &format!("watch = \"{glob}\""));
    p.flow("slow", &watching("inbox/*.json"))
        .flow("other", &watching("other/*.json"))
        .file("inbox/a.json", "[1, 2]")
        .file("other/b.json", "[3]");
    let w = Watcher::start(&p, &[]);
    w.wait("both flows running at once", || {
        running(&p, "slow") && running(&p, "other")
    });
    let (code, log) = w.stop();
    assert_eq!(code, 0, "{log}");
    assert!(
        log.contains(
            "SIGTERM received: starting no new runs; waiting up to 30s for 2 running runs"
        ),
        "{log}"
    );
    for (flow, want) in [("slow", json!([1, 2])), ("other", json!([3]))] {
        let runs = manifests(&p, flow);
        assert_eq!(runs.len(), 1, "{log}");
        assert_eq!(runs[0]["status"], "success", "{log}");
        assert_eq!(output(&p, &runs[0], "slow"), want);
    }
    assert!(
        p.exists("inbox/done/a.json") && p.exists("other/done/b.json"),
        "{log}"
    );
}

#[test]
fn after_the_grace_period_the_command_group_is_ended_and_the_run_interrupted() {
    let p = Project::new();
    p.flow(
        "slow",
        r#"
[trigger]
watch = "inbox/*.json"

[[steps]]
id = "slow"
kind = "command"
run = ["sh", "-c", "echo $$ > pgid; (sleep 3; touch late) & sleep 4; cat"]
"#,
    )
    .file("inbox/a.json", "{}");
    let w = Watcher::start(&p, &["--grace", "200ms"]);
    w.wait("the command to start", || p.exists("pgid"));
    let pgid = p.read("pgid").trim().to_owned();
    let (code, log) = w.stop();
    assert_eq!(code, 0, "{log}");
    assert!(log.contains("stopping 1 run"), "{log}");
    // No orphan: nothing of the command's group outlives the runner, nor acts later.
    let left = crate::stop::group_members(&pgid);
    assert!(
        left.is_empty(),
        "still alive in group {pgid}: {left:?}\n{log}"
    );
    std::thread::sleep(Duration::from_millis(3500));
    assert!(
        !p.exists("late"),
        "the grandchild acted after the runner stopped"
    );
    // The runner recorded the run itself, and the file is not run again.
    let runs = manifests(&p, "slow");
    assert_eq!(runs.len(), 1, "{log}");
    assert_eq!(runs[0]["status"], "interrupted", "{log}");
    assert!(p.exists("inbox/failed/a.json"), "{log}");

    let w = Watcher::start(&p, &[]);
    std::thread::sleep(Duration::from_millis(500));
    let (code, log) = w.stop();
    assert_eq!(code, 0, "{log}");
    assert_eq!(p.run_ids("slow").len(), 1, "{log}");
}

#[test]
fn a_bad_grace_is_a_usage_error() {
    let p = Project::new();
    p.cmd(&["watch", "--grace", "soon"])
        .run()
        .code(2)
        .stderr_has("--grace");
}

/// Reload latency: the time from writing a flow file to the runner's reload line, over
/// 20 saves (plain writes and saves by rename, alternating). Prints median and max.
///
/// `cargo test --test integration watch::reload_latency -- --ignored --nocapture`
#[test]
#[ignore = "a measurement, not a check"]
fn reload_latency() {
    let p = Project::new();
    let flow = |i: usize| {
        format!("description = \"save {i}\"\n\n[[steps]]\nid = \"m\"\nkind = \"map\"\njq = '.'\n")
    };
    p.flow("lat", &flow(0));
    let w = Watcher::start(&p, &[]);
    let mut times = Vec::new();
    for i in 1..=20 {
        std::thread::sleep(Duration::from_millis(300));
        let start = Instant::now();
        if i % 2 == 0 {
            rename_save(&p, "lat", &flow(i));
        } else {
            p.flow("lat", &flow(i));
        }
        while w.count("lat: reloaded") < i {
            assert!(
                start.elapsed() < PATIENCE,
                "no reload line; log:\n{}",
                w.log()
            );
            std::thread::sleep(Duration::from_millis(1));
        }
        times.push(start.elapsed());
    }
    times.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!(
        "reload latency over {} saves: median {:.0} ms, min {:.0} ms, max {:.0} ms",
        times.len(),
        ms((times[9] + times[10]) / 2),
        ms(times[0]),
        ms(times[19])
    );
    assert_eq!(w.stop().0, 0);
}

#[test]
fn a_flow_test_file_in_flows_is_not_a_flow_to_the_runner() {
    let p = Project::new();
    p.flow("f", "[[steps]]\nid = \"a\"\nkind = \"merge\"\n");
    p.file(
        "flows/f.test.toml",
        "[[tests]]\nname = \"t\"\n[[tests.expect]]\nstep = \"a\"\npayloads = [[null]]\n",
    );
    let w = Watcher::start(&p, &[]);
    // An edit of the test file is not a flow reload either.
    p.file("flows/f.test.toml", "[[tests]]\nname = \"t2\"\n");
    p.file("flows/g.toml", "[[steps]]\nid = \"b\"\nkind = \"merge\"\n");
    w.wait_log("g.toml");
    let (_, log) = w.stop();
    assert!(
        !log.contains("f.test"),
        "the runner took the test file for a flow:\n{log}"
    );
}
