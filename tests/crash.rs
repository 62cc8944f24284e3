//! A run killed with SIGKILL: its trail stays consistent and reads as `interrupted`.

use crate::support::{Project, wait_for};
use serde_json::Value;

/// Read, split into 12 payloads, a command taking ~0.3 s per payload, then a map.
const SLOW: &str = "[[steps]]\nid = \"load\"\nkind = \"read\"\npath = \"data/in.json\"\n\n\
                    [[steps]]\nid = \"b\"\nkind = \"split\"\nsize = 1\n\n\
                    [[steps]]\nid = \"slow\"\nkind = \"command\"\nrun = [\"sh\", \"-c\", \"sleep 0.3; cat\"]\n\n\
                    [[steps]]\nid = \"after\"\nkind = \"map\"\njq = '.'\n";

/// Every file of the run folder under a final name (not a temporary file).
fn final_files(p: &Project, dir: &str) -> Vec<(String, Vec<u8>)> {
    p.tree(dir)
        .into_iter()
        .filter(|(name, _)| {
            !name
                .rsplit('/')
                .next()
                .unwrap_or_default()
                .starts_with(".tmp-")
        })
        .collect()
}

#[test]
fn a_killed_run_is_interrupted_and_its_trail_verifies() {
    let p = Project::new();
    p.flow("f", SLOW)
        .file("data/in.json", "[1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]");
    let mut run = p.cmd(&["run", "f"]).spawn();
    let mut id = String::new();
    wait_for("two payloads of the slow step in the manifest", || {
        assert!(!run.has_exited(), "the run ended before it was killed");
        let Some(found) = p.run_ids("f").pop() else {
            return false;
        };
        let Ok(text) = std::fs::read_to_string(p.path(&format!("runs/f/{found}/manifest.json")))
        else {
            return false;
        };
        let m: Value = serde_json::from_str(&text).expect("a manifest is never half-written");
        id = found;
        m["steps"][2]["payloads"].as_array().map_or(0, Vec::len) >= 2
    });
    run.kill();
    let dir = format!("runs/f/{id}");

    // On disk the run still says `running`, part-way through the slow step.
    let m = p.manifest("f", &id);
    assert_eq!(m["status"], "running");
    assert_eq!(m["steps"][2]["status"], "running");
    assert_eq!(m["steps"][3]["status"], "pending");
    let recorded = m["steps"][2]["payloads"].as_array().unwrap().len();
    assert!((2..12).contains(&recorded), "{recorded}");

    // No file under a final name is half-written.
    for (name, bytes) in final_files(&p, &dir) {
        if std::path::Path::new(&name)
            .extension()
            .is_some_and(|e| e == "json")
        {
            serde_json::from_slice::<Value>(&bytes)
                .unwrap_or_else(|e| panic!("{name} is not whole JSON: {e}"));
        }
    }
    // Every listed file verifies.
    p.cmd(&["verify", &id]).run().ok();

    // Readers report it as interrupted.
    let shown = p.cmd(&["show", &id, "--json"]).run().ok().json();
    assert_eq!(shown["status"], "interrupted");
    p.cmd(&["show", &id])
        .run()
        .ok()
        .stdout_has("status   interrupted");
    let rows = p.cmd(&["runs", "--json"]).run().ok().json();
    assert_eq!(rows[0]["run_id"], id.as_str());
    assert_eq!(rows[0]["status"], "interrupted");
    let rows = p
        .cmd(&["runs", "--json", "--status", "interrupted"])
        .run()
        .ok()
        .json();
    assert_eq!(rows.as_array().unwrap().len(), 1);

    // The next run of the flow records it as interrupted and clears its temporary files.
    p.file("data/in.json", "[1]");
    p.cmd(&["run", "f"]).run().ok();
    let m = p.manifest("f", &id);
    assert_eq!(m["status"], "interrupted");
    assert_eq!(
        m["steps"][2]["payloads"].as_array().unwrap().len(),
        recorded
    );
    assert_eq!(
        final_files(&p, &dir).len(),
        p.tree(&dir).len(),
        "temporary files left"
    );
    p.cmd(&["verify"]).run().ok();
}

/// Runs flow `f` (`SLOW`, 12 inputs) in `p` and kills it with SIGKILL once two payloads
/// of its slow step are recorded; returns the killed run's id.
fn killed_in_the_slow_step(p: &Project) -> String {
    p.flow("f", SLOW)
        .file("data/in.json", "[1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]");
    let mut run = p.cmd(&["run", "f"]).spawn();
    wait_for("two payloads of the slow step in the manifest", || {
        assert!(!run.has_exited(), "the run ended before it was killed");
        let Some(found) = p.run_ids("f").pop() else {
            return false;
        };
        let Ok(text) = std::fs::read_to_string(p.path(&format!("runs/f/{found}/manifest.json")))
        else {
            return false;
        };
        let m: Value = serde_json::from_str(&text).expect("a manifest is never half-written");
        m["steps"][2]["payloads"].as_array().map_or(0, Vec::len) >= 2
    });
    run.kill();
    p.last_run("f")
}

#[test]
fn a_prune_between_a_killed_run_and_its_resume_hides_nothing() {
    // The lock passes on the dead run's id until a holder names its own run: a holder
    // that never does (a prune, or a resume killed first) must not make the next
    // holder miss the run it has to record as interrupted.
    let p = Project::new();
    let id = killed_in_the_slow_step(&p);
    p.cmd(&["prune", "--keep", "10"]).run().ok();
    p.cmd(&["resume", &id]).run().ok();
    assert_eq!(p.manifest("f", &id)["status"], "interrupted");
    let after: Vec<Value> = p.outputs("f", "after");
    assert_eq!(after.len(), 12);
}

#[test]
fn a_killed_run_can_be_resumed_and_retried_at_once() {
    let p = Project::new();
    let id = killed_in_the_slow_step(&p);
    assert_eq!(p.manifest("f", &id)["status"], "running");

    // Straight after the kill, with no other run in between: the lock `resume` holds
    // must not make the dead run look as if it were still running.
    p.cmd(&["resume", &id]).run().ok();
    assert_eq!(p.manifest("f", &id)["status"], "interrupted");
    let resumed = p.last_run("f");
    assert_eq!(p.manifest("f", &resumed)["resume_of"], id.as_str());
    let after: Vec<Value> = p.outputs("f", "after");
    let want: Vec<Value> = (1..=12).map(|n| serde_json::json!([n])).collect();
    assert_eq!(after, want);

    // The same for `retry`.
    let mut run = p.cmd(&["run", "f"]).spawn();
    wait_for("the second run's slow step", || {
        assert!(!run.has_exited(), "the run ended before it was killed");
        p.run_ids("f").len() == 3
            && std::fs::read_to_string(p.path(&format!("runs/f/{}/manifest.json", p.last_run("f"))))
                .ok()
                .and_then(|t| serde_json::from_str::<Value>(&t).ok())
                .is_some_and(|m| m["steps"][2]["status"] == "running")
    });
    run.kill();
    let killed = p.last_run("f");
    p.cmd(&["retry", &killed]).run().ok();
    assert_eq!(p.manifest("f", &killed)["status"], "interrupted");
    assert_eq!(p.outputs("f", "after").len(), 12);
    p.cmd(&["verify"]).run().ok();
}

/// read → split into single payloads → a command that logs `run position` to `call.log`
/// (its side effect) and passes its payload on.
const LOGGED: &str = "[[steps]]\nid = \"load\"\nkind = \"read\"\npath = \"data/in.json\"\n\n\
                      [[steps]]\nid = \"one\"\nkind = \"split\"\nsize = 1\n\n\
                      [[steps]]\nid = \"call\"\nkind = \"command\"\n\
                      run = [\"sh\", \"-c\", \"read -r x; echo \\\"$FLOWRUN_RUN $FLOWRUN_PAYLOAD\\\" >> call.log; echo \\\"$x\\\"\"]\n";

/// `n` strings of about `pad` bytes each, as a JSON array.
fn padded_items(n: usize, pad: usize) -> String {
    let items: Vec<String> = (1..=n)
        .map(|i| format!("{i:06}-{}", "x".repeat(pad)))
        .collect();
    serde_json::to_string(&items).expect("items")
}

fn stored_manifest(p: &Project, id: &str) -> Option<Value> {
    let text = std::fs::read_to_string(p.path(&format!("runs/f/{id}/manifest.json"))).ok()?;
    serde_json::from_str(&text).ok()
}

/// Runs `args` and kills it (SIGKILL) as soon as `when` holds, polling often. Returns
/// the new run's id, and whether the kill came while `when` held (false: it ended first).
fn kill_when(p: &Project, args: &[&str], mut when: impl FnMut(&str) -> bool) -> (String, bool) {
    let before = p.run_ids("f");
    let mut run = p.cmd(args).spawn();
    let start = std::time::Instant::now();
    loop {
        let id = p.run_ids("f").into_iter().find(|i| !before.contains(i));
        if let Some(id) = id.filter(|i| when(i)) {
            run.kill();
            return (id, true);
        }
        if run.has_exited() {
            let out = run.wait();
            assert!(!out.stderr.contains("panicked"), "{}", out.stderr);
            return (p.run_ids("f").pop().unwrap_or_default(), false);
        }
        // A safety net, not a timing check (on S3 a payload costs a few round trips).
        assert!(
            start.elapsed() < std::time::Duration::from_secs(300),
            "gave up waiting to kill flowrun {args:?}"
        );
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
}

/// How often each position went through the command, per `call.log`.
fn calls_per_position(p: &Project) -> std::collections::BTreeMap<u64, usize> {
    let mut out = std::collections::BTreeMap::new();
    for line in std::fs::read_to_string(p.path("call.log"))
        .unwrap_or_default()
        .lines()
    {
        if let Some(n) = line.split(' ').nth(1).and_then(|n| n.parse().ok()) {
            *out.entry(n).or_default() += 1;
        }
    }
    out
}

/// Kills a first run once its command step recorded `k` outputs; returns its id and
/// how many it recorded.
fn killed_in_call(p: &Project, k: usize) -> (String, usize) {
    let (id, killed) = kill_when(p, &["run", "f"], |id| {
        stored_manifest(p, id)
            .is_some_and(|m| m["steps"][2]["inputs_done"].as_u64() >= Some(k as u64))
    });
    assert!(killed, "the first run ended before it was killed");
    // What the store holds (on S3 the working copy may be one write ahead of it).
    let done = p.manifest("f", &id)["steps"][2]["inputs_done"]
        .as_u64()
        .expect("inputs_done");
    (id, usize::try_from(done).expect("small"))
}

/// After the whole lineage ran: every position went through the command, those the
/// first run recorded exactly once, and the rest at most once more than the kills.
#[track_caller]
fn assert_once(p: &Project, n: usize, recorded_first: usize, kills: usize) {
    let calls = calls_per_position(p);
    for pos in 1..=n as u64 {
        let c = calls.get(&pos).copied().unwrap_or(0);
        if pos <= recorded_first as u64 {
            assert_eq!(
                c, 1,
                "position {pos} was recorded by the first run, yet ran {c} times"
            );
        } else {
            assert!((1..=1 + kills).contains(&c), "position {pos} ran {c} times");
        }
    }
    assert_eq!(p.outputs("f", "call").len(), n);
}

#[test]
fn a_resume_cut_off_before_its_first_step_repeats_no_work() {
    let n = 400;
    let mut hit = false;
    for attempt in 1..=3 {
        let p = Project::new();
        p.flow("f", LOGGED)
            .file("data/in.json", &padded_items(n, 2000));
        let (first, recorded) = killed_in_call(&p, 3);
        // Killed while it stores its input (before it records which steps it skips).
        let (second, _) = kill_when(&p, &["resume", &first], |_| true);
        let m = stored_manifest(&p, &second).expect("a run folder always has its manifest");
        hit = m["steps"]
            .as_array()
            .expect("steps")
            .iter()
            .all(|s| s["status"] == "pending" || s["status"] == "skipped");
        p.cmd(&["verify"]).run().ok();
        p.cmd(&["resume", &second])
            .run()
            .ok()
            .stdout_has(&format!("the work of run {first} is continued"))
            .stdout_has(&format!("reused for {recorded} inputs"));
        assert_once(&p, n, recorded, 2);
        // Its lineage is finished: neither run can be resumed again.
        p.cmd(&["resume", &first])
            .run()
            .code(2)
            .stderr_has("already resumed by successful run");
        p.cmd(&["resume", &second])
            .run()
            .code(2)
            .stderr_has("whose work successful run");
        p.cmd(&["verify"]).run().ok();
        if hit {
            break;
        }
        eprintln!("attempt {attempt}: the resume got past its start-up before the kill; again");
    }
    assert!(hit, "never killed a resume before its first step");
}

#[test]
fn a_resume_cut_off_while_copying_reused_outputs_repeats_no_work() {
    let n = 300;
    for attempt in 1..=3 {
        let p = Project::new();
        p.flow("f", LOGGED)
            .file("data/in.json", &padded_items(n, 20_000));
        let (first, recorded) = killed_in_call(&p, 150);
        // Killed while it copies the first run's outputs, before it has them all.
        let (second, killed) = kill_when(&p, &["resume", &first], |id| {
            stored_manifest(&p, id).is_some_and(|m| {
                let s = &m["steps"][2];
                let done = s["inputs_done"].as_u64().unwrap_or(0);
                s["status"] == "running" && done > 0 && done < recorded as u64
            })
        });
        if !killed {
            eprintln!("attempt {attempt}: the resume finished before the kill; again");
            continue;
        }
        p.cmd(&["verify"]).run().ok();
        p.cmd(&["resume", &second])
            .run()
            .ok()
            .stdout_has(&format!("reused for {recorded} inputs"));
        assert_once(&p, n, recorded, 2);
        p.cmd(&["verify"]).run().ok();
        return;
    }
    panic!("never killed a resume while it copied reused outputs");
}
